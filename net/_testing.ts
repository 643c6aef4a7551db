/**
 * Fake components for the unit tests of the node's protocols (peers, write lane, sync, gossip,
 * hello): an in-memory store joined to a test network, a fixed clock, fresh metrics, and
 * connections that only record what was asked of them. No libp2p, no network.
 */
import { appendLocal } from "../core/chain/append.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { silentLogger } from "../core/ports.ts";
import { type TestNetwork, testNetwork } from "../core/testing.ts";
import { defaultConfig } from "./config.ts";
import { createNodeMetrics, type NodeMetrics } from "./metrics.ts";
import { type PeerConnections, Peers, type PeersInit } from "./peers.ts";
import { WriteLane, type WriteLaneInit } from "./write_lane.ts";

export const testNow = 1_700_000_000_000;

/** Connections that record hang-ups; `connected` holds the peers that count as connected. */
export interface FakeConnections extends PeerConnections {
  connected(peer: string): boolean;
  readonly open: Set<string>;
  readonly hungUp: string[];
}

export function fakeConnections(open: Iterable<string> = []): FakeConnections {
  const set = new Set(open);
  const hungUp: string[] = [];
  return {
    open: set,
    hungUp,
    connected: (peer) => set.has(peer),
    hangUp(peer) {
      hungUp.push(peer);
      set.delete(peer);
      return Promise.resolve();
    },
    count: () => set.size,
  };
}

export interface TestComponents {
  network: TestNetwork;
  metrics: NodeMetrics;
  connections: FakeConnections;
  controller: AbortController;
  peers: Peers;
  lane: WriteLane;
  /** What every protocol takes (as the node passes it). */
  base: {
    store: TestNetwork["deps"]["store"];
    clock: TestNetwork["deps"]["clock"];
    logger: typeof silentLogger;
    metrics: NodeMetrics;
    genesis: TestNetwork["genesis"];
    signal: AbortSignal;
  };
}

/** A test network of three members and the components a protocol of its node is built from. */
export async function testComponents(
  options: { peers?: Partial<PeersInit>; lane?: WriteLaneInit } = {},
): Promise<TestComponents> {
  const network = await testNetwork(3, { now: testNow });
  const metrics = createNodeMetrics({ processMetrics: false });
  const connections = fakeConnections();
  const controller = new AbortController();
  const base = {
    store: network.deps.store,
    clock: network.deps.clock,
    logger: silentLogger,
    metrics,
    genesis: network.genesis,
    signal: controller.signal,
  };
  const config = defaultConfig("test");
  const peers = new Peers({ ...base, connections }, {
    misbehaviour: config,
    globalRate: config.globalRate,
    peerRate: config.peerRate,
    ...options.peers,
  });
  const lane = new WriteLane({ ingest: network.deps, metrics }, options.lane);
  return { network, metrics, connections, controller, peers, lane, base };
}

/**
 * `count` trust edges by member `author` of a second, identical test network: a chain of
 * envelopes (seq 0, 1, ...) that the network of `testComponents()` has not seen.
 */
export async function foreignChain(author: number, count: number): Promise<SealedEnvelope[]> {
  const other = await testNetwork(3, { now: testNow });
  const member = other.members[author];
  const to = other.members[(author + 1) % other.members.length].did;
  const out: SealedEnvelope[] = [];
  for (let i = 0; i < count; i++) {
    other.deps.clock.advance(1);
    const { sealed, outcome } = await appendLocal(other.deps, member.signer, {
      net: other.net,
      kind: "trust.edge",
      body: { to, score: 500 + i, graph: "social" },
    });
    if (outcome.status !== "accepted") throw new Error(JSON.stringify(outcome));
    out.push(sealed);
  }
  return out;
}

/** The value of a counter or gauge with these labels (0 when never set). */
export async function metricValue(
  metrics: NodeMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`No metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value)
  );
  return match?.value ?? 0;
}
