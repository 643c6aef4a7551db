/**
 * `icn id encrypt | decrypt`: age files (age-encryption.org/v1) to and from
 * identities. Each recipient DID gets one stanza, made with the current keys
 * its key event log holds after a full replay: an `mlkem768x25519` (hybrid
 * post-quantum) stanza when the identity has ML-KEM-768 keys, else an
 * `X25519` stanza. Decrypting tries the keystore's current encryption keys,
 * then the superseded ones it keeps (`retired`, see cli/keystore.ts). The
 * output is written only once the whole file is encrypted or decrypted and
 * authenticated, through a temp file and a rename: a wrong key, a truncated or
 * tampered file never leaves partial output behind.
 */
import * as age from "age-encryption";
import { resolve as resolvePath } from "node:path";
import { fromBase64 } from "../core/bytes.ts";
import {
  AlreadyExistsError,
  InvalidInputError,
  RejectedError,
  shown,
  UnknownIdentityError,
} from "../core/errors.ts";
import {
  ageHybridRecipient,
  AgeStanzaError,
  ageX25519Identity,
  ageX25519Recipient,
  SplitHybridIdentity,
} from "../core/identity/age_keys.ts";
import { identityKey, type IdentityRecord } from "../core/identity/kel.ts";
import { replayKel } from "../core/identity/replay.ts";
import { resolveDids } from "./contacts.ts";
import type { CliContext } from "./context.ts";
import { readInputFile, writeFileAtomic } from "./files.ts";
import { kelEnvelopes } from "./id_lifecycle.ts";
import type { KeystoreSecrets } from "./keystore.ts";
import { type CommandResult, writeStderr } from "./output.ts";
import { terminalSafe } from "../core/safe_text.ts";

/** Largest file `icn id encrypt` / `decrypt` take: both hold the whole file in memory. */
export const encryptFileBytesMax = 256 * 1024 * 1024;
/** Most recipients of one file (each adds a stanza of up to 1.5 KiB to the header). */
export const recipientsMax = 100;

const armorBegin = "-----BEGIN AGE ENCRYPTED FILE-----";

/** One recipient as `icn id encrypt` uses it. */
export interface DidRecipient {
  did: string;
  /** KEL seq of the keys used. */
  seq: number;
  /** `mlkem768x25519` (hybrid) or `X25519`. */
  stanza: "mlkem768x25519" | "X25519";
  /** The age recipient string (`age1pq1…` or `age1…`). */
  recipient: string;
}

/**
 * The age recipient of `did`: its key event log from this data dir's store is
 * replayed (every signature and rotation proof checked again) and its current
 * keys used. Refused when the log is unknown, does not verify, disagrees with
 * the store's record, or a recovery of the identity is pending (its keys are
 * contested: the owner lost them or a thief is taking over, so nothing should
 * be encrypted to them until the recovery finishes or is cancelled).
 * `classicalOnly` uses the X25519 key even for a hybrid identity (private memos, where a
 * 1.5 KiB hybrid stanza does not fit).
 */
export async function recipientOfDid(
  ctx: CliContext,
  did: string,
  options: { classicalOnly?: boolean } = {},
): Promise<DidRecipient> {
  // The home store holds imported logs; a joined network's store holds its members' logs.
  let store = await ctx.store();
  let stored = (await store.get<IdentityRecord>(identityKey(did)))?.value;
  if (!stored) {
    const { openJoinedNetworks } = await import("./networks.ts");
    for (const network of await openJoinedNetworks(ctx)) {
      stored = (await network.store.get<IdentityRecord>(identityKey(did)))?.value;
      if (stored) {
        store = network.store;
        break;
      }
    }
  }
  if (!stored) {
    const error = new UnknownIdentityError(did);
    error.message =
      `Cannot encrypt to "${did}": no key event log for it in this store; import one from a peer first (\`icn node import BUNDLE\`)`;
    throw error;
  }
  let replayed: IdentityRecord | undefined;
  try {
    replayed = (await replayKel(await kelEnvelopes(ctx, did, store))).get(did);
  } catch (error) {
    throw new RejectedError(
      "unverifiable_kel",
      `Cannot encrypt to "${did}": its key event log does not verify (${
        shown((error as Error).message, 300)
      }); see \`icn id history --did ${did}\``,
    );
  }
  if (!replayed || replayed.seq !== stored.seq || replayed.head !== stored.head) {
    throw new RejectedError(
      "unverifiable_kel",
      `Cannot encrypt to "${did}": its key event log in this store is incomplete (the record is at seq ${stored.seq}, the log replays to ${
        replayed?.seq ?? "nothing"
      }); see \`icn id history --did ${did}\``,
    );
  }
  if (replayed.pendingRecovery) {
    throw new RejectedError(
      "recovery_pending",
      `Cannot encrypt to "${did}": a recovery of this identity is pending (ready at ${
        new Date(replayed.pendingRecovery.readyAt).toISOString()
      }), so its current keys may be lost or in other hands; encrypt once it is finalized or cancelled`,
    );
  }
  const keys = replayed.keys;
  return keys.mlKem768 && options.classicalOnly !== true
    ? {
      did,
      seq: replayed.seq,
      stanza: "mlkem768x25519",
      recipient: ageHybridRecipient(keys.mlKem768, keys.x25519),
    }
    : { did, seq: replayed.seq, stanza: "X25519", recipient: ageX25519Recipient(keys.x25519) };
}

