// Non-custodial writes: the gateway prepares an envelope (seq, prev, ts and its signing bytes),
// the key held in this tab signs it, and the gateway ingests the signed envelope and answers
// with a receipt. The gateway never sees the key.
import { api } from "./api.js";
import { base64ToBytes, sign } from "./keys.js";

/** Prepares, signs and submits one envelope of `kind`; resolves to the gateway's receipt. */
export async function submitSigned(kind, body) {
  const prepared = await api("prepare", { method: "POST", body: { kind, body } });
  const signature = await sign(base64ToBytes(prepared.signingBytes));
  return await api("envelopes", {
    method: "POST",
    body: { envelope: { ...prepared.envelope, sigs: [{ alg: "ed25519", sig: signature }] } },
  });
}

/** A random idempotency key for a transfer, so a retried submit is never a second payment. */
export function transferId() {
  return crypto.randomUUID();
}
