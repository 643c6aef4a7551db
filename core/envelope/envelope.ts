/**
 * Envelopes: every state change is a signed envelope appended to its
 * author's chain. Canonical DAG-CBOR encoding; CIDv1 (dag-cbor, sha2-256) over
 * the whole encoded envelope including signatures; signatures over a
 * domain-separation prefix plus the encoding of every field except `sigs`.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import { bytesEqual, concatBytes, unshared, utf8Encode } from "../bytes.ts";
import { envelopeBytesMax, envelopeSigningDomain, envelopeVersion } from "../constants.ts";
import { RejectedError, shown } from "../errors.ts";
import { parseDid } from "../identity/did.ts";
import { sha256Sync } from "../identity/keys.ts";

/** Signature algorithms an envelope may carry. */
export type SignatureAlgorithm = "ed25519" | "ml-dsa-65";

export interface EnvelopeSignature {
  alg: SignatureAlgorithm;
  sig: Uint8Array;
}

/** The signed fields of an envelope. */
export interface UnsignedEnvelope<Body = unknown> {
  v: number;
  /** Network id (genesis CID string), or `kel` for key events. */
  net: string;
  kind: string;
  author: string;
  seq: number;
  /** CID string of the author's previous envelope in this chain; null at seq 0. */
  prev: string | null;
  /** Milliseconds since the Unix epoch, as claimed by the author. */
  ts: number;
  body: Body;
}

export interface Envelope<Body = unknown> extends UnsignedEnvelope<Body> {
  sigs: EnvelopeSignature[];
}

/** An envelope together with its encoding and content id, computed once. */
export interface SealedEnvelope<Body = unknown> {
  readonly envelope: Envelope<Body>;
  readonly bytes: Uint8Array;
  readonly cid: string;
}

/** Produces the signatures for an envelope's signing bytes (Ed25519, plus ML-DSA-65 when hybrid). */
export interface Signer {
  readonly did: string;
  sign(message: Uint8Array): Promise<EnvelopeSignature[]>;
}

const signingDomainBytes = utf8Encode(envelopeSigningDomain);
const kindPattern = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
const sha256Code = 0x12;
const kindLengthMax = 64;
const netLengthMax = 128;
const signaturesMax = 4;

function encodeUnsigned(envelope: UnsignedEnvelope): Uint8Array {
  const { v, net, kind, author, seq, prev, ts, body } = envelope;
  return dagCbor.encode({ v, net, kind, author, seq, prev, ts, body });
}

/**
 * Signing bytes of envelopes decoded or sealed here, found from their full
 * encoding without encoding the body again (a decoded envelope is not changed
 * after decoding: it is the validated value).
 */
const knownSigningBytes = new WeakMap<object, Uint8Array>();

/** The exact bytes that signatures cover. */
export function signingBytes(envelope: UnsignedEnvelope): Uint8Array {
  return knownSigningBytes.get(envelope) ??
    concatBytes(signingDomainBytes, encodeUnsigned(envelope));
}

/**
 * The signing bytes from a canonical full encoding: the inverse of
 * `spliceSignatures` (drop the `sigs` entry, map header back to 8 entries);
 * undefined when the layout is not the expected one.
 */
function unspliceSignatures(full: Uint8Array, envelope: Envelope): Uint8Array | undefined {
  const authorEntry = concatBytes(authorKeyBytes, dagCbor.encode(envelope.author));
  const sigsEntry = concatBytes(sigsKeyBytes, dagCbor.encode(envelope.sigs));
  const cut = full.length - authorEntry.length;
  const sigsStart = cut - sigsEntry.length;
  if (
    full[0] !== 0xa9 || sigsStart < 1 || !bytesEqual(full.subarray(cut), authorEntry) ||
    !bytesEqual(full.subarray(sigsStart, cut), sigsEntry)
  ) {
    return undefined;
  }
  return concatBytes(
    signingDomainBytes,
    new Uint8Array([0xa8]),
    full.subarray(1, sigsStart),
    authorEntry,
  );
}

const sigsKeyBytes = dagCbor.encode("sigs");
const authorKeyBytes = dagCbor.encode("author");

/**
 * Builds the full encoding from the unsigned one without encoding the body
 * again. DAG-CBOR sorts map keys by length then bytes, so `author` (the only
 * 6-letter key) comes last and `sigs` (last of the 4-letter keys) right
 * before it: the full map is the unsigned map with `sigs` inserted before
 * `author` and the map header bumped from 8 to 9 entries.
 */
