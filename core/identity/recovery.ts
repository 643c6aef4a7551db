/**
 * Social recovery: M-of-N trustees named by `id.recovery-setup` attest a
 * recovery request (a new key set for the same DID, signed by those new
 * keys). `id.recovery-start` carries the request and ≥ M attestations and
 * starts the delay; the current keys may `id.recovery-cancel` it; after the
 * delay `id.recovery` installs the new keys. Requests and attestations are
 * canonical DAG-CBOR files, each signed under its own domain prefix.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { bytesEqual, concatBytes, utf8Encode } from "../bytes.ts";
import {
  array,
  bytes,
  decodeCanonicalCbor,
  did,
  literal,
  record,
  type Shape,
  ShapeError,
  timestamp,
} from "../strict.ts";
import { InvalidInputError, InvalidSignatureError, RejectedError, shown } from "../errors.ts";
import type { Envelope, EnvelopeSignature } from "../envelope/envelope.ts";
import { isDid } from "./did.ts";
import {
  canonicalKeySet,
  checkKelEnvelope,
  checkKeySet,
  type IdentityRecord,
  installKeys,
  type KeyPeriod,
  type KeySet,
  recoveryDelayMsMax,
  type RecoveryPolicy,
  signingKeysAt,
  trusteesMax,
  verifyProof,
} from "./kel.ts";
import { sha256, verifyEd25519, verifyMlDsa65 } from "./keys.ts";

const requestDomain = utf8Encode("icn/recovery-request/v1\n");
const attestationDomain = utf8Encode("icn/recovery-attestation/v1\n");
/** Largest request or attestation file we decode. */
export const recoveryFileBytesMax = 16 * 1024;

/** Signs bytes with an identity's keys (Ed25519, plus ML-DSA-65 when hybrid): `Signer.sign`. */
export type SignFunction = (message: Uint8Array) => Promise<EnvelopeSignature[]>;

export interface RecoveryRequest {
  v: 1;
  type: "icn.recovery-request";
  did: string;
  keys: KeySet;
  next: Uint8Array;
  created: number;
  expires: number;
  sigs: EnvelopeSignature[];
}

export interface RecoveryAttestation {
  v: 1;
  type: "icn.recovery-attestation";
  did: string;
  /** SHA-256 of the request file. */
  request: Uint8Array;
  trustee: string;
  ts: number;
  expires: number;
  sigs: EnvelopeSignature[];
}

function unsignedBytes(domain: Uint8Array, value: Record<string, unknown>): Uint8Array {
  const { sigs: _sigs, ...rest } = value;
  return concatBytes(domain, dagCbor.encode(rest));
}

/** Signature lengths by algorithm (Ed25519: RFC 8032; ML-DSA-65: FIPS 204). */
const signatureBytes = { "ed25519": 64, "ml-dsa-65": 3309 } as const;

const signatureShape = record({
  alg: literal("ed25519", "ml-dsa-65"),
  sig: bytes({ max: signatureBytes["ml-dsa-65"] }),
});

/** One or two signatures, one per algorithm, each of its algorithm's length. */
const signaturesShape: Shape<EnvelopeSignature[]> = (value, path) => {
  const sigs = array(signatureShape, { min: 1, max: 2 })(value, path);
  sigs.forEach((s, i) => {
    if (s.sig.length !== signatureBytes[s.alg]) {
      throw new ShapeError(`${path}[${i}].sig`, `must be ${signatureBytes[s.alg]} bytes`);
    }
  });
  if (sigs.length === 2 && sigs[0].alg === sigs[1].alg) {
    throw new ShapeError(path, "repeats a signature algorithm");
  }
  return sigs;
};

const keySetShape: Shape<KeySet> = (value, path) => {
  try {
    checkKeySet(value);
  } catch {
    throw new ShapeError(path, "is not a well-formed key set");
  }
  return value;
};

const requestShape = record({
  v: literal(1),
  type: literal("icn.recovery-request"),
  did,
  keys: keySetShape,
  next: bytes({ length: 32 }),
  created: timestamp,
  expires: timestamp,
  sigs: signaturesShape,
});

const attestationShape = record({
  v: literal(1),
  type: literal("icn.recovery-attestation"),
  did,
  request: bytes({ length: 32 }),
  trustee: did,
  ts: timestamp,
  expires: timestamp,
  sigs: signaturesShape,
});

