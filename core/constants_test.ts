import assert from "node:assert/strict";
import {
  assertCommitLimitsBelowKv,
  clockSkewMsDefault,
  clockSkewMsMax,
  commitLimits,
  envelopePartBytesMax,
  kvLimits,
} from "./constants.ts";
import { AssertionError } from "./errors.ts";

Deno.test("commitLimits stay below Deno KV's limits on one atomic operation", () => {
  assert.ok(commitLimits.mutations < kvLimits.mutations);
  assert.ok(commitLimits.keyBytes < kvLimits.keyBytes);
  assert.ok(commitLimits.bytes < kvLimits.bytes);
  assertCommitLimitsBelowKv(commitLimits);
});

Deno.test("assertCommitLimitsBelowKv() fires for limits that reach Deno KV's", () => {
  for (
    const limits of [
      { ...commitLimits, mutations: kvLimits.mutations },
      { ...commitLimits, keyBytes: kvLimits.keyBytes + 1 },
      { ...commitLimits, bytes: kvLimits.bytes },
    ]
  ) {
    assert.throws(() => assertCommitLimitsBelowKv(limits), AssertionError);
  }
});

Deno.test("an envelope part fits one Deno KV value", () => {
  assert.ok(envelopePartBytesMax < kvLimits.valueBytes);
});

Deno.test("the default clock skew is one a network may set", () => {
  assert.ok(clockSkewMsDefault <= clockSkewMsMax);
});
