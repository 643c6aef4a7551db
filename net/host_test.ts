import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type { Multiaddr } from "@multiformats/multiaddr";
import { assert, assertEquals } from "../tests/_node_fixture.ts";
import type { Logger } from "../core/ports.ts";
import { defaultConfig } from "./config.ts";
import { dialBootstrap, type Host, hostOptions, networkCounts } from "./host.ts";
import { pendingConnectionsMin } from "./limits.ts";

const peer = "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK";

async function options(overrides: Partial<ReturnType<typeof defaultConfig>> = {}) {
  const gater = { denyDialPeer: () => false };
  const built = await hostOptions({
    config: { ...defaultConfig("test"), ...overrides },
    privateKey: await generateKeyPairFromSeed("Ed25519", new Uint8Array(32).fill(1)),
    pubsub: {},
    gater,
  });
  return { built, gater };
}

Deno.test("hostOptions() turns on only what the configuration asks for", async () => {
  const { built, gater } = await options({ dht: false, autonat: false, relayServer: false });
  assertEquals(Object.keys(built.services ?? {}).sort(), ["identify", "ping", "pubsub"]);
  assertEquals(built.transports?.length, 1);
  assertEquals(built.metrics, undefined);
  assert(built.connectionGater === gater, "the node's gater decides");
  const { built: server } = await options({ dht: true, autonat: true, relayServer: true });
  assertEquals(Object.keys(server.services ?? {}).sort(), [
    "autonat",
    "dht",
    "identify",
    "ping",
    "pubsub",
    "relay",
  ]);
});

Deno.test("hostOptions() accepts at least a few pending connections however small maxConnections is", async () => {
  const { built: small } = await options({ maxConnections: 2 });
  assertEquals(small.connectionManager?.maxIncomingPendingConnections, pendingConnectionsMin);
  const { built: large } = await options({ maxConnections: 300 });
  assertEquals(large.connectionManager?.maxIncomingPendingConnections, 300);
});

function fakeHost(connected: string[]) {
  const dialled: string[] = [];
  const host = {
    getConnections: () =>
      connected.map((p) => ({
        remotePeer: { toString: () => p },
        direction: "outbound",
        streams: [{ protocol: "/icn/sync/1.0.0" }, {}],
      })),
    dial: (target: Multiaddr) => {
      dialled.push(target.toString());
      return Promise.resolve();
    },
    services: {
      pubsub: { getSubscribers: () => ["x"], getMeshPeers: () => ["x", "y"] },
    },
  } as unknown as Host;
  return { host, dialled };
}

Deno.test("dialBootstrap() dials each address not connected yet and skips a bad one", () => {
  const warned: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn: (event: string) => warned.push(event),
    error() {},
  } as Logger;
  const { host, dialled } = fakeHost([peer]);
  const addrs = [
    `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`,
    "/ip4/127.0.0.1/tcp/4002",
    "not a multiaddr",
  ];
  dialBootstrap(host, addrs, { logger, signal: new AbortController().signal });
  assertEquals(dialled, ["/ip4/127.0.0.1/tcp/4002"]);
  assertEquals(warned, ["bootstrap_invalid"]);
  const stopped = new AbortController();
  stopped.abort();
  dialBootstrap(host, addrs, { logger, signal: stopped.signal });
  assertEquals(dialled.length, 1, "a stopped node dials nothing");
});

Deno.test("networkCounts() counts connections by direction and streams by protocol", () => {
  const { host } = fakeHost(["a", "b"]);
  assertEquals(networkCounts(host, "/icn/t/envelopes/1"), {
    connections: { inbound: 0, outbound: 2 },
    streams: { "/icn/sync/1.0.0": 2, unnegotiated: 2 },
    topicPeers: 1,
    meshPeers: 2,
  });
});
