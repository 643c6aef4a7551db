/**
 * Key material. Ed25519 and X25519 through WebCrypto (fast, native); keys are
 * derived from 32-byte seeds that come from an injected `Rng`, so key
 * generation is deterministic under test.
 */
import { createPublicKey, type KeyObject, verify as nodeVerify } from "node:crypto";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { publicKeyCacheEntriesMax } from "../constants.ts";
import { concatBytes, fromHex, ownBytes } from "../bytes.ts";
import { bytesMemoKey, createMemo } from "../memo.ts";
import type { Rng } from "../ports.ts";

const seedBytes = 32;
// PKCS#8 prefixes for a raw 32-byte private key (RFC 8410).
const ed25519Pkcs8Prefix = new Uint8Array([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);
const x25519Pkcs8Prefix = new Uint8Array([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
]);

/** A signing key ready to use: the seed stays inside, the CryptoKey is imported once. */
export interface Ed25519KeyPair {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly privateKey: CryptoKey;
}

export interface X25519KeyPair {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

function base64UrlDecode(text: string): Uint8Array {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(padded + "=".repeat((4 - padded.length % 4) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function checkSeed(seed: Uint8Array): void {
  if (seed.length !== seedBytes) {
    throw new RangeError(`Cannot use a ${seed.length}-byte seed: expected 32 bytes`);
  }
}

/** Imports an Ed25519 key pair from its 32-byte seed. */
export async function ed25519FromSeed(seed: Uint8Array): Promise<Ed25519KeyPair> {
  checkSeed(seed);
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    ownBytes(concatBytes(ed25519Pkcs8Prefix, seed)),
    { name: "Ed25519" },
    true,
    ["sign"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = base64UrlDecode(jwk.x ?? "");
  return { seed: ownBytes(seed), publicKey, privateKey };
}

/** Generates a fresh Ed25519 key pair from `rng`. */
export function generateEd25519(rng: Rng): Promise<Ed25519KeyPair> {
  return ed25519FromSeed(rng.bytes(seedBytes));
}

/** Imports an X25519 key pair from its 32-byte seed (the raw private scalar). */
export async function x25519FromSeed(seed: Uint8Array): Promise<X25519KeyPair> {
  checkSeed(seed);
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    ownBytes(concatBytes(x25519Pkcs8Prefix, seed)),
    { name: "X25519" },
    true,
    ["deriveBits"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return { seed: ownBytes(seed), publicKey: base64UrlDecode(jwk.x ?? "") };
}

export function generateX25519(rng: Rng): Promise<X25519KeyPair> {
  return x25519FromSeed(rng.bytes(seedBytes));
}

/** Ed25519 signature of `message` (64 bytes). */
export async function signEd25519(key: Ed25519KeyPair, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("Ed25519", key.privateKey, ownBytes(message)));
}

/** DER SubjectPublicKeyInfo prefix of a raw Ed25519 public key (RFC 8410). */
export const ed25519SpkiPrefix = fromHex("302a300506032b6570032100");

/** Imported Ed25519 public keys, keyed by the whole key. */
const ed25519Keys = createMemo<KeyObject>(publicKeyCacheEntriesMax);

function importEd25519Public(publicKey: Uint8Array): KeyObject {
  return ed25519Keys.get(bytesMemoKey(publicKey), () => {
    const der = new Uint8Array([...ed25519SpkiPrefix, ...publicKey]);
    return createPublicKey({ key: der as never, format: "der", type: "spki" });
  });
}

/**
 * Verifies an Ed25519 signature; false for any malformed input instead of
 * throwing. Uses Deno's built-in `node:crypto`, whose verify is synchronous:
 * 1.4× WebCrypto's rate here and no hop to a worker thread per signature.
 * It accepts and rejects exactly what WebCrypto does on the RFC 8032 edge
 * cases (non-canonical S, small-order and non-canonical keys; see the tests).
 */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return Promise.resolve(false);
  try {
    return Promise.resolve(nodeVerify(null, message, importEd25519Public(publicKey), signature));
  } catch {
    return Promise.resolve(false);
  }
}

/**
 * Why an Ed25519 public key cannot be an identity's key, or null when it can.
 * icn verifies with RFC 8032's cofactorless equation and strict decoding
 * (OpenSSL through node:crypto, like WebCrypto): a small-order key A ([8]A is
 * the identity; 8 canonical encodings) has signatures that verify without any
 * secret, so such a key is refused wherever keys enter (inception, rotation,
 * recovery), together with encodings that do not decode strictly to a point.
 */
export function weakEd25519Key(publicKey: Uint8Array): string | null {
  if (publicKey.length !== 32) return `it has ${publicKey.length} bytes, expected 32`;
  let point;
  try {
    point = ed25519.Point.fromBytes(publicKey, false);
  } catch {
    return "it is not a canonical encoding of a curve point";
  }
  if (point.isSmallOrder()) return "it is a small-order point, whose signatures need no secret";
  return null;
}

/** SHA-256 digest, synchronous (@noble/hashes): ~10x faster than WebCrypto's async digest for small inputs. */
export function sha256Sync(bytes: Uint8Array): Uint8Array {
  return nobleSha256(bytes);
}

/** SHA-256 digest. */
export function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return Promise.resolve(nobleSha256(bytes));
}

/** An ML-DSA-65 (FIPS 204) signing key from its 32-byte seed. */
export interface MlDsa65KeyPair {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly privateKey: CryptoKey;
}

const mlDsa65 = { name: "ML-DSA-65" } as unknown as AlgorithmIdentifier;

export async function mlDsa65FromSeed(seed: Uint8Array): Promise<MlDsa65KeyPair> {
  checkSeed(seed);
  const privateKey = await crypto.subtle.importKey(
    "raw-seed" as "raw",
    ownBytes(seed),
    mlDsa65,
    true,
    ["sign"],
  );
  // WebCrypto derives the public key from the seed on import; export it through the JWK "pub" member.
  const jwk = await crypto.subtle.exportKey("jwk", privateKey) as JsonWebKey & { pub?: string };
  return { seed: ownBytes(seed), publicKey: base64UrlDecode(jwk.pub ?? ""), privateKey };
}

export function generateMlDsa65(rng: Rng): Promise<MlDsa65KeyPair> {
  return mlDsa65FromSeed(rng.bytes(seedBytes));
}

export async function signMlDsa65(key: MlDsa65KeyPair, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign(mlDsa65, key.privateKey, ownBytes(message)));
}

/**
 * Imported ML-DSA-65 public keys, keyed by the whole 1,952-byte key: keyed by a
 * prefix, a look-alike key seen first would answer for the real one.
 */
const mlDsaKeys = createMemo<Promise<CryptoKey>>(publicKeyCacheEntriesMax);

/** Verifies an ML-DSA-65 signature (empty context); false for malformed input. */
export async function verifyMlDsa65(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 1952 || signature.length !== 3309) return false;
  try {
    const key = mlDsaKeys.get(
      bytesMemoKey(publicKey),
      () =>
        crypto.subtle.importKey("raw-public" as "raw", ownBytes(publicKey), mlDsa65, false, [
          "verify",
        ]),
    );
    return await crypto.subtle.verify(mlDsa65, await key, ownBytes(signature), ownBytes(message));
  } catch {
    return false;
  }
}

const mlKem768 = { name: "ML-KEM-768" } as unknown as AlgorithmIdentifier;

/** ML-KEM-768 (FIPS 203) public key from its 64-byte seed (d ‖ z). */
export async function mlKem768PublicFromSeed(seed: Uint8Array): Promise<Uint8Array> {
  if (seed.length !== 64) {
    throw new RangeError(`Cannot use a ${seed.length}-byte ML-KEM seed: expected 64`);
  }
  const privateKey = await crypto.subtle.importKey(
    "raw-seed" as "raw",
    ownBytes(seed),
    mlKem768,
    true,
    [
      "decapsulateBits" as KeyUsage,
    ],
  );
  const jwk = await crypto.subtle.exportKey("jwk", privateKey) as JsonWebKey & { pub?: string };
  return base64UrlDecode(jwk.pub ?? "");
}
