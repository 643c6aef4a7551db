/**
 * Resolving identities from KEL envelopes alone, without trusting whoever
 * served them: the envelopes go through the same `ingest` path as everywhere
 * else, into a throwaway in-memory store.
 */
import { BatchRejectedError, ingest } from "../chain/ingest.ts";
import type { SealedEnvelope } from "../envelope/envelope.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { identityKey, type IdentityRecord } from "./kel.ts";
import { identityKinds } from "./kinds.ts";

/**
 * Verifies and folds KEL envelopes (any identities, each chain in order;
 * trustees' logs before the recoveries they attest). Throws
 * `BatchRejectedError` naming the first bad envelope. Returns the record of
 * every identity seen.
 */
export async function replayKel(
  inputs: readonly (Uint8Array | SealedEnvelope)[],
): Promise<Map<string, IdentityRecord>> {
  const store = new MemoryStore();
  // Replay judges history, not freshness: no clock-skew or grace cut-off applies.
  const clock = { now: () => Number.MAX_SAFE_INTEGER / 2 };
  // `each` validates once (`all` validates everything twice); the store is thrown
  // away, so the first rejection is turned into the same error `all` would give.
  const outcomes = await ingest({ store, clock, kinds: identityKinds }, inputs, {
    source: "import",
  });
  const out = new Map<string, IdentityRecord>();
  for (const [index, outcome] of outcomes.entries()) {
    if (outcome.status === "rejected") {
      store.close();
      throw new BatchRejectedError(index, outcome);
    }
    if (!out.has(outcome.envelope.author)) out.set(outcome.envelope.author, undefined as never);
  }
  for (const did of out.keys()) {
    const record = (await store.get<IdentityRecord>(identityKey(did)))?.value;
    if (record) out.set(did, record);
  }
  store.close();
  return out;
}
