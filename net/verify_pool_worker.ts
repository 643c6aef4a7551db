/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A signature worker of `VerifyPool`: runs core's `verifyRequests`, the same
 * checks the main thread makes, and answers 1 (valid) or 0 per request.
 */
import { type VerifyRequest, verifyRequests } from "../core/chain/verifier.ts";

self.onmessage = async (event: MessageEvent<{ id: number; requests: VerifyRequest[] }>) => {
  const { id, requests } = event.data;
  const results = await verifyRequests(requests);
  self.postMessage({ id, results }, [results.buffer]);
};
