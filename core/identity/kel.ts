/**
 * Key event log (KEL): the identity's own chain (net `kel`). Replaying it
 * gives the DID's current keys. The foundation defines inception; rotation,
 * PQ binding and recovery extend `identityKinds`.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { bytesEqual } from "../bytes.ts";
import { kelNet } from "../constants.ts";
import { InvalidSignatureError, RejectedError, UnknownIdentityError } from "../errors.ts";
import type { Envelope } from "../envelope/envelope.ts";
import { didFromPublicKey } from "./did.ts";
import { sha256, verifyEd25519, verifyMlDsa65 } from "./keys.ts";

/** Public keys of an identity at one point in its KEL. Optional members are absent, never undefined. */
export interface KeySet {
  ed25519: Uint8Array;
  x25519: Uint8Array;
  mlDsa65?: Uint8Array;
  mlKem768?: Uint8Array;
}

/** Body of `id.inception`. */
export interface InceptionBody {
  keys: KeySet;
  /** SHA-256 commitment to the next keys (pre-rotation). */
  next: Uint8Array;
}

/** A key that signed for this identity during [from, until). */
export interface KeyPeriod {
  ed25519: Uint8Array;
  mlDsa65?: Uint8Array;
  /** KEL seq of the event that installed the key. */
  seq: number;
  from: number;
  /** Timestamp of the event that superseded it; absent for the current key. */
  until?: number;
}

/** Derived state of one identity, stored at `identityKey(did)`. */
export interface IdentityRecord {
  did: string;
  /** Seq and CID of the latest KEL event. */
  seq: number;
  head: string;
  created: number;
  keys: KeySet;
  next: Uint8Array | null;
  history: KeyPeriod[];
}

export const identityKey = (did: string) => ["kel", did] as const;

/** Digest committed to by pre-rotation: SHA-256 of the canonical encoding of the next public keys. */
export function nextKeysDigest(keys: KeySet): Promise<Uint8Array> {
  return sha256(dagCbor.encode(canonicalKeySet(keys)));
}

/** Drops absent optional members so the key set encodes canonically. */
export function canonicalKeySet(keys: KeySet): KeySet {
  const out: KeySet = { ed25519: keys.ed25519, x25519: keys.x25519 };
  if (keys.mlDsa65) out.mlDsa65 = keys.mlDsa65;
  if (keys.mlKem768) out.mlKem768 = keys.mlKem768;
  return out;
}

function isBytes(value: unknown, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length);
}

/** Checks a key set's shape; throws `RejectedError("malformed")`. */
export function checkKeySet(value: unknown): asserts value is KeySet {
  const keys = value as Record<string, unknown>;
  if (
    typeof keys !== "object" || keys === null || !isBytes(keys.ed25519, 32) ||
    !isBytes(keys.x25519, 32) ||
    (keys.mlDsa65 !== undefined && !isBytes(keys.mlDsa65, 1952)) ||
    (keys.mlKem768 !== undefined && !isBytes(keys.mlKem768, 1184)) ||
    Object.keys(keys).some((k) => !["ed25519", "x25519", "mlDsa65", "mlKem768"].includes(k))
  ) {
    throw new RejectedError("malformed", "Key set is malformed");
  }
}

/** Checks an inception envelope against the rules that need no state. Returns its key set. */
export function checkInception(envelope: Envelope): InceptionBody {
  const body = envelope.body as Record<string, unknown>;
  if (envelope.net !== kelNet || envelope.seq !== 0) {
    throw new RejectedError("malformed", "An inception must be the first event of a key event log");
  }
  if (typeof body !== "object" || body === null || !isBytes(body.next, 32)) {
    throw new RejectedError("malformed", "Inception body is malformed");
  }
  checkKeySet(body.keys);
  if (didFromPublicKey(body.keys.ed25519) !== envelope.author) {
    throw new RejectedError("malformed", "Inception key does not match the author's DID");
  }
  return body as unknown as InceptionBody;
}

/** Verifies an envelope's signatures against a key set: Ed25519 always; ML-DSA-65 too once the identity has it. */
export async function verifySignatures(
  envelope: Envelope,
  message: Uint8Array,
  keys: Pick<KeySet, "ed25519" | "mlDsa65">,
): Promise<void> {
  const ed = envelope.sigs.find((s) => s.alg === "ed25519");
  if (!ed || !(await verifyEd25519(keys.ed25519, message, ed.sig))) {
    throw new InvalidSignatureError(
      `Envelope ${envelope.kind} #${envelope.seq} by "${envelope.author}" has no valid Ed25519 signature`,
    );
  }
  const pq = envelope.sigs.find((s) => s.alg === "ml-dsa-65");
  if (keys.mlDsa65) {
    if (!pq || !(await verifyMlDsa65(keys.mlDsa65, message, pq.sig))) {
      throw new InvalidSignatureError(
        `Envelope ${envelope.kind} #${envelope.seq} by "${envelope.author}" has no valid ML-DSA-65 signature`,
      );
    }
  } else if (pq) {
    throw new InvalidSignatureError(
      `Envelope ${envelope.kind} #${envelope.seq} carries an ML-DSA-65 signature but "${envelope.author}" has no ML-DSA key`,
    );
  }
}

/** Builds the identity record an inception produces. */
export function recordFromInception(envelope: Envelope, cid: string): IdentityRecord {
  const body = checkInception(envelope);
  const keys = canonicalKeySet(body.keys);
  const period: KeyPeriod = { ed25519: keys.ed25519, seq: 0, from: envelope.ts };
  if (keys.mlDsa65) period.mlDsa65 = keys.mlDsa65;
  return {
    did: envelope.author,
    seq: 0,
    head: cid,
    created: envelope.ts,
    keys,
    next: body.next,
    history: [period],
  };
}

/**
 * Keys that may sign an envelope by `record`'s identity dated `ts`: the
 * current keys, or a superseded key if the envelope is dated before that key
 * was superseded and arrives within the grace period.
 */
export function signingKeysAt(
  record: IdentityRecord,
  ts: number,
): Pick<KeySet, "ed25519" | "mlDsa65"> {
  for (let i = record.history.length - 1; i >= 0; i--) {
    const period = record.history[i];
    if (ts >= period.from || i === 0) {
      return period.mlDsa65
        ? { ed25519: period.ed25519, mlDsa65: period.mlDsa65 }
        : { ed25519: period.ed25519 };
    }
  }
  return record.keys;
}

/** True when two key sets are identical. */
export function sameKeys(a: KeySet, b: KeySet): boolean {
  return bytesEqual(a.ed25519, b.ed25519) && bytesEqual(a.x25519, b.x25519);
}

/** Throws `UnknownIdentityError` for a missing record. */
export function requireIdentity(record: IdentityRecord | undefined, did: string): IdentityRecord {
  if (!record) throw new UnknownIdentityError(did);
  return record;
}
