import assert from "node:assert/strict";
import { defaultParams, parseParamValue } from "../params.ts";
import { hasCapability, policyFor, trustClassOf } from "./policy.ts";

Deno.test("trustClassOf() puts the boundaries 0.1, 0.4 and 0.7 in the upper class", () => {
  assert.equal(trustClassOf(0), "isolated");
  assert.equal(trustClassOf(0.0999), "isolated");
  assert.equal(trustClassOf(0.1), "known");
  assert.equal(trustClassOf(0.3999), "known");
  assert.equal(trustClassOf(0.4), "partner");
  assert.equal(trustClassOf(0.6999), "partner");
  assert.equal(trustClassOf(0.7), "federated");
  assert.equal(trustClassOf(1), "federated");
});

Deno.test("policyFor() gives the default token buckets 10/2, 50/10, 100/20, 200/50", () => {
  const params = defaultParams();
  const buckets = (["isolated", "known", "partner", "federated"] as const).map((cls) => {
    const p = policyFor(params, cls);
    return [p.rate, p.burst];
  });
  assert.deepEqual(buckets, [[10, 2], [50, 10], [100, 20], [200, 50]]);
  assert.deepEqual(policyFor(params, "isolated").capabilities, ["read-ledger"]);
  assert.deepEqual(policyFor(params, "known").capabilities, [
    "read-ledger",
    "write-ledger",
    "vote",
    "vouch",
  ]);
  assert.ok(hasCapability(params, "partner", "propose"));
  assert.ok(!hasCapability(params, "known", "propose"));
});

Deno.test("policyFor() follows the genesis parameters", () => {
  const params = {
    ...defaultParams(),
    "policy.known.rate": parseParamValue("policy.known.rate", "75"),
    "policy.capability.propose": parseParamValue("policy.capability.propose", "known"),
  };
  assert.equal(policyFor(params, "known").rate, 75);
  assert.ok(hasCapability(params, "known", "propose"));
  assert.throws(() => parseParamValue("policy.capability.propose", "admin"), /expected one of/);
  assert.throws(() => parseParamValue("policy.known.burst", "-1"), /at least 0/);
});
