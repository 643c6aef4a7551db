/** Building rotation and pq-binding events (the rules that check them are in `kel.ts`). */
import type { ChainHead } from "../chain/keys.ts";
import { kelNet } from "../constants.ts";
import { type SealedEnvelope, sealEnvelope, type Signer } from "../envelope/envelope.ts";
import { canonicalKeySet, type KeySet, proofMessage, type RotationReason } from "./kel.ts";

export interface RotationRequest {
  kind: "id.rotation" | "id.pq-binding";
  /** Head of the identity's KEL. */
  head: ChainHead;
  ts: number;
  /** Signs the envelope: the current keys (for a binding: current Ed25519 + the new ML-DSA key). */
  signer: Signer;
  /** Signs the proof: the revealed (pre-committed) keys. */
  revealed: Signer;
  keys: KeySet;
  /** Digest of the keys after these. */
  next: Uint8Array;
  reason: RotationReason;
}

/** Seals a rotation or pq-binding at the KEL head. */
export async function sealRotation(request: RotationRequest): Promise<SealedEnvelope> {
  const keys = canonicalKeySet(request.keys);
  const position = {
    author: request.signer.did,
    seq: request.head.seq + 1,
    prev: request.head.cid,
    kind: request.kind,
  };
  const proof = await request.revealed.sign(proofMessage(position, keys, request.next));
  return await sealEnvelope({
    net: kelNet,
    kind: request.kind,
    seq: position.seq,
    prev: position.prev,
    ts: Math.max(request.ts, request.head.ts),
    body: { keys, next: request.next, reason: request.reason, proof },
  }, request.signer);
}
