import { deepStrictEqual as assertEquals } from "node:assert";
import { ingest } from "./chain/ingest.ts";
import { FederationNet, t0 as fedT0, testCoop, testFederation } from "./federation/_fixture.ts";
import { federationKinds } from "./federation/kinds.ts";
import { Coop, t0 } from "./governance/_fixture.ts";
import { identityKinds } from "./identity/kinds.ts";
import { createKindRegistry, kindRegistryFor } from "./kinds.ts";

Deno.test("kindRegistryFor() shares only the identity kinds between a cooperative and a federation", () => {
  const cooperative = kindRegistryFor("cooperative");
  const federation = kindRegistryFor("federation");
  const shared = [...cooperative.keys()].filter((kind) => federation.has(kind)).sort();
  assertEquals(shared, [...identityKinds.keys()].sort());
  assertEquals(
    [...federation.keys()].sort(),
    [...identityKinds.keys(), ...federationKinds.keys()].sort(),
  );
  assertEquals([...createKindRegistry().keys()], [...cooperative.keys()]);
});

Deno.test("A federation network refuses a ledger.transfer and a gov.proposal as unknown kinds", async () => {
  const alpha = await testCoop("Alpha", [1, 2]);
  const beta = await testCoop("Beta", [3, 4]);
  const file = await testFederation([alpha, beta]);
  const delegate = alpha.members[0];
  const fed = await FederationNet.create(file, [delegate]);
  const transfer = { to: beta.members[0].did, amount: "1.00", currency: "hours" };
  assertEquals(await fed.attempt(delegate, "ledger.transfer", transfer, fedT0 + 1), "unknown_kind");
  assertEquals(fed.lastRejection, 'Unknown envelope kind "ledger.transfer"');
  assertEquals(await fed.attempt(delegate, "gov.proposal", {}, fedT0 + 1), "unknown_kind");
});

Deno.test("A cooperative network refuses a fed.vote as an unknown kind", async () => {
  const coop = await Coop.create(2);
  const [a] = coop.people;
  const vote = await coop.seal(a, "fed.vote", {
    proposal: "bafyreiproposal",
    coop: coop.net,
    choice: "for",
  }, t0);
  const deps = { store: coop.store, clock: coop.clock, kinds: kindRegistryFor("cooperative") };
  const [outcome] = await ingest(deps, [vote], { source: "import" });
  assertEquals(outcome.status === "rejected" && outcome.reason, "unknown_kind");
});
