/**
 * Neighbour sets in running nodes (net/topology.ts as wired by net/node.ts): peers announce their
 * region, cluster and role in the hello, the observer places them with limits of 2 per set, and
 * the sets follow when a peer leaves.
 */
import type { NodeConfig } from "../net/config.ts";
import { metricValue } from "../net/_testing.ts";
import { assertEquals, startCluster, waitFor } from "./_node_fixture.ts";

const limits: Partial<NodeConfig> = {
  clusterNeighboursMax: 2,
  regionalNeighboursMax: 2,
  backboneNeighboursMax: 2,
  trustedNeighboursMax: 2,
};

/** Node 0 observes; 1–3 share its cluster, 4–5 its region, 6 is elsewhere. */
const places: [region: string, cluster: string][] = [
  ["north", "bakers"],
  ["north", "bakers"],
  ["north", "bakers"],
  ["north", "bakers"],
  ["north", "millers"],
  ["north", "millers"],
  ["south", "weavers"],
];

Deno.test({
  name:
    "a node places peers from three regions in its neighbour sets, 2 per set, and refills the cluster set when a peer leaves",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(places.length, {
      config: (i) => ({ ...limits, topologyRegion: places[i][0], topologyCluster: places[i][1] }),
      node: () => ({ maintenanceIntervalMs: 200 }),
    });
    try {
      const [observer, ...peers] = cluster.nodes;
      // One at a time, so that connection age orders the peers of one set.
      for (const peer of peers) {
        await peer.connect(observer.addrs()[0]);
        await waitFor(
          "the peer's hello",
          () => observer.peers().some((p) => p.peer === peer.peerId && p.topology !== null),
        );
      }
      const ids = peers.map((p) => p.peerId);
      const sets = async () => (await observer.status()).neighbours;
      assertEquals(await sets(), {
        cluster: [ids[0], ids[1]],
        regional: [ids[3], ids[4]],
        backbone: [ids[5]],
        trusted: [],
      });
      const info = new Map(observer.peers().map((p) => [p.peer, p]));
      assertEquals(info.get(ids[2])?.set, null, "the third peer of the cluster has no room");
      assertEquals(info.get(ids[5])?.topology, {
        region: "south",
        cluster: "weavers",
        role: "edge",
      });
      await waitFor(
        "icn_neighbors counts each set",
        async () =>
          await metricValue(observer.metrics, "icn_neighbors", { set: "cluster" }) === 2 &&
          await metricValue(observer.metrics, "icn_neighbors", { set: "regional" }) === 2 &&
          await metricValue(observer.metrics, "icn_neighbors", { set: "backbone" }) === 1,
      );

      // Churn: the oldest cluster peer leaves, the one without room takes its place.
      await peers[0].stop();
      await waitFor("the cluster set refilled", async () => {
        const now = await sets();
        return now.cluster.join() === [ids[1], ids[2]].join();
      });
      assertEquals((await sets()).regional, [ids[3], ids[4]]);
    } finally {
      await cluster.stop();
    }
  },
});
