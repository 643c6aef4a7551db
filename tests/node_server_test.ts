/**
 * The `server` profile on loopback: kad-dht, AutoNAT, the circuit relay
 * transport and (on one node) the relay server start; a node finds another
 * through the DHT and connects to it; a node behind a relay is reached
 * through a relayed (limited) connection.
 */
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { defaultConfig, type NodeConfig } from "../net/config.ts";
import { assert, assertEquals, startCluster, waitFor } from "./_node_fixture.ts";

/** The server profile's defaults on loopback; private addresses kept in DHT records. */
function serverConfig(extra: Partial<NodeConfig> = {}): Partial<NodeConfig> {
  return {
    ...defaultConfig("server"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    http: "127.0.0.1:0",
    inboundConnectionThreshold: 10_000,
    dhtPrivate: true,
    ...extra,
  };
}

Deno.test({
  name:
    "server profile: kad-dht, AutoNAT and relay start; two nodes that know only a hub find each other through the DHT",
  // libp2p integration: its timers and sockets outlive a test step.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(3, { config: serverConfig() });
    try {
      const [a, hub, c] = cluster.nodes;
      for (const node of cluster.nodes) {
        const services = node.libp2p.services as Record<string, unknown>;
        assert(services.dht && services.autonat, "server profile runs the DHT and AutoNAT");
      }
      // a and c know only the hub.
      await a.connect(hub.addrs()[0]);
      await c.connect(hub.addrs()[0]);
      const dht = (node: typeof a) =>
        (node.libp2p.services as unknown as {
          dht: { routingTable: { size: number } };
        }).dht;
      await waitFor("the hub's routing table holds both", () => dht(hub).routingTable.size >= 2);
      await waitFor("a's routing table holds the hub", () => dht(a).routingTable.size >= 1);
      // Nobody told a about c: the DHT's self-query finds c at the hub, the node dials what it
      // discovers, and hello and sync follow.
      await waitFor(
        "a found c through the DHT and verified its hello",
        () => a.peers().some((p) => p.peer === c.peerId && p.did !== null),
        20_000,
      );
      const found = await a.libp2p.peerRouting.findPeer(peerIdFromString(c.peerId), {
        signal: AbortSignal.timeout(10_000),
      });
      assert(found.multiaddrs.length > 0, "peer routing returns c's addresses");
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test({
  name:
    "server profile: a node that listens through a relay is reached over a limited relayed connection",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(3, {
      config: (index) =>
        index === 1
          ? serverConfig({ relayServer: true })
          : index === 2
          ? serverConfig({ listen: ["/ip4/127.0.0.1/tcp/0", "/p2p-circuit"] })
          : serverConfig(),
    });
    try {
      const [a, relay, behind] = cluster.nodes;
      await behind.connect(relay.addrs()[0]);
      // The relay transport reserves a slot on the relay and advertises a circuit address.
      let circuit = "";
      await waitFor("a circuit address through the relay", () => {
        circuit = behind.addrs().find((addr) => addr.includes("/p2p-circuit")) ?? "";
        return circuit.includes(relay.peerId);
      });
      const connection = await a.libp2p.dial(multiaddr(circuit), {
        signal: AbortSignal.timeout(10_000),
      });
      assertEquals(connection.remotePeer.toString(), behind.peerId);
      assert(connection.limits !== undefined, "a relayed connection is limited");
      // No hello runs on a limited connection, and it is not held against the peer: once
      // behind has the connection, wait out behind's own hello deadline. The nodes run in this
      // process, so behind's deadline timer (set when the connection opened) fires before this
      // later, longer one however busy the machine is; a fixed short sleep proved nothing.
      await waitFor(
        "behind sees the relayed connection",
        () =>
          behind.libp2p.getConnections(peerIdFromString(a.peerId)).some((c) =>
            c.limits !== undefined
          ),
      );
      await new Promise((resolve) => setTimeout(resolve, behind.config.helloTimeoutMs + 100));
      assertEquals(behind.misbehaviour.get(a.peerId), undefined);
      assertEquals(a.misbehaviour.get(behind.peerId), undefined);
    } finally {
      await cluster.stop();
    }
  },
});
