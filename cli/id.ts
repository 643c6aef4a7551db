/** Handlers of `icn id`. */
import { hashInputFile, pathExists, readInputText, writeFileAtomic } from "./files.ts";
import { basename } from "node:path";
import {
  AlreadyExistsError,
  InvalidInputError,
  InvalidSignatureError,
  RejectedError,
} from "../core/errors.ts";
import { didFromPublicKey, parseDid } from "../core/identity/did.ts";
import { didDocument } from "../core/identity/did_document.ts";
import { identityKey, type IdentityRecord, nextKeysDigest } from "../core/identity/kel.ts";
import { ed25519FromSeed, mlDsa65FromSeed } from "../core/identity/keys.ts";
import {
  minisignPublicKey,
  minisignSign,
  minisignVerify,
  parseMinisignPublicKey,
  parseMinisignSignature,
} from "../core/identity/minisign.ts";
import { createSigner } from "../core/identity/signer.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { contactLabels, resolveDid } from "./contacts.ts";
import type { CliContext } from "./context.ts";
import {
  type KeystoreSecrets,
  scryptLogN,
  seedToBase64,
  withKeystoreLock,
  writeKeystoreFile,
} from "./keystore.ts";
import { type CommandResult, writeStderr } from "./output.ts";
import { publicIdentityOf, publicKeysOf, writePublicIdentityFile } from "./public_identity.ts";

/** Fresh seeds for one key generation (current or next). */
export function freshSeeds(ctx: CliContext, pq: boolean) {
  const seeds: { ed25519: string; x25519: string; mlDsa65?: string; mlKem768?: string } = {
    ed25519: seedToBase64(ctx.rng.bytes(32)),
    x25519: seedToBase64(ctx.rng.bytes(32)),
  };
  if (pq) {
    seeds.mlDsa65 = seedToBase64(ctx.rng.bytes(32));
    seeds.mlKem768 = seedToBase64(ctx.rng.bytes(64));
  }
  return seeds;
}

function timestampSuffix(ms: number): string {
  return new Date(ms).toISOString().replace(/[:.]/g, "-");
}

/** `id init`'s options (declared in cli/id_commands.ts). */
export interface InitOptions {
  pq?: boolean;
  force?: boolean;
}

export interface SignOptions {
  out?: string;
  comment?: string;
  pq?: boolean;
}

export interface VerifyOptions {
  sig?: string;
  did?: string;
  pubkey?: string;
}

export interface ExportOptions {
  minisign?: boolean;
}

export interface ChangePassphraseOptions {
  newPassphraseFile?: string;
}

export async function init(
  ctx: CliContext,
  _args: string[],
  options: InitOptions,
): Promise<CommandResult> {
  scryptLogN(); // a bad ICN_SCRYPT_LOG_N is refused before anything is created
  await ctx.ensureDataDir();
  // Two `id init` at once would both find no keystore and both write one.
  return await withKeystoreLock(ctx.keystorePath, "icn id init", () => initLocked(ctx, options));
}

async function initLocked(
  ctx: CliContext,
  options: InitOptions,
): Promise<CommandResult> {
  const pq = options.pq === true;
  const hadKeystore = await pathExists(ctx.keystorePath);
  const hadPublic = await pathExists(ctx.publicIdentityPath);
  if ((hadKeystore || hadPublic) && options.force !== true) {
    throw new AlreadyExistsError(
      `An identity already exists in ${ctx.dataDir}: use --force to replace it (the old keystore is kept as a backup)`,
    );
  }
  const passphrase = await ctx.newPassphrase();
  const now = ctx.clock.now();
  const current = freshSeeds(ctx, pq);
  const next = freshSeeds(ctx, pq);
  const keys = await publicKeysOf(current);
  const did = didFromPublicKey(keys.ed25519);
  const secrets: KeystoreSecrets = { v: 1, did, created: now, ...current, next };
  const { fromBase64 } = await import("../core/bytes.ts");
  const signer = createSigner(
    did,
    await ed25519FromSeed(fromBase64(current.ed25519)),
    current.mlDsa65 ? await mlDsa65FromSeed(fromBase64(current.mlDsa65)) : undefined,
  );
  await ctx.appendKelOrThrow(signer, {
    kind: "id.inception",
    body: { keys, next: await nextKeysDigest(await publicKeysOf(next)) },
  });
  let backup: string | undefined;
  if (hadKeystore) {
    backup = `${ctx.keystorePath}.${timestampSuffix(now)}.bak`;
    await Deno.copyFile(ctx.keystorePath, backup);
    await Deno.chmod(backup, 0o600);
  }
  await writeKeystoreFile(ctx.keystorePath, secrets, passphrase);
  await writePublicIdentityFile(ctx.publicIdentityPath, publicIdentityOf(secrets, keys, 0));
  const lines = [
    `Created identity ${did}`,
    `  keystore: ${ctx.keystorePath} (age, mode 0600)`,
    `  keys: Ed25519, X25519${pq ? ", ML-DSA-65, ML-KEM-768 (hybrid)" : ""}`,
  ];
  if (backup) lines.push(`  previous keystore kept as ${backup}`);
  return {
    data: { did, pq, keystore: ctx.keystorePath, backup: backup ?? null, created: now },
    text: lines,
  };
}

