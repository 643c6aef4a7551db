/**
 * Wire formats of the node's own libp2p protocols: the signed hello and the
 * sync request-response. Messages are DAG-CBOR, length-prefixed, one
 * request and one response per stream, every read bounded in size and time.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { lpStream } from "@libp2p/utils";
import type { Stream } from "@libp2p/interface";
import { utf8Encode } from "../core/bytes.ts";
import { envelopeBytesMax } from "../core/constants.ts";
import { RejectedError } from "../core/errors.ts";
import {
  array,
  bytes,
  decodeCanonicalCbor,
  did,
  integer,
  literal,
  natural,
  record,
  string,
  timestamp,
  tuple,
  variant,
} from "../core/strict.ts";
import { type Ed25519KeyPair, signEd25519, verifyEd25519 } from "../core/identity/keys.ts";
import { topologyNameBytesMax } from "./topology.ts";

export const helloProtocol = "/icn/hello/1.0.0";
export const syncProtocol = "/icn/sync/1.0.0";

/**
 * Newest key events a hello carries once its sender's keys have rotated: enough for a
 * peer that missed a few rotations to learn the key that signed the hello.
 */
export const helloKelEventsMax = 8;
/** Bytes of those key events at most (a hybrid ML-DSA/ML-KEM rotation is ~10 KiB). */
export const helloKelBytesMax = 96 * 1024;
/** Largest hello message: its fields (well under 1 KiB) and the key events. */
export const helloBytesMax = helloKelBytesMax + 4096;
/** Largest sync request (a range request is about 150 bytes). */
export const syncRequestBytesMax = 4096;
/** Largest sync message (a page of envelopes or a heads list). */
export const syncBytesMax = 32 * 1024 * 1024;
/** Time one request-response may take. */
export const streamTimeoutMs = 10_000;
/** Most heads one heads response carries (bounds memory of both sides). */
export const headsMax = 200_000;
/** Bytes of envelopes in one range response. */
export const pageBytesMax = 4 * 1024 * 1024;
/**
 * Networks one node serves, at most: each costs a store, a gossip topic and a sync, and each is
 * a value of the `net` label of the per-network metrics, so this also bounds their series.
 */
export const networksPerNodeMax = 16;

const helloDomain = "icn/hello/v1\n";

/** Where the sender sits (`net/topology.ts`), as its hello announces it; checked with `parseTopology`. */
export interface HelloTopology {
  region: string;
  cluster: string;
  role: string;
}

export interface Hello {
  did: string;
  /** The sender's first (home) network: sync requests for it need not name it. */
  net: string;
  /**
   * Every network the sender serves, `net` among them (at most `networksPerNodeMax`); absent
   * from older nodes, which serve `net` alone.
   */
  networks?: string[];
  /** Where the sender sits; absent from older nodes. */
  topology?: HelloTopology;
  version: string;
  /** libp2p peer id of the sender and of the intended receiver (no replay to others). */
  from: string;
  to: string;
  ts: number;
  sig: Uint8Array;
  /**
   * The sender's newest key events (encoded `id.*` envelopes, oldest first), present once its
   * keys have rotated. Not covered by `sig`: each event is a signed envelope that the receiver
   * validates like any other, and only then checks `sig` against the keys they install.
   */
  kel?: Uint8Array[];
}

function helloSigningBytes(hello: Omit<Hello, "sig">): Uint8Array {
  // The fields older hellos lacked are signed only when present, so their signatures still verify.
  const body = dagCbor.encode({
    did: hello.did,
    net: hello.net,
    ...(hello.networks ? { networks: hello.networks } : {}),
    ...(hello.topology ? { topology: hello.topology } : {}),
    version: hello.version,
    from: hello.from,
    to: hello.to,
    ts: hello.ts,
  });
  const domain = utf8Encode(helloDomain);
  const out = new Uint8Array(domain.length + body.length);
  out.set(domain);
  out.set(body, domain.length);
  return out;
}

export async function signHello(
  hello: Omit<Hello, "sig">,
  key: Ed25519KeyPair,
): Promise<Hello> {
  return { ...hello, sig: await signEd25519(key, helloSigningBytes(hello)) };
}

const peerIdPattern = /^[1-9A-HJ-NP-Za-km-z]+$/;
/** Longest libp2p peer id string (base58btc of an identity multihash of an Ed25519 key is 52). */
const peerIdLengthMax = 128;
/** Longest network id: the CID string of a genesis (59 for CIDv1 sha2-256 base32), or "kel". */
const netLengthMax = 128;
/** Longest protocol version string. */
const versionLengthMax = 32;
/** Most envelopes one range request asks for (the largest `sync.page_size`). */
export const rangeLimitMax = 5000;
/** Most envelopes one range response carries (each at least a few dozen bytes of `pageBytesMax`). */
export const rangeEnvelopesMax = 100_000;

const didText = string({ max: 128, pattern: /^did:icn:z[1-9A-HJ-NP-Za-km-z]+$/ });
const netText = string({ min: 1, max: netLengthMax });

