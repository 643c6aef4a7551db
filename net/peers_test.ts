import { assert, assertEquals } from "../tests/_node_fixture.ts";
import { policyFor } from "../core/policy/policy.ts";
import type { Store } from "../core/store/store.ts";
import { defaultConfig } from "./config.ts";
import { classCacheMs } from "./limits.ts";
import { Peers } from "./peers.ts";
import { fakeConnections, metricValue, testComponents } from "./_testing.ts";

Deno.test("Peers.verify() makes a peer heard, wakes those waiting for its hello, and forget() undoes it", async () => {
  const { peers, network } = await testComponents();
  const did = network.members[1].did;
  const waiting = peers.helloFrom("p1", 10_000);
  assertEquals(peers.has("p1"), false);
  const known = peers.verify("p1", { did, version: "1.0.0", trustClass: "known" });
  assertEquals(known, false);
  assertEquals(await waiting, true);
  assertEquals(peers.get("p1")?.did, did);
  assertEquals(peers.verify("p1", { did, version: "1.0.0", trustClass: "known" }), true);
  peers.forget("p1");
  assertEquals(peers.has("p1"), false);
  // Without a hello, the wait ends at its time limit and says so.
  assertEquals(await peers.helloFrom("p1", 1), false);
});

Deno.test("Peers.offence() escalates to a ban that hangs up once, however many offences follow", async () => {
  const { peers, connections, metrics, network } = await testComponents();
  connections.open.add("bad");
  connections.open.add("good");
  peers.offence("bad", "bad_hello", "first");
  assertEquals(peers.standing("bad", network.deps.clock.now()), "quarantined");
  assertEquals(connections.hungUp, []);
  for (let i = 0; i < 10; i++) peers.offence("bad", "invalid_signature", `forged ${i}`);
  assertEquals(peers.banned("bad"), true);
  assertEquals(connections.hungUp, ["bad"]);
  assertEquals(peers.banned("good"), false);
  assertEquals(await metricValue(metrics, "icn_misbehaviour_total", { offence: "bad_hello" }), 1);
  assertEquals(peers.describe("bad", { addrs: [], score: 0 }).misbehaviour, {
    bad_hello: 1,
    invalid_signature: 10,
  });
});

Deno.test("Peers.hangUp() does nothing for a peer that is not connected", async () => {
  const { peers, connections } = await testComponents();
  peers.hangUp("gone", "test");
  assertEquals(connections.hungUp, []);
});

Deno.test("Peers.classOf() reads the store once per author within the cache time", async () => {
  const { network, metrics, base } = await testComponents();
  let reads = 0;
  const counting: Store = new Proxy(network.deps.store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        reads++;
        return value.apply(target, args);
      };
    },
  });
  const config = defaultConfig("test");
  const peers = new Peers(
    { ...base, store: counting, metrics, connections: fakeConnections() },
    { misbehaviour: config, globalRate: 100, peerRate: 100 },
  );
  const did = network.members[0].did;
  const first = await peers.classOf(did);
  const afterFirst = reads;
  assert(afterFirst > 0, "the first look-up reads the store");
  assertEquals(await peers.classOf(did), first);
  assertEquals(reads, afterFirst, "a cached class reads nothing");
  network.deps.clock.advance(classCacheMs);
  assertEquals(await peers.classOf(did), first);
  assert(reads > afterFirst, "an expired class is computed again");
});

Deno.test("Peers.admitAuthor() allows an author its class's burst, then refuses", async () => {
  const { peers, network } = await testComponents();
  const now = network.deps.clock.now();
  const burst = policyFor(network.genesis.params, "isolated").burst;
  let allowed = 0;
  for (let i = 0; i < burst + 5; i++) {
    if (peers.admitAuthor("did:icn:zA", "isolated", now)) allowed++;
  }
  assertEquals(allowed, burst);
  const { peers: unlimited } = await testComponents({ peers: { authorLimits: false } });
  for (let i = 0; i < burst + 5; i++) {
    assert(unlimited.admitAuthor("did:icn:zA", "isolated", now), "author limits are off");
  }
});

Deno.test("Peers.admitPeer() refuses a peer over its rate and names the scope", async () => {
  const { peers, network } = await testComponents({ peers: { globalRate: 1, peerRate: 8 } });
  const now = network.deps.clock.now();
  peers.verify("p", { did: network.members[0].did, version: "1.0.0", trustClass: "isolated" });
  const scopes = new Set<string | null>();
  for (let i = 0; i < 5; i++) scopes.add(peers.admitPeer("p", now));
  assert(scopes.has(null), "the first envelope passes");
  assert(scopes.has("peer") || scopes.has("global"), `refused by ${[...scopes]}`);
});

Deno.test("Peers.describe() and the gauges show verified peers and their versions", async () => {
  const { peers, network, metrics, connections } = await testComponents();
  connections.open.add("a");
  connections.open.add("b");
  peers.verify("a", { did: network.members[0].did, version: "1.2.0", trustClass: "partner" });
  assertEquals(peers.describe("a", { addrs: ["/ip4/1.2.3.4"], score: 3 }), {
    peer: "a",
    did: network.members[0].did,
    version: "1.2.0",
    addrs: ["/ip4/1.2.3.4"],
    trustClass: "partner",
    score: 3,
    standing: "ok",
    misbehaviour: {},
  });
  assertEquals(peers.describe("b", { addrs: [], score: 0 }).did, null);
  assertEquals(await metricValue(metrics, "icn_peers"), 2);
  assertEquals(await metricValue(metrics, "icn_peer_protocol_versions", { version: "1.2.0" }), 1);
  peers.setClass("a", network.members[0].did, "federated");
  assertEquals(peers.get("a")?.trustClass, "federated");
  peers.setClass("a", network.members[1].did, "isolated");
  assertEquals(peers.get("a")?.trustClass, "federated", "a class for another DID is ignored");
});
