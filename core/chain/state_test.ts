import assert from "node:assert/strict";
import { commitLimits } from "../constants.ts";
import { AssertionError } from "../errors.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { assertBatchFitsCommit, exceedsCommitLimits, StateOverlay } from "./state.ts";

const within = { mutations: 10, keyBytes: 100, bytes: 1000 };
const over = { ...within, mutations: commitLimits.mutations + 1 };

Deno.test("exceedsCommitLimits() is true past any one of the commit limits", () => {
  assert.equal(exceedsCommitLimits(within), false);
  assert.equal(exceedsCommitLimits({ ...commitLimits }), false);
  assert.equal(exceedsCommitLimits(over), true);
  assert.equal(exceedsCommitLimits({ ...within, keyBytes: commitLimits.keyBytes + 1 }), true);
  assert.equal(exceedsCommitLimits({ ...within, bytes: commitLimits.bytes + 1 }), true);
});

Deno.test("assertBatchFitsCommit() fires for a batch of several envelopes past the commit limits", () => {
  assertBatchFitsCommit(within, 5);
  // One envelope's writes are what they are: batching cannot split them.
  assertBatchFitsCommit(over, 1);
  assert.throws(() => assertBatchFitsCommit(over, 2), AssertionError);
});

Deno.test("StateOverlay.mergeIntoParent() on a root overlay is a bug", () => {
  const root = new StateOverlay(new MemoryStore());
  assert.throws(() => root.mergeIntoParent(), AssertionError);
});
