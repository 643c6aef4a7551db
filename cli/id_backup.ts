/**
 * `icn id backup | backup verify | restore`: one age file (scrypt, the
 * keystore passphrase) holding the keystore secrets, the public identity and
 * the KEL envelopes (the identity's own, after those of its recovery
 * trustees). Verify and restore replay the KEL before trusting anything in it.
 */
import { pathExists, readInputFile, writeFileAtomic } from "./files.ts";
import * as age from "age-encryption";
import { CommanderError } from "commander";
import { ingest } from "../core/chain/ingest.ts";
import { fromBase64, toBase64 } from "../core/bytes.ts";
import { envelopeBytesMax } from "../core/constants.ts";
import {
  AlreadyExistsError,
  InvalidInputError,
  KeystoreError,
  RejectedError,
  shown,
} from "../core/errors.ts";
import {
  catchUpAdvice,
  clearCatchUp,
  markCatchUp,
  readCatchUp,
} from "../core/identity/catch_up.ts";
import { recoveryFileBytesMax } from "../core/identity/recovery.ts";
import {
  array,
  base64,
  boolean,
  checkShape,
  did,
  integer,
  isPlainMap,
  literal,
  parseJsonStrict,
  record,
  string,
  timestamp,
} from "../core/strict.ts";
import { type IdentityRecord, nextKeysDigest, sameKeys } from "../core/identity/kel.ts";
import { replayKel } from "../core/identity/replay.ts";
import { bytesEqual } from "../core/bytes.ts";
import type { CliContext } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { crashPoint, kelEnvelopes, requireRecord } from "./id_lifecycle.ts";
import {
  decryptSecrets,
  encryptSecrets,
  type KeystoreSecrets,
  retiredKeysMax,
  scryptLogN,
  writeKeystoreFile,
} from "./keystore.ts";
import type { CommandResult } from "./output.ts";
import {
  type PublicIdentity,
  publicIdentityOf,
  publicKeysOf,
  writePublicIdentityFile,
} from "./public_identity.ts";

const backupFormat = "icn-identity-backup";
/** Largest backup file read into memory. */
export const backupBytesMax = 64 * 1024 * 1024;
/** Most KEL envelopes in a backup: the identity's own and its trustees' (each KEL is bounded by its rotations). */
const backupEnvelopesMax = 100_000;

/** A seed as the keystore holds it: canonical base64 of `length` bytes, kept as text. */
const seedText = (length: number) => (value: unknown, path: string): string => {
  base64({ length })(value, path);
  return value as string;
};
const seedsText = {
  ed25519: seedText(32),
  x25519: seedText(32),
};
const pqSeedsText = { mlDsa65: seedText(32), mlKem768: seedText(64) };

const archiveShape = record({
  format: literal(backupFormat),
  v: literal(1),
  did,
  created: timestamp,
  secrets: record({
    v: literal(1),
    did,
    created: timestamp,
    ...seedsText,
    next: record(seedsText, pqSeedsText),
  }, {
    ...pqSeedsText,
    extra: record({}, { recoveryRequest: string({ max: recoveryFileBytesMax * 2 }) }),
    retired: array(record({ x25519: seedText(32) }, { mlKem768: seedText(64) }), {
      max: retiredKeysMax,
    }),
  }),
  identity: record({
    did,
    created: timestamp,
    keys: record({ ed25519: string({ max: 256 }), x25519: string({ max: 256 }) }, {
      mlDsa65: string({ max: 4096 }),
      mlKem768: string({ max: 4096 }),
    }),
    pq: boolean,
    kelSeq: integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
  }),
  kel: array(base64({ max: envelopeBytesMax }), { min: 1, max: backupEnvelopesMax }),
});

/**
 * Parses the decrypted text of a backup strictly (exact fields, seeds of the
 * right lengths, KEL entries canonical base64 of at most an envelope).
 * Throws `InvalidInputError`; checks nothing cryptographic (see `openBackup`).
 */
