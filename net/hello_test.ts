import { decode } from "@ipld/dag-cbor";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type { Connection, MultiaddrConnection, PeerId } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { assert, assertEquals } from "../tests/_node_fixture.ts";
import { readHeads } from "../core/chain/read.ts";
import { kelNet } from "../core/constants.ts";
import { RejectedError } from "../core/errors.ts";
import { TestIdentity } from "../core/identity/_kel_fixture.ts";
import { seededRng } from "../core/ports.ts";
import { defaultConfig } from "./config.ts";
import { Admission, type AdmissionHook, Admissions, Hello, type VerifiedHello } from "./hello.ts";
import { helloSkewMs } from "./limits.ts";
import { helloKelEventsMax } from "./protocol.ts";
import { type Hello as HelloMessage, signHello } from "./protocol.ts";
import { metricValue, testComponents } from "./_testing.ts";

/** A connection as the hello sees it: the authenticated remote peer id and nothing else. */
function connectionFrom(peer: string): Connection {
  return {
    remotePeer: { toString: () => peer },
    status: "open",
    direction: "inbound",
  } as unknown as Connection;
}

/**
 * Member `member`'s node (or `who`'s), named `self`, over fake components; admission lets all
 * in unless told.
 */
async function helloNode(
  self: string,
  member: number,
  admitted = true,
  who?: { did: string; ed25519: TestIdentity["current"]["ed25519"] },
) {
  const components = await testComponents();
  const noted: [string, string][] = [];
  const synced: string[] = [];
  const admission: AdmissionHook = {
    admit: () => Promise.resolve(admitted),
    owesWork: false,
    challengeAnswered: () => Promise.resolve(),
    noteHello: (peer, did) => noted.push([peer, did]),
  };
  const identity = who ?? components.network.members[member];
  const hello = new Hello({
    ...components.base,
    identity,
    lane: components.lane,
    peers: components.peers,
    admission,
    sync: { soon: (peer) => synced.push(peer) },
    self: () => self,
  }, { net: components.network.net, helloTimeoutMs: 5000 });
  return { ...components, hello, identity, noted, synced };
}

Deno.test("Hello.accept() verifies a peer's signed hello, notes it for admission and starts a sync", async () => {
  const a = await helloNode("peerA", 0);
  const b = await helloNode("peerB", 1);
  const said = decode(await a.hello.own("peerB"));
  await b.hello.accept(connectionFrom("peerA"), said);
  assertEquals(b.peers.get("peerA")?.did, a.identity.did);
  assertEquals(b.noted, [["peerA", a.identity.did]]);
  assertEquals(b.synced, ["peerA"]);
  // Said again, the hello changes nothing and starts no second sync.
  await b.hello.accept(connectionFrom("peerA"), said);
  assertEquals(b.synced, ["peerA"]);
  // An identity that never rotated carries no key events.
  assertEquals((said as HelloMessage).kel, undefined);
});

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => null, (e) => e);
  assert(error instanceof RejectedError, `refused, got ${error}`);
  return error.message;
}

Deno.test("Hello.accept() refuses a hello meant for other peers, and counts it against the sender", async () => {
  const a = await helloNode("peerA", 0);
  const b = await helloNode("peerB", 1);
  b.connections.open.add("peerA");
  const toSomeoneElse = decode(await a.hello.own("peerC"));
  assertEquals(
    await refusal(b.hello.accept(connectionFrom("peerA"), toSomeoneElse)),
    "hello names other peers",
  );
  assertEquals(b.peers.has("peerA"), false);
  assertEquals(b.connections.hungUp, ["peerA"]);
  assertEquals(await metricValue(b.metrics, "icn_misbehaviour_total", { offence: "bad_hello" }), 1);
});

Deno.test("Hello.accept() refuses a stale hello and one from another network without an offence", async () => {
  const a = await helloNode("peerA", 0);
  const b = await helloNode("peerB", 1);
  const stale = await signHello({
    did: a.identity.did,
    net: a.network.net,
    version: "1.0.0",
    from: "peerA",
    to: "peerB",
    ts: a.network.deps.clock.now() - helloSkewMs - 1,
  }, a.identity.ed25519);
  assertEquals(await refusal(b.hello.accept(connectionFrom("peerA"), stale)), "hello is stale");
  const elsewhere = await signHello({
    did: a.identity.did,
    net: "bafyanothernetwork",
    version: "1.0.0",
    from: "peerA",
    to: "peerB",
    ts: a.network.deps.clock.now(),
  }, a.identity.ed25519);
  assert(
    /is on network bafyanothernetwork/.test(
      await refusal(b.hello.accept(connectionFrom("peerA"), elsewhere)),
    ),
    "names the network",
  );
  assertEquals(b.peers.describe("peerA", { addrs: [], score: 0 }).misbehaviour, {});
});

