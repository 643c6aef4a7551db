/**
 * One node serving several networks (docs/design.md, "One store per network"): node X serves
 * networks A and B, W serves both too, Y serves A only and Z serves B only, each network over a
 * store of its own, all in one process over loopback TCP.
 */
import { ingest } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { readHeads } from "../core/chain/read.ts";
import { kelNet } from "../core/constants.ts";
import { createGenesis, type Genesis, genesisId } from "../core/governance/genesis.ts";
import { joinNetwork } from "../core/governance/join.ts";
import { TestIdentity } from "../core/identity/_kel_fixture.ts";
import { testCoop, testFederation } from "../core/federation/_fixture.ts";
import { joinFederation } from "../core/federation/join.ts";
import { createKindRegistry, kindRegistryFor } from "../core/kinds.ts";
import { seededRng } from "../core/ports.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import type { Store } from "../core/store/store.ts";
import { type TestIdentity as NodeIdentity, testIdentity } from "../core/testing.ts";
import { defaultConfig } from "../net/config.ts";
import { encodeSubmitRequest } from "../net/control.ts";
import { serveNode } from "../net/http.ts";
import { IcnNode } from "../net/node.ts";
import { metricValue } from "../net/_testing.ts";
import {
  assert,
  assertEquals,
  quietLogger,
  stateDigest,
  systemClock,
  waitFor,
} from "./_node_fixture.ts";

interface Fixture {
  a: string;
  b: string;
  x: IcnNode;
  w: IcnNode;
  y: IcnNode;
  z: IcnNode;
  stores: { xa: Store; xb: Store; wa: Store; wb: Store; ya: Store; zb: Store };
  ids: Record<"x" | "w" | "y" | "z", NodeIdentity>;
  /** A member of both networks without a node: its key events travel by sync and replay. */
  v: TestIdentity;
  stop(): Promise<void>;
}

async function joined(id: string, genesis: Genesis, kels: Parameters<typeof ingest>[1]) {
  const store = new MemoryStore();
  await joinNetwork(store, { id, genesis });
  await ingest({ store, clock: systemClock, kinds: createKindRegistry() }, kels, {
    source: "import",
  });
  return store;
}

