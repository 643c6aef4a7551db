import { encode } from "@ipld/dag-cbor";
import { TopicValidatorResult } from "@libp2p/gossipsub";
import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects,
  strictEqual as assertSame,
  throws,
} from "node:assert";
import type { FederationGenesis } from "../core/federation/genesis.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { RejectedError } from "../core/errors.ts";
import { markCatchUp } from "../core/identity/catch_up.ts";
import { silentLogger } from "../core/ports.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import { testIdentity, type TestNetwork, testNetwork } from "../core/testing.ts";
import { defaultConfig } from "./config.ts";
import { createNodeMetrics } from "./metrics.ts";
import {
  asNodeGenesis,
  type NetworkComponents,
  Networks,
  readJoinedNetworks,
  ServedNetwork,
  topicOf,
} from "./network.ts";
import { networksPerNodeMax, type SyncRequest } from "./protocol.ts";
import { metricValue, testNow } from "./_testing.ts";

/** Rejects with an error of `type` whose message includes `text`. */
function assertRejects(
  run: () => Promise<unknown>,
  type: new (...args: never[]) => Error,
  text: string,
): Promise<void> {
  return rejects(run, (error) => error instanceof type && error.message.includes(text));
}

/** One network's services over a test network's store, with fake components that record. */
async function servedOver(network: TestNetwork, options: { heard?: Set<string> } = {}) {
  const open = new Set<string>();
  const hungUp: string[] = [];
  const asked: SyncRequest[] = [];
  const replayed: { kind: string; from: string; cid: string }[] = [];
  const accepted: string[] = [];
  const metrics = createNodeMetrics({ processMetrics: false });
  const components: NetworkComponents = {
    clock: network.deps.clock,
    logger: silentLogger,
    metrics,
    signal: new AbortController().signal,
    self: () => "self",
    did: network.members[0].did,
    signer: network.members[0].signer,
    publicKey: network.members[0].ed25519.publicKey,
    connections: () => [],
    connected: (peer) => open.has(peer),
    count: () => open.size,
    heard: (peer) => options.heard?.has(peer) ?? false,
    hangUp: (peer) => {
      hungUp.push(peer);
      open.delete(peer);
      return Promise.resolve();
    },
    updateGauges: () => {},
    nodeLag: () => 0,
    ask: (_peer, message) => {
      asked.push(message);
      return Promise.resolve({ t: "heads", heads: [] });
    },
    firstNetworkOf: (peer) => peer === "home-peer" ? network.net : "elsewhere",
    kelReplay: {
      event: (from, sealed: SealedEnvelope) =>
        replayed.push({ kind: "event", from: from.id, cid: sealed.cid }),
      fork: (from, sealed: SealedEnvelope) =>
        replayed.push({ kind: "fork", from: from.id, cid: sealed.cid }),
    },
  };
  const [joined] = await readJoinedNetworks({
    store: network.deps.store,
    kinds: network.deps.kinds,
  });
  const served = new ServedNetwork(components, {
    network: joined,
    config: defaultConfig("test"),
    onAccepted: (sealed) => accepted.push(sealed.cid),
  });
  const verify = (peer: string, member = 1) => {
    open.add(peer);
    served.peers.verify(peer, {
      did: network.members[member].did,
      version: "1.0.0",
      trustClass: "known",
    });
  };
  return { served, components, metrics, open, hungUp, asked, replayed, accepted, verify };
}