const helloShape = record({
  did,
  net: netText,
  version: string({ max: versionLengthMax, pattern: /^\d{1,6}\.\d{1,6}\.\d{1,6}$/ }),
  from: string({ min: 1, max: peerIdLengthMax, pattern: peerIdPattern }),
  to: string({ min: 1, max: peerIdLengthMax, pattern: peerIdPattern }),
  ts: timestamp,
  sig: bytes({ length: 64 }),
}, {
  networks: array(netText, { min: 1, max: networksPerNodeMax }),
  // Names are checked by `parseTopology` where the hello is accepted; here only their size.
  topology: record({
    region: string({ min: 1, max: topologyNameBytesMax }),
    cluster: string({ min: 1, max: topologyNameBytesMax }),
    role: string({ min: 1, max: topologyNameBytesMax }),
  }),
  kel: array(bytes({ max: envelopeBytesMax }), { min: 1, max: helloKelEventsMax }),
});

// `network`: the network the request is for, among those the responder serves; absent, the
// responder's first (home) network, so a node serving one network talks to older nodes unchanged.
const syncRequestShape = variant("t", {
  heads: record({ t: literal("heads") }, { network: netText }),
  range: record({
    t: literal("range"),
    net: netText,
    author: didText,
    from: natural,
    limit: integer({ min: 1, max: rangeLimitMax }),
  }, { network: netText }),
});

const headsResponseShape = record({
  heads: array(tuple(netText, didText, natural), { max: headsMax }),
});

const rangeResponseShape = record({
  envs: array(bytes({ max: envelopeBytesMax }), { max: rangeEnvelopesMax }),
});

function malformed(message: string): Error {
  return new RejectedError("malformed", message);
}

/** Decodes one message of these protocols: at most `bytesMax`, canonical DAG-CBOR, any shape. */
export function decodeMessage(bytes: Uint8Array, bytesMax: number): unknown {
  return decodeCanonicalCbor(bytes, (value) => value, {
    what: "protocol message",
    bytesMax,
    refuse: malformed,
  });
}

/** Decodes a hello strictly; throws `RejectedError("malformed")`. */
export function decodeHello(bytes: Uint8Array): Hello {
  return decodeCanonicalCbor(bytes, helloShape, {
    what: "hello",
    bytesMax: helloBytesMax,
    refuse: malformed,
  });
}

/** Parses a hello; returns null when it is not exactly a hello (see `decodeHello`). */
export function parseHello(bytes: Uint8Array): Hello | null {
  try {
    return decodeHello(bytes);
  } catch (error) {
    if (error instanceof RejectedError) return null;
    throw error;
  }
}

/** Decodes a sync request strictly; throws `RejectedError("malformed")`. */
export function decodeSyncRequest(bytes: Uint8Array): SyncRequest {
  return decodeCanonicalCbor(bytes, syncRequestShape, {
    what: "sync request",
    bytesMax: syncRequestBytesMax,
    refuse: malformed,
  });
}

/** Decodes a heads response strictly; throws `RejectedError("malformed")`. */
export function decodeHeadsResponse(bytes: Uint8Array): HeadsResponse {
  return decodeCanonicalCbor(bytes, headsResponseShape, {
    what: "heads response",
    bytesMax: syncBytesMax,
    refuse: malformed,
  });
}

/** Decodes a range response strictly; throws `RejectedError("malformed")`. */
export function decodeRangeResponse(bytes: Uint8Array): RangeResponse {
  return decodeCanonicalCbor(bytes, rangeResponseShape, {
    what: "range response",
    bytesMax: syncBytesMax,
    refuse: malformed,
  });
}

export function verifyHello(hello: Hello, publicKey: Uint8Array): Promise<boolean> {
  return verifyEd25519(publicKey, helloSigningBytes(hello), hello.sig);
}

export type SyncRequest =
  | { t: "heads"; network?: string }
  | { t: "range"; net: string; author: string; from: number; limit: number; network?: string };

export interface HeadsResponse {
  /** [net, author, seq] of every chain the responder holds. */
  heads: [string, string, number][];
}

export interface RangeResponse {
  envs: Uint8Array[];
}

/**
 * Sends one message and reads one reply on a fresh stream. The reply is read
 * only up to `maxBytes` and decoded by `decode` (strict canonical DAG-CBOR
 * by default); a refusal is a `RejectedError("malformed")`.
 */
export async function request<T = unknown>(
  stream: Stream,
  message: unknown,
  maxBytes: number,
  decode: (bytes: Uint8Array) => T = (bytes) => decodeMessage(bytes, maxBytes) as T,
): Promise<T> {
  const signal = AbortSignal.timeout(streamTimeoutMs);
  const lp = lpStream(stream, { maxDataLength: maxBytes });
  await lp.write(dagCbor.encode(message), { signal });
  const reply = await lp.read({ signal });
  await stream.close({ signal }).catch(() => stream.abort(new Error("close failed")));
  return decode(reply.subarray());
}

/**
 * Reads one request from an inbound stream (never more than
 * `maxRequestBytes` is buffered), decodes it with `decode` (strict canonical
 * DAG-CBOR by default) and writes the handler's reply.
 */
export async function respond<T = unknown>(
  stream: Stream,
  maxRequestBytes: number,
  handler: (message: T) => Promise<unknown>,
  decode: (bytes: Uint8Array) => T = (bytes) => decodeMessage(bytes, maxRequestBytes) as T,
): Promise<void> {
  const signal = AbortSignal.timeout(streamTimeoutMs);
  const lp = lpStream(stream, { maxDataLength: maxRequestBytes });
  try {
    const incoming = await lp.read({ signal });
    const reply = await handler(decode(incoming.subarray()));
    await lp.write(dagCbor.encode(reply), { signal });
    await stream.close({ signal });
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}
