/**
 * Upgrade announces reach member nodes that are not direct neighbours: three in-process nodes in
 * a line A - B - C; A learns C's version (and C A's) from the announces B's gossip relays.
 */
import { assertEquals, connect, startCluster, waitFor } from "./_node_fixture.ts";

Deno.test({
  name: "upgrade announces carry each member node's version across the gossip mesh",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(3, {
      config: { syncIntervalMs: 300 },
      node: (index) => ({
        upgradeAnnounceIntervalMs: 300,
        protocolVersion: index === 2 ? "1.1.0" : "1.0.0",
      }),
    });
    try {
      const [a, b, c] = cluster.nodes;
      await connect(cluster.nodes, "line");
      const [didA, , didC] = cluster.members.map((m) => m.did);
      await waitFor(
        "A hears C and C hears A",
        () =>
          a.memberVersions().get(didC)?.version === "1.1.0" &&
          c.memberVersions().get(didA)?.version === "1.0.0",
        30_000,
      );
      assertEquals(b.memberVersions().size, 3);
      assertEquals(
        (await a.status()).peers.map((p) => p.did),
        [cluster.members[1].did],
        "A and C are not connected",
      );
    } finally {
      await cluster.stop();
    }
  },
});