/** The age recipients of several DIDs (contact names and prefixes resolved, duplicates once). */
export async function recipientsOfDids(
  ctx: CliContext,
  texts: readonly string[],
  what = "--to",
): Promise<DidRecipient[]> {
  if (texts.length === 0) {
    throw new InvalidInputError(`Cannot encrypt: name at least one recipient with ${what} DID`);
  }
  const dids = [...new Set(await resolveDids(ctx, texts, { what }))];
  if (dids.length > recipientsMax) {
    throw new InvalidInputError(
      `Cannot encrypt to ${dids.length} recipients: at most ${recipientsMax}`,
    );
  }
  const out: DidRecipient[] = [];
  for (const did of dids) out.push(await recipientOfDid(ctx, did));
  return out;
}

/** Encrypts `data` to the recipients (age-encryption's own X25519 and hybrid recipients). */
export async function encryptTo(
  recipients: readonly DidRecipient[],
  data: Uint8Array,
): Promise<Uint8Array> {
  const encrypter = new age.Encrypter();
  for (const r of recipients) encrypter.addRecipient(r.recipient);
  return await encrypter.encrypt(data);
}

/** One generation of encryption keys the keystore holds, as age identities. */
interface KeyGeneration {
  label: "current" | "earlier";
  identities: (string | age.Identity)[];
}

function identitiesOf(x25519: string, mlKem768: string | undefined): (string | age.Identity)[] {
  const x = fromBase64(x25519);
  const out: (string | age.Identity)[] = [ageX25519Identity(x)];
  if (mlKem768) out.push(new SplitHybridIdentity(fromBase64(mlKem768), x));
  return out;
}

function generationsOf(secrets: KeystoreSecrets): KeyGeneration[] {
  const out: KeyGeneration[] = [{
    label: "current",
    identities: identitiesOf(secrets.x25519, secrets.mlKem768),
  }];
  const retired = [...(secrets.retired ?? [])].reverse(); // newest first
  if (retired.length > 0) {
    out.push({
      label: "earlier",
      identities: retired.flatMap((r) => identitiesOf(r.x25519, r.mlKem768)),
    });
  }
  return out;
}

/** Whether an age library error means "none of these keys is a recipient". */
function noMatch(error: unknown): boolean {
  return /no identity matched/i.test((error as Error)?.message ?? "");
}

/**
 * Decrypts an age file (binary or armored) with the keystore's keys: the
 * current ones, then the earlier ones it keeps. Returns the plaintext and
 * which keys opened it. Throws `RejectedError("not_a_recipient")` when the
 * file is for someone else, `InvalidInputError` when it is not a whole, intact
 * age file.
 */
export async function decryptWith(
  secrets: KeystoreSecrets,
  file: Uint8Array,
  name: string,
): Promise<{ plaintext: Uint8Array; keys: "current" | "earlier" }> {
  let bytes = file;
  const head = new TextDecoder("latin1").decode(file.subarray(0, 64)).trimStart();
  if (head.startsWith(armorBegin)) {
    try {
      bytes = age.armor.decode(new TextDecoder().decode(file));
    } catch (error) {
      throw new InvalidInputError(
        `Cannot decrypt ${name}: its ASCII armor is damaged or truncated (${
          shown((error as Error).message, 100)
        })`,
      );
    }
  } else if (!head.startsWith("age-encryption.org/v1\n")) {
    throw new InvalidInputError(`Cannot decrypt ${name}: it is not an age encrypted file`);
  }
  if (/^-> scrypt /m.test(new TextDecoder("latin1").decode(bytes.subarray(0, 4096)))) {
    throw new InvalidInputError(
      `Cannot decrypt ${name}: it is encrypted with a passphrase, not to an identity (use \`age -d\`)`,
    );
  }
  for (const generation of generationsOf(secrets)) {
    const decrypter = new age.Decrypter();
    for (const identity of generation.identities) decrypter.addIdentity(identity);
    try {
      return { plaintext: await decrypter.decrypt(bytes), keys: generation.label };
    } catch (error) {
      if (noMatch(error)) continue;
      const why = error instanceof AgeStanzaError ? "a malformed recipient stanza" : shown(
        (error as Error)?.message ?? String(error),
        100,
      );
      throw new InvalidInputError(
        `Cannot decrypt ${name}: it is truncated, tampered with or damaged (${why}); nothing was written`,
      );
    }
  }
  const kept = secrets.retired?.length ?? 0;
  throw new RejectedError(
    "not_a_recipient",
    `Cannot decrypt ${name}: it is not encrypted to ${secrets.did} (neither its current keys nor the ${kept} earlier key generation(s) its keystore keeps); nothing was written`,
  );
}