/** Builds and signs a recovery request with the NEW keys. */
export async function createRecoveryRequest(
  fields: Omit<RecoveryRequest, "v" | "type" | "sigs">,
  sign: SignFunction,
): Promise<Uint8Array> {
  const unsigned = {
    v: 1 as const,
    type: "icn.recovery-request" as const,
    did: fields.did,
    keys: canonicalKeySet(fields.keys),
    next: fields.next,
    created: fields.created,
    expires: fields.expires,
  };
  const sigs = await sign(unsignedBytes(requestDomain, unsigned));
  return dagCbor.encode({ ...unsigned, sigs });
}

/** Decodes a request strictly (size, canonical DAG-CBOR, exact shape) and checks its signatures by the keys it proposes. */
export async function decodeRecoveryRequest(bytes: Uint8Array): Promise<RecoveryRequest> {
  const request: RecoveryRequest = decodeCanonicalCbor(bytes, requestShape, {
    what: "recovery request",
    bytesMax: recoveryFileBytesMax,
  });
  try {
    await verifyProof(
      request.sigs,
      unsignedBytes(requestDomain, request as unknown as Record<string, unknown>),
      request.keys,
    );
  } catch {
    throw new InvalidSignatureError(
      `Recovery request for "${request.did}" is not signed by the keys it proposes (forged or altered)`,
    );
  }
  return request;
}

/** Builds and signs a trustee's attestation of a request. */
export async function createAttestation(
  fields: Omit<RecoveryAttestation, "v" | "type" | "sigs">,
  sign: SignFunction,
): Promise<Uint8Array> {
  const unsigned = {
    v: 1 as const,
    type: "icn.recovery-attestation" as const,
    did: fields.did,
    request: fields.request,
    trustee: fields.trustee,
    ts: fields.ts,
    expires: fields.expires,
  };
  const sigs = await sign(unsignedBytes(attestationDomain, unsigned));
  return dagCbor.encode({ ...unsigned, sigs });
}

/** Decodes an attestation strictly (size, canonical DAG-CBOR, exact shape); `verifyAttestation` checks the signature against the trustee's KEL. */
export function decodeAttestation(bytes: Uint8Array): RecoveryAttestation {
  return decodeCanonicalCbor(bytes, attestationShape, {
    what: "recovery attestation",
    bytesMax: recoveryFileBytesMax,
  });
}

/** Verifies an attestation's signature with the trustee's keys at its timestamp. */
export async function verifyAttestation(
  attestation: RecoveryAttestation,
  trustee: IdentityRecord,
): Promise<void> {
  const keys = signingKeysAt(trustee, attestation.ts);
  const message = unsignedBytes(
    attestationDomain,
    attestation as unknown as Record<string, unknown>,
  );
  const ed = attestation.sigs.find((s) => s.alg === "ed25519");
  const pq = attestation.sigs.find((s) => s.alg === "ml-dsa-65");
  const ok = !!ed && await verifyEd25519(keys.ed25519, message, ed.sig) &&
    (!keys.mlDsa65 || (!!pq && await verifyMlDsa65(keys.mlDsa65, message, pq.sig)));
  if (!ok) {
    throw new InvalidSignatureError(
      `Attestation by "${attestation.trustee}" does not verify against its key event log (forged)`,
    );
  }
}

/** SHA-256 of a request file: how attestations and KEL events name it. */
export function requestDigest(bytes: Uint8Array): Promise<Uint8Array> {
  return sha256(bytes);
}

// ---------------------------------------------------------------------------
// KEL event rules

/** Body of `id.recovery-setup`. */
export interface RecoverySetupBody {
  trustees: string[];
  threshold: number;
  delayMs: number;
}

