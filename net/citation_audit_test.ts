import { deepStrictEqual as assertEquals } from "node:assert";
import { ingest } from "../core/chain/ingest.ts";
import { citationFailures } from "../core/federation/citation.ts";
import { FederationNet, testCoop, testFederation } from "../core/federation/_fixture.ts";
import { Coop, type Person, t0 } from "../core/governance/_fixture.ts";
import { joinNetwork } from "../core/governance/join.ts";
import type { Logger } from "../core/ports.ts";
import type { TestIdentity } from "../core/testing.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { auditAccepted, auditCitations, type AuditedNetwork } from "./citation_audit.ts";
import { citationFailuresMetric, createNodeMetrics } from "./metrics.ts";
import { metricValue } from "./_testing.ts";

const s = 1000;
const day = 86_400 * s;
/** A delegates proposal opened at t0 + 1 s takes effect after its 7 days of voting and 2 of timelock. */
const effective = t0 + s + 9 * day;

function personOf(who: TestIdentity): Person {
  return { did: who.did, signer: who.signer, inception: who.inception, seq: 0, prev: null, ts: t0 };
}

/**
 * Alpha (3 members) and Beta (2) form a federation; this node holds the federation and Alpha's
 * network, not Beta's. Alpha's store runs its own governance.
 */
async function setup() {
  const alpha = await testCoop("Alpha", [1, 2, 3]);
  const beta = await testCoop("Beta", [4, 5]);
  const file = await testFederation([alpha, beta]);
  const fed = await FederationNet.create(file, [...alpha.members, ...beta.members]);
  const coop = new Coop(alpha.file.genesis, alpha.net, alpha.members.map(personOf));
  await joinNetwork(coop.store, { id: alpha.net, genesis: alpha.file.genesis });
  await ingest(coop.deps, alpha.members.map((m) => m.inception), { source: "import" });
  const [a, b, c] = coop.people;
  const propose = async (action: { federation: string; delegates: string[] }, ts: number) => {
    const proposal = await coop.submit(
      a,
      "gov.proposal",
      coop.proposalBody("delegates", action),
      ts,
    );
    return proposal.cid;
  };
  const voteAll = async (proposal: string, ts: number) => {
    for (const who of [a, b, c]) {
      await coop.submit(who, "gov.vote", { proposal, choice: "for" }, ts);
    }
  };
  const chosen = [a.did, b.did].sort();
  const honest = await propose({ federation: fed.net, delegates: chosen }, t0 + s);
  await voteAll(honest, t0 + 2 * s);
  const elsewhere = await propose(
    { federation: "bafyreiotherfederation", delegates: chosen },
    t0 + 3 * s,
  );
  await voteAll(elsewhere, t0 + 4 * s);
  // Opened long after the first and never voted on: not executed when it is cited.
  const open = await propose({ federation: fed.net, delegates: [a.did] }, effective);
  const networks: AuditedNetwork[] = [
    { id: fed.net, store: fed.store },
    { id: alpha.net, store: coop.store },
  ];
  return { alpha, beta, fed, coop, chosen, honest, elsewhere, open, networks };
}

/** Records `body` in the federation as Alpha's (or `coop`'s) delegate `author`. */
function recordDelegates(
  fed: FederationNet,
  author: TestIdentity,
  body: { coop: string; delegates: string[]; members: number; proposal: string },
  ts: number,
): Promise<string> {
  return fed.submit(author, "fed.delegates", body, ts);
}

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

Deno.test("auditCitations() passes an honest record of a held cooperative", async () => {
  const { alpha, fed, chosen, honest, networks } = await setup();
  await recordDelegates(fed, alpha.members[0], {
    coop: alpha.net,
    delegates: chosen,
    members: 3,
    proposal: honest,
  }, effective + s);
  const audit = await auditCitations(networks);
  assertEquals(audit, { checked: 1, passed: 1, failures: [], skipped: [], truncated: [] });
});