Deno.test("readJoinedNetworks() reads the network a store joined, or checks each one given", async () => {
  const a = await testNetwork(3, { now: testNow });
  const b = await testNetwork(2, { now: testNow });
  const { kinds } = a.deps;
  const [home] = await readJoinedNetworks({ store: a.deps.store, kinds });
  assertEquals([home.id, home.genesis], [a.net, a.genesis]);
  const both = await readJoinedNetworks({
    store: a.deps.store,
    kinds,
    networks: [{ id: b.net, store: b.deps.store }, { id: a.net, store: a.deps.store }],
  });
  assertEquals(both.map((n) => n.id), [b.net, a.net]);
  const wrong = readJoinedNetworks({
    store: a.deps.store,
    kinds,
    networks: [{ id: b.net, store: a.deps.store }],
  });
  await assertRejects(() => wrong, RejectedError, `belongs to network ${a.net}`);
  await assertRejects(
    () => readJoinedNetworks({ store: new MemoryStore(), kinds }),
    RejectedError,
    "has not joined a cooperative",
  );
  await assertRejects(
    () => readJoinedNetworks({ store: a.deps.store, kinds, networks: [home, home] }),
    RangeError,
    "repeat an id",
  );
  const many = Array.from({ length: networksPerNodeMax + 1 }, (_, i) => ({ ...home, id: `n${i}` }));
  await assertRejects(
    () => readJoinedNetworks({ store: a.deps.store, kinds, networks: many }),
    RangeError,
    `at most ${networksPerNodeMax}`,
  );
});

Deno.test("asNodeGenesis() takes a federation's founding delegates as members, once each", () => {
  const genesis = asNodeGenesis({
    name: "Federation",
    created: 5,
    coops: [{ delegates: ["did:b", "did:a"] }, { delegates: ["did:a", "did:c"] }],
    currencies: [],
    params: {},
    protocolVersion: "1.0.0",
  } as unknown as FederationGenesis);
  assertEquals(genesis.members, ["did:a", "did:b", "did:c"]);
  assertEquals([genesis.name, genesis.created, genesis.protocolVersion], [
    "Federation",
    5,
    "1.0.0",
  ]);
});

Deno.test("ServedNetwork reports its topic, envelopes, lag and verified peers", async () => {
  const network = await testNetwork(3, { now: testNow });
  const { served, verify } = await servedOver(network);
  verify("p1");
  verify("p2", 2);
  assertEquals(await served.status(), {
    id: network.net,
    topic: topicOf(network.net),
    envelopes: 3,
    syncLag: 0,
    peers: 2,
  });
  served.forget("p1");
  assertEquals(served.peerCount(), 1);
});

Deno.test("ServedNetwork hands a key event it accepts to the replay, and each envelope to onAccepted", async () => {
  const network = await testNetwork(3, { now: testNow });
  const { served, replayed, accepted } = await servedOver(network);
  const { inception } = await testIdentity(42, testNow - 10);
  const [outcome] = await served.lane.ingest([inception], "sync");
  assertEquals(outcome.status, "accepted");
  assertEquals(replayed, [{ kind: "event", from: network.net, cid: inception.cid }]);
  assertEquals(accepted, [inception.cid]);
});

Deno.test("ServedNetwork stops hearing a peer it hangs up on, and closes the connection only when no other network hears it", async () => {
  const network = await testNetwork(3, { now: testNow });
  const heard = new Set(["p1"]);
  const kept = await servedOver(network, { heard });
  kept.verify("p1");
  kept.served.peers.hangUp("p1", "banned");
  await Promise.resolve();
  assert(!kept.served.peers.has("p1"));
  assertEquals(kept.hungUp, []);
  // Dropped here although still connected: a second hang-up does nothing, even once no
  // network hears it any more.
  heard.delete("p1");
  kept.served.peers.hangUp("p1", "again");
  assertEquals(kept.hungUp, []);
  // Once disconnected and back, it is heard again.
  kept.served.forget("p1");
  kept.verify("p1");
  assert(kept.served.peers.has("p1"));

  const alone = await servedOver(network);
  alone.verify("p1");
  alone.served.peers.hangUp("p1", "banned");
  await Promise.resolve();
  assertEquals(alone.hungUp, ["p1"]);
});

Deno.test("ServedNetwork's sync names the network unless it is the peer's first", async () => {
  const network = await testNetwork(3, { now: testNow });
  const { served, asked, verify } = await servedOver(network);
  verify("home-peer");
  verify("other-peer", 2);
  await served.sync.syncWith("home-peer");
  await served.sync.syncWith("other-peer");
  assertEquals(asked, [{ t: "heads" }, { t: "heads", network: network.net }]);
});

