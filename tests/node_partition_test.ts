import { transferBody } from "../core/ledger/_testing.ts";
import {
  assertEquals,
  connect,
  converge,
  logSize,
  startCluster,
  waitFor,
} from "./_node_fixture.ts";

Deno.test({
  name:
    "five nodes split 3/2 keep writing on both sides and converge with nothing lost after healing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(5);
    try {
      const { nodes, members } = cluster;
      await connect(nodes, "line");
      await converge(cluster);
      // Cut the 2–3 link: {0,1,2} and {3,4}.
      await nodes[2].libp2p.hangUp(nodes[3].libp2p.peerId);
      await waitFor("partition", () => nodes[2].libp2p.getPeers().length === 1);
      let id = 0;
      for (const i of [0, 1, 2, 3, 4, 0, 4]) {
        const to = members[(i + 1) % members.length].did;
        const { outcome } = await nodes[i].submit({
          kind: "ledger.transfer",
          body: transferBody(to, 10, { id: `p-${id++}` }),
        });
        assertEquals(outcome.status, "accepted");
      }
      await waitFor("left side agrees", async () => {
        const sizes = await Promise.all(cluster.stores.slice(0, 3).map(logSize));
        return sizes.every((s) => s === 5 + 4);
      });
      await waitFor("right side agrees", async () => {
        const sizes = await Promise.all(cluster.stores.slice(3).map(logSize));
        return sizes.every((s) => s === 5 + 3);
      });
      // Heal: the sides sync their heads on connect and fetch the missing ranges.
      await nodes[2].connect(nodes[3].addrs()[0]);
      await converge(cluster);
      assertEquals(await Promise.all(cluster.stores.map(logSize)), [12, 12, 12, 12, 12]);
    } finally {
      await cluster.stop();
    }
  },
});