export function decodeBackupArchive(
  text: string,
  path: string,
): { archive: BackupArchive; kel: Uint8Array[] } {
  const what = `backup ${path}`;
  const value = parseJsonStrict(text, (value) => value, {
    what,
    bytesMax: backupBytesMax,
  });
  if (!isPlainMap(value) || value.format !== backupFormat) {
    throw new InvalidInputError(`Cannot open backup ${path}: it is not an icn identity backup`);
  }
  const checked = checkShape(archiveShape, value, { what });
  if (checked.secrets.did !== checked.did || checked.identity.did !== checked.did) {
    throw new InvalidInputError(`Cannot open backup ${path}: its parts name different identities`);
  }
  // Both pq seeds or neither, in the current and in the next generation.
  for (const gen of [checked.secrets, checked.secrets.next]) {
    if ((gen.mlDsa65 === undefined) !== (gen.mlKem768 === undefined)) {
      throw new InvalidInputError(
        `Cannot open backup ${path}: its post-quantum seeds are incomplete`,
      );
    }
  }
  const kel = (value as { kel: string[] }).kel.map((entry) => fromBase64(entry));
  return { archive: value as unknown as BackupArchive, kel };
}

interface BackupArchive {
  format: typeof backupFormat;
  v: 1;
  did: string;
  created: number;
  secrets: KeystoreSecrets;
  identity: PublicIdentity;
  /** KEL envelope bytes, base64, in replay order. */
  kel: string[];
}

/** `id backup`'s options (declared in cli/id_commands.ts). */
export interface BackupOptions {
  out?: string;
  /** Trustees: the backup is split among them (cli/id_trustee.ts) instead of the passphrase. */
  to?: string[];
  threshold?: string;
}

export interface RestoreOptions {
  force?: boolean;
  /** Opened trustee shares, for a trustee backup. */
  share?: string[];
}

export interface VerifyBackupOptions {
  share?: string[];
}

export interface CaughtUpOptions {
  iKnow?: boolean;
}

export async function backup(
  ctx: CliContext,
  _args: string[],
  options: BackupOptions,
): Promise<CommandResult> {
  if (options.to !== undefined) {
    // Each DID is checked first, so a typo is named before anything else is said.
    const { checkDidText } = await import("./contacts.ts");
    for (const text of options.to) checkDidText(text, { what: "--to" });
  }
  if (options.threshold !== undefined && !/^\d{1,3}$/.test(options.threshold)) {
    throw new InvalidInputError(
      `Cannot use --threshold "${shown(options.threshold, 16)}": it must be a whole number`,
    );
  }
  if (options.to === undefined && options.threshold !== undefined) {
    throw new InvalidInputError(
      "Cannot use --threshold without --to: a threshold splits the backup among trustees",
    );
  }
  if (options.to !== undefined && options.threshold === undefined) {
    throw new InvalidInputError(
      "Cannot back up to trustees without --threshold M: say how many of them must join to restore",
    );
  }
  if (options.out === undefined || options.out.length === 0) {
    throw new InvalidInputError("Cannot back up: name the backup file with --out FILE");
  }
  const threshold = options.threshold === undefined ? undefined : Number(options.threshold);
  const unlocked = await ctx.unlock();
  const identity = await ctx.readPublicIdentity();
  await requireRecord(ctx, unlocked.did);
  const envelopes = await kelEnvelopes(ctx, unlocked.did);
  const { pending: _pending, ...secrets } = unlocked.secrets;
  const archive: BackupArchive = {
    format: backupFormat,
    v: 1,
    did: unlocked.did,
    created: ctx.clock.now(),
    secrets,
    identity,
    kel: envelopes.map((s) => toBase64(s.bytes)),
  };
  const own = envelopes.filter((s) => s.envelope.author === unlocked.did).length;
  if (options.to !== undefined) {
    const { trusteeBundle } = await import("./id_trustee.ts");
    const bundle = await trusteeBundle(
      ctx,
      unlocked.did,
      JSON.stringify(archive),
      options.to,
      threshold!,
    );
    await writeFileAtomic(options.out, bundle.bytes, 0o600);
    return {
      data: {
        file: options.out,
        did: unlocked.did,
        kelEvents: own,
        envelopes: envelopes.length,
        bytes: bundle.bytes.length,
        threshold,
        trustees: bundle.trustees,
      },
      text: [
        `Backed up ${unlocked.did} to ${options.out} for ${bundle.trustees.length} trustees: any ${threshold} of them together can restore it, fewer cannot`,
        ...bundle.trustees.map((t) => `  ${t.did}  (${t.stanza})`),
        `  give each trustee the file; to restore, ${threshold} of them run \`icn id share-open ${options.out}\` and you run \`icn id restore ${options.out} --share FILE ...\``,
      ],
    };
  }
  const encrypter = new age.Encrypter();
  encrypter.setPassphrase(unlocked.passphrase);
  encrypter.setScryptWorkFactor(scryptLogN());
  const bytes = await encrypter.encrypt(JSON.stringify(archive));
  await writeFileAtomic(options.out, bytes, 0o600);
  return {
    data: {
      file: options.out,
      did: unlocked.did,
      kelEvents: own,
      envelopes: envelopes.length,
      bytes: bytes.length,
    },
    text:
      `Backed up ${unlocked.did} to ${options.out} (${own} key event(s), age-encrypted with the keystore passphrase)`,
  };
}

