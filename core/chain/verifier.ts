/**
 * Signature checks as a port (issue #19): ingest hands a large batch's
 * signature checks to a `SignatureVerifier` while the main thread validates
 * the ledger's rules. Core holds only the interface, the request format and
 * `verifyRequests`, the single-thread verifier every implementation must
 * agree with; the worker pool that runs it on every core is host code
 * (`net/verify_pool.ts`), since core starts no threads (STYLE rule 1).
 * Ingest uses a verifier only for batches of at least `verifyPoolThreshold`
 * envelopes and only when one is supplied in `IngestDeps.verifier`; a single
 * CLI write never starts a worker.
 */
import { InvalidSignatureError } from "../errors.ts";
import { verifyEd25519, verifyMlDsa65 } from "../identity/keys.ts";
import type { Envelope } from "../envelope/envelope.ts";
import type { KeySet } from "../identity/kel.ts";

/** One signature to check. */
export interface VerifyRequest {
  alg: "ed25519" | "ml-dsa-65";
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** Verifies many signatures at once; results in request order. */
export interface SignatureVerifier {
  verify(requests: readonly VerifyRequest[]): Promise<boolean[]>;
  close(): void;
}

/** Envelopes in an ingest call below which the main thread verifies alone (a worker hop costs more). */
export const verifyPoolThreshold = 256;
/** Requests per `verify` call (one message to a worker): large enough to amortise the hop, small enough to spread. */
export const verifyChunk = 128;

/**
 * The signature checks `verifySignatures` (core/identity/kel.ts) would make,
 * as requests; null when the signature set is malformed (no Ed25519
 * signature, or an ML-DSA-65 one missing or unexpected), in which case the
 * caller runs `verifySignatures` itself for its exact refusal.
 */
export function signatureRequests(
  envelope: Envelope,
  message: Uint8Array,
  keys: Pick<KeySet, "ed25519" | "mlDsa65">,
): VerifyRequest[] | null {
  const ed = envelope.sigs.find((s) => s.alg === "ed25519");
  const pq = envelope.sigs.find((s) => s.alg === "ml-dsa-65");
  if (!ed || (keys.mlDsa65 === undefined) !== (pq === undefined)) return null;
  const out: VerifyRequest[] = [
    { alg: "ed25519", publicKey: keys.ed25519, message, signature: ed.sig },
  ];
  if (keys.mlDsa65 && pq) {
    out.push({ alg: "ml-dsa-65", publicKey: keys.mlDsa65, message, signature: pq.sig });
  }
  return out;
}

/**
 * Checks each request with the functions `verifySignatures` uses: 1 (valid)
 * or 0 per request, in order. The pool's workers run exactly this.
 */
export async function verifyRequests(
  requests: readonly VerifyRequest[],
): Promise<Uint8Array<ArrayBuffer>> {
  const results = new Uint8Array(requests.length);
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i];
    const ok = r.alg === "ed25519"
      ? await verifyEd25519(r.publicKey, r.message, r.signature)
      : await verifyMlDsa65(r.publicKey, r.message, r.signature);
    results[i] = ok ? 1 : 0;
  }
  return results;
}

/** The single-thread `SignatureVerifier`: `verifyRequests` on the calling thread (tests, one core). */
export const mainThreadVerifier: SignatureVerifier = {
  async verify(requests) {
    return Array.from(await verifyRequests(requests), (ok) => ok === 1);
  },
  close() {},
};

/** Throws the refusal `verifySignatures` gives for a signature that does not verify. */
export function invalidSignature(envelope: Envelope, alg: VerifyRequest["alg"]): never {
  throw new InvalidSignatureError(
    alg === "ed25519"
      ? `Envelope ${envelope.kind} #${envelope.seq} by "${envelope.author}" has no valid Ed25519 signature`
      : `Envelope ${envelope.kind} #${envelope.seq} by "${envelope.author}" has no valid ML-DSA-65 signature`,
  );
}