/** The identity's KEL record from the store, or null (also when there is no data dir yet). */
export async function identityRecord(ctx: CliContext, did: string): Promise<IdentityRecord | null> {
  // Verifying needs no data dir of one's own: without one, only the DID's inception key is known.
  if (!(await pathExists(ctx.dataDir))) return null;
  const store = await ctx.store();
  return (await store.get<IdentityRecord>(identityKey(did)))?.value ?? null;
}

export async function sign(
  ctx: CliContext,
  args: string[],
  options: SignOptions,
): Promise<CommandResult> {
  const [file] = args;
  const data = await hashInputFile(file, "file to sign", { onProgress: progressLine(file) });
  // Signing needs no secret seeds here: the unlock agent signs when one runs.
  const unlocked = await ctx.unlockForSigning();
  // The key id names the current key, as the key log has it (the keystore's keys match it).
  const publicKey = (await identityRecord(ctx, unlocked.did))?.keys.ed25519 ??
    parseDid(unlocked.did);
  const signWith = async (alg: "ed25519" | "ml-dsa-65", message: Uint8Array) => {
    const sig = (await unlocked.signer.sign(message)).find((s) => s.alg === alg)?.sig;
    if (!sig) {
      throw new InvalidInputError(
        "This identity has no ML-DSA-65 key: run `icn id upgrade-pq` first",
      );
    }
    return sig;
  };
  const out = options.out ?? `${file}.minisig`;
  const now = ctx.clock.now();
  const extra = options.comment !== undefined ? `\tcomment:${options.comment}` : "";
  const trustedComment = `timestamp:${Math.floor(now / 1000)}\tfile:${
    basename(file)
  }\t${unlocked.did}${extra}`;
  let text = await minisignSign(data, {
    publicKey,
    sign: (message) => signWith("ed25519", message),
    trustedComment,
    untrustedComment: `signature from icn identity ${unlocked.did}`,
  });
  if (options.pq === true) {
    const { addPqSignatureLine } = await import("./id_pq.ts");
    text = await addPqSignatureLine((message) => signWith("ml-dsa-65", message), data, text);
  }
  await writeFileAtomic(out, new TextEncoder().encode(text), 0o644);
  return {
    data: { file, signature: out, did: unlocked.did, trustedComment, pq: options.pq === true },
    text: `Signed ${file} as ${unlocked.did}\n  signature: ${out}`,
  };
}

/** A `.minisig` or `.pub` file is a few lines; anything larger is not one. */
const signatureFileBytesMax = 64 * 1024;

/** Progress of hashing a large file, on stderr (stdout carries results only). */
function progressLine(file: string): (done: number, total: number) => void {
  const mib = (n: number) => Math.floor(n / (1024 * 1024));
  return (done, total) => writeStderr(`hashing ${file}: ${mib(done)} of ${mib(total)} MiB\n`);
}

function didFromComment(comment: string): string | undefined {
  for (const field of comment.split("\t")) if (field.startsWith("did:icn:")) return field;
  return undefined;
}