/** Most scrypt work (log2 N) a backup may ask for: what icn writes by default (2^18: 256 MiB, about a second), or more when ICN_SCRYPT_LOG_N says so. */
const backupScryptLogNDefaultMax = 18;

/**
 * Refuses an age file whose scrypt stanza asks for more work than icn would
 * have used to write it, before any is done: a changed header could
 * otherwise cost 1 GiB of memory and seconds of CPU (age itself allows 2^20).
 */
function checkScryptWorkFactor(bytes: Uint8Array, path: string): void {
  const header = new TextDecoder("latin1").decode(bytes.subarray(0, 1024));
  const max = Math.max(backupScryptLogNDefaultMax, scryptLogN());
  for (const match of header.matchAll(/^-> scrypt \S+ (\S+)$/gm)) {
    const logN = Number(match[1]);
    if (!/^\d{1,2}$/.test(match[1]) || logN > max) {
      throw new InvalidInputError(
        `Cannot open backup ${path}: its scrypt work factor "${
          shown(match[1], 8)
        }" is above the 2^${max} icn accepts (set ICN_SCRYPT_LOG_N to allow more)`,
      );
    }
  }
}

interface CheckedBackup {
  archive: BackupArchive;
  record: IdentityRecord;
  kel: Uint8Array[];
}

/**
 * Opens a backup of either kind and fully checks it, writing nothing: a trustee
 * backup with the opened `shares` (the restored keystore gets a new passphrase),
 * a passphrase backup with the keystore passphrase.
 */
async function openAnyBackup(
  ctx: CliContext,
  path: string,
  shares: readonly string[] | undefined,
): Promise<CheckedBackup & { passphrase: string; trustees?: { threshold: number; used: number } }> {
  const bytes = await readInputFile(path, "backup", { bytesMax: backupBytesMax * 2 });
  const { isTrusteeBundle, openWithShares } = await import("./id_trustee.ts");
  if (!isTrusteeBundle(bytes)) {
    if (shares !== undefined) {
      throw new InvalidInputError(
        `Cannot use --share ${
          shares.join(", ")
        } with ${path}: it is a passphrase backup, not a trustee backup`,
      );
    }
    return await openBackup(ctx, path, bytes);
  }
  if (shares === undefined || shares.length === 0) {
    throw new InvalidInputError(
      `Cannot open ${path}: it is a trustee backup; gather its trustees' opened shares (\`icn id share-open ${path}\`) and pass each with --share FILE`,
    );
  }
  const opened = await openWithShares(path, bytes, shares);
  const passphrase = await ctx.newPassphrase();
  const checked = await checkArchive(opened.text, path, passphrase);
  return { ...checked, passphrase, trustees: { threshold: opened.threshold, used: opened.used } };
}