function spliceSignatures(
  unsigned: Uint8Array,
  author: string,
  sigs: EnvelopeSignature[],
): Uint8Array {
  const authorEntry = concatBytes(authorKeyBytes, dagCbor.encode(author));
  const cut = unsigned.length - authorEntry.length;
  if (unsigned[0] !== 0xa8 || !bytesEqual(unsigned.subarray(cut), authorEntry)) {
    return encodeEnvelope({ ...(dagCbor.decode(unsigned) as UnsignedEnvelope), sigs });
  }
  return concatBytes(
    new Uint8Array([0xa9]),
    unsigned.subarray(1, cut),
    sigsKeyBytes,
    dagCbor.encode(sigs),
    authorEntry,
  );
}

/** CIDv1 (dag-cbor, sha2-256) of encoded bytes, as a string. */
export function contentId(bytes: Uint8Array): Promise<string> {
  return Promise.resolve(contentIdSync(bytes));
}

/** CIDs computed here lately: a chain's next envelope names its predecessor's as `prev`. */
const computedCids = new Set<string>();
const computedCidsMax = 10_000;

/** Synchronous `contentId`. */
export function contentIdSync(bytes: Uint8Array): string {
  const cid = CID.createV1(dagCbor.code, createDigest(sha256Code, sha256Sync(bytes))).toString();
  if (computedCids.size >= computedCidsMax) computedCids.clear();
  computedCids.add(cid);
  return cid;
}

/** Signs and seals an envelope. */
export async function sealEnvelope<Body>(
  unsigned: Omit<UnsignedEnvelope<Body>, "v" | "author"> & { v?: number },
  signer: Signer,
): Promise<SealedEnvelope<Body>> {
  const full: UnsignedEnvelope<Body> = {
    v: unsigned.v ?? envelopeVersion,
    net: unsigned.net,
    kind: unsigned.kind,
    author: signer.did,
    seq: unsigned.seq,
    prev: unsigned.prev,
    ts: unsigned.ts,
    body: unsigned.body,
  };
  checkShape(full);
  const unsignedBytes = encodeUnsigned(full);
  const sigs = await signer.sign(concatBytes(signingDomainBytes, unsignedBytes));
  const envelope: Envelope<Body> = { ...full, sigs };
  const bytes = spliceSignatures(unsignedBytes, full.author, sigs);
  if (bytes.length > envelopeBytesMax) {
    throw new RejectedError(
      "too_large",
      `Cannot create envelope of kind "${full.kind}": ${bytes.length} bytes, limit is ${envelopeBytesMax}`,
    );
  }
  return { envelope, bytes, cid: contentIdSync(bytes) };
}

/** Canonical encoding of a whole envelope. */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  const { v, net, kind, author, seq, prev, ts, body, sigs } = envelope;
  return dagCbor.encode({ v, net, kind, author, seq, prev, ts, body, sigs });
}