/** Checks a setup body against the identity; returns the policy to store. */
export function checkRecoverySetup(
  body: unknown,
  did: string,
  seq: number,
): RecoveryPolicy {
  const b = body as Record<string, unknown>;
  if (
    typeof b !== "object" || b === null || !Array.isArray(b.trustees) ||
    Object.keys(b).some((k) => !["trustees", "threshold", "delayMs"].includes(k))
  ) {
    throw new RejectedError("malformed", "Recovery setup body is malformed");
  }
  const trustees = b.trustees as unknown[];
  if (trustees.length < 1 || trustees.length > trusteesMax) {
    throw new RejectedError(
      "malformed",
      `Cannot set up recovery with ${trustees.length} trustees: use 1 to ${trusteesMax}`,
    );
  }
  const seen = new Set<string>();
  for (const trustee of trustees) {
    if (!isDid(trustee)) throw new RejectedError("malformed", "A trustee is not a valid DID");
    if (trustee === did) {
      throw new RejectedError("self_trustee", "Cannot name the identity itself as its trustee");
    }
    if (seen.has(trustee)) {
      throw new RejectedError("duplicate_trustee", `Trustee "${trustee}" is named twice`);
    }
    seen.add(trustee);
  }
  const threshold = b.threshold;
  if (
    typeof threshold !== "number" || !Number.isInteger(threshold) || threshold < 1 ||
    threshold > trustees.length
  ) {
    throw new RejectedError(
      "malformed",
      `Cannot set up recovery with threshold ${shown(threshold)}: use 1 to ${trustees.length}`,
    );
  }
  const delayMs = b.delayMs;
  if (
    typeof delayMs !== "number" || !Number.isSafeInteger(delayMs) || delayMs < 0 ||
    delayMs > recoveryDelayMsMax
  ) {
    throw new RejectedError("malformed", "Recovery delay must be 0 to 365 days (milliseconds)");
  }
  return { trustees: trustees as string[], threshold, delayMs, seq };
}

/** Body of `id.recovery-start`. */
export interface RecoveryStartBody {
  request: Uint8Array;
  attestations: Uint8Array[];
}

/** Body of `id.recovery-cancel` and `id.recovery`. */
export interface RecoveryRefBody {
  request: Uint8Array;
}

function checkStartBody(envelope: Envelope): RecoveryStartBody {
  const b = envelope.body as Record<string, unknown>;
  if (
    typeof b !== "object" || b === null || !(b.request instanceof Uint8Array) ||
    !Array.isArray(b.attestations) || b.attestations.length > trusteesMax ||
    b.attestations.some((a) => !(a instanceof Uint8Array)) || Object.keys(b).length !== 2
  ) {
    throw new RejectedError("malformed", "Recovery start body is malformed");
  }
  return b as unknown as RecoveryStartBody;
}

async function rejecting<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof InvalidInputError || error instanceof InvalidSignatureError) {
      throw new RejectedError("bad_recovery", error.message);
    }
    throw error;
  }
}

/** Keys that must sign `id.recovery-start`: the keys the request proposes. */
export async function recoveryStartSigningKeys(
  envelope: Envelope,
  record: IdentityRecord | undefined,
): Promise<Pick<KeySet, "ed25519" | "mlDsa65">> {
  checkKelEnvelope(envelope, record);
  const body = checkStartBody(envelope);
  const request = await rejecting(() => decodeRecoveryRequest(body.request));
  const { ed25519, mlDsa65 } = request.keys;
  return mlDsa65 ? { ed25519, mlDsa65 } : { ed25519 };
}

