/**
 * An identity's encryption keys as age sees them (age-encryption.org/v1).
 *
 * - X25519: the KEL's X25519 key is an age X25519 recipient (`age1…`), and its
 *   seed, the raw private scalar, is an age identity (`AGE-SECRET-KEY-1…`);
 *   age-encryption's own X25519 recipient and identity do the work.
 * - Hybrid: an identity with ML-KEM-768 keys is an age post-quantum recipient
 *   (`age1pq1…`, the `mlkem768x25519` stanza). Its public key is exactly what
 *   age's hybrid recipient is: the ML-KEM-768 encapsulation key (1,184 bytes)
 *   followed by the X25519 public key (32), the X-Wing KEM
 *   (draft-connolly-cfrg-xwing-kem). age-encryption's `HybridRecipient`
 *   encrypts to it unchanged. Its decrypting identity cannot be used as is: an
 *   age `AGE-SECRET-KEY-PQ-1…` is one 32-byte seed that SHAKE256 expands into
 *   both secrets, while icn keeps the two seeds apart (the KEL names each key
 *   on its own). `SplitHybridIdentity` decapsulates with the two secrets:
 *   ML-KEM-768 decapsulation (FIPS 203, @noble/post-quantum) and X25519
 *   (@noble/curves), combined as X-Wing does, SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖
 *   pk_X ‖ "\.//^\"), then the HPKE base-mode key schedule age specifies
 *   (RFC 9180: KEM 0x647a, HKDF-SHA256, ChaCha20-Poly1305, info
 *   "age-encryption.org/mlkem768x25519") and one ChaCha20-Poly1305 open of the
 *   32-byte stanza body. The tests check it against age-encryption's own
 *   `HybridIdentity` on keys expanded from one seed.
 *
 * Pure: no randomness here (encryption, which needs it, is age-encryption's,
 * called from cli/).
 */
import type { Identity, Stanza } from "age-encryption";
import { base64nopad, bech32 } from "@scure/base";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { expand, extract } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { concatBytes, utf8Encode } from "../bytes.ts";

/** Bytes of an ML-KEM-768 encapsulation key (FIPS 203). */
export const mlKem768PublicBytes = 1184;
/** Bytes of an ML-KEM-768 ciphertext. */
const mlKem768CipherTextBytes = 1088;
/** Bytes of the ML-KEM-768 seed the keystore holds (d ‖ z). */
export const mlKem768SeedBytes = 64;
/** The stanza type of age's hybrid recipients. */
export const hybridStanzaType = "mlkem768x25519";
/** The stanza type of age's X25519 recipients. */
export const x25519StanzaType = "X25519";

/** The age X25519 recipient of an X25519 public key: `age1…`. */
export function ageX25519Recipient(x25519Public: Uint8Array): string {
  if (x25519Public.length !== 32) throw new RangeError("An X25519 public key has 32 bytes");
  return bech32.encodeFromBytes("age", x25519Public);
}

/** The age post-quantum recipient of an ML-KEM-768 + X25519 key pair: `age1pq1…` (1,216 bytes). */
export function ageHybridRecipient(mlKem768Public: Uint8Array, x25519Public: Uint8Array): string {
  if (mlKem768Public.length !== mlKem768PublicBytes || x25519Public.length !== 32) {
    throw new RangeError("An age hybrid recipient is an ML-KEM-768 key and an X25519 key");
  }
  // Encoded like age-encryption does, without bech32's 90-character limit.
  return bech32.encode("age1pq", bech32.toWords(concatBytes(mlKem768Public, x25519Public)), false);
}

/** The age identity of an X25519 seed (the raw private scalar): `AGE-SECRET-KEY-1…`. */
export function ageX25519Identity(x25519Seed: Uint8Array): string {
  if (x25519Seed.length !== 32) throw new RangeError("An X25519 seed has 32 bytes");
  return bech32.encodeFromBytes("AGE-SECRET-KEY-", x25519Seed).toUpperCase();
}

/** X25519 public key of a seed (the scalar is clamped, as RFC 7748 and age do). */
export function x25519PublicOf(x25519Seed: Uint8Array): Uint8Array {
  return x25519.getPublicKey(x25519Seed);
}

/** ML-KEM-768 key pair of the keystore's 64-byte seed (d ‖ z), FIPS 203 ML-KEM.KeyGen_internal. */
export function mlKem768KeyPair(
  seed: Uint8Array,
): { publicKey: Uint8Array; secretKey: Uint8Array } {
  if (seed.length !== mlKem768SeedBytes) {
    throw new RangeError(`An ML-KEM-768 seed has ${mlKem768SeedBytes} bytes`);
  }
  return ml_kem768.keygen(seed);
}

// HPKE (RFC 9180) base mode, single shot, as age's HPKE-based stanzas use it.
const hpkeKemMlKem768X25519 = 0x647a;
const hybridLabel = utf8Encode("age-encryption.org/mlkem768x25519");
const xwingLabel = utf8Encode("\\.//^\\");

