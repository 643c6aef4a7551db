/**
 * The node's own libp2p key (`$ICN_HOME/node.key`, mode 0600): its peer id. It is not the
 * identity's signing key, so `icn id rotate` does not change the peer id and other members'
 * `--bootstrap …/p2p/<id>` entries keep working. Peers bind it to the DID through the hello,
 * which names this peer id and is signed by the DID's current key (docs/node.md).
 */
import { fromHex, toHex } from "../core/bytes.ts";
import { InvalidInputError } from "../core/errors.ts";
import type { CliContext } from "./context.ts";
import { pathExists, readInputText, writeFileAtomic } from "./files.ts";

export const nodeKeyFile = "node.key";
const seedBytes = 32;

/** The node key's seed: read from the data dir, or made (and written) on the first run. */
export async function loadNodeKey(ctx: CliContext): Promise<Uint8Array> {
  const path = ctx.path(nodeKeyFile);
  if (!(await pathExists(path))) {
    const seed = ctx.rng.bytes(seedBytes);
    await writeFileAtomic(path, new TextEncoder().encode(toHex(seed) + "\n"), 0o600);
    return seed;
  }
  const text = (await readInputText(path, "node key", { bytesMax: 256 })).trim();
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new InvalidInputError(
      `Cannot read node key ${path}: expected 64 hex digits (the file is damaged; removing it gives this node a new peer id)`,
    );
  }
  return fromHex(text);
}
