import { rulesFor } from "../core/governance/view.ts";
import { transferBody } from "../core/ledger/_testing.ts";
import { assert, assertEquals, connect, converge, logSize, startCluster } from "./_node_fixture.ts";

Deno.test({
  name:
    "five in-process nodes exchange transfers, trust edges, proposals and votes and reach one state",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(5);
    try {
      const { nodes, members } = cluster;
      await connect(nodes, "line");
      // KELs travel by sync after the hello.
      await converge(cluster);
      const submitted: string[] = [];
      const expect = async (p: Promise<{ outcome: { status: string } }>) => {
        const { outcome } = await p;
        assertEquals(outcome.status, "accepted", JSON.stringify(outcome));
        submitted.push(outcome.status);
      };
      for (let i = 0; i < nodes.length; i++) {
        const to = members[(i + 1) % members.length].did;
        await expect(nodes[i].submit({
          kind: "ledger.transfer",
          body: transferBody(to, 100 + i, { id: `t-${i}` }),
        }));
        await expect(nodes[i].submit({
          kind: "trust.edge",
          body: { to, score: 750, graph: "social" },
        }));
      }
      const proposal = await nodes[0].submit({
        kind: "gov.proposal",
        body: {
          kind: "text",
          title: "Adopt the node",
          body: "",
          action: {},
          rules: rulesFor(cluster.genesis.params, "text"),
        },
      });
      assertEquals(proposal.outcome.status, "accepted", JSON.stringify(proposal.outcome));
      const digestAfterProposal = await converge(cluster);
      assert(digestAfterProposal.length === 64, "digest");
      for (let i = 1; i < nodes.length; i++) {
        await expect(nodes[i].submit({
          kind: "gov.vote",
          body: { proposal: proposal.sealed.cid, choice: "for" },
        }));
      }
      await converge(cluster);
      const sizes = await Promise.all(cluster.stores.map(logSize));
      // 5 inceptions + 10 transfers/edges + 1 proposal + 4 votes.
      assertEquals(sizes, [20, 20, 20, 20, 20]);
      const status = await nodes[2].status();
      assertEquals(status.peers.length, 2);
      assert(status.peers.every((p) => p.did !== null), "every peer said hello");
    } finally {
      await cluster.stop();
    }
  },
});
