import { deepStrictEqual as assertEquals } from "node:assert";
import { ingest } from "../core/chain/ingest.ts";
import { FederationNet, testCoop, testFederation } from "../core/federation/_fixture.ts";
import { appendLocal } from "../core/chain/append.ts";
import { t0 } from "../core/federation/_fixture.ts";
import { createKindRegistry } from "../core/kinds.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import { fixedClock } from "../core/ports.ts";
import { joinNetwork } from "../core/governance/join.ts";
import { silentLogger } from "../core/ports.ts";
import type { TestIdentity } from "../core/testing.ts";
import { defaultConfig } from "./config.ts";
import {
  federationClassifier,
  federationClassOf,
  type HeldCooperative,
} from "./federation_class.ts";
import { classCacheMs, classWeight } from "./limits.ts";
import { createNodeMetrics } from "./metrics.ts";
import { asNodeGenesis } from "./network.ts";
import { Peers } from "./peers.ts";
import { fakeConnections } from "./_testing.ts";

const s = 1000;

/**
 * Alpha (1, 2, 3), Beta (4, 5) and Gamma (6, 7) federate, the first two members of each their
 * delegates. Alpha vouches 1.0 for Beta and 0.5 for Gamma. `alphaHeld` is Alpha's network as a
 * node of Alpha holds it, where 1 and 3 vouch for 2.
 */
async function setup() {
  const alpha = await testCoop("Alpha", [1, 2, 3]);
  const beta = await testCoop("Beta", [4, 5]);
  const gamma = await testCoop("Gamma", [6, 7]);
  const file = await testFederation([alpha, beta, gamma], { delegates: 2 });
  const people = [...alpha.members, ...beta.members, ...gamma.members];
  const fed = await FederationNet.create(file, people);
  const [a1] = alpha.members;
  await fed.submit(a1, "fed.vouch", { from: alpha.net, to: beta.net, score: 1000 }, t0 + s);
  await fed.submit(a1, "fed.vouch", { from: alpha.net, to: gamma.net, score: 500 }, t0 + 2 * s);
  const store = new MemoryStore();
  const deps = { store, clock: fixedClock(t0 + s), kinds: createKindRegistry() };
  await joinNetwork(store, { id: alpha.net, genesis: alpha.file.genesis });
  await ingest(deps, alpha.members.map((m) => m.inception), { source: "import" });
  const [p1, p2, p3] = alpha.members;
  for (const from of [p1, p3]) {
    const { outcome } = await appendLocal(deps, from.signer, {
      net: alpha.net,
      kind: "trust.edge",
      body: { to: p2.did, score: 1000, graph: "social" },
    });
    assertEquals(outcome.status, "accepted");
  }
  const alphaHeld: HeldCooperative = { id: alpha.net, store, genesis: alpha.file.genesis };
  return { alpha, beta, gamma, fed, alphaHeld, now: t0 + 10 * s };
}

Deno.test("federationClassOf() classes a peer by the federation's trust from this node's cooperative to the peer's", async () => {
  const { alpha, beta, gamma, fed, alphaHeld, now } = await setup();
  // A node of Alpha's member 3 (not a delegate), holding Alpha's network.
  const node = {
    store: fed.store,
    federation: fed.file.genesis,
    did: alpha.members[2].did,
    cooperatives: () => [alphaHeld],
  };
  const of = (who: TestIdentity) => federationClassOf(node, who.did, now);
  // Beta's delegate: Alpha vouched 1.0 for Beta (0.7 × 1.0: federated).
  assertEquals(await of(beta.members[0]), {
    trustClass: "federated",
    local: [alpha.net],
    peer: [beta.net],
    from: [alpha.net, beta.net],
  });
  // Gamma's delegate: 0.7 × 0.5 = 0.35, known.
  assertEquals((await of(gamma.members[1])).trustClass, "known");
  // Alpha's own members: member trust inside Alpha, which this node holds (2 is vouched for by
  // 1 and 3; 1 by no one but itself, one anchor of three), whatever Alpha's delegates are.
  assertEquals((await of(alpha.members[1])).trustClass, "federated");
  assertEquals((await of(alpha.members[0])).trustClass, "known");
  // A DID in no cooperative this node can place: isolated, with no pair.
  const stranger = await federationClassOf(node, "did:icn:zNobody", now);
  assertEquals(stranger, { trustClass: "isolated", local: [alpha.net], peer: [] });
});

