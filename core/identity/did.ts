import { base58btc } from "multiformats/bases/base58";
import { didLengthMax, didMemoEntriesMax } from "../constants.ts";
import { createMemo } from "../memo.ts";
import { InvalidInputError } from "../errors.ts";

const didPrefix = "did:icn:";
const ed25519PublicKeyBytes = 32;

/** Builds the DID of an identity from its raw 32-byte inception Ed25519 public key. */
export function didFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== ed25519PublicKeyBytes) {
    throw new RangeError(
      `Cannot build a DID from a ${publicKey.length}-byte key: expected 32 bytes`,
    );
  }
  return didPrefix + base58btc.encode(publicKey);
}

/** DIDs parsed successfully, keyed by the whole DID string. Parsing costs ~7 µs. */
const parsed = createMemo<Uint8Array>(didMemoEntriesMax);

/**
 * Parses a DID strictly: `did:icn:z` + base58btc of exactly 32 bytes, spelled
 * canonically (re-encoding gives the same string). Returns the inception key.
 */
export function parseDid(did: string): Uint8Array {
  if (typeof did !== "string") return parseDidUncached(did);
  // A copy each time: callers own the bytes they get, and the memo's stay intact.
  return parsed.get(did, () => parseDidUncached(did)).slice();
}

function parseDidUncached(did: string): Uint8Array {
  if (typeof did !== "string" || did.length === 0) {
    throw new InvalidInputError("Cannot parse DID: it is empty");
  }
  const shown = did.length > 80 ? `${did.slice(0, 77)}...` : did;
  if (did.length > didLengthMax) {
    throw new InvalidInputError(
      `Cannot parse DID "${shown}": longer than ${didLengthMax} characters`,
    );
  }
  if (!did.startsWith(didPrefix)) {
    throw new InvalidInputError(`Cannot parse DID "${shown}": it must start with "did:icn:"`);
  }
  const multibase = did.slice(didPrefix.length);
  if (!multibase.startsWith("z")) {
    throw new InvalidInputError(
      `Cannot parse DID "${shown}": only base58btc ("z") multibase is accepted`,
    );
  }
  let key: Uint8Array;
  try {
    key = base58btc.decode(multibase);
  } catch {
    throw new InvalidInputError(`Cannot parse DID "${shown}": not valid base58btc`);
  }
  if (key.length !== ed25519PublicKeyBytes) {
    throw new InvalidInputError(
      `Cannot parse DID "${shown}": it encodes ${key.length} bytes, expected 32`,
    );
  }
  if (base58btc.encode(key) !== multibase) {
    throw new InvalidInputError(`Cannot parse DID "${shown}": not the canonical spelling`);
  }
  return key;
}

/** True when `did` parses; never throws. */
export function isDid(did: unknown): did is string {
  if (typeof did !== "string") return false;
  try {
    parseDid(did);
    return true;
  } catch {
    return false;
  }
}

/** Short human form for messages: `did:icn:z6Mk…abcd`. */
export function shortDid(did: string): string {
  return did.length > 24 ? `${did.slice(0, 16)}…${did.slice(-4)}` : did;
}

/** Multibase (base58btc) rendering of raw key bytes. */
export function multibaseKey(bytes: Uint8Array): string {
  return base58btc.encode(bytes);
}
