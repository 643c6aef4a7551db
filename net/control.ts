/**
 * JSON-safe encoding of control API writes: the request body travels as
 * base64 DAG-CBOR (keeps bigint and bytes exact), the signed envelope comes
 * back as its canonical bytes in base64, decoded and checked by the client.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { fromBase64, toBase64 } from "../core/bytes.ts";
import type { IngestOutcome } from "../core/chain/ingest.ts";
import { decodeEnvelope, type SealedEnvelope } from "../core/envelope/envelope.ts";

export interface SubmitRequestWire {
  kind: string;
  /** base64 of the DAG-CBOR body. */
  body: string;
}

export interface SubmitReplyWire {
  cid: string;
  /** base64 of the envelope's canonical bytes. */
  envelope: string;
  outcome: { status: IngestOutcome["status"]; reason?: string; message?: string };
}

export function encodeSubmitRequest(request: { kind: string; body: unknown }): SubmitRequestWire {
  return { kind: request.kind, body: toBase64(dagCbor.encode(request.body)) };
}

export function decodeSubmitRequest(value: unknown): { kind: string; body: unknown } {
  const v = value as Record<string, unknown>;
  if (typeof v?.kind !== "string" || typeof v.body !== "string") {
    throw new TypeError("Submit request needs string fields kind and body");
  }
  return { kind: v.kind, body: dagCbor.decode(fromBase64(v.body)) };
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

export async function decodeSubmitReply(
  value: SubmitReplyWire,
): Promise<{ cid: string; sealed: SealedEnvelope; outcome: IngestOutcome }> {
  const sealed = await decodeEnvelope(fromBase64(value.envelope));
  if (sealed.cid !== value.cid) throw new TypeError("Node returned an envelope with another CID");
  const outcome: IngestOutcome = value.outcome.status === "rejected"
    ? {
      status: "rejected",
      reason: value.outcome.reason ?? "rejected",
      message: value.outcome.message ?? "Rejected by the node",
      cid: sealed.cid,
      envelope: sealed.envelope,
    }
    : { status: value.outcome.status, cid: sealed.cid, envelope: sealed.envelope };
  return { cid: sealed.cid, sealed, outcome };
}