async function startNodes(): Promise<Fixture> {
  const now = Date.now();
  const identityTs = now - 60_000;
  const ids = {
    x: await testIdentity(1, identityTs),
    w: await testIdentity(2, identityTs),
    y: await testIdentity(3, identityTs),
    z: await testIdentity(4, identityTs),
  };
  const v = new TestIdentity(seededRng(5), false);
  const vInception = await v.incept(identityTs);
  const genesisA = createGenesis({
    name: "Cooperative A",
    members: [ids.x.did, ids.w.did, ids.y.did, v.did],
    created: now - 120_000,
  });
  const genesisB = createGenesis({
    name: "Cooperative B",
    members: [ids.x.did, ids.w.did, ids.z.did, v.did],
    created: now - 120_000,
  });
  const a = await genesisId(genesisA);
  const b = await genesisId(genesisB);
  // Each store holds its node's own key event log (the CLI fans it out) and V's.
  const stores = {
    xa: await joined(a, genesisA, [ids.x.inception, vInception]),
    xb: await joined(b, genesisB, [ids.x.inception, vInception]),
    wa: await joined(a, genesisA, [ids.w.inception, vInception]),
    wb: await joined(b, genesisB, [ids.w.inception, vInception]),
    ya: await joined(a, genesisA, [ids.y.inception, vInception]),
    zb: await joined(b, genesisB, [ids.z.inception, vInception]),
  };
  const nodes: IcnNode[] = [];
  const start = async (who: NodeIdentity, networks: { id: string; store: Store }[]) => {
    const node = await IcnNode.create(
      {
        store: networks[0].store,
        clock: systemClock,
        kinds: createKindRegistry(),
        logger: quietLogger,
        identity: { did: who.did, signer: who.signer, ed25519: who.ed25519 },
        networks,
      },
      defaultConfig("test"),
      { maintenanceIntervalMs: 250 },
    );
    await node.start();
    nodes.push(node);
    return node;
  };
  const x = await start(ids.x, [{ id: a, store: stores.xa }, { id: b, store: stores.xb }]);
  const w = await start(ids.w, [{ id: a, store: stores.wa }, { id: b, store: stores.wb }]);
  const y = await start(ids.y, [{ id: a, store: stores.ya }]);
  const z = await start(ids.z, [{ id: b, store: stores.zb }]);
  return {
    a,
    b,
    x,
    w,
    y,
    z,
    stores,
    ids,
    v,
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}

/** Whether `store` holds any chain of network `net`. */
async function holdsNetwork(store: Store, net: string): Promise<boolean> {
  return (await readHeads(store, net)).size > 0;
}

Deno.test({
  name:
    "a node serving networks A and B keeps them apart: A never reaches a B-only node, both converge, standing and key logs",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const f = await startNodes();
    const { a, b, x, w, y, z, stores, ids } = f;
    try {
      for (const peer of [w, y, z]) await peer.connect(x.addrs()[0]);
      await waitFor("X verifies W in A and B, Y in A and Z in B", () => {
        const seen = new Map(x.peers().map((p) => [p.peer, p.networks.join(",")]));
        return seen.get(w.peerId) === `${a},${b}` && seen.get(y.peerId) === a &&
          seen.get(z.peerId) === b;
      });
      // The hello announced the topology; the peers are in neighbour sets.
      const status = await x.status();
      assertEquals(status.networks.map((n) => n.id), [a, b]);
      const yInfo = status.peers.find((p) => p.peer === y.peerId)!;
      assertEquals(yInfo.topology, { region: "default", cluster: a, role: "edge" });
      assertEquals(yInfo.set, "cluster");
      assertEquals(status.peers.find((p) => p.peer === z.peerId)!.set, "regional");
      await waitFor(
        "icn_neighbors counts X's three peers",
        async () =>
          await metricValue(x.metrics, "icn_neighbors", { set: "cluster" }) === 2 &&
          await metricValue(x.metrics, "icn_neighbors", { set: "regional" }) === 1,
      );

      const accepted = async (p: ReturnType<IcnNode["submit"]>) => {
        const { outcome } = await p;
        assertEquals(outcome.status, "accepted", JSON.stringify(outcome));
      };
      const edge = (to: string, score: number) => ({ to, score, graph: "social" });
      await accepted(x.submit({ kind: "trust.edge", body: edge(ids.y.did, 700), net: a }));
      await accepted(y.submit({ kind: "trust.edge", body: edge(ids.x.did, 710) }));
      await accepted(w.submit({ kind: "trust.edge", body: edge(ids.x.did, 720), net: a }));
      await accepted(x.submit({ kind: "trust.edge", body: edge(ids.z.did, 730), net: b }));
      await accepted(z.submit({ kind: "trust.edge", body: edge(ids.x.did, 740) }));
      await accepted(w.submit({ kind: "trust.edge", body: edge(ids.z.did, 750), net: b }));
      // A network the node does not serve is refused, naming what it serves.
      const refused = await y.submit({ kind: "trust.edge", body: edge(ids.x.did, 1), net: b })
        .then(() => null, (error) => error as Error);
      assert(refused?.message.includes(`this node serves ${a}`), String(refused));

      const converged = async (net: string, group: Store[]) => {
        const digests = await Promise.all(group.map((s) => stateDigest(s, net)));
        return digests.every((d) => d === digests[0]);
      };
      await waitFor(
        "A converges on X, W and Y; B on X, W and Z",
        async () =>
          await converged(a, [stores.xa, stores.wa, stores.ya]) &&
          await converged(b, [stores.xb, stores.wb, stores.zb]) &&
          (await readHeads(stores.ya, a)).size === 3 && (await readHeads(stores.zb, b)).size === 3,
      );

      // Isolation: nothing of A in Z's store or counters, nothing of B in Y's.
      assert(!(await holdsNetwork(stores.zb, a)), "Z's store holds no chain of A");
      assert(!(await holdsNetwork(stores.ya, b)), "Y's store holds no chain of B");
      assert(
        !(await holdsNetwork(stores.xa, b)) && !(await holdsNetwork(stores.xb, a)),
        "X's stores",
      );
      assertEquals(
        await metricValue(z.metrics, "icn_network_envelopes_received_total", { net: a }),
        0,
      );
      assertEquals(
        await metricValue(y.metrics, "icn_network_envelopes_received_total", { net: b }),
        0,
      );
      const zText = await z.metrics.registry.metrics();
      assert(!zText.includes(a), "no series of A in Z's metrics");
      // Key logs go where the identity is known: Y's never reaches Z (it shares no network).
      assert(!(await readHeads(stores.zb, kelNet)).has(ids.y.did), "Y's key log stays out of B");
      assert(!(await readHeads(stores.xb, kelNet)).has(ids.y.did), "and out of X's store of B");
      assert(
        await metricValue(x.metrics, "icn_network_envelopes_accepted_total", { net: b }) >= 2,
        "X counts B's envelopes under net=B",
      );

      // An offence in A: W sends junk on A's topic. W's standing in A drops, in B it stays.
      for (let i = 0; i < 6; i++) {
        await w.libp2p.services.pubsub.publish(x.topicOf(a), new Uint8Array(64).fill(i + 1));
      }
      await waitFor(
        "X quarantines W in A",
        () => x.misbehaviourIn(a).standing(w.peerId, Date.now()) !== "ok",
      );
      assertEquals(x.misbehaviourIn(b).standing(w.peerId, Date.now()), "ok");
      assertEquals(x.misbehaviourIn(b).get(w.peerId), undefined);
      const wInfo = x.peers().find((p) => p.peer === w.peerId);
      assert(wInfo, "W stays connected");
      assertEquals(wInfo.standings[b], "ok");
      await accepted(w.submit({ kind: "trust.edge", body: edge(ids.x.did, 760), net: b }));
      await waitFor(
        "W's new B envelope reaches Z",
        async () => (await readHeads(stores.zb, b)).get(ids.w.did)?.seq === 1,
      );

      // A key rotation of V learnt in A (by Y's store) reaches every store that knows V.
      const beforeRotation = f.v.save();
      const rotation = await f.v.rotation(Date.now() - 1000);
      await ingest({ store: stores.ya, clock: systemClock, kinds: createKindRegistry() }, [
        rotation,
      ], { source: "import" });
      await x.syncWith(y.peerId);
      await waitFor("V's rotation in X's stores of A and B, then in Z's and W's", async () => {
        for (const store of [stores.xa, stores.xb, stores.zb, stores.wb]) {
          if ((await readHeads(store, kelNet)).get(f.v.did)?.seq !== 1) return false;
        }
        return true;
      });
      assertEquals((await readHeads(stores.zb, kelNet)).has(ids.y.did), false);

      // A fork of V's key log found in A is replayed into B: quarantined in both of X's stores.
      f.v.load(beforeRotation);
      const forked = await f.v.rotation(rotation.envelope.ts + 1);
      await y.publish(forked.bytes, a);
      await waitFor(
        "V quarantined in X's stores of A and B",
        async () =>
          (await stores.xa.get(chainKeys.quarantine(f.v.did))) !== null &&
          (await stores.xb.get(chainKeys.quarantine(f.v.did))) !== null,
      );
    } finally {
      await f.stop();
    }
  },
});

