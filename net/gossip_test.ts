import { TopicValidatorResult } from "@libp2p/gossipsub";
import { assert, assertEquals } from "../tests/_node_fixture.ts";
import { readHeads } from "../core/chain/read.ts";
import { envelopeBytesMax } from "../core/constants.ts";
import { decodeEnvelope } from "../core/envelope/envelope.ts";
import { Gossip } from "./gossip.ts";
import { gossipInboundBytesMax } from "./limits.ts";
import { foreignChain, metricValue, testComponents } from "./_testing.ts";

const { Accept, Ignore, Reject } = TopicValidatorResult;

/** Gossip over fake components, wired to its lane as the node wires it; `synced` lists sync asks. */
async function gossipNode() {
  // The lane takes follow-ups from the gossip built on it, as in the node.
  const built: { gossip?: Gossip } = {};
  const components = await testComponents({
    lane: { followUps: (accepted) => built.gossip!.takeFollowUps(accepted) },
  });
  const synced: string[] = [];
  const gossip = built.gossip = new Gossip({
    ...components.base,
    lane: components.lane,
    peers: components.peers,
    sync: { soon: (peer) => synced.push(peer) },
  }, { topic: "/icn/test/envelopes/1", profile: "test" });
  const { peers, network } = components;
  peers.verify("friend", { did: network.members[1].did, version: "1.0.0", trustClass: "known" });
  const head = async (member: number) =>
    (await readHeads(network.deps.store, network.net)).get(network.members[member].did)?.seq ?? -1;
  return { ...components, gossip, synced, head };
}

Deno.test("Gossip.validate() accepts a new envelope from a verified peer and stores it", async () => {
  const node = await gossipNode();
  const [first] = await foreignChain(0, 1);
  assertEquals(await node.gossip.validate("friend", first.bytes), Accept);
  assertEquals(await node.head(0), 0);
  // The same envelope again is a replay: ignored, and a point against the peer.
  assertEquals(await node.gossip.validate("friend", first.bytes), Ignore);
  assertEquals(node.peers.describe("friend", { addrs: [], score: 0 }).misbehaviour, { replay: 1 });
});

Deno.test("Gossip.validate() does not charge a peer whose gossip arrives after sync brought the same envelope", async () => {
  const node = await gossipNode();
  const [first] = await foreignChain(0, 1);
  // Sync (or another peer) got it first: the write lane stored it.
  await node.lane.ingest([await decodeEnvelope(first.bytes)], "sync");
  assertEquals(await node.head(0), 0);
  // The late gossip copy is ignored without a point; the same peer sending it again is a replay.
  assertEquals(await node.gossip.validate("friend", first.bytes), Ignore);
  assertEquals(node.peers.describe("friend", { addrs: [], score: 0 }).misbehaviour, {});
  assertEquals(await node.gossip.validate("friend", first.bytes), Ignore);
  assertEquals(node.peers.describe("friend", { addrs: [], score: 0 }).misbehaviour, { replay: 1 });
});

Deno.test("Gossip.validate() hears nothing from a peer without a verified hello", async () => {
  const node = await gossipNode();
  const [first] = await foreignChain(0, 1);
  assertEquals(await node.gossip.validate("stranger", first.bytes), Ignore);
  assertEquals(await node.head(0), -1);
  assertEquals(
    await metricValue(node.metrics, "icn_messages_dropped_total", {
      channel: "gossip",
      reason: "no_hello",
    }),
    1,
  );
});

Deno.test("Gossip.validate() rejects oversized and undecodable messages and records the offence", async () => {
  const node = await gossipNode();
  const big = new Uint8Array(envelopeBytesMax + 1);
  assertEquals(await node.gossip.validate("friend", big), Reject);
  assertEquals(await node.gossip.validate("friend", new Uint8Array([0xff, 1, 2])), Reject);
  const record = node.peers.describe("friend", { addrs: [], score: 0 }).misbehaviour;
  assertEquals(record.too_large, 1);
  assert((record.malformed ?? 0) + (record.invalid_signature ?? 0) === 1, JSON.stringify(record));
});

Deno.test("Gossip parks an envelope that arrived ahead of its predecessor and commits it when that arrives", async () => {
  const node = await gossipNode();
  const chain = await foreignChain(2, 3);
  assertEquals(await node.gossip.validate("friend", chain[2].bytes), Ignore);
  assertEquals(await node.gossip.validate("friend", chain[1].bytes), Ignore);
  assertEquals(node.gossip.parked.count, 2);
  assertEquals(node.synced, ["friend", "friend"], "a gap asks sync for what is missing");
  assertEquals(await node.gossip.validate("friend", chain[0].bytes), Accept);
  assertEquals(await node.head(2), 2, "the parked successors were committed");
  assertEquals(node.gossip.parked, { count: 0, bytes: 0 });
});

Deno.test("Gossip commits envelopes that arrive together, in batches through the lane", async () => {
  const node = await gossipNode();
  const chains = await Promise.all([0, 1, 2].map((member) => foreignChain(member, 1)));
  const results = await Promise.all(
    chains.map(([sealed]) => node.gossip.validate("friend", sealed.bytes)),
  );
  assertEquals(results, [Accept, Accept, Accept]);
  for (const member of [0, 1, 2]) assertEquals(await node.head(member), 0);
});

Deno.test("Gossip ignores a banned peer and hangs up on it", async () => {
  const node = await gossipNode();
  node.connections.open.add("friend");
  for (let i = 0; i < 10; i++) node.peers.offence("friend", "invalid_signature", "forged");
  node.connections.open.add("friend");
  const [first] = await foreignChain(0, 1);
  assertEquals(await node.gossip.validate("friend", first.bytes), Ignore);
  assertEquals(node.connections.hungUp, ["friend", "friend"]);
  assertEquals(await node.head(0), -1);
});

Deno.test("Gossip.validate() ignores everything once the node stops", async () => {
  const node = await gossipNode();
  node.controller.abort();
  const [first] = await foreignChain(0, 1);
  assertEquals(await node.gossip.validate("friend", first.bytes), Ignore);
  assertEquals(await node.head(0), -1);
});

Deno.test("Gossip.options() lets gossipsub carry an envelope and its framing, no more", () => {
  const gossip = new Gossip({} as never, { topic: "/icn/t/envelopes/1", profile: "server" });
  const options = gossip.options();
  assertEquals(options.maxInboundDataLength, gossipInboundBytesMax);
  assert(gossipInboundBytesMax > envelopeBytesMax, "framing has room");
  assertEquals(options.scoreParams?.IPColocationFactorWeight, -10);
});