Deno.test("Networks finds each network served and answers for them together", async () => {
  const a = await servedOver(await testNetwork(3, { now: testNow }));
  const b = await servedOver(await testNetwork(2, { now: testNow }));
  const networks = new Networks([a.served, b.served], a.components);
  assertSame(networks.home, a.served);
  assertSame(networks.find(b.served.id), b.served);
  assertSame(networks.byTopic(b.served.topic), b.served);
  assertSame(networks.find("nope"), undefined);
  throws(() => networks.get("nope"), {
    name: "RejectedError",
    message: `Network nope is not served by this node: it serves ${a.served.id}, ${b.served.id}`,
  });
  assert(networks.synced(0));
  assertEquals(networks.syncLag(), 0);
  assertEquals(networks.syncLagByNetwork(), { [a.served.id]: 0, [b.served.id]: 0 });
  const options = networks.gossipOptions();
  assertEquals([...options.metricsTopicStrToLabel!.keys()], [a.served.topic, b.served.topic]);
  assertEquals(
    Object.keys(options.scoreParams!.topics!).sort(),
    [a.served.topic, b.served.topic].sort(),
  );
});

Deno.test("Networks counts a peer verified in two networks once, and bans it only when banned in both", async () => {
  const a = await servedOver(await testNetwork(3, { now: testNow }));
  const b = await servedOver(await testNetwork(3, { now: testNow }));
  const networks = new Networks([a.served, b.served], a.components);
  a.verify("p1");
  b.verify("p1");
  b.verify("p2", 2);
  networks.updatePeerGauges(a.metrics, 2);
  assertEquals(await metricValue(a.metrics, "icn_peers"), 2);
  assertEquals(await metricValue(a.metrics, "icn_peer_protocol_versions", { version: "1.0.0" }), 2);
  assert(networks.heard("p1"));
  assert(!networks.heard("p3"));
  for (let i = 0; i < 20 && !a.served.peers.banned("p1"); i++) {
    a.served.peers.offence("p1", "invalid_signature", "test");
  }
  assert(a.served.peers.banned("p1"));
  assert(!networks.bannedEverywhere("p1"));
  for (let i = 0; i < 20 && !b.served.peers.banned("p1"); i++) {
    b.served.peers.offence("p1", "invalid_signature", "test");
  }
  assert(networks.bannedEverywhere("p1"));
});

Deno.test("Networks.forSync() routes a request to the network it names, refusing one not served or not shared", async () => {
  const a = await servedOver(await testNetwork(3, { now: testNow }));
  const b = await servedOver(await testNetwork(2, { now: testNow }));
  const networks = new Networks([a.served, b.served], a.components);
  // No network named: the home network. No hello yet: each network's sync waits for it.
  assertSame(networks.forSync({ t: "heads" }, undefined), a.served);
  assertSame(networks.forSync({ t: "heads", network: b.served.id }, undefined), b.served);
  assertSame(networks.forSync({ t: "heads", network: b.served.id }, [b.served.id]), b.served);
  throws(() => networks.forSync({ t: "heads", network: b.served.id }, [a.served.id]), {
    name: "RejectedError",
    message: `Peer did not announce network ${b.served.id}`,
  });
  throws(() => networks.forSync({ t: "heads", network: "nope" }, undefined), {
    name: "RejectedError",
    message: "Network nope is not served here",
  });
  assertEquals(
    await metricValue(a.metrics, "icn_messages_dropped_total", {
      channel: "sync",
      reason: "wrong_network",
    }),
    2,
  );
});

Deno.test("Networks.answerSync() answers in the network the request names", async () => {
  const a = await servedOver(await testNetwork(3, { now: testNow }));
  const b = await servedOver(await testNetwork(2, { now: testNow }));
  const networks = new Networks([a.served, b.served], a.components);
  b.verify("p1");
  const reply = await networks.answerSync("p1", encode({ t: "heads", network: b.served.id }), [
    b.served.id,
  ]) as { heads: [string, string, number][] };
  // B's two members' key event logs, each at seq 0.
  assertEquals(reply.heads.length, 2);
  await rejects(
    () => networks.answerSync("p1", encode({ t: "heads", network: a.served.id }), [b.served.id]),
    (error) => error instanceof RejectedError && error.reason === "wrong_network",
  );
});

