/**
 * Federation trust sets the rate-limit class between cooperatives' nodes (net/federation_class.ts
 * as wired by net/network.ts): two delegates' nodes, each serving its cooperative and the
 * federation, share the federation only; Alpha vouched for Beta and Beta for no one, so Alpha's
 * node classes Beta's delegate `federated` on the federation network while Beta's classes
 * Alpha's `isolated`. In-process nodes on loopback, every wait bounded.
 */
import { ingest } from "../core/chain/ingest.ts";
import { FederationNet, t0, testCoop, testFederation } from "../core/federation/_fixture.ts";
import type { TestCoop } from "../core/federation/_fixture.ts";
import { joinNetwork } from "../core/governance/join.ts";
import { createKindRegistry, kindRegistryFor } from "../core/kinds.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import type { TestIdentity } from "../core/testing.ts";
import { defaultConfig } from "../net/config.ts";
import { IcnNode } from "../net/node.ts";
import { assertEquals, quietLogger, systemClock, waitFor } from "./_node_fixture.ts";

Deno.test({
  name:
    "a delegate's node classes the other cooperative's delegate on the federation network by the trust between the cooperatives",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const alpha = await testCoop("Alpha", [21, 22]);
    const beta = await testCoop("Beta", [23, 24]);
    const file = await testFederation([alpha, beta]);
    const [a1, b1] = [alpha.members[0], beta.members[0]];
    const people = [...alpha.members, ...beta.members];
    const feds = [
      await FederationNet.create(file, people),
      await FederationNet.create(file, people),
    ];
    // Alpha vouches 1.0 for Beta (0.7: federated); the vouch is in both federation stores.
    const vouch = await feds[0].seal(
      a1,
      "fed.vouch",
      { from: alpha.net, to: beta.net, score: 1000 },
      t0 + 1000,
    );
    for (const fed of feds) {
      assertEquals((await ingest(fed.deps, [vouch], { source: "import" }))[0].status, "accepted");
    }
    const nodes: IcnNode[] = [];
    const start = async (who: TestIdentity, coop: TestCoop, fed: FederationNet) => {
      const store = new MemoryStore();
      await joinNetwork(store, { id: coop.net, genesis: coop.file.genesis });
      await ingest(
        { store, clock: systemClock, kinds: createKindRegistry() },
        coop.members.map((m) => m.inception),
        { source: "import" },
      );
      const node = await IcnNode.create(
        {
          store,
          clock: systemClock,
          kinds: createKindRegistry(),
          logger: quietLogger,
          identity: { did: who.did, signer: who.signer, ed25519: who.ed25519 },
          networks: [
            { id: coop.net, store },
            { id: file.id, store: fed.store, kinds: kindRegistryFor("federation") },
          ],
        },
        defaultConfig("test"),
      );
      await node.start();
      nodes.push(node);
      return node;
    };
    try {
      const alphaNode = await start(a1, alpha, feds[0]);
      const betaNode = await start(b1, beta, feds[1]);
      await betaNode.connect(alphaNode.addrs()[0]);
      const seen = (node: IcnNode, other: IcnNode) =>
        node.peers().find((p) => p.peer === other.peerId);
      await waitFor(
        "both hellos verified in the federation",
        () =>
          seen(alphaNode, betaNode)?.networks.join() === file.id &&
          seen(betaNode, alphaNode)?.networks.join() === file.id,
      );
      assertEquals(seen(alphaNode, betaNode)?.trustClass, "federated");
      assertEquals(seen(betaNode, alphaNode)?.trustClass, "isolated");
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
    }
  },
});
