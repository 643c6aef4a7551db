/**
 * The age-encrypted keystore (`identity.age`, scrypt passphrase recipient,
 * mode 0600, written atomically). Reading it only reads: a pending key event
 * is settled by `CliContext.openKeystore` (see cli/id_keystore_settle.ts).
 */
import { envGet, perInvocation } from "./io_scope.ts";
import { fromBase64, toBase64 } from "../core/bytes.ts";
import { IcnError, InvalidInputError, KeystoreError } from "../core/errors.ts";
import { parseDid } from "../core/identity/did.ts";
import { writeFileAtomic } from "./files.ts";
import { acquireLock, describeHolder, type HeldLock } from "./lock.ts";

// Handlers still import it from here; it lives in files.ts with the other file helpers.
export { writeFileAtomic };

/** Secrets held in the keystore; seeds are base64. */
export interface KeystoreSecrets {
  v: 1;
  did: string;
  created: number;
  ed25519: string;
  x25519: string;
  /** Pre-rotation: seeds of the keys the KEL has committed to next. */
  next: { ed25519: string; x25519: string; mlDsa65?: string; mlKem768?: string };
  mlDsa65?: string;
  mlKem768?: string;
  /** Room for the identity lifecycle (recovery requests in flight, etc.). */
  extra?: Record<string, unknown>;
  /**
   * Encryption keys this identity used before its current ones (oldest first, at most
   * `retiredKeysMax`): files encrypted to an earlier key still decrypt after a rotation.
   * Never used to encrypt; `adoptSeeds` adds to it.
   */
  retired?: RetiredKeys[];
  /**
   * A KEL event that changes keys, written here BEFORE it is committed to the
   * store (crash safety). The keystore's own seeds stay the old ones until the
   * event is committed; unlocking then settles it (see `settlePending`).
   */
  pending?: PendingKeyEvent;
}

/** Seeds of one key generation. */
export interface KeySeeds {
  ed25519: string;
  x25519: string;
  mlDsa65?: string;
  mlKem768?: string;
}

/** Seeds of one superseded generation of encryption keys. */
export interface RetiredKeys {
  x25519: string;
  mlKem768?: string;
}

/**
 * Most superseded encryption key generations the keystore keeps (the oldest are dropped
 * first). Sixteen rotations cover years of scheduled rotation; a file encrypted to a key older
 * than that no longer decrypts with this keystore (a backup made before then still holds it).
 */
export const retiredKeysMax = 16;

/**
 * The keystore's secrets after a key event installs `after` (its current seeds and the newly
 * committed next ones): the encryption seeds it replaces move to `retired` (bounded by
 * `retiredKeysMax`), so what was encrypted to them stays readable. No pending event is left.
 */
export function adoptSeeds(
  old: KeystoreSecrets,
  after: KeySeeds & { next: KeySeeds },
): KeystoreSecrets {
  const { next, ...current } = after;
  const out: KeystoreSecrets = { ...old, ...current, next };
  if (!current.mlDsa65) delete out.mlDsa65;
  if (!current.mlKem768) delete out.mlKem768;
  delete out.pending;
  const retired = [...(old.retired ?? [])];
  if (old.x25519 !== current.x25519 || old.mlKem768 !== current.mlKem768) {
    const gone: RetiredKeys = { x25519: old.x25519 };
    if (old.mlKem768) gone.mlKem768 = old.mlKem768;
    const same = (r: RetiredKeys) => r.x25519 === gone.x25519 && r.mlKem768 === gone.mlKem768;
    if (!retired.some(same)) retired.push(gone);
  }
  if (retired.length > 0) out.retired = retired.slice(-retiredKeysMax);
  return out;
}

/** A key-changing KEL event in flight, with the secrets it installs. */
export interface PendingKeyEvent {
  /** Envelope bytes, base64. */
  envelope: string;
  cid: string;
  seq: number;
  /** Seeds after the event: current keys and the newly committed next keys. */
  secrets: KeySeeds & { next: KeySeeds };
}

/**
 * Highest scrypt work factor (log2 N) a keystore may use: age-encryption's decrypter refuses
 * stanzas above 20, and at 21 scrypt needs 2 GiB (128·r·N bytes, r = 8), past @noble/hashes'
 * 1 GiB memory limit. A keystore icn writes must be one icn can open again.
 */
export const scryptLogNMax = 20;
/** Lowest: 2^10 is already cheap enough for tests; below it the passphrase protects nothing. */
export const scryptLogNMin = 10;
/** age's default (~0.8 s here). */
export const scryptLogNDefault = 18;