Deno.test("Hello.accept() refuses a hello not signed by the DID's key", async () => {
  const a = await helloNode("peerA", 0);
  const b = await helloNode("peerB", 1);
  const forged = await signHello({
    did: b.identity.did,
    net: a.network.net,
    version: "1.0.0",
    from: "peerA",
    to: "peerB",
    ts: a.network.deps.clock.now(),
  }, a.identity.ed25519);
  assert(
    /not signed by a current key/.test(
      await refusal(b.hello.accept(connectionFrom("peerA"), forged)),
    ),
    "says why",
  );
  assertEquals(b.peers.has("peerA"), false);
  assertEquals(b.peers.describe("peerA", { addrs: [], score: 0 }).misbehaviour, { bad_hello: 1 });
});

Deno.test("Hello.accept() reads nothing from a peer that has not passed admission", async () => {
  const a = await helloNode("peerA", 0);
  const b = await helloNode("peerB", 1, false);
  const error = await b.hello.accept(connectionFrom("peerA"), decode(await a.hello.own("peerB")))
    .catch((e) => e);
  assert(error instanceof RejectedError && error.reason === "admission", String(error));
  assertEquals(b.peers.has("peerA"), false);
});

Deno.test("Hello.onConnection() says nothing on a limited (relayed) connection or once stopped", async () => {
  const b = await helloNode("peerB", 1);
  let admitted = 0;
  const counting = { ...connectionFrom("peerA"), limits: { bytes: 1n } } as unknown as Connection;
  const hello = new Hello({
    ...b.base,
    identity: b.identity,
    lane: b.lane,
    peers: b.peers,
    admission: {
      admit: () => Promise.resolve(admitted++ >= 0),
      owesWork: false,
      challengeAnswered: () => Promise.resolve(),
      noteHello: () => {},
    },
    sync: { soon: () => {} },
    self: () => "peerB",
  }, { net: b.network.net, helloTimeoutMs: 5000 });
  hello.onConnection(counting);
  b.controller.abort();
  hello.onConnection(connectionFrom("peerA"));
  assertEquals(admitted, 0);
  hello.stop();
});

/** An identity that rotated `rotations` times, and its key log. */
async function rotated(rotations: number, at: number) {
  const alice = new TestIdentity(seededRng(42), false);
  const log = [await alice.incept(at - 10_000)];
  for (let i = 1; i <= rotations; i++) log.push(await alice.rotation(at - 10_000 + i));
  return { alice, log, identity: { did: alice.did, ed25519: alice.current.ed25519 } };
}

Deno.test("a hello signed by a rotated key carries the key events that let the receiver check it", async () => {
  const probe = await testComponents();
  const { alice, log, identity } = await rotated(2, probe.network.deps.clock.now());
  const a = await helloNode("peerA", 0, true, identity);
  await a.lane.ingest(log, "sync");
  const b = await helloNode("peerB", 1);
  await b.lane.ingest([log[0]], "sync");
  const said = decode(await a.hello.own("peerB")) as HelloMessage;
  assertEquals(said.kel?.length, 3, "the whole short log rides along");
  await b.hello.accept(connectionFrom("peerA"), said);
  assertEquals(b.peers.get("peerA")?.did, alice.did);
  assertEquals((await readHeads(b.network.deps.store, kelNet)).get(alice.did)?.seq, 2);
});

Deno.test("a hello whose key events cannot reach the receiver's copy is refused without an offence", async () => {
  const probe = await testComponents();
  const rotations = helloKelEventsMax + 1;
  const { log, identity } = await rotated(rotations, probe.network.deps.clock.now());
  const a = await helloNode("peerA", 0, true, identity);
  await a.lane.ingest(log, "sync");
  const b = await helloNode("peerB", 1);
  await b.lane.ingest([log[0]], "sync");
  const said = decode(await a.hello.own("peerB")) as HelloMessage;
  assertEquals(said.kel?.length, helloKelEventsMax, "only the newest events");
  assert(
    /key log is ahead of ours/.test(await refusal(b.hello.accept(connectionFrom("peerA"), said))),
    "says why",
  );
  assertEquals(b.peers.has("peerA"), false);
  assertEquals(b.peers.describe("peerA", { addrs: [], score: 0 }).misbehaviour, {});
});