/** Decrypts and fully checks a backup: structure, KEL replay, keys matching the KEL. Writes nothing. */
async function openBackup(
  ctx: CliContext,
  path: string,
  bytes: Uint8Array,
): Promise<CheckedBackup & { passphrase: string }> {
  if (bytes.length > backupBytesMax) {
    throw new InvalidInputError(
      `Cannot read backup ${path}: ${bytes.length} bytes, the limit is ${backupBytesMax}`,
    );
  }
  checkScryptWorkFactor(bytes, path);
  const passphrase = await ctx.passphrase();
  const decrypter = new age.Decrypter();
  decrypter.addPassphrase(passphrase);
  let text: string;
  try {
    text = await decrypter.decrypt(bytes, "text");
  } catch (error) {
    const message = shown((error as Error)?.message ?? error, 200);
    if (/incorrect passphrase|no identity matched|unwrap/i.test(message)) {
      throw new KeystoreError(`Cannot open backup ${path}: wrong passphrase`);
    }
    throw new InvalidInputError(
      `Cannot open backup ${path}: it is truncated or corrupted (${message})`,
    );
  }
  return { ...await checkArchive(text, path, passphrase), passphrase };
}

/** Checks a decrypted backup archive: structure, KEL replay, keys matching the KEL. */
async function checkArchive(
  text: string,
  path: string,
  passphrase: string,
): Promise<CheckedBackup> {
  const { archive, kel } = decodeBackupArchive(text, path);
  // Re-checks the secrets the way the keystore does when it is read.
  const secrets = await decryptSecrets(
    await encryptSecrets(archive.secrets, passphrase),
    passphrase,
  );
  let records: Map<string, IdentityRecord>;
  try {
    records = await replayKel(kel);
  } catch (error) {
    throw new RejectedError(
      "bad_kel",
      `Backup ${path} holds a key event log that does not verify: ${(error as Error).message}`,
    );
  }
  const record = records.get(archive.did);
  if (!record) {
    throw new RejectedError("bad_kel", `Backup ${path} holds no key event log for ${archive.did}`);
  }
  const keys = await publicKeysOf(secrets);
  if (!sameKeys(keys, record.keys)) {
    throw new RejectedError(
      "bad_backup",
      `Backup ${path}: its keys are not the current keys of its key event log`,
    );
  }
  if (
    record.next && !bytesEqual(await nextKeysDigest(await publicKeysOf(secrets.next)), record.next)
  ) {
    throw new RejectedError(
      "bad_backup",
      `Backup ${path}: its next keys do not match the committed digest`,
    );
  }
  return { archive: { ...archive, secrets }, record, kel };
}

export async function verifyBackup(
  ctx: CliContext,
  args: string[],
  options: VerifyBackupOptions = {},
): Promise<CommandResult> {
  const [path] = args;
  const { archive, record } = await openAnyBackup(ctx, path, options.share);
  return {
    data: {
      file: path,
      valid: true,
      did: archive.did,
      kelSeq: record.seq,
      pq: !!record.keys.mlDsa65,
      created: archive.created,
    },
    text: [
      `Backup ${path} is good`,
      `  identity: ${archive.did}`,
      `  key event log: ${record.seq + 1} event(s), verified; keys match its head`,
      `  made: ${new Date(archive.created).toISOString()}`,
    ],
  };
}