function hpkeSuiteId(kemId: number): Uint8Array {
  // "HPKE" ‖ KEM id ‖ KDF 0x0001 (HKDF-SHA256) ‖ AEAD 0x0003 (ChaCha20-Poly1305).
  return concatBytes(utf8Encode("HPKE"), new Uint8Array([kemId >> 8, kemId & 0xff, 0, 1, 0, 3]));
}

function labeledExtract(
  suite: Uint8Array,
  salt: Uint8Array | undefined,
  label: string,
  ikm: Uint8Array,
): Uint8Array {
  return extract(sha256, concatBytes(utf8Encode("HPKE-v1"), suite, utf8Encode(label), ikm), salt);
}

function labeledExpand(
  suite: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const labeledInfo = concatBytes(
    new Uint8Array([length >> 8, length & 0xff]),
    utf8Encode("HPKE-v1"),
    suite,
    utf8Encode(label),
    info,
  );
  return expand(sha256, prk, labeledInfo, length);
}

/** HPKE KeySchedule (mode_base, no PSK) → the AEAD key and base nonce. */
function hpkeKeySchedule(
  sharedSecret: Uint8Array,
  info: Uint8Array,
): { key: Uint8Array; nonce: Uint8Array } {
  const suite = hpkeSuiteId(hpkeKemMlKem768X25519);
  const pskIdHash = labeledExtract(suite, undefined, "psk_id_hash", new Uint8Array(0));
  const infoHash = labeledExtract(suite, undefined, "info_hash", info);
  const context = concatBytes(new Uint8Array([0]), pskIdHash, infoHash);
  const secret = labeledExtract(suite, sharedSecret, "secret", new Uint8Array(0));
  return {
    key: labeledExpand(suite, secret, "key", context, 32),
    nonce: labeledExpand(suite, secret, "base_nonce", context, 12),
  };
}

/**
 * The hybrid (X-Wing) shared secret of a 1,120-byte encapsulation, from the two
 * secrets held apart. Throws `RangeError` for a wrong length.
 */
export function xwingDecapsulate(
  cipherText: Uint8Array,
  mlKemSecretKey: Uint8Array,
  x25519Seed: Uint8Array,
  x25519Public: Uint8Array,
): Uint8Array {
  if (cipherText.length !== mlKem768CipherTextBytes + 32) {
    throw new RangeError(`An X-Wing ciphertext has ${mlKem768CipherTextBytes + 32} bytes`);
  }
  const ctM = cipherText.subarray(0, mlKem768CipherTextBytes);
  const ctX = cipherText.subarray(mlKem768CipherTextBytes);
  const ssM = ml_kem768.decapsulate(ctM, mlKemSecretKey);
  const ssX = x25519.getSharedSecret(x25519Seed, ctX);
  return sha3_256(concatBytes(ssM, ssX, ctX, x25519Public, xwingLabel));
}

/** Thrown for a stanza of this identity's type that is malformed (age: a header error). */
export class AgeStanzaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgeStanzaError";
  }
}

/**
 * Decrypts `mlkem768x25519` stanzas with an ML-KEM-768 seed and an X25519 seed
 * kept apart (see the module comment). Like age's own identities, it skips
 * stanzas of other types and those encrypted to another key (null), and throws
 * only for a malformed stanza of its own type.
 */
export class SplitHybridIdentity implements Identity {
  readonly #mlKemSecret: Uint8Array;
  readonly #x25519Seed: Uint8Array;
  readonly #x25519Public: Uint8Array;
  /** The `age1pq1…` recipient this identity decrypts for. */
  readonly recipient: string;

  constructor(mlKem768Seed: Uint8Array, x25519Seed: Uint8Array) {
    const pair = mlKem768KeyPair(mlKem768Seed);
    if (x25519Seed.length !== 32) throw new RangeError("An X25519 seed has 32 bytes");
    this.#mlKemSecret = pair.secretKey;
    this.#x25519Seed = Uint8Array.from(x25519Seed);
    this.#x25519Public = x25519PublicOf(x25519Seed);
    this.recipient = ageHybridRecipient(pair.publicKey, this.#x25519Public);
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const stanza of stanzas) {
      if (stanza.args.length < 1 || stanza.args[0] !== hybridStanzaType) continue;
      if (stanza.args.length !== 2) throw new AgeStanzaError("invalid mlkem768x25519 stanza");
      let share: Uint8Array;
      try {
        share = base64nopad.decode(stanza.args[1]);
      } catch {
        throw new AgeStanzaError("invalid mlkem768x25519 stanza");
      }
      if (share.length !== mlKem768CipherTextBytes + 32 || stanza.body.length !== 32) {
        throw new AgeStanzaError("invalid mlkem768x25519 stanza");
      }
      let sharedSecret: Uint8Array;
      try {
        sharedSecret = xwingDecapsulate(
          share,
          this.#mlKemSecret,
          this.#x25519Seed,
          this.#x25519Public,
        );
      } catch {
        // A low-order X25519 share: not a stanza for this key (age skips it too).
        continue;
      }
      const { key, nonce } = hpkeKeySchedule(sharedSecret, hybridLabel);
      try {
        return chacha20poly1305(key, nonce).decrypt(stanza.body);
      } catch {
        continue; // encrypted to another key
      }
    }
    return null;
  }
}
