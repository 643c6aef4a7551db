/**
 * JSON-safe encoding of control API writes: the request body travels as
 * base64 DAG-CBOR (keeps bigint and bytes exact), the signed envelope comes
 * back as its canonical bytes in base64, decoded and checked by the client.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { concatBytes, toBase64 } from "../core/bytes.ts";
import { envelopeBytesMax } from "../core/constants.ts";
import { InvalidInputError, shown } from "../core/errors.ts";
import {
  base64,
  checkShape,
  decodeCanonicalCbor,
  isPlainMap,
  literal,
  parseJsonStrict,
  record,
  string,
} from "../core/strict.ts";
import type { IngestOutcome } from "../core/chain/ingest.ts";
import { decodeEnvelope, type SealedEnvelope } from "../core/envelope/envelope.ts";

/** Largest control API request body: a submit carries one body of at most an envelope. */
export const controlBodyBytesMax = 256 * 1024;
/** Largest reply the CLI reads from its node (one envelope in base64 and an outcome). */
export const controlReplyBytesMax = 1024 * 1024;
/** Longest network id (a genesis CID string is 59 characters). */
const netLengthMax = 128;
/** Longest rejection reason or message the CLI accepts from its node. */
const outcomeTextMax = 4096;

export interface SubmitRequestWire {
  kind: string;
  /** base64 of the DAG-CBOR body. */
  body: string;
  /** The network to write in (a node serves several); absent, the node's home network. */
  net?: string;
}

export interface SubmitReplyWire {
  cid: string;
  /** base64 of the envelope's canonical bytes. */
  envelope: string;
  outcome: { status: IngestOutcome["status"]; reason?: string; message?: string };
}

const submitRequestShape = record({
  kind: string({ max: 64, pattern: /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/ }),
  body: base64({ max: envelopeBytesMax }),
}, { net: string({ min: 1, max: netLengthMax }) });

const connectRequestShape = record({ addr: string({ min: 1, max: 1024, pattern: /^\// }) });

const submitReplyShape = record({
  cid: string({ min: 1, max: 128 }),
  envelope: base64({ max: envelopeBytesMax }),
  outcome: record({ status: literal("accepted", "duplicate", "rejected") }, {
    reason: string({ max: 64 }),
    message: string({ max: outcomeTextMax }),
  }),
});

/**
 * Reads a control API body (a request on the node, a reply in the CLI):
 * refused before reading when its declared length is over `bytesMax`, and
 * never more than that read.
 */
export async function readControlBody(
  message: Request | Response,
  bytesMax = controlBodyBytesMax,
  what = "control request",
): Promise<Uint8Array> {
  const refuse = (size: number | string): never => {
    throw new InvalidInputError(`Cannot read ${what}: ${size} bytes, the limit is ${bytesMax}`);
  };
  const declared = message.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= bytesMax)) refuse(shown(declared, 20));
  if (!message.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = message.body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > bytesMax) refuse(`over ${size}`);
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return concatBytes(...chunks);
}

/**
 * Reads the node's JSON reply in the CLI: at most `controlReplyBytesMax`,
 * strict UTF-8; a reply that is not JSON reads as `null`.
 */
export async function readControlReply(response: Response): Promise<unknown> {
  const bytes = await readControlBody(response, controlReplyBytesMax, "the node's reply");
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
}

/** The `{error: {code, message}}` of a failed control call, each part only when it is a string. */
export function controlError(value: unknown): { code?: string; message?: string } {
  const error = isPlainMap(value) ? value.error : undefined;
  if (!isPlainMap(error)) return {};
  return {
    code: typeof error.code === "string" ? shown(error.code, 64) : undefined,
    message: typeof error.message === "string" ? shown(error.message, outcomeTextMax) : undefined,
  };
}

export function encodeSubmitRequest(
  request: { kind: string; body: unknown; net?: string },
): SubmitRequestWire {
  return {
    kind: request.kind,
    body: toBase64(dagCbor.encode(request.body)),
    ...(request.net !== undefined ? { net: request.net } : {}),
  };
}

/**
 * Decodes a submit request body (JSON bytes, or a value already parsed)
 * strictly: exactly `kind`, `body` and, optionally, `net`; the body canonical DAG-CBOR of at
 * most an envelope. Throws `InvalidInputError`.
 */
export function decodeSubmitRequest(
  input: Uint8Array | unknown,
): { kind: string; body: unknown; net?: string } {
  const what = { what: "submit request" };
  const wire = input instanceof Uint8Array
    ? parseJsonStrict(input, submitRequestShape, { ...what, bytesMax: controlBodyBytesMax })
    : checkShape(submitRequestShape, input, what);
  const body = decodeCanonicalCbor(wire.body, (value) => value, {
    what: "submit request body",
    bytesMax: envelopeBytesMax,
  });
  return { kind: wire.kind, body, ...(wire.net !== undefined ? { net: wire.net } : {}) };
}

/** Decodes a connect request body strictly: exactly a multiaddr `addr`. */
export function decodeConnectRequest(input: Uint8Array): { addr: string } {
  return parseJsonStrict(input, connectRequestShape, {
    what: "connect request",
    bytesMax: controlBodyBytesMax,
  });
}

export function encodeSubmitReply(sealed: SealedEnvelope, outcome: IngestOutcome): SubmitReplyWire {
  return {
    cid: sealed.cid,
    envelope: toBase64(sealed.bytes),
    outcome: outcome.status === "rejected"
      ? { status: outcome.status, reason: outcome.reason, message: outcome.message }
      : { status: outcome.status },
  };
}

/**
 * Decodes the node's reply to a submit strictly (shape, base64, the envelope
 * through `decodeEnvelope`, its CID). Throws `InvalidInputError` or
 * `RejectedError`.
 */
export async function decodeSubmitReply(
  value: unknown,
): Promise<{ cid: string; sealed: SealedEnvelope; outcome: IngestOutcome }> {
  const reply = checkShape(submitReplyShape, value, { what: "node reply" });
  const sealed = await decodeEnvelope(reply.envelope);
  if (sealed.cid !== reply.cid) {
    throw new InvalidInputError("Node returned an envelope with another CID");
  }
  const outcome: IngestOutcome = reply.outcome.status === "rejected"
    ? {
      status: "rejected",
      reason: reply.outcome.reason ?? "rejected",
      message: reply.outcome.message ?? "Rejected by the node",
      cid: sealed.cid,
      envelope: sealed.envelope,
    }
    : { status: reply.outcome.status, cid: sealed.cid, envelope: sealed.envelope };
  return { cid: sealed.cid, sealed, outcome };
}