/** Runs a parser of a file's text; its refusal names the file (the parser only has the text). */
function namingFile<T>(path: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    throw new InvalidInputError(`${error.message} (in ${path})`, { cause: error });
  }
}

export async function verify(
  ctx: CliContext,
  args: string[],
  options: VerifyOptions,
): Promise<CommandResult> {
  const [file] = args;
  const sigPath = options.sig ?? `${file}.minisig`;
  const data = await hashInputFile(file, "signed file", { onProgress: progressLine(file) });
  const sigText = await readInputText(sigPath, "signature", { bytesMax: signatureFileBytesMax });
  const parsed = namingFile(sigPath, () => parseMinisignSignature(sigText));
  if (options.pubkey !== undefined) {
    const { pubkey } = options;
    const keyText = await readInputText(pubkey, "public key", { bytesMax: signatureFileBytesMax });
    const key = namingFile(pubkey, () => parseMinisignPublicKey(keyText));
    await minisignVerify(data, parsed, key);
    return {
      data: { valid: true, file, trustedComment: parsed.trustedComment },
      text: `Good signature on ${file}\n  trusted comment: ${terminalSafe(parsed.trustedComment)}`,
    };
  }
  const claimed = didFromComment(parsed.trustedComment);
  const wanted = options.did !== undefined
    ? await resolveDid(ctx, options.did, { what: "--did" })
    : undefined;
  const did = wanted ?? claimed;
  if (!did) {
    throw new InvalidSignatureError("Signature names no DID: pass --did DID or --pubkey FILE");
  }
  if (wanted && claimed && wanted !== claimed) {
    throw new InvalidSignatureError(`Signature is from "${claimed}", not "${wanted}"`);
  }
  const record = await identityRecord(ctx, did);
  const candidates = record ? record.history.map((p) => p.ed25519) : [parseDid(did)];
  let lastError: unknown;
  for (const key of candidates.reverse()) {
    try {
      await minisignVerify(data, parsed, key);
      lastError = undefined;
      break;
    } catch (error) {
      lastError = error;
    }
  }
  if (lastError) throw lastError;
  const labels = await contactLabels(ctx);
  let pq: boolean | undefined;
  if (parsed.extra.length > 0) {
    const { verifyPqSignatureLine } = await import("./id_pq.ts");
    pq = await verifyPqSignatureLine(record, data, parsed);
  }
  return {
    data: {
      valid: true,
      file,
      did,
      trustedComment: parsed.trustedComment,
      ...(pq !== undefined ? { pq } : {}),
    },
    warnings: labels.warnings,
    text: `Good signature from ${labels.label(did)} on ${file}${
      pq ? " (Ed25519 + ML-DSA-65)" : ""
    }\n  trusted comment: ${terminalSafe(parsed.trustedComment)}`,
  };
}

export async function exportIdentity(
  ctx: CliContext,
  _args: string[],
  options: ExportOptions,
): Promise<CommandResult> {
  const identity = await ctx.readPublicIdentity();
  const record = await identityRecord(ctx, identity.did);
  if (!record) {
    throw new RejectedError(
      "missing_kel",
      `Key event log of ${identity.did} is missing from the store`,
    );
  }
  if (options.minisign === true) {
    const text = minisignPublicKey(record.keys.ed25519);
    return { data: { did: identity.did, minisign: text }, text: text.trimEnd() };
  }
  const document = didDocument(record);
  return { data: document, text: JSON.stringify(document, null, 2) };
}

export async function changePassphrase(
  ctx: CliContext,
  _args: string[],
  options: ChangePassphraseOptions,
): Promise<CommandResult> {
  return await withKeystoreLock(
    ctx.keystorePath,
    "icn id change-passphrase",
    () => changePassphraseLocked(ctx, options),
  );
}

async function changePassphraseLocked(
  ctx: CliContext,
  options: ChangePassphraseOptions,
): Promise<CommandResult> {
  const unlocked = await ctx.unlock();
  const next = await ctx.newPassphrase("ICN_NEW_PASSPHRASE", options.newPassphraseFile);
  await writeKeystoreFile(ctx.keystorePath, unlocked.secrets, next);
  return {
    data: { did: unlocked.did, changed: true },
    text: `Passphrase changed for ${unlocked.did}`,
  };
}