export async function restore(
  ctx: CliContext,
  args: string[],
  options: RestoreOptions,
): Promise<CommandResult> {
  const [path] = args;
  const { archive, record, kel, passphrase, trustees } = await openAnyBackup(
    ctx,
    path,
    options.share,
  );
  await ctx.ensureDataDir();
  const present = [ctx.keystorePath, ctx.publicIdentityPath];
  const existing = [];
  for (const file of present) if (await pathExists(file)) existing.push(file);
  if (existing.length > 0 && options.force !== true) {
    let current = "";
    try {
      current = ` (${(await ctx.readPublicIdentity()).did})`;
    } catch {
      // An unreadable identity.json is still an identity we will not overwrite.
    }
    throw new AlreadyExistsError(
      `Cannot restore ${archive.did} into ${ctx.dataDir}: it already holds an identity${current}; use --force to replace it (the old files are kept as .bak)`,
    );
  }
  // The store's KEL may be ahead of the backup: then the backed-up keys were rotated away.
  const deps = await ctx.ingestDeps();
  try {
    await ingest(deps, kel, { source: "import", atomicity: "all" });
  } catch (error) {
    if (error instanceof RejectedError) {
      throw new RejectedError(
        error.reason,
        `Cannot restore ${archive.did}: its key event log conflicts with this store (${error.message})`,
      );
    }
    throw error;
  }
  crashPoint("restore:after-ingest");
  const stored = await requireRecord(ctx, archive.did);
  if (stored.seq !== record.seq) {
    throw new RejectedError(
      "stale_backup",
      `Cannot restore ${archive.did}: this store's key event log is at seq ${stored.seq}, the backup's at ${record.seq} (the backed-up keys were rotated away)`,
    );
  }
  // The guard goes up before the keys are installed: no moment lets a write slip through.
  await markCatchUp(await ctx.homeStore(), {
    did: archive.did,
    reason: "restore",
    since: ctx.clock.now(),
  });
  const kept: string[] = [];
  const suffix = new Date(ctx.clock.now()).toISOString().replace(/[:.]/g, "-");
  for (const file of existing) {
    const bak = `${file}.${suffix}.bak`;
    await Deno.copyFile(file, bak);
    await Deno.chmod(bak, 0o600);
    kept.push(bak);
  }
  crashPoint("restore:after-bak");
  await writeKeystoreFile(ctx.keystorePath, archive.secrets, passphrase);
  crashPoint("restore:after-keystore");
  await writePublicIdentityFile(
    ctx.publicIdentityPath,
    publicIdentityOf(archive.secrets, record.keys, record.seq),
  );
  return {
    data: {
      file: path,
      did: archive.did,
      kelSeq: record.seq,
      kept,
      ...(trustees ? { shares: trustees.used, threshold: trustees.threshold } : {}),
    },
    text: [
      `Restored ${archive.did} into ${ctx.dataDir} (key event log seq ${record.seq})${
        trustees ? ` from ${trustees.used} trustees' shares (threshold ${trustees.threshold})` : ""
      }`,
      ...kept.map((k) => `  previous file kept as ${k}`),
      ...catchUpAdvice,
    ],
  };
}

/**
 * `icn id caught-up --i-know`: lifts the restore guard by hand. Without `--i-know` it is a
 * usage error that names the risk; a write that forks the member's chain cannot be undone.
 */
export async function caughtUp(
  ctx: CliContext,
  _args: string[],
  options: CaughtUpOptions,
): Promise<CommandResult> {
  if (options.iKnow !== true) {
    throw new CommanderError(
      exitCodes.usage,
      "icn.catchUpUnconfirmed",
      "Refusing to lift the restore guard without --i-know: if a peer holds envelopes of yours that this data dir lacks, your next write forks your chain and peers quarantine you; catch up instead (`icn node import BUNDLE` from a peer, or `icn node run` until it has synced)",
    );
  }
  const { did } = await ctx.readPublicIdentity();
  const store = await ctx.store();
  if (!(await readCatchUp(store, did))) {
    return {
      data: { did, lifted: false },
      text: `No restore guard stands for ${did} in ${ctx.dataDir}: nothing to do`,
    };
  }
  await clearCatchUp(store);
  return {
    data: { did, lifted: true },
    text:
      `Lifted the restore guard of ${did}: writes are allowed; if a peer holds newer envelopes of yours, the next one forks your chain`,
  };
}
