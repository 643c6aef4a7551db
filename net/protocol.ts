/**
 * Wire formats of the node's own libp2p protocols: the signed hello and the
 * sync request-response. Messages are DAG-CBOR, length-prefixed, one
 * request and one response per stream, every read bounded in size and time.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { lpStream } from "@libp2p/utils";
import type { Stream } from "@libp2p/interface";
import { utf8Encode } from "../core/bytes.ts";
import { type Ed25519KeyPair, signEd25519, verifyEd25519 } from "../core/identity/keys.ts";

export const helloProtocol = "/icn/hello/1.0.0";
export const syncProtocol = "/icn/sync/1.0.0";

/** Largest hello message. */
export const helloBytesMax = 4096;
/** Largest sync message (a page of envelopes or a heads list). */
export const syncBytesMax = 32 * 1024 * 1024;
/** Time one request-response may take. */
export const streamTimeoutMs = 10_000;
/** Most heads one heads response carries (bounds memory of both sides). */
export const headsMax = 200_000;
/** Bytes of envelopes in one range response. */
export const pageBytesMax = 4 * 1024 * 1024;

const helloDomain = "icn/hello/v1\n";

export interface Hello {
  did: string;
  net: string;
  version: string;
  /** libp2p peer id of the sender and of the intended receiver (no replay to others). */
  from: string;
  to: string;
  ts: number;
  sig: Uint8Array;
}

function helloSigningBytes(hello: Omit<Hello, "sig">): Uint8Array {
  const body = dagCbor.encode({
    did: hello.did,
    net: hello.net,
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

/** Parses a hello; returns null when its shape is wrong. */
export function parseHello(bytes: Uint8Array): Hello | null {
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch {
    return null;
  }
  const h = value as Record<string, unknown>;
  if (
    typeof h !== "object" || h === null || typeof h.did !== "string" ||
    typeof h.net !== "string" || typeof h.version !== "string" ||
    !/^\d+\.\d+\.\d+$/.test(h.version) || typeof h.from !== "string" ||
    typeof h.to !== "string" || typeof h.ts !== "number" || !(h.sig instanceof Uint8Array)
  ) {
    return null;
  }
  return h as unknown as Hello;
}

export function verifyHello(hello: Hello, publicKey: Uint8Array): Promise<boolean> {
  return verifyEd25519(publicKey, helloSigningBytes(hello), hello.sig);
}

export type SyncRequest =
  | { t: "heads" }
  | { t: "range"; net: string; author: string; from: number; limit: number };

export interface HeadsResponse {
  /** [net, author, seq] of every chain the responder holds. */
  heads: [string, string, number][];
}

export interface RangeResponse {
  envs: Uint8Array[];
}

/** Sends one message and reads one reply on a fresh stream. */
export async function request(
  stream: Stream,
  message: unknown,
  maxBytes: number,
): Promise<unknown> {
  const signal = AbortSignal.timeout(streamTimeoutMs);
  const lp = lpStream(stream, { maxDataLength: maxBytes });
  await lp.write(dagCbor.encode(message), { signal });
  const reply = await lp.read({ signal });
  await stream.close({ signal }).catch(() => stream.abort(new Error("close failed")));
  return dagCbor.decode(reply.subarray());
}

/** Reads one request from an inbound stream and writes the handler's reply. */
export async function respond(
  stream: Stream,
  maxRequestBytes: number,
  handler: (message: unknown) => Promise<unknown>,
): Promise<void> {
  const signal = AbortSignal.timeout(streamTimeoutMs);
  const lp = lpStream(stream, { maxDataLength: Math.max(maxRequestBytes, syncBytesMax) });
  try {
    const incoming = await lp.read({ signal });
    if (incoming.byteLength > maxRequestBytes) throw new RangeError("Request is too large");
    const reply = await handler(dagCbor.decode(incoming.subarray()));
    await lp.write(dagCbor.encode(reply), { signal });
    await stream.close({ signal });
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}
