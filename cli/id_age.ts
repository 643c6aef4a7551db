/**
 * `icn id export` with the age options: `--age-recipient` prints the
 * identity's age recipient (from the key event log's current keys), and
 * `--age-identity --out FILE` writes its current X25519 secret as an age identity
 * file (what `age-keygen` writes), so the `age` tool encrypts to and decrypts
 * for an icn identity. Without them, `id export` is cli/id.ts's.
 */
import { CommanderError } from "commander";
import { fromBase64 } from "../core/bytes.ts";
import { AlreadyExistsError, RejectedError } from "../core/errors.ts";
import {
  ageHybridRecipient,
  ageX25519Identity,
  ageX25519Recipient,
} from "../core/identity/age_keys.ts";
import type { CliContext } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { OutputError } from "./files.ts";
import { exportIdentity, type ExportOptions } from "./id.ts";
import { requireRecord, unlockMatching } from "./id_lifecycle.ts";
import { type CommandResult, writeStderr } from "./output.ts";

/** `id export`'s options (declared in cli/id_commands.ts). */
export interface AgeExportOptions extends ExportOptions {
  ageRecipient?: boolean;
  ageIdentity?: boolean;
  out?: string;
  pq?: boolean;
}

export async function exportWithAge(
  ctx: CliContext,
  args: string[],
  options: AgeExportOptions,
): Promise<CommandResult> {
  const chosen = [
    options.minisign === true && "--minisign",
    options.ageRecipient === true && "--age-recipient",
    options.ageIdentity === true && "--age-identity",
  ].filter((x): x is string => typeof x === "string");
  if (chosen.length > 1) {
    throw new CommanderError(
      exitCodes.usage,
      "icn.exportChoice",
      `Cannot combine ${chosen.join(" and ")}: choose one thing to export`,
    );
  }
  if (options.pq === true && options.ageRecipient !== true) {
    throw new CommanderError(
      exitCodes.usage,
      "icn.exportChoice",
      "--pq only goes with --age-recipient (the hybrid age1pq1… recipient)",
    );
  }
  if (options.out !== undefined && options.ageIdentity !== true) {
    throw new CommanderError(
      exitCodes.usage,
      "icn.exportChoice",
      `Cannot write "${options.out}": --out only goes with --age-identity (the DID document and the recipient are printed)`,
    );
  }
  if (options.ageRecipient === true) return await ageRecipient(ctx, options.pq === true);
  if (options.ageIdentity === true) return await ageIdentity(ctx, options.out);
  return await exportIdentity(ctx, args, { minisign: options.minisign });
}

async function ageRecipient(ctx: CliContext, pq: boolean): Promise<CommandResult> {
  const { did } = await ctx.readPublicIdentity();
  const record = await requireRecord(ctx, did);
  const x25519 = ageX25519Recipient(record.keys.x25519);
  const hybrid = record.keys.mlKem768
    ? ageHybridRecipient(record.keys.mlKem768, record.keys.x25519)
    : null;
  if (pq && !hybrid) {
    throw new RejectedError(
      "no_pq_keys",
      `Identity ${did} has no ML-KEM-768 key: run \`icn id upgrade-pq\` first`,
    );
  }
  return {
    data: { did, seq: record.seq, x25519, hybrid },
    text: pq ? hybrid! : x25519,
  };
}

async function ageIdentity(ctx: CliContext, path: string | undefined): Promise<CommandResult> {
  if (path === undefined || path === "-" || path.length === 0) {
    throw new CommanderError(
      exitCodes.usage,
      "icn.exportChoice",
      "--age-identity needs --out FILE: the secret key is written to a new file (mode 0600), never to standard output",
    );
  }
  try {
    await Deno.lstat(path);
    throw new AlreadyExistsError(
      `Cannot write the age identity to "${path}": it exists; icn never overwrites a key file, choose another name`,
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  // The keystore must hold the key event log's current keys: an old key would be useless.
  const { unlocked, record } = await unlockMatching(ctx);
  const seed = fromBase64(unlocked.secrets.x25519);
  const recipient = ageX25519Recipient(record.keys.x25519);
  writeStderr(
    `warning: ${path} will hold the X25519 secret key of ${unlocked.did} without a passphrase: anyone who reads it can decrypt every file encrypted to this identity's current X25519 key. Keep it safe and delete it when done; a rotation (\`icn id rotate\`) retires the key.\n`,
  );
  const text = [
    `# created: ${new Date(ctx.clock.now()).toISOString()}`,
    `# icn identity: ${unlocked.did} (key event log seq ${record.seq})`,
    `# public key: ${recipient}`,
    ageX25519Identity(seed),
    "",
  ].join("\n");
  try {
    // createNew: never replaces a file that appeared since the check above.
    using file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    await Deno.chmod(path, 0o600);
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new AlreadyExistsError(
        `Cannot write the age identity to "${path}": it exists; icn never overwrites a key file, choose another name`,
      );
    }
    await Deno.remove(path).catch(() => {}); // no half-written key file stays behind
    throw new OutputError(`Cannot write "${path}": ${(error as Error).message}`, { cause: error });
  }
  return {
    data: { did: unlocked.did, seq: record.seq, file: path, recipient },
    text: [
      `Wrote the age identity of ${unlocked.did} to ${path} (mode 0600)`,
      `  recipient: ${recipient}`,
      `  decrypt with: age -d -i ${path} FILE.age`,
      ...(record.keys.mlKem768
        ? [
          "  note: files encrypted to this identity's hybrid (ML-KEM-768) recipient need `icn id decrypt`: age has no identity format for icn's separate ML-KEM and X25519 seeds",
        ]
        : []),
    ],
  };
}