/** Validates `id.recovery-start` and returns the record with the pending recovery. */
export async function applyRecoveryStart(
  envelope: Envelope,
  cid: string,
  previous: IdentityRecord | undefined,
  lookup: (did: string) => Promise<IdentityRecord | undefined>,
): Promise<IdentityRecord> {
  const record = checkKelEnvelope(envelope, previous);
  const policy = record.recovery;
  if (!policy) {
    throw new RejectedError(
      "no_recovery",
      `Cannot recover "${record.did}": it has not set up social recovery`,
    );
  }
  if (record.pendingRecovery) {
    throw new RejectedError(
      "recovery_pending",
      `Cannot start a recovery of "${record.did}": another one is already pending`,
    );
  }
  const body = checkStartBody(envelope);
  const request = await rejecting(() => decodeRecoveryRequest(body.request));
  const digest = await requestDigest(body.request);
  if (request.did !== record.did) {
    throw new RejectedError(
      "bad_recovery",
      `Recovery request is for "${request.did}", not "${record.did}"`,
    );
  }
  if (request.expires < envelope.ts) {
    throw new RejectedError(
      "expired",
      `Recovery request expired at ${new Date(request.expires).toISOString()}`,
    );
  }
  const counted = new Set<string>();
  for (const bytes of body.attestations) {
    const attestation = await rejecting(() => Promise.resolve(decodeAttestation(bytes)));
    if (attestation.did !== record.did || !bytesEqual(attestation.request, digest)) {
      throw new RejectedError(
        "bad_recovery",
        `Attestation by "${attestation.trustee}" is for another request`,
      );
    }
    if (!policy.trustees.includes(attestation.trustee)) {
      throw new RejectedError(
        "not_trustee",
        `"${attestation.trustee}" is not a recovery trustee of "${record.did}"`,
      );
    }
    if (counted.has(attestation.trustee)) {
      throw new RejectedError(
        "duplicate_trustee",
        `Trustee "${attestation.trustee}" attested twice; each trustee counts once`,
      );
    }
    if (attestation.expires < envelope.ts || attestation.ts > envelope.ts) {
      throw new RejectedError(
        "expired",
        `Attestation by "${attestation.trustee}" is not valid at ${
          new Date(envelope.ts).toISOString()
        } (valid ${new Date(attestation.ts).toISOString()} to ${
          new Date(attestation.expires).toISOString()
        })`,
      );
    }
    const trustee = await lookup(attestation.trustee);
    if (!trustee) {
      throw new RejectedError(
        "unknown_author",
        `Cannot check the attestation by "${attestation.trustee}": its key event log is unknown here`,
      );
    }
    await rejecting(() => verifyAttestation(attestation, trustee));
    counted.add(attestation.trustee);
  }
  if (counted.size < policy.threshold) {
    throw new RejectedError(
      "threshold",
      `Cannot start the recovery of "${record.did}": ${counted.size} valid attestation(s), ${policy.threshold} required`,
    );
  }
  return {
    ...record,
    seq: envelope.seq,
    head: cid,
    pendingRecovery: {
      request: digest,
      keys: canonicalKeySet(request.keys),
      next: request.next,
      started: envelope.ts,
      readyAt: envelope.ts + policy.delayMs,
      trustees: [...counted],
      seq: envelope.seq,
    },
  };
}

function checkRefBody(envelope: Envelope): RecoveryRefBody {
  const b = envelope.body as Record<string, unknown>;
  if (
    typeof b !== "object" || b === null || !(b.request instanceof Uint8Array) ||
    Object.keys(b).length !== 1
  ) {
    throw new RejectedError("malformed", `${envelope.kind} body is malformed`);
  }
  return b as unknown as RecoveryRefBody;
}

function pendingFor(envelope: Envelope, record: IdentityRecord) {
  const body = checkRefBody(envelope);
  const pending = record.pendingRecovery;
  if (!pending || !bytesEqual(pending.request, body.request)) {
    throw new RejectedError(
      "no_pending_recovery",
      `No pending recovery of "${record.did}" matches this request`,
    );
  }
  return pending;
}

/** Keys that must sign `id.recovery-cancel` (the current keys) or `id.recovery` (the pending new keys). */
export function recoveryRefSigningKeys(
  envelope: Envelope,
  previous: IdentityRecord | undefined,
): Pick<KeySet, "ed25519" | "mlDsa65"> {
  const record = checkKelEnvelope(envelope, previous);
  const keys = envelope.kind === "id.recovery-cancel"
    ? record.keys
    : pendingFor(envelope, record).keys;
  return keys.mlDsa65
    ? { ed25519: keys.ed25519, mlDsa65: keys.mlDsa65 }
    : { ed25519: keys.ed25519 };
}

/** Applies `id.recovery-cancel`. */
export function applyRecoveryCancel(
  envelope: Envelope,
  cid: string,
  previous: IdentityRecord | undefined,
): IdentityRecord {
  const record = checkKelEnvelope(envelope, previous);
  pendingFor(envelope, record);
  const out: IdentityRecord = { ...record, seq: envelope.seq, head: cid };
  delete out.pendingRecovery;
  return out;
}

/** Applies `id.recovery` (finalize): only once the delay is over, by the envelope's date and the receipt time. */
export function applyRecovery(
  envelope: Envelope,
  cid: string,
  previous: IdentityRecord | undefined,
  now: number,
): { record: IdentityRecord; archive: { index: number; period: KeyPeriod }[] } {
  const record = checkKelEnvelope(envelope, previous);
  const pending = pendingFor(envelope, record);
  if (envelope.ts < pending.readyAt || now < pending.readyAt) {
    throw new RejectedError(
      "too_early",
      `Cannot finalize the recovery of "${record.did}" yet: its delay ends at ${
        new Date(pending.readyAt).toISOString()
      }`,
    );
  }
  return installKeys(record, envelope, cid, pending.keys, pending.next);
}