Deno.test("federationClassOf() places this node by delegation when it holds no cooperative, and a node in none classes everyone isolated", async () => {
  const { alpha, beta, gamma, fed, now } = await setup();
  // Beta's delegate 4, holding the federation only: Beta vouched for no one.
  const beta4 = {
    store: fed.store,
    federation: fed.file.genesis,
    did: beta.members[0].did,
    cooperatives: () => [],
  };
  const alphaPeer = await federationClassOf(beta4, alpha.members[0].did, now);
  assertEquals([alphaPeer.local, alphaPeer.peer, alphaPeer.trustClass], [
    [beta.net],
    [alpha.net],
    "isolated",
  ]);
  // Beta's other delegate: the same cooperative, not held: one of the delegates it chose.
  assertEquals((await federationClassOf(beta4, beta.members[1].did, now)).trustClass, "federated");
  // A node of no cooperative of the federation.
  const outsider = { ...beta4, did: "did:icn:zOutsider" };
  for (const who of [alpha.members[0], beta.members[0], gamma.members[0]]) {
    assertEquals((await federationClassOf(outsider, who.did, now)).trustClass, "isolated");
  }
});

Deno.test("federationClassOf() follows the vouches as they change: a revoked vouch drops the class", async () => {
  const { alpha, beta, fed, alphaHeld, now } = await setup();
  const node = {
    store: fed.store,
    federation: fed.file.genesis,
    did: alpha.members[2].did,
    cooperatives: () => [alphaHeld],
  };
  assertEquals((await federationClassOf(node, beta.members[1].did, now)).trustClass, "federated");
  await fed.submit(
    alpha.members[1],
    "fed.vouch",
    { from: alpha.net, to: beta.net, score: 0 },
    now + s,
  );
  assertEquals(
    (await federationClassOf(node, beta.members[1].did, now + 2 * s)).trustClass,
    "isolated",
  );
});

Deno.test("Peers of a federation network rate-limit a peer by its cooperative's federation trust class", async () => {
  const { alpha, beta, gamma, fed, alphaHeld, now } = await setup();
  const config = defaultConfig("test");
  const clock = { now: () => now };
  const peers = new Peers({
    store: fed.store,
    clock,
    logger: silentLogger,
    metrics: createNodeMetrics({ processMetrics: false }),
    genesis: asNodeGenesis(fed.file.genesis),
    connections: fakeConnections(),
    classify: federationClassifier({
      store: fed.store,
      federation: fed.file.genesis,
      did: alpha.members[2].did,
      cooperatives: () => [alphaHeld],
    }),
  }, { misbehaviour: config, globalRate: 1000, peerRate: 80 });
  const betaClass = await peers.classOf(beta.members[0].did);
  const gammaClass = await peers.classOf(gamma.members[0].did);
  assertEquals([betaClass, gammaClass], ["federated", "known"]);
  peers.verify("beta-node", { did: beta.members[0].did, version: "1.0.0", trustClass: betaClass });
  peers.verify("gamma-node", {
    did: gamma.members[0].did,
    version: "1.0.0",
    trustClass: gammaClass,
  });
  // A burst at one instant: each peer's bucket holds its class's share of `peerRate`.
  const burst = (peer: string) => {
    let admitted = 0;
    for (let i = 0; i < 200; i++) if (peers.admitPeer(peer, now) === null) admitted++;
    return admitted;
  };
  assertEquals(burst("beta-node"), 80 * classWeight.federated / classWeight.federated);
  assertEquals(burst("gamma-node"), 80 * classWeight.known / classWeight.federated);
});

Deno.test("Peers.refreshClasses() applies a vouch made while the peer stays connected, once its class is due again", async () => {
  const { alpha, beta, fed, alphaHeld, now } = await setup();
  let at = now;
  const peers = new Peers({
    store: fed.store,
    clock: { now: () => at },
    logger: silentLogger,
    metrics: createNodeMetrics({ processMetrics: false }),
    genesis: asNodeGenesis(fed.file.genesis),
    connections: fakeConnections(),
    classify: federationClassifier({
      store: fed.store,
      federation: fed.file.genesis,
      did: alpha.members[2].did,
      cooperatives: () => [alphaHeld],
    }),
  }, { misbehaviour: defaultConfig("test"), globalRate: 1000, peerRate: 80 });
  const did = beta.members[0].did;
  peers.verify("beta-node", { did, version: "1.0.0", trustClass: await peers.classOf(did) });
  assertEquals(peers.get("beta-node")?.trustClass, "federated");
  // Alpha revokes its vouch for Beta; within the cache time the class stays.
  await fed.submit(alpha.members[0], "fed.vouch", { from: alpha.net, to: beta.net, score: 0 }, at);
  at += 1;
  await peers.refreshClasses();
  assertEquals(peers.get("beta-node")?.trustClass, "federated");
  at += classCacheMs;
  await peers.refreshClasses();
  assertEquals(peers.get("beta-node")?.trustClass, "isolated");
  // The peer's rate follows: an isolated peer's bucket holds 1/8 of `peerRate`.
  let admitted = 0;
  for (let i = 0; i < 100; i++) if (peers.admitPeer("beta-node", at) === null) admitted++;
  assertEquals(admitted, 80 * classWeight.isolated / classWeight.federated);
});
