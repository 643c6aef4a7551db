/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A signature worker of `VerifyPool`: verifies each request with the same
 * functions the main thread uses and answers 1 (valid) or 0 per request.
 */
import { verifyEd25519, verifyMlDsa65 } from "../identity/keys.ts";
import type { VerifyRequest } from "./verify_pool.ts";

self.onmessage = async (event: MessageEvent<{ id: number; requests: VerifyRequest[] }>) => {
  const { id, requests } = event.data;
  const results = new Uint8Array(requests.length);
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i];
    const ok = r.alg === "ed25519"
      ? await verifyEd25519(r.publicKey, r.message, r.signature)
      : await verifyMlDsa65(r.publicKey, r.message, r.signature);
    results[i] = ok ? 1 : 0;
  }
  self.postMessage({ id, results }, [results.buffer]);
};