/** `id encrypt`'s options (declared in cli/id_commands.ts). */
export interface EncryptOptions {
  to: string[];
  armor?: boolean;
  out?: string;
  force?: boolean;
}

/** `id decrypt`'s options. */
export interface DecryptOptions {
  out?: string;
  force?: boolean;
}

/**
 * Refuses to replace an existing regular file without --force, to overwrite the input, and
 * `--json` with `--out -` (the file and the result would share standard output).
 */
async function checkOutput(
  ctx: CliContext,
  input: string,
  out: string,
  force: boolean,
): Promise<void> {
  if (out === "-") {
    if (ctx.options.json) {
      throw new InvalidInputError(
        "Cannot use --json with --out -: both would go to standard output",
      );
    }
    return;
  }
  if (resolvePath(out) === resolvePath(input)) {
    throw new InvalidInputError(
      `Cannot write "${out}": it is the input file; choose another --out`,
    );
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(out);
  } catch {
    return; // missing (or unreadable: writing reports why)
  }
  if (info.isDirectory) throw new InvalidInputError(`Cannot write "${out}": it is a directory`);
  if (info.isFile && !force) {
    throw new AlreadyExistsError(
      `Cannot write "${out}": it exists; use --force to replace it, or choose another --out`,
    );
  }
}

/** The summary: on stdout, unless the file itself went there (then on stderr). */
function toStdoutOrStderr(out: string, lines: string[]): string[] {
  if (out !== "-") return lines;
  writeStderr(terminalSafe(lines.join("\n"), { keepNewlines: true }) + "\n");
  return [];
}

export async function encrypt(
  ctx: CliContext,
  args: string[],
  options: EncryptOptions,
): Promise<CommandResult> {
  const [file] = args;
  const out = options.out ?? `${file}${options.armor === true ? ".age.asc" : ".age"}`;
  await checkOutput(ctx, file, out, options.force === true);
  const data = await readInputFile(file, "file to encrypt", { bytesMax: encryptFileBytesMax });
  const recipients = await recipientsOfDids(ctx, options.to ?? []);
  const encrypted = await encryptTo(recipients, data);
  const bytes = options.armor === true
    ? new TextEncoder().encode(age.armor.encode(encrypted))
    : encrypted;
  await writeFileAtomic(out, bytes, 0o644);
  const hybrid = recipients.filter((r) => r.stanza === "mlkem768x25519").length;
  const lines = [
    `Encrypted ${file} to ${recipients.length} recipient(s)${
      out === "-" ? "" : `: ${out}`
    } (${hybrid} hybrid ML-KEM-768 + X25519, ${recipients.length - hybrid} X25519)`,
    ...recipients.map((r) => `  ${r.did}  ${r.stanza} (key event log seq ${r.seq})`),
  ];
  return {
    data: {
      file,
      out,
      armor: options.armor === true,
      bytes: bytes.length,
      recipients: recipients.map(({ did, seq, stanza }) => ({ did, seq, stanza })),
    },
    text: toStdoutOrStderr(out, lines),
  };
}

export async function decrypt(
  ctx: CliContext,
  args: string[],
  options: DecryptOptions,
): Promise<CommandResult> {
  const [file] = args;
  let out = options.out;
  if (out === undefined) {
    const stripped = file.replace(/\.age(\.asc)?$/, "");
    if (stripped === file || stripped === "") {
      throw new InvalidInputError(
        `Cannot decrypt ${file}: name the output with --out FILE (or --out - for standard output)`,
      );
    }
    out = stripped;
  }
  await checkOutput(ctx, file, out, options.force === true);
  // The file is checked before the passphrase is asked for.
  const data = await readInputFile(file, "encrypted file", {
    bytesMax: encryptFileBytesMax + encryptFileBytesMax / 2,
  });
  const unlocked = await ctx.unlock();
  const { plaintext, keys } = await decryptWith(unlocked.secrets, data, file);
  await writeFileAtomic(out, plaintext, 0o600);
  return {
    data: { file, out, did: unlocked.did, keys, bytes: plaintext.length },
    text: toStdoutOrStderr(out, [
      `Decrypted ${file} for ${unlocked.did}${
        out === "-" ? "" : ` to ${out}`
      } (${plaintext.length} bytes${
        keys === "earlier" ? ", with an earlier key kept after a rotation" : ""
      })`,
    ]),
  };
}