// ---- admission ----

async function peerIdOf(seed: Uint8Array): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPairFromSeed("Ed25519", seed));
}

Deno.test("Admission knows members by key and by the hello their node said, and gates prefixes", async () => {
  const components = await testComponents();
  const { network, peers, metrics } = components;
  const open: Connection[] = [];
  const config = defaultConfig("test");
  const admission = new Admission({
    ...components.base,
    peers,
    publicKey: network.members[0].ed25519.publicKey,
    self: () => "self",
    connections: () => open,
  }, {
    ...config,
    connectionsPerPrefixMin: 1,
    connectionsPerPrefixPercentMax: 1,
    net: network.net,
    classify: () => "one-prefix",
  });
  await admission.refresh();
  assertEquals(admission.owesWork, false, "no proof of work in force");
  const member = await peerIdOf(network.members[1].ed25519.seed);
  const nodeKey = await peerIdOf(new Uint8Array(32).fill(7));
  const outsider = await peerIdOf(new Uint8Array(32).fill(9));
  assertEquals(admission.isMember(member), true);
  assertEquals(admission.isMember(nodeKey), false);
  admission.noteHello(nodeKey.toString(), network.members[2].did);
  assertEquals(admission.isMember(nodeKey), true, "a member's node key, known by its hello");
  admission.noteHello(outsider.toString(), "did:icn:zNotAMember");
  assertEquals(admission.isMember(outsider), false);

  const remote = { remoteAddr: multiaddr("/ip4/203.0.113.9/tcp/4001") } as MultiaddrConnection;
  assertEquals(admission.deny(outsider, remote), false, "the first of its prefix gets in");
  const neighbour = await peerIdOf(new Uint8Array(32).fill(8));
  open.push({ remotePeer: neighbour, remoteAddr: remote.remoteAddr } as unknown as Connection);
  assertEquals(admission.deny(outsider, remote), true, "the prefix holds its share");
  assertEquals(admission.deny(member, remote), false, "members are not counted against it");
  assertEquals(
    await metricValue(metrics, "icn_connections_refused_total", { reason: "prefix_share" }),
    1,
  );
  for (let i = 0; i < 10; i++) peers.offence(member.toString(), "invalid_signature", "forged");
  assertEquals(admission.deny(member, remote), true, "a banned peer is refused, member or not");
  assertEquals(await admission.admit(connectionFrom(outsider.toString())), true, "no work asked");
  admission.forget(outsider.toString(), "test");
  admission.stop();
});

// ---- several networks ----

/** A hello node serving the test network and a second one, `bafysecond`, each over its own store. */
async function twoNetworkNode(self: string) {
  const first = await testComponents();
  const second = await testComponents();
  const verified: [string, VerifiedHello][] = [];
  const synced: [string, string][] = [];
  const network = (net: string, c: typeof first) => ({
    net,
    store: c.network.deps.store,
    genesis: c.network.genesis,
    lane: c.lane,
    peers: c.peers,
    sync: { soon: (peer: string) => synced.push([net, peer]) },
  });
  const networks = [network(first.network.net, first), network("bafysecond", second)];
  const hello = new Hello({
    ...first.base,
    identity: first.network.members[1],
    lane: first.lane,
    peers: first.peers,
    admission: {
      admit: () => Promise.resolve(true),
      owesWork: false,
      challengeAnswered: () => Promise.resolve(),
      noteHello: () => {},
    },
    sync: networks[0].sync,
    self: () => self,
    networks,
    onVerified: (peer, said) => verified.push([peer, said]),
  }, {
    net: first.network.net,
    helloTimeoutMs: 5000,
    topology: { region: "eu", cluster: "bakers", role: "edge" },
  });
  return { first, second, hello, verified, synced };
}

