/**
 * The citation audit in running nodes (net/citation_audit.ts as wired by net/node.ts): a node
 * that serves Alpha's network and the federation receives, by sync from a federation-only node,
 * Alpha's delegate changes; the honest one passes, the one whose delegates differ from the cited
 * proposal's is found once (`icn_federation_citation_failures_total{reason}`, `citation_failed`).
 * Both stay accepted: a failing citation is a finding about its signer, not a rejection
 * (docs/federation.md, "What each node checks"). In-process nodes on loopback, waits bounded.
 */
import { ingest } from "../core/chain/ingest.ts";
import { readHeads } from "../core/chain/read.ts";
import { FederationNet, testCoop, testFederation } from "../core/federation/_fixture.ts";
import { Coop, type Person, t0 } from "../core/governance/_fixture.ts";
import { joinNetwork } from "../core/governance/join.ts";
import { createKindRegistry, kindRegistryFor } from "../core/kinds.ts";
import type { Logger } from "../core/ports.ts";
import type { TestIdentity } from "../core/testing.ts";
import { defaultConfig } from "../net/config.ts";
import { citationFailuresMetric } from "../net/metrics.ts";
import { IcnNode } from "../net/node.ts";
import { metricValue } from "../net/_testing.ts";
import { assertEquals, quietLogger, systemClock, waitFor } from "./_node_fixture.ts";

const s = 1000;
const day = 86_400 * s;
/** A delegates proposal opened at t0 + 1 s takes effect after its 7 days of voting and 2 of timelock. */
const effective = t0 + s + 9 * day;

function personOf(who: TestIdentity): Person {
  return { did: who.did, signer: who.signer, inception: who.inception, seq: 0, prev: null, ts: t0 };
}

Deno.test({
  name:
    "a node holding the cooperative audits the delegate changes it syncs: the one whose citation fails is counted and logged once, and stays accepted",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const alpha = await testCoop("Alpha", [31, 32, 33]);
    const beta = await testCoop("Beta", [34, 35]);
    const file = await testFederation([alpha, beta]);
    const people = [...alpha.members, ...beta.members];
    // Alpha's governance: a delegates proposal for this federation naming a and b, executed.
    const coop = new Coop(alpha.file.genesis, alpha.net, alpha.members.map(personOf));
    await joinNetwork(coop.store, { id: alpha.net, genesis: alpha.file.genesis });
    await ingest(coop.deps, alpha.members.map((m) => m.inception), { source: "import" });
    const [a, b, c] = coop.people;
    const chosen = [a.did, b.did].sort();
    const proposal = (await coop.submit(
      a,
      "gov.proposal",
      coop.proposalBody("delegates", { federation: file.id, delegates: chosen }),
      t0 + s,
    )).cid;
    for (const who of [a, b, c]) {
      await coop.submit(who, "gov.vote", { proposal, choice: "for" }, t0 + 2 * s);
    }
    // The federation-only node's store holds Alpha's two records: honest, then different.
    const source = await FederationNet.create(file, people);
    const [a1, , c1] = alpha.members;
    const base = { coop: alpha.net, members: 3, proposal };
    await source.submit(a1, "fed.delegates", { ...base, delegates: chosen }, effective + s);
    const different = await source.submit(
      a1,
      "fed.delegates",
      { ...base, delegates: [a1.did, c1.did].sort() },
      effective + 2 * s,
    );
    const auditing = await FederationNet.create(file, people);

    const warned: { event: string; fields: Record<string, unknown> }[] = [];
    const logger: Logger = {
      ...quietLogger,
      warn: (event, fields) => void warned.push({ event, fields: fields ?? {} }),
    };
    const nodes: IcnNode[] = [];
    const start = async (
      who: TestIdentity,
      networks: { id: string; store: FederationNet["store"]; federation?: boolean }[],
      log: Logger,
    ) => {
      const node = await IcnNode.create(
        {
          store: networks[0].store,
          clock: systemClock,
          kinds: createKindRegistry(),
          logger: log,
          identity: { did: who.did, signer: who.signer, ed25519: who.ed25519 },
          networks: networks.map(({ id, store, federation }) =>
            federation ? { id, store, kinds: kindRegistryFor("federation") } : { id, store }
          ),
        },
        defaultConfig("test"),
      );
      await node.start();
      nodes.push(node);
      return node;
    };
    try {
      const auditor = await start(c1, [
        { id: alpha.net, store: coop.store },
        { id: file.id, store: auditing.store, federation: true },
      ], logger);
      const other = await start(beta.members[0], [
        { id: file.id, store: source.store, federation: true },
      ], quietLogger);
      await other.connect(auditor.addrs()[0]);
      await waitFor(
        "both records synced to the auditing node (accepted, the failing one too)",
        async () => (await readHeads(auditing.store, file.id)).get(a1.did)?.seq === 1,
        30_000,
      );
      const count = async (reason: string) => {
        try {
          return await metricValue(auditor.metrics, citationFailuresMetric, { reason });
        } catch {
          return 0; // The counter is made at the first finding.
        }
      };
      await waitFor("the finding counted", async () => await count("different_delegates") === 1);
      const findings = warned.filter((w) => w.event === "citation_failed");
      assertEquals(findings.map((w) => [w.fields.cid, w.fields.reason, w.fields.author]), [
        [different, "different_delegates", a1.did],
      ]);
      for (const reason of ["unknown_proposal", "not_executed", "other_federation"]) {
        assertEquals(await count(reason), 0, reason);
      }
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
    }
  },
});
