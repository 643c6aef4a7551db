/**
 * The age-encrypted keystore (`identity.age`, scrypt passphrase recipient,
 * mode 0600, written atomically) and the public identity beside it.
 */
import * as age from "age-encryption";
import { fromBase64, toBase64 } from "../core/bytes.ts";
import { InvalidInputError, KeystoreError } from "../core/errors.ts";
import { parseDid } from "../core/identity/did.ts";
import { writeFileAtomic } from "./files.ts";

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
   * A KEL event that changes keys, written here BEFORE it is committed to the
   * store (crash safety). The keystore's own seeds stay the old ones until the
   * event is committed; `readKeystoreFile` then settles it (see `settlePending`).
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

/** A key-changing KEL event in flight, with the secrets it installs. */
export interface PendingKeyEvent {
  /** Envelope bytes, base64. */
  envelope: string;
  cid: string;
  seq: number;
  /** Seeds after the event: current keys and the newly committed next keys. */
  secrets: KeySeeds & { next: KeySeeds };
}

/** Public identity file (`identity.json`): no secrets, readable without the passphrase. */
export interface PublicIdentity {
  did: string;
  created: number;
  keys: Record<string, string>;
  pq: boolean;
  kelSeq: number;
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
  const fromEnv = Deno.env.get("ICN_SCRYPT_LOG_N");
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
  const encrypter = new age.Encrypter();
  encrypter.setPassphrase(passphrase);
  encrypter.setScryptWorkFactor(scryptLogN());
  return await encrypter.encrypt(JSON.stringify(secrets));
}

export async function decryptSecrets(
  data: Uint8Array,
  passphrase: string,
): Promise<KeystoreSecrets> {
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
  } catch (error) {
    throw new KeystoreError("Cannot unlock the keystore: its contents are not an icn keystore", {
      cause: error,
    });
  }
}

export async function readKeystoreFile(path: string, passphrase: string): Promise<KeystoreSecrets> {
  let data: Uint8Array;
  try {
    data = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new KeystoreError(`No identity here: ${path} does not exist (run \`icn id init\`)`);
    }
    throw new KeystoreError(`Cannot read keystore ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const secrets = await decryptSecrets(data, passphrase);
  if (!secrets.pending) return secrets;
  const { settlePending } = await import("./id_keystore_settle.ts");
  return await settlePending(path, secrets, passphrase);
}

export async function writeKeystoreFile(
  path: string,
  secrets: KeystoreSecrets,
  passphrase: string,
): Promise<void> {
  await writeFileAtomic(path, await encryptSecrets(secrets, passphrase), 0o600);
}

export const seedToBase64 = toBase64;
export const seedFromBase64 = fromBase64;