Deno.test("Hello lists every network served and the topology, and verifies a peer only where both serve", async () => {
  const b = await twoNetworkNode("peerB");
  const said = decode(await b.hello.own("peerA")) as HelloMessage;
  assertEquals(said.networks, [b.first.network.net, "bafysecond"]);
  // In DAG-CBOR's key order (shorter keys first).
  assertEquals(said.topology, { role: "edge", region: "eu", cluster: "bakers" });
  // A peer of the first network only.
  const a = await helloNode("peerA", 0);
  await b.hello.accept(connectionFrom("peerA"), decode(await a.hello.own("peerB")));
  assertEquals(b.first.peers.has("peerA"), true);
  assertEquals(b.second.peers.has("peerA"), false);
  assertEquals(b.synced, [[b.first.network.net, "peerA"]]);
  assertEquals(b.verified.map(([peer, v]) => [peer, v.shared, v.first]), [
    ["peerA", [b.first.network.net], a.network.net],
  ]);
  // A peer of the second network only: its rotated key log lands in that network's store alone.
  const { alice, log, identity } = await rotated(2, b.first.network.deps.clock.now());
  const c = await testComponents();
  await c.lane.ingest(log, "sync");
  const onlySecond = new Hello({
    ...c.base,
    identity,
    lane: c.lane,
    peers: c.peers,
    admission: {
      admit: () => Promise.resolve(true),
      owesWork: false,
      challengeAnswered: () => Promise.resolve(),
      noteHello: () => {},
    },
    sync: { soon: () => {} },
    self: () => "peerC",
  }, { net: "bafysecond", helloTimeoutMs: 5000 });
  await b.hello.accept(connectionFrom("peerC"), decode(await onlySecond.own("peerB")));
  assertEquals(b.second.peers.get("peerC")?.did, alice.did);
  assertEquals(b.first.peers.has("peerC"), false);
  assertEquals((await readHeads(b.second.network.deps.store, kelNet)).get(alice.did)?.seq, 2);
  assertEquals((await readHeads(b.first.network.deps.store, kelNet)).has(alice.did), false);
  assertEquals(b.verified[1][1].topology, undefined, "an older hello announces no topology");
});

Deno.test("Hello.accept() counts a bad topology against the peer in every network served", async () => {
  const b = await twoNetworkNode("peerB");
  const a = await helloNode("peerA", 0);
  const bad = await signHello({
    did: a.identity.did,
    net: a.network.net,
    networks: [a.network.net],
    topology: { region: "eu west", cluster: "x", role: "edge" },
    version: "1.0.0",
    from: "peerA",
    to: "peerB",
    ts: a.network.deps.clock.now(),
  }, a.identity.ed25519);
  assert(
    /invalid topology/.test(await refusal(b.hello.accept(connectionFrom("peerA"), bad))),
    "says why",
  );
  for (const c of [b.first, b.second]) {
    assertEquals(c.peers.describe("peerA", { addrs: [], score: 0 }).misbehaviour, {
      bad_hello: 1,
    });
  }
  // A hello whose `net` is not among its networks is refused too.
  const unlisted = await signHello({
    did: a.identity.did,
    net: a.network.net,
    networks: ["bafysecond"],
    version: "1.0.0",
    from: "peerA",
    to: "peerB",
    ts: a.network.deps.clock.now(),
  }, a.identity.ed25519);
  assert(
    /lists its networks wrongly/.test(
      await refusal(b.hello.accept(connectionFrom("peerA"), unlisted)),
    ),
    "says why",
  );
  assertEquals(b.verified, []);
});

Deno.test("Admissions of two networks: a connection is refused only when both refuse it, a member of either is exempt", async () => {
  const config = defaultConfig("test");
  const build = async () => {
    const components = await testComponents();
    const admission = new Admission({
      ...components.base,
      peers: components.peers,
      publicKey: components.network.members[0].ed25519.publicKey,
      self: () => "self",
      connections: () => [],
    }, { ...config, net: components.network.net, classify: () => null });
    await admission.refresh();
    return { ...components, admission };
  };
  const first = await build();
  const second = await build();
  const both = new Admissions([first.admission, second.admission]);
  const member = await peerIdOf(first.network.members[1].ed25519.seed);
  const outsider = await peerIdOf(new Uint8Array(32).fill(9));
  const remote = { remoteAddr: multiaddr("/ip4/203.0.113.9/tcp/4001") } as MultiaddrConnection;
  assertEquals(both.isMember(member), true);
  assertEquals(both.isMember(outsider), false);
  // Banned in the first network only: the second still takes the connection.
  for (let i = 0; i < 10; i++) first.peers.offence(outsider.toString(), "invalid_signature", "x");
  assertEquals(first.admission.deny(outsider, remote), true);
  assertEquals(both.deny(outsider, remote), false);
  for (let i = 0; i < 10; i++) second.peers.offence(outsider.toString(), "invalid_signature", "x");
  assertEquals(both.deny(outsider, remote), true, "banned in both: refused");
  assertEquals(await both.admit(connectionFrom(member.toString())), true);
  both.noteHello("nodeKey", first.network.members[2].did);
  both.forget("nodeKey", "test");
  both.stop();
});