Deno.test("auditCitations() reports records citing another federation's, an unexecuted or a different-delegates proposal, each with its reason, counted once", async () => {
  const { alpha, fed, chosen, honest, elsewhere, open, networks } = await setup();
  const [a, , c] = alpha.members;
  const base = { coop: alpha.net, members: 3 };
  await recordDelegates(fed, a, { ...base, delegates: chosen, proposal: honest }, effective + s);
  const different = await recordDelegates(fed, a, {
    ...base,
    delegates: [a.did, c.did].sort(),
    proposal: honest,
  }, effective + 2 * s);
  const other = await recordDelegates(
    fed,
    a,
    { ...base, delegates: chosen, proposal: elsewhere },
    effective + 3 * s,
  );
  const unexecuted = await recordDelegates(
    fed,
    a,
    { ...base, delegates: [a.did], proposal: open },
    effective + 4 * s,
  );
  const metrics = createNodeMetrics({ processMetrics: false });
  const warned: unknown[] = [];
  const logger = {
    ...silent,
    warn: (event: string, fields?: unknown) => warned.push([event, fields]),
  };
  const audit = await auditCitations(networks, { metrics, logger });
  assertEquals(audit.checked, 4);
  assertEquals(audit.passed, 1);
  assertEquals(
    audit.failures.map((f) => [f.cid, f.reason, f.author, f.proposal]),
    [
      [different, "different_delegates", a.did, honest],
      [other, "other_federation", a.did, elsewhere],
      [unexecuted, "not_executed", a.did, open],
    ],
  );
  assertEquals(audit.failures.every((f) => f.federation === fed.net && f.coop === alpha.net), true);
  assertEquals(audit.failures[1].message.includes("bafyreiotherfederation"), true);
  assertEquals(warned.length, 3);

  // Audited again (the next maintenance tick): the same findings, not counted twice.
  assertEquals((await auditCitations(networks, { metrics, logger })).failures.length, 3);
  assertEquals(warned.length, 3);
  for (const reason of citationFailures) {
    const expected = ["different_delegates", "other_federation", "not_executed"].includes(reason)
      ? 1
      : 0;
    assertEquals(await metricValue(metrics, citationFailuresMetric, { reason }), expected, reason);
  }
});

Deno.test("auditCitations() skips records of cooperatives the node does not hold, and says so", async () => {
  const { alpha, beta, fed, chosen, honest, networks } = await setup();
  await recordDelegates(fed, alpha.members[0], {
    coop: alpha.net,
    delegates: chosen,
    members: 3,
    proposal: honest,
  }, effective + s);
  // Beta's proposal is unknown here: only a node holding Beta's network could check it.
  const betaRecord = await recordDelegates(fed, beta.members[0], {
    coop: beta.net,
    delegates: [beta.members[1].did],
    members: 2,
    proposal: honest,
  }, effective + 2 * s);
  const skipped = [{
    federation: fed.net,
    coop: beta.net,
    cid: betaRecord,
    reason: "cooperative_not_held",
  }];
  const audit = await auditCitations(networks);
  assertEquals([audit.checked, audit.passed, audit.failures, audit.skipped], [1, 1, [], skipped]);
  // After accepting Beta's record, the node audits Beta's records only.
  const one = await auditCitations(networks, { coop: beta.net });
  assertEquals([one.checked, one.skipped], [0, skipped]);
  // A node that holds only the federation checks nothing.
  const federationOnly = await auditCitations(networks.slice(0, 1));
  assertEquals([federationOnly.checked, federationOnly.skipped.length], [0, 2]);
  // A node without the federation has nothing to audit.
  assertEquals((await auditCitations(networks.slice(1))).skipped, []);
});

Deno.test("auditAccepted() audits the cooperative of an accepted fed.delegates and ignores other kinds", async () => {
  const { alpha, fed, coop, chosen, honest } = await setup();
  const [a, , c] = alpha.members;
  const base = { coop: alpha.net, members: 3, proposal: honest };
  await recordDelegates(fed, a, { ...base, delegates: chosen }, effective + s);
  const different = await recordDelegates(
    fed,
    a,
    { ...base, delegates: [a.did, c.did].sort() },
    effective + 2 * s,
  );
  // The node passes its own records of the networks it serves (`deps.store`).
  const served: AuditedNetwork[] = [
    { id: fed.net, deps: { store: fed.store } },
    { id: alpha.net, deps: { store: coop.store } },
  ];
  const accepted = (kind: string, body: unknown) =>
    ({ envelope: { kind, body } }) as SealedEnvelope;
  const audit = await auditAccepted(accepted("fed.delegates", base), served);
  assertEquals(audit?.failures.map((f) => [f.cid, f.reason]), [[different, "different_delegates"]]);
  assertEquals(await auditAccepted(accepted("fed.vouch", base), served), undefined);
  assertEquals(
    (await auditAccepted(accepted("fed.delegates", { ...base, coop: "bafyreiother" }), served))
      ?.checked,
    0,
  );
});