Deno.test("Networks.checkSubscriptions() disconnects a verified peer subscribed to a network it did not announce", async () => {
  const a = await servedOver(await testNetwork(3, { now: testNow }));
  const b = await servedOver(await testNetwork(2, { now: testNow }));
  const networks = new Networks([a.served, b.served], a.components);
  const hello = {
    did: "did:icn:p1",
    first: a.served.id,
    announced: [a.served.id],
    shared: [a.served.id],
    trustClass: "known" as const,
  };
  a.open.add("p1");
  networks.checkSubscriptions("p1", [b.served.topic], undefined); // before its hello
  networks.checkSubscriptions("p1", [a.served.topic], hello);
  assertEquals(a.hungUp, []);
  networks.checkSubscriptions("p1", [a.served.topic, b.served.topic], hello);
  await Promise.resolve();
  assertEquals(a.hungUp, ["p1"]);
});

Deno.test("Networks.unannounced() finds a served topic a peer's hello left out", async () => {
  const a = await servedOver(await testNetwork(3, { now: testNow }));
  const b = await servedOver(await testNetwork(2, { now: testNow }));
  const networks = new Networks([a.served, b.served], a.components);
  const topics = ["/other/topic", a.served.topic, b.served.topic];
  assertSame(networks.unannounced(topics, [a.served.id, b.served.id]), undefined);
  assertSame(networks.unannounced(topics, [a.served.id]), b.served);
  assertSame(networks.unannounced(["/other/topic"], []), undefined);
});

Deno.test("Networks.subscribe() subscribes to each network's topic with its gossip as validator", async () => {
  const a = await servedOver(await testNetwork(3, { now: testNow }));
  const b = await servedOver(await testNetwork(2, { now: testNow }));
  const networks = new Networks([a.served, b.served], a.components);
  const subscribed: string[] = [];
  const topicValidators = new Map();
  networks.subscribe({ topicValidators, subscribe: (topic: string) => subscribed.push(topic) });
  assertEquals(subscribed, [a.served.topic, b.served.topic]);
  assertEquals([...topicValidators.keys()], subscribed);
  // A stranger's message is not heard (no hello): gossip's own answer comes back.
  const result = await topicValidators.get(a.served.topic)(
    { toString: () => "stranger" },
    { data: new Uint8Array([1]) },
  );
  assertEquals(result, TopicValidatorResult.Ignore);
});

Deno.test("Networks.syncWith() syncs every network both serve, or the home network", async () => {
  const a = await servedOver(await testNetwork(3, { now: testNow }));
  const b = await servedOver(await testNetwork(3, { now: testNow }));
  const networks = new Networks([a.served, b.served], a.components);
  await networks.syncWith("stranger");
  assertEquals([a.asked.length, b.asked.length], [1, 0]);
  b.verify("p1");
  await networks.syncWith("p1");
  assertEquals([a.asked.length, b.asked.length], [1, 1]);
  networks.forget("p1");
  assert(!networks.heard("p1"));
});

Deno.test("ServedNetwork.submit() appends and publishes in one lane turn, and refuses while the restore guard holds", async () => {
  const network = await testNetwork(3, { now: testNow });
  const { served, metrics, accepted } = await servedOver(network);
  const published: Uint8Array[] = [];
  const body = { to: network.members[1].did, score: 700, graph: "social" };
  const { sealed, outcome } = await served.submit(
    { kind: "trust.edge", body },
    (bytes) => Promise.resolve(void published.push(bytes)),
  );
  assertEquals(outcome.status, "accepted");
  assertEquals(published, [sealed.bytes]);
  // Its listeners hear of it as of an ingested envelope (the gateway's event stream).
  assertEquals(accepted, [sealed.cid]);
  assertEquals(
    await metricValue(metrics, "icn_network_envelopes_accepted_total", { net: network.net }),
    1,
  );
  await markCatchUp(network.deps.store, {
    did: network.members[0].did,
    reason: "restore",
    since: testNow,
  });
  await rejects(
    () => served.submit({ kind: "trust.edge", body }, () => Promise.resolve()),
    (error) => error instanceof RejectedError,
  );
  assertEquals(published.length, 1);
});
