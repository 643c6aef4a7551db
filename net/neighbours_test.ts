import { assertEquals } from "../tests/_node_fixture.ts";
import { silentLogger } from "../core/ports.ts";
import type { VerifiedHello } from "./hello.ts";
import { type NeighbourConnection, Neighbours, peerIdOf } from "./neighbours.ts";
import type { Topology } from "./topology.ts";
import { metricValue, testComponents, testNow } from "./_testing.ts";

// Real peer ids, so that a bootstrap multiaddr can name one.
const [p1, p2, p3] = [
  "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5",
  "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq",
  "12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba",
];
const home: Topology = { region: "eu", cluster: "coop", role: "edge" };

/** Neighbours over two fake networks ("a", "b") with one slot per set; `hungUp` lists evictions. */
async function neighboursOver(bootstrap: string[] = []) {
  const a = await testComponents();
  const b = await testComponents();
  const connections = new Map<string, NeighbourConnection>();
  const hungUp: string[] = [];
  const controller = new AbortController();
  const neighbours = new Neighbours({
    clock: a.network.deps.clock,
    logger: silentLogger,
    metrics: a.metrics,
    signal: controller.signal,
    networks: () => [{ id: "a", peers: a.peers }, { id: "b", peers: b.peers }],
    connectionTo: (peer) => connections.get(peer),
    hangUp: (peer) => {
      hungUp.push(peer);
      connections.delete(peer);
    },
  }, {
    local: home,
    limits: { cluster: 1, regional: 1, backbone: 1, trusted: 1 },
    bootstrap,
    maintenanceIntervalMs: 10_000,
  });
  /** A peer connected a minute ago with this round trip, then verified with this hello. */
  const connect = (peer: string, rtt: number, hello: Partial<VerifiedHello> = {}) => {
    connections.set(peer, { rtt, timeline: { open: testNow - 60_000 } });
    neighbours.verified(peer, {
      did: `did:icn:${peer}`,
      first: "a",
      announced: ["a"],
      shared: ["a"],
      topology: home,
      trustClass: "known",
      ...hello,
    });
  };
  const gauge = (set: string) => metricValue(a.metrics, "icn_neighbors", { set });
  return { a, b, neighbours, connections, hungUp, controller, connect, gauge };
}

Deno.test("Neighbours puts a verified peer of the node's cluster in the cluster set, and drops it on disconnect", async () => {
  const { neighbours, connect, gauge } = await neighboursOver();
  connect(p1, 20);
  assertEquals(neighbours.setOf(p1), "cluster");
  assertEquals(neighbours.hello(p1)?.did, `did:icn:${p1}`);
  assertEquals(neighbours.sets().cluster, [p1]);
  assertEquals(await gauge("cluster"), 1);
  neighbours.disconnected(p1);
  assertEquals(neighbours.setOf(p1), null);
  assertEquals(neighbours.hello(p1), undefined);
  assertEquals(await gauge("cluster"), 0);
});

Deno.test("Neighbours ignores a peer verified without a connection", async () => {
  const { neighbours, connections, connect } = await neighboursOver();
  connect(p1, 20);
  connections.delete(p2);
  neighbours.verified(p2, { ...neighbours.hello(p1)!, did: "did:icn:other" });
  assertEquals(neighbours.setOf(p2), null);
});

Deno.test("Neighbours takes a peer's trust class from the networks both serve, learnt on the tick", async () => {
  const { a, b, neighbours, connect } = await neighboursOver();
  connect(p1, 20, { shared: ["a"] });
  assertEquals(neighbours.setOf(p1), "cluster");
  // Partner in b, which the peer does not share with this node: no change.
  b.peers.verify(p1, { did: `did:icn:${p1}`, version: "1.0.0", trustClass: "partner" });
  neighbours.maintain();
  assertEquals(neighbours.setOf(p1), "cluster");
  // Partner in a, computed after the hello: the tick moves it to the trusted set.
  a.peers.verify(p1, { did: `did:icn:${p1}`, version: "1.0.0", trustClass: "partner" });
  neighbours.maintain();
  assertEquals(neighbours.setOf(p1), "trusted");
});

Deno.test("Neighbours.maintain() disconnects the peers no set keeps, sparing bootstrap peers", async () => {
  const { neighbours, connect, hungUp } = await neighboursOver([
    `/ip4/127.0.0.1/tcp/4001/p2p/${p3}`,
  ]);
  // One cluster slot: the lowest round trip keeps it; the others fit no set.
  connect(p1, 10);
  connect(p2, 50);
  connect(p3, 100);
  assertEquals(neighbours.sets().cluster, [p1]);
  neighbours.maintain();
  assertEquals(hungUp, [p2]);
  // Once disconnected it is not hung up again; p3 stays as a bootstrap peer.
  neighbours.disconnected(p2);
  neighbours.maintain();
  assertEquals(hungUp, [p2]);
});

Deno.test("Neighbours.maintain() does nothing once the node is stopping", async () => {
  const { neighbours, connect, hungUp, controller } = await neighboursOver();
  connect(p1, 10);
  connect(p2, 50);
  controller.abort();
  neighbours.maintain();
  assertEquals(hungUp, []);
});

Deno.test("peerIdOf() reads the peer id of a bootstrap multiaddr", () => {
  assertEquals(peerIdOf(`/ip4/10.0.0.1/tcp/4001/p2p/${p1}`), p1);
  assertEquals(peerIdOf("/ip4/10.0.0.1/tcp/4001"), null);
  assertEquals(peerIdOf("not an address"), null);
});

Deno.test("Neighbours.room() is each set's limit less its peers; standing() is a peer's best across the networks both serve; hellos() lists the verified", async () => {
  const { a, neighbours, connect } = await neighboursOver();
  assertEquals(neighbours.room(), { cluster: 1, regional: 1, backbone: 1, trusted: 1 });
  connect(p1, 20);
  assertEquals(neighbours.room(), { cluster: 0, regional: 1, backbone: 1, trusted: 1 });
  // A second cluster peer finds no room: still 0, never below.
  connect(p2, 30);
  assertEquals(neighbours.room().cluster, 0);
  assertEquals([...neighbours.hellos()].map(([peer]) => peer), [p1, p2]);
  a.peers.verify(p1, { did: `did:icn:${p1}`, version: "1.0.0", trustClass: "partner" });
  assertEquals(neighbours.standing(p1), { standing: "ok", trustClass: "partner" });
  for (let i = 0; i < 10; i++) a.peers.offence(p1, "invalid_signature", "forged");
  assertEquals(neighbours.standing(p1).standing, "banned");
  // Not verified: banned and isolated, as no network hears it.
  assertEquals(neighbours.standing(p3), { standing: "banned", trustClass: "isolated" });
});