Deno.test({
  name:
    "the control API of a node serving A and B: /ready and status list both, submit goes to the named network's store, an unserved one is a 422",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const f = await startNodes();
    const { a, b, x, stores, ids } = f;
    const server = serveNode(x, { hostname: "127.0.0.1", port: 0, token: "t".repeat(64) });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${"t".repeat(64)}` },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: response.status, json: await response.json() };
    };
    try {
      const ready = await call("GET", "/ready");
      assertEquals(Object.keys(ready.json.networks), [a, b]);
      const status = await call("GET", "/control/status");
      assertEquals(status.json.networks.map((n: { id: string }) => n.id), [a, b]);
      assertEquals(status.json.topology, { region: "default", cluster: a, role: "edge" });
      const edge = { to: ids.z.did, score: 600, graph: "social" };
      const inB = await call("POST", "/control/submit", {
        ...encodeSubmitRequest({ kind: "trust.edge", body: edge }),
        net: b,
      });
      assertEquals(inB.status, 200, JSON.stringify(inB.json));
      assertEquals((await readHeads(stores.xb, b)).get(ids.x.did)?.seq, 0);
      assertEquals((await readHeads(stores.xa, a)).size, 0);
      const elsewhere = await call("POST", "/control/submit", {
        ...encodeSubmitRequest({ kind: "trust.edge", body: edge }),
        net: "bafyreinotserved",
      });
      assertEquals(elsewhere.status, 422);
      assertEquals(elsewhere.json.error.code, "rejected");
      assert(
        elsewhere.json.error.message.includes(`serves ${a}, ${b}`),
        elsewhere.json.error.message,
      );
    } finally {
      await server.shutdown();
      await f.stop();
    }
  },
});

Deno.test({
  name:
    "delegates' nodes serve their cooperative and the federation: they share the federation only, and its envelopes flow",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const coopA = await testCoop("Bakers", [11, 12]);
    const coopB = await testCoop("Millers", [13, 14]);
    const file = await testFederation([coopA, coopB]);
    const [a1, b1] = [coopA.members[0], coopB.members[0]];
    const nodes: IcnNode[] = [];
    const start = async (who: typeof a1, coop: typeof coopA) => {
      const coopStore = await joined(coop.net, coop.file.genesis, [who.inception]);
      const fedStore = new MemoryStore();
      await joinFederation(fedStore, file);
      const fedKinds = kindRegistryFor("federation");
      await ingest({ store: fedStore, clock: systemClock, kinds: fedKinds }, [who.inception], {
        source: "import",
      });
      const node = await IcnNode.create(
        {
          store: coopStore,
          clock: systemClock,
          kinds: createKindRegistry(),
          logger: quietLogger,
          identity: { did: who.did, signer: who.signer, ed25519: who.ed25519 },
          networks: [
            { id: coop.net, store: coopStore },
            { id: file.id, store: fedStore, kinds: fedKinds },
          ],
        },
        defaultConfig("test"),
      );
      await node.start();
      nodes.push(node);
      return { node, coopStore, fedStore };
    };
    try {
      const d1 = await start(a1, coopA);
      const d2 = await start(b1, coopB);
      await d2.node.connect(d1.node.addrs()[0]);
      await waitFor(
        "the delegates' nodes share the federation only",
        () =>
          d1.node.peers().some((p) => p.peer === d2.node.peerId && p.networks.join() === file.id),
      );
      const { outcome } = await d1.node.submit({
        kind: "fed.vouch",
        body: { from: coopA.net, to: coopB.net, score: 700 },
        net: file.id,
      });
      assertEquals(outcome.status, "accepted", JSON.stringify(outcome));
      await waitFor(
        "the vouch reaches the other delegate's federation store",
        async () => (await readHeads(d2.fedStore, file.id)).get(a1.did)?.seq === 0,
      );
      assert(!(await holdsNetwork(d2.coopStore, coopA.net)), "nothing of cooperative A in B's");
      assertEquals((await readHeads(d2.coopStore, kelNet)).has(a1.did), false);
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
    }
  },
});