function reject(reason: string, message: string): never {
  throw new RejectedError(reason, message);
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

/** Checks field types and ranges; throws `RejectedError("malformed")`. Signatures are not checked here. */
export function checkShape(envelope: UnsignedEnvelope & { sigs?: unknown }): void {
  const e = envelope as unknown as Record<string, unknown>;
  if (e.v !== envelopeVersion) {
    reject("malformed", `Envelope version ${shown(e.v)} is not supported`);
  }
  if (typeof e.net !== "string" || e.net.length === 0 || e.net.length > netLengthMax) {
    reject("malformed", "Envelope network id is missing or too long");
  }
  if (typeof e.kind !== "string" || e.kind.length > kindLengthMax || !kindPattern.test(e.kind)) {
    reject("malformed", `Envelope kind "${shown(e.kind)}" is not a valid kind`);
  }
  if (typeof e.author !== "string") reject("malformed", "Envelope author is not a DID");
  try {
    parseDid(e.author as string);
  } catch (error) {
    reject("malformed", `Envelope author is not a valid DID: ${(error as Error).message}`);
  }
  if (typeof e.seq !== "number" || !Number.isSafeInteger(e.seq) || e.seq < 0) {
    reject("malformed", "Envelope seq must be a non-negative integer");
  }
  if (e.seq === 0 ? e.prev !== null : typeof e.prev !== "string") {
    reject("malformed", "Envelope prev must be null at seq 0 and a CID after");
  }
  if (typeof e.prev === "string" && !computedCids.has(e.prev)) {
    try {
      CID.parse(e.prev);
    } catch {
      reject("malformed", "Envelope prev is not a valid CID");
    }
  }
  if (typeof e.ts !== "number" || !Number.isSafeInteger(e.ts) || e.ts < 0) {
    reject("malformed", "Envelope ts must be a non-negative integer (milliseconds)");
  }
  if (!("body" in e) || e.body === undefined) reject("malformed", "Envelope body is missing");
  if ("sigs" in e && e.sigs !== undefined) {
    const sigs = e.sigs;
    if (!Array.isArray(sigs) || sigs.length === 0 || sigs.length > signaturesMax) {
      reject("malformed", "Envelope must carry between 1 and 4 signatures");
    }
    const seen = new Set<string>();
    for (const sig of sigs as unknown[]) {
      if (
        !isPlainRecord(sig) || Object.keys(sig).length !== 2 ||
        (sig.alg !== "ed25519" && sig.alg !== "ml-dsa-65") || !(sig.sig instanceof Uint8Array)
      ) {
        reject("malformed", "Envelope signature entry is malformed");
      }
      if (seen.has(sig.alg as string)) {
        reject("malformed", "Envelope repeats a signature algorithm");
      }
      seen.add(sig.alg as string);
    }
  }
}

const envelopeFields = ["author", "body", "kind", "net", "prev", "seq", "sigs", "ts", "v"];

/**
 * Decodes bytes into an envelope, strictly: size limit, valid DAG-CBOR,
 * exactly the envelope fields, canonical (re-encoding gives the same bytes).
 * Throws `RejectedError` with reason `too_large` or `malformed`.
 */
export function decodeEnvelope(bytes: Uint8Array): Promise<SealedEnvelope> {
  try {
    return Promise.resolve(decodeEnvelopeSync(bytes));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Synchronous `decodeEnvelope`. */
export function decodeEnvelopeSync(received: Uint8Array): SealedEnvelope {
  if (!(received instanceof Uint8Array)) reject("malformed", "Envelope is not bytes");
  if (received.length > envelopeBytesMax) {
    reject("too_large", `Envelope is ${received.length} bytes, limit is ${envelopeBytesMax}`);
  }
  // The sealed envelope keeps `bytes`: never a view that would hold on to a whole network frame.
  const bytes = unshared(received);
  let decoded: unknown;
  try {
    decoded = dagCbor.decode(bytes);
  } catch (error) {
    reject("malformed", `Envelope is not valid DAG-CBOR: ${(error as Error).message}`);
  }
  if (!isPlainRecord(decoded)) reject("malformed", "Envelope is not a map");
  const keys = Object.keys(decoded).sort();
  if (keys.length !== envelopeFields.length || keys.some((key, i) => key !== envelopeFields[i])) {
    reject("malformed", "Envelope has missing or unexpected fields");
  }
  const envelope = decoded as unknown as Envelope;
  checkShape(envelope);
  let reencoded: Uint8Array;
  try {
    reencoded = encodeEnvelope(envelope);
  } catch {
    reject("malformed", "Envelope does not re-encode");
  }
  if (!bytesEqual(reencoded, bytes)) reject("malformed", "Envelope encoding is not canonical");
  const signing = unspliceSignatures(bytes, envelope);
  if (signing) knownSigningBytes.set(envelope, signing);
  return { envelope, bytes, cid: contentIdSync(bytes) };
}

/** Seals an already-signed envelope object (computes bytes and CID) after checking its shape. */
export function sealSigned(envelope: Envelope): Promise<SealedEnvelope> {
  try {
    return Promise.resolve(sealSignedSync(envelope));
  } catch (error) {
    return Promise.reject(error);
  }
}

function sealSignedSync(envelope: Envelope): SealedEnvelope {
  checkShape(envelope);
  const bytes = encodeEnvelope(envelope);
  if (bytes.length > envelopeBytesMax) {
    reject("too_large", `Envelope is ${bytes.length} bytes, limit is ${envelopeBytesMax}`);
  }
  return { envelope, bytes, cid: contentIdSync(bytes) };
}
