import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type { Multiaddr } from "@multiformats/multiaddr";
import { assert, assertEquals } from "../tests/_node_fixture.ts";
import type { Logger } from "../core/ports.ts";
import { defaultConfig } from "./config.ts";
import {
  dialBootstrap,
  dialDiscovered,
  type Host,
  hostConnections,
  hostOptions,
  networkCounts,
} from "./host.ts";
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

Deno.test("dialDiscovered() dials a discovered peer while under half of maxConnections, until stopped", () => {
  const open: string[] = [];
  const dialled: string[] = [];
  let listener: (event: { detail: { id: string } }) => void = () => {};
  const host = {
    addEventListener: (_: string, handler: typeof listener) => listener = handler,
    getConnections: (peer?: string) => peer ? open.filter((p) => p === peer) : open,
    dial: (peer: string) => {
      dialled.push(peer);
      return Promise.resolve();
    },
  };
  const controller = new AbortController();
  dialDiscovered(host as unknown as Host, { maxConnections: 4, signal: controller.signal });
  listener({ detail: { id: "a" } });
  open.push("a");
  listener({ detail: { id: "a" } }); // already connected
  listener({ detail: { id: "b" } });
  open.push("b");
  listener({ detail: { id: "c" } }); // 2 of 4: no room
  assertEquals(dialled, ["a", "b"]);
  open.length = 0;
  controller.abort();
  listener({ detail: { id: "d" } });
  assertEquals(dialled, ["a", "b"]);
});

Deno.test("hostConnections() finds a peer's connection by id and hangs up on it", async () => {
  assertEquals(hostConnections(() => undefined).all(), []);
  assertEquals(hostConnections(() => undefined).count(), 0);
  const hungUp: string[] = [];
  const connections = ["a", "b"].map((p) => ({ remotePeer: { toString: () => p, id: p } }));
  const host = {
    getConnections: () => connections,
    getPeers: () => connections.map((c) => c.remotePeer),
    hangUp: (target: { id: string }) => {
      hungUp.push(target.id);
      return Promise.resolve();
    },
  };
  const view = hostConnections(() => host as unknown as Host);
  assertEquals(view.count(), 2);
  assert(view.to("b") === connections[1] as unknown, "finds b");
  assertEquals(view.to("c"), undefined);
  await view.hangUp("b");
  await view.hangUp("c");
  assertEquals(hungUp, ["b"]);
});