/** scrypt work factor (log2 N) for new keystores: `ICN_SCRYPT_LOG_N` (tests lower it), else 18. */
export function scryptLogN(): number {
  const fromEnv = envGet("ICN_SCRYPT_LOG_N");
  if (fromEnv === undefined) return scryptLogNDefault;
  const n = /^\d{1,2}$/.test(fromEnv) ? Number(fromEnv) : NaN;
  if (!(n >= scryptLogNMin && n <= scryptLogNMax)) {
    throw new InvalidInputError(
      `Cannot use ICN_SCRYPT_LOG_N="${fromEnv}": it must be a whole number from ${scryptLogNMin} to ${scryptLogNMax} (default ${scryptLogNDefault}; above ${scryptLogNMax} age cannot open the keystore again)`,
    );
  }
  return n;
}

export async function encryptSecrets(
  secrets: KeystoreSecrets,
  passphrase: string,
): Promise<Uint8Array> {
  // age (and the post-quantum and curve code under it) loads only when a keystore is written.
  const age = await import("age-encryption");
  const encrypter = new age.Encrypter();
  encrypter.setPassphrase(passphrase);
  encrypter.setScryptWorkFactor(scryptLogN());
  return await encrypter.encrypt(JSON.stringify(secrets));
}

export async function decryptSecrets(
  data: Uint8Array,
  passphrase: string,
): Promise<KeystoreSecrets> {
  const age = await import("age-encryption");
  const decrypter = new age.Decrypter();
  decrypter.addPassphrase(passphrase);
  let text: string;
  try {
    text = await decrypter.decrypt(data, "text");
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/incorrect passphrase|no identity matched|failed to decrypt|unwrap/i.test(message)) {
      throw new KeystoreError("Cannot unlock the keystore: wrong passphrase", { cause: error });
    }
    if (/work factor is too high/i.test(message)) {
      throw new KeystoreError(
        `Cannot unlock the keystore: it was encrypted with an scrypt work factor above ${scryptLogNMax}, which icn cannot open (age-encryption refuses it); decrypt it with the age tool and encrypt it again with \`age -p\` (work factor 18)`,
        { cause: error },
      );
    }
    throw new KeystoreError(
      `Cannot unlock the keystore: it is corrupted or truncated (${message})`,
      {
        cause: error,
      },
    );
  }
  let secrets: KeystoreSecrets;
  try {
    secrets = JSON.parse(text);
  } catch (error) {
    throw new KeystoreError("Cannot unlock the keystore: its contents are corrupted", {
      cause: error,
    });
  }
  checkSecrets(secrets);
  return secrets;
}

function checkSecrets(secrets: KeystoreSecrets): void {
  const seed = (value: unknown) => typeof value === "string" && fromBase64(value).length === 32;
  try {
    parseDid(secrets.did);
    if (
      secrets.v !== 1 || !seed(secrets.ed25519) || !seed(secrets.x25519) ||
      !seed(secrets.next?.ed25519) || !seed(secrets.next?.x25519)
    ) throw new Error("bad fields");
    const retired = secrets.retired;
    if (
      retired !== undefined &&
      (!Array.isArray(retired) || retired.length > retiredKeysMax ||
        !retired.every((r) =>
          seed(r?.x25519) &&
          (r.mlKem768 === undefined ||
            (typeof r.mlKem768 === "string" && fromBase64(r.mlKem768).length === 64))
        ))
    ) throw new Error("bad retired keys");
  } catch (error) {
    throw new KeystoreError("Cannot unlock the keystore: its contents are not an icn keystore", {
      cause: error,
    });
  }
}

/**
 * The keystore lock: every writer of `identity.age` holds it from before it
 * reads the keystore until after it has written and checked it, so two
 * commands never both start from the same keystore (see cli/lock.ts).
 */
export const keystoreLockFile = "keystore.lock";
/**
 * How long a keystore writer waits for another to finish before refusing. A rotation runs
 * scrypt three times (about 1 s each at the default work factor) and a store commit;
 * a minute covers a queue of several, and a holder waiting at a passphrase prompt.
 */
export const keystoreLockWaitMsDefault = 60_000;
/** The longest wait `ICN_KEYSTORE_LOCK_WAIT_MS` may ask for: ten minutes. */
export const keystoreLockWaitMsMax = 600_000;

function dirOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
}

/** `ICN_KEYSTORE_LOCK_WAIT_MS` (0 refuses at once), else the default. */
export function keystoreLockWaitMs(): number {
  const fromEnv = envGet("ICN_KEYSTORE_LOCK_WAIT_MS");
  if (fromEnv === undefined) return keystoreLockWaitMsDefault;
  const ms = /^\d{1,7}$/.test(fromEnv) ? Number(fromEnv) : NaN;
  if (!(ms <= keystoreLockWaitMsMax)) {
    throw new InvalidInputError(
      `Cannot use ICN_KEYSTORE_LOCK_WAIT_MS="${fromEnv}": it must be a whole number of milliseconds from 0 to ${keystoreLockWaitMsMax}`,
    );
  }
  return ms;
}

