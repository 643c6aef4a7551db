/**
 * Discovery by region in running nodes (net/rendezvous.ts as wired by net/node.ts): a rendezvous
 * node of the north, and edge nodes that know only it. The two northern bakers find each other
 * through it and connect; the northern miller learns of them but its regional set has no room
 * (limit 1, taken by the rendezvous node), so it dials no one; the southern node does not ask a
 * northern rendezvous node, and no northern node is told of it. In-process nodes on loopback, every wait bounded.
 */
import type { Logger } from "../core/ports.ts";
import type { NodeConfig } from "../net/config.ts";
import { assertEquals, quietLogger, startCluster, waitFor } from "./_node_fixture.ts";

const limits: Partial<NodeConfig> = {
  clusterNeighboursMax: 1,
  regionalNeighboursMax: 1,
  backboneNeighboursMax: 2,
  trustedNeighboursMax: 2,
};

/** Node 0 is the rendezvous node; 1–2 bake in the north, 3 mills there, 4 is in the south. */
const places: [region: string, cluster: string, role: NodeConfig["topologyRole"]][] = [
  ["north", "hub", "rendezvous"],
  ["north", "bakers", "edge"],
  ["north", "bakers", "edge"],
  ["north", "millers", "edge"],
  ["south", "bakers", "edge"],
];

/** A logger that keeps the events named in `kept`, with their fields. */
function recording(kept: string[]) {
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const keep = (event: string, fields?: Record<string, unknown>) => {
    if (kept.includes(event)) events.push({ event, fields: fields ?? {} });
  };
  const logger: Logger = { ...quietLogger, debug: keep, info: keep };
  return { logger, events };
}

Deno.test({
  name:
    "edge nodes find the peers of their region through a rendezvous node, within their neighbour-set limits",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const logs = places.map(() => recording(["rendezvous_answered", "rendezvous_dialled"]));
    const cluster = await startCluster(places.length, {
      // The rendezvous node keeps the default limits: room for every edge node.
      config: (i) => ({
        ...(i === 0 ? {} : limits),
        topologyRegion: places[i][0],
        topologyCluster: places[i][1],
        topologyRole: places[i][2],
      }),
      // Asked every 1.1 s: just over the rendezvous node's one answer a second per peer.
      node: () => ({ rendezvousIntervalMs: 1100, maintenanceIntervalMs: 200 }),
      logger: (i) => logs[i].logger,
    });
    try {
      const [hub, baker1, baker2, miller, south] = cluster.nodes;
      for (const edge of [baker1, baker2, miller, south]) await edge.connect(hub.addrs()[0]);
      const linked = (a: typeof hub, b: typeof hub) =>
        a.peers().some((p) => p.peer === b.peerId && p.topology !== null);
      await waitFor(
        "the bakers find each other through the rendezvous node",
        () => linked(baker1, baker2) && linked(baker2, baker1),
        30_000,
      );
      const answers = (asker: typeof hub) =>
        logs[0].events.filter((e) =>
          e.event === "rendezvous_answered" && e.fields.peer === asker.peerId
        ).map((e) => String(e.fields.peers).split(",").filter((p) => p !== ""));
      // The miller was told of both bakers, then asked again (its rounds run one at a time, so
      // the round that heard them had ended): it dialled no one, its regional set being full.
      await waitFor("the miller hears of both bakers and asks again", () => {
        const heard = answers(miller);
        const first = heard.findIndex((list) =>
          list.includes(baker1.peerId) && list.includes(baker2.peerId)
        );
        return first >= 0 && heard.length > first + 1;
      }, 30_000);
      assertEquals(logs[3].events.filter((e) => e.event === "rendezvous_dialled"), []);
      assertEquals(linked(miller, baker1) || linked(miller, baker2), false);
      // The southern node asks no rendezvous node of another region, and meets no one.
      assertEquals(answers(south), []);
      assertEquals(south.peers().map((p) => p.peer), [hub.peerId]);
      // No northern node was told of the southern one.
      for (const node of [baker1, baker2, miller]) {
        assertEquals(answers(node).flat().includes(south.peerId), false);
      }
      // The rendezvous node itself asks no one.
      assertEquals(logs[0].events.filter((e) => e.event === "rendezvous_dialled"), []);
    } finally {
      await cluster.stop();
    }
  },
});
