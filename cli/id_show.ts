/**
 * `icn id show`: the public identity file, read and printed. In a module of its own so that it
 * loads neither the key event log nor Ed25519 (`cli/id.ts` imports both for init, sign and verify).
 */
import type { CliContext } from "./context.ts";
import type { CommandResult } from "./output.ts";

/** The DID and public keys of this data dir's identity (no passphrase needed). */
export async function show(ctx: CliContext): Promise<CommandResult> {
  const identity = await ctx.readPublicIdentity();
  const lines = [
    `DID:      ${identity.did}`,
    `Created:  ${new Date(identity.created).toISOString()}`,
    `PQ keys:  ${identity.pq ? "yes (ML-DSA-65, ML-KEM-768)" : "no"}`,
    `KEL seq:  ${identity.kelSeq}`,
    ...Object.entries(identity.keys).map(([kind, key]) => `${(kind + ":").padEnd(9)} ${key}`),
  ];
  return { data: identity, text: lines };
}