/**
 * Keystore locks this command holds, by keystore path, with how many callers share each (per
 * invocation: two in-process test commands must not share a lock the way one command's callers do).
 */
const heldKeystoreLocks = perInvocation(() => new Map<string, { lock: HeldLock; depth: number }>());

/**
 * Runs `work` holding the keystore lock of `keystorePath` (re-entrant within
 * this process). Waits for another holder up to `keystoreLockWaitMs()`, then
 * refuses naming it. A data dir that does not exist has no keystore to
 * protect: `work` runs unlocked and fails on its own terms.
 */
export async function withKeystoreLock<T>(
  keystorePath: string,
  command: string,
  work: () => Promise<T>,
): Promise<T> {
  const held = heldKeystoreLocks().get(keystorePath);
  if (held) {
    held.depth++;
    try {
      return await work();
    } finally {
      held.depth--;
    }
  }
  const lockPath = `${dirOf(keystorePath)}/${keystoreLockFile}`;
  const waitMs = keystoreLockWaitMs();
  let lock: HeldLock;
  try {
    lock = await acquireLock(lockPath, { pid: Deno.pid, command, since: Date.now() }, {
      waitMs,
      busy: (holder, waited) =>
        `Cannot change the keystore for \`${command}\`: it is in use by ${
          describeHolder(holder)
        }; waited ${
          Math.round(waited / 1000)
        } s for ${lockPath} — run it again once that command has finished`,
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return await work();
    if (error instanceof IcnError) throw error;
    throw new KeystoreError(
      `Cannot change the keystore for \`${command}\`: cannot take the lock ${lockPath}: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  heldKeystoreLocks().set(keystorePath, { lock, depth: 1 });
  try {
    return await work();
  } finally {
    heldKeystoreLocks().delete(keystorePath);
    lock.release();
  }
}

/**
 * What this command last read from or wrote to each keystore path: a write
 * refuses to replace a keystore that changed since (another writer that did
 * not take the lock), instead of silently undoing its change.
 */
const keystoreSeen = perInvocation(() => new Map<string, string>());

async function digestOf(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return toBase64(new Uint8Array(digest));
}

async function readKeystoreBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new KeystoreError(`No identity here: ${path} does not exist (run \`icn id init\`)`);
    }
    throw new KeystoreError(`Cannot read keystore ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Decrypts the keystore. Only reads: a pending key event is returned as it is (unlocking
 * settles it, `CliContext.openKeystore`). Remembers what it read, so a later write refuses to
 * replace a keystore another command changed meanwhile.
 */
export async function readKeystoreFile(path: string, passphrase: string): Promise<KeystoreSecrets> {
  const data = await readKeystoreBytes(path);
  keystoreSeen().set(path, await digestOf(data));
  return await decryptSecrets(data, passphrase);
}

/** Whether the keystore at `path` still holds what this process last read from or wrote to it. */
export async function keystoreUnchanged(path: string): Promise<boolean> {
  const seen = keystoreSeen().get(path);
  return seen !== undefined && await digestOf(await readKeystoreBytes(path)) === seen;
}

/**
 * Writes the keystore atomically under the keystore lock, then reads it back:
 * it refuses when the keystore changed since this process read it, and fails
 * unless the file holds exactly what was written, so a change that did not
 * take effect is never reported as done.
 */
export async function writeKeystoreFile(
  path: string,
  secrets: KeystoreSecrets,
  passphrase: string,
): Promise<void> {
  const encrypted = await encryptSecrets(secrets, passphrase);
  const digest = await digestOf(encrypted);
  await withKeystoreLock(path, "icn (writing the keystore)", async () => {
    const expected = keystoreSeen().get(path);
    if (expected !== undefined) {
      const current = await Deno.readFile(path).then(digestOf, () => null);
      if (current !== expected) {
        throw new KeystoreError(
          `Cannot write the keystore ${path}: another command changed it after this one read it; nothing was written — run this command again`,
        );
      }
    }
    await writeFileAtomic(path, encrypted, 0o600);
    const written = await Deno.readFile(path).then(digestOf, () => null);
    if (written !== digest) {
      throw new KeystoreError(
        `Cannot confirm the keystore ${path}: it does not hold what was just written (another process wrote it at the same time) — check it with \`icn doctor\``,
      );
    }
    keystoreSeen().set(path, digest);
  });
}

export const seedToBase64 = toBase64;
export const seedFromBase64 = fromBase64;
