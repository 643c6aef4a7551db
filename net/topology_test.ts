import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert";
import fc from "fast-check";
import { fixedClock } from "../core/ports.ts";
import { type TrustClass, trustClasses } from "../core/policy/policy.ts";
import type { PeerStanding } from "./misbehaviour.ts";
import {
  compareForKeeping,
  createNeighbourSets,
  eligibleSets,
  evictionGraceMs,
  evictionsPerCallMax,
  type NeighbourLimits,
  type NeighbourPeer,
  type NeighbourSetName,
  neighbourSetNames,
  type NeighbourSets,
  parseTopology,
  type Topology,
  topologyRoles,
} from "./topology.ts";

const twoEach: NeighbourLimits = { cluster: 2, regional: 2, backbone: 2, trusted: 2 };
const here: Topology = { region: "eu", cluster: "coop-a", role: "edge" };

function peer(peerId: string, fields: Partial<NeighbourPeer> = {}): NeighbourPeer {
  return { peerId, trustClass: "known", connectedAtMs: 0, topology: here, ...fields };
}

/** One line per node: each set's members best first, then the eviction candidates. */
function summary(neighbours: NeighbourSets): string {
  const sets = neighbours.sets();
  const parts = neighbourSetNames.map((set) => `${set}=${sets[set].join(",")}`);
  return [...parts, `out=${neighbours.evictionCandidates().join(",")}`].join(" ");
}

Deno.test("eligibleSets() follows the documented rules", () => {
  const at = (region: string, cluster: string, role: Topology["role"] = "edge") =>
    peer("p", { topology: { region, cluster, role } });
  assertEquals(eligibleSets(here, at("eu", "coop-a")), ["cluster"]);
  assertEquals(eligibleSets(here, at("eu", "coop-a", "rendezvous")), ["cluster", "backbone"]);
  assertEquals(eligibleSets(here, at("us", "coop-a")), ["cluster", "backbone"]);
  assertEquals(eligibleSets(here, at("eu", "coop-b")), ["regional"]);
  assertEquals(eligibleSets(here, at("eu", "coop-b", "archive")), ["regional", "backbone"]);
  assertEquals(eligibleSets(here, at("us", "coop-b")), ["backbone"]);
  assertEquals(eligibleSets(here, { ...at("us", "coop-b"), trustClass: "partner" }), [
    "trusted",
    "backbone",
  ]);
  assertEquals(eligibleSets(here, peer("p", { topology: undefined, trustClass: "federated" })), [
    "trusted",
  ]);
  assertEquals(eligibleSets(here, peer("p", { topology: undefined })), []);
  assertEquals(
    eligibleSets(here, peer("p", { trustClass: "federated", standing: "quarantined" })),
    [],
  );
});

Deno.test("compareForKeeping() ranks by trust, then latency in 10 ms steps, then age, then peer id", () => {
  const ranked = (peers: NeighbourPeer[]) =>
    [...peers].sort(compareForKeeping).map((p) => p.peerId);
  assertEquals(
    ranked([peer("low", { latencyMs: 1 }), peer("high", { trustClass: "partner", latencyMs: 90 })]),
    ["high", "low"],
  );
  assertEquals(ranked([peer("slow", { latencyMs: 40 }), peer("fast", { latencyMs: 20 })]), [
    "fast",
    "slow",
  ]);
  assertEquals(ranked([peer("unmeasured"), peer("measured", { latencyMs: 500 })]), [
    "measured",
    "unmeasured",
  ]);
  // 21 and 29 ms are the same step: the older connection wins.
  assertEquals(
    ranked([
      peer("young", { latencyMs: 21, connectedAtMs: 50 }),
      peer("old", { latencyMs: 29, connectedAtMs: 10 }),
    ]),
    ["old", "young"],
  );
  assertEquals(ranked([peer("b"), peer("a")]), ["a", "b"]);
});

Deno.test("a set over its limit evicts lower trust first, then higher latency, then the younger connection", () => {
  const clock = fixedClock(1_000_000);
  const neighbours = createNeighbourSets({ clock }, { local: here, limits: { ...twoEach } });
  neighbours.upsert(peer("isolated", { trustClass: "isolated", latencyMs: 1 }));
  neighbours.upsert(peer("far", { latencyMs: 300 }));
  neighbours.upsert(peer("near-young", { latencyMs: 5, connectedAtMs: 500 }));
  neighbours.upsert(peer("near-old", { latencyMs: 5, connectedAtMs: 100 }));
  assertEquals(neighbours.sets().cluster, ["near-old", "near-young"]);
  assertEquals(neighbours.evictionCandidates(), ["isolated", "far"]);
  neighbours.remove("near-old");
  assertEquals(neighbours.sets().cluster, ["near-young", "far"]);
  assertEquals(neighbours.evictionCandidates(), ["isolated"]);
  neighbours.upsert(peer("near-old", { latencyMs: 5, connectedAtMs: 100 }));
  assertEquals(neighbours.setOf("far"), null);
  assertEquals(neighbours.setOf("near-old"), "cluster");
  assertEquals(neighbours.setOf("nobody"), null);
});

Deno.test("the trusted set takes the most trusted peers first, and a peer that does not fit falls through", () => {
  const clock = fixedClock(1_000_000);
  const limits = { cluster: 1, regional: 1, backbone: 1, trusted: 1 };
  const neighbours = createNeighbourSets({ clock }, { local: here, limits });
  const rendezvous: Topology = { ...here, role: "rendezvous" };
  neighbours.upsert(peer("fed", { trustClass: "federated", topology: undefined }));
  neighbours.upsert(peer("partner", { trustClass: "partner" }));
  neighbours.upsert(peer("rv", { topology: rendezvous, latencyMs: 50 }));
  assertEquals(neighbours.sets(), {
    cluster: ["partner"],
    regional: [],
    backbone: ["rv"],
    trusted: ["fed"],
  });
  assertEquals(neighbours.counts(), { cluster: 1, regional: 0, backbone: 1, trusted: 1 });
});

Deno.test("evictionCandidates() puts misbehaving peers first, spares young connections, and is bounded", () => {
  const clock = fixedClock(0);
  const neighbours = createNeighbourSets({ clock }, {
    local: here,
    limits: { cluster: 1, regional: 1, backbone: 1, trusted: 1 },
  });
  for (let i = 0; i < 20; i++) neighbours.upsert(peer(`p${String(i).padStart(2, "0")}`));
  neighbours.upsert(peer("bad", { standing: "quarantined", trustClass: "federated" }));
  // Every connection is younger than the grace period: only the quarantined peer goes.
  assertEquals(neighbours.evictionCandidates(), ["bad"]);
  clock.set(evictionGraceMs);
  const out = neighbours.evictionCandidates();
  assertEquals(out.length, evictionsPerCallMax);
  assertEquals(out.slice(0, 3), ["bad", "p19", "p18"]);
  assertEquals(neighbours.sets().cluster, ["p00"]);
  assert(!out.includes("p00"));
});

Deno.test("createNeighbourSets() refuses a bad role, a bad name and a limit that is not positive", () => {
  const clock = fixedClock(0);
  assertThrows(
    () => createNeighbourSets({ clock }, { local: here, limits: { ...twoEach, backbone: 0 } }),
    /Invalid neighbour limit "backbone": 0, expected an integer from 1 to 10000/,
  );
  assertThrows(
    () => createNeighbourSets({ clock }, { local: here, limits: { ...twoEach, trusted: 1.5 } }),
    /"trusted": 1.5/,
  );
  assertThrows(
    () =>
      createNeighbourSets({ clock }, {
        local: { ...here, role: "hub" as Topology["role"] },
        limits: twoEach,
      }),
    /Invalid topology role "hub": expected one of edge, rendezvous, archive/,
  );
  assertThrows(
    () => parseTopology({ ...here, region: "eu west" }),
    /Invalid topology region: expected at most 128 .* got "eu west"/,
  );
  assertThrows(
    () => parseTopology({ ...here, cluster: "" }),
    /topology cluster: expected a non-empty/,
  );
  assertThrows(() => parseTopology("eu"), /expected an object/);
  const neighbours = createNeighbourSets({ clock }, { local: here, limits: twoEach });
  assertThrows(() => neighbours.upsert(peer("p", { latencyMs: Number.NaN })), /latency NaN ms/);
  assertThrows(() => neighbours.upsert(peer("", {})), /non-empty peer id/);
  assertThrows(
    () => neighbours.upsert(peer("p", { topology: { ...here, role: "x" as Topology["role"] } })),
    /role "x"/,
  );
  assertEquals(neighbours.size, 0);
});

// ---- the scenario: limits of 2 per set, 6 peers in 3 regions, churn ----

const nodes: Record<string, Topology> = {
  a1: { region: "eu", cluster: "coop-a", role: "edge" },
  a2: { region: "eu", cluster: "coop-a", role: "edge" },
  a3: { region: "eu", cluster: "coop-a", role: "edge" },
  b1: { region: "eu", cluster: "coop-b", role: "edge" },
  b2: { region: "us", cluster: "coop-b", role: "rendezvous" },
  c1: { region: "ap", cluster: "coop-c", role: "archive" },
};
const regionLatencyMs: Record<string, number> = {
  "eu eu": 5,
  "us us": 5,
  "ap ap": 5,
  "eu us": 80,
  "eu ap": 200,
  "us ap": 150,
};

function latencyMs(x: string, y: string): number {
  const [r1, r2] = [nodes[x].region, nodes[y].region];
  return regionLatencyMs[`${r1} ${r2}`] ?? regionLatencyMs[`${r2} ${r1}`];
}

/** Six nodes' views of each other, with what each knows of its peers. */
function cluster(clock: { now(): number }) {
  const views = new Map<string, NeighbourSets>();
  const trust = new Map<string, TrustClass>();
  const standing = new Map<string, PeerStanding>();
  const since = new Map<string, number>();
  for (const [id, local] of Object.entries(nodes)) {
    views.set(id, createNeighbourSets({ clock }, { local, limits: twoEach }));
  }
  const update = (viewer: string, id: string) =>
    views.get(viewer)!.upsert({
      peerId: id,
      topology: nodes[id],
      trustClass: trust.get(`${viewer} ${id}`) ?? "known",
      standing: standing.get(`${viewer} ${id}`) ?? "ok",
      latencyMs: latencyMs(viewer, id),
      connectedAtMs: since.get([viewer, id].sort().join(" "))!,
    });
  return {
    connect(x: string, y: string, at: number) {
      since.set([x, y].sort().join(" "), at);
      update(x, y);
      update(y, x);
    },
    leave(id: string) {
      for (const [viewer, view] of views) if (viewer !== id) view.remove(id);
    },
    trust(viewer: string, id: string, trustClass: TrustClass) {
      trust.set(`${viewer} ${id}`, trustClass);
      update(viewer, id);
    },
    standing(viewer: string, id: string, value: PeerStanding) {
      standing.set(`${viewer} ${id}`, value);
      update(viewer, id);
    },
    summaries(): Record<string, string> {
      return Object.fromEntries([...views].map(([id, view]) => [id, summary(view)]));
    },
  };
}

Deno.test("with limits of 2 per set and 6 peers in 3 regions, each node holds the right peers after churn", () => {
  const clock = fixedClock(100_000);
  const mesh = cluster(clock);
  const ids = Object.keys(nodes);
  // Node i starts at i s and connects to every node started before it.
  for (let i = 0; i < ids.length; i++) {
    for (let j = 0; j < i; j++) mesh.connect(ids[i], ids[j], 1000 * i);
  }
  assertEquals(mesh.summaries(), {
    a1: "cluster=a2,a3 regional=b1 backbone=b2,c1 trusted= out=",
    a2: "cluster=a1,a3 regional=b1 backbone=b2,c1 trusted= out=",
    a3: "cluster=a1,a2 regional=b1 backbone=b2,c1 trusted= out=",
    // Three coop-a nodes, all 5 ms away and connected at the same time: peer id decides.
    b1: "cluster=b2 regional=a1,a2 backbone=c1 trusted= out=a3",
    // c1 is the farthest of the backbone candidates.
    b2: "cluster=b1 regional= backbone=a1,a2 trusted= out=c1,a3",
    c1: "cluster= regional= backbone=b2,a1 trusted= out=b1,a3,a2",
  });

  // a3 leaves: its place in b1's and c1's sets was never taken, nobody else moves up.
  mesh.leave("a3");
  const withoutA3 = mesh.summaries();
  delete withoutA3.a3;
  assertEquals(withoutA3, {
    a1: "cluster=a2 regional=b1 backbone=b2,c1 trusted= out=",
    a2: "cluster=a1 regional=b1 backbone=b2,c1 trusted= out=",
    b1: "cluster=b2 regional=a1,a2 backbone=c1 trusted= out=",
    b2: "cluster=b1 regional= backbone=a1,a2 trusted= out=c1",
    c1: "cluster= regional= backbone=b2,a1 trusted= out=b1,a2",
  });

  // a3 rejoins at 200 s: a younger connection, so it loses ties it used to win on peer id alone.
  clock.set(210_000);
  for (const id of ids) if (id !== "a3") mesh.connect("a3", id, 200_000);
  assertEquals(mesh.summaries(), {
    a1: "cluster=a2,a3 regional=b1 backbone=b2,c1 trusted= out=",
    a2: "cluster=a1,a3 regional=b1 backbone=b2,c1 trusted= out=",
    a3: "cluster=a1,a2 regional=b1 backbone=b2,c1 trusted= out=",
    // a3 is in no set but still in its grace period.
    b1: "cluster=b2 regional=a1,a2 backbone=c1 trusted= out=",
    b2: "cluster=b1 regional= backbone=a1,a2 trusted= out=c1",
    c1: "cluster= regional= backbone=b2,a1 trusted= out=b1,a2",
  });
  clock.set(200_000 + evictionGraceMs);
  assertEquals(mesh.summaries().c1, "cluster= regional= backbone=b2,a1 trusted= out=a3,b1,a2");
  assertEquals(mesh.summaries().b1, "cluster=b2 regional=a1,a2 backbone=c1 trusted= out=a3");

  // Trust changes: c1 comes to trust a3 and b1, b1 trusts a3, b2 trusts c1; a1 quarantines a2.
  mesh.trust("c1", "a3", "federated");
  mesh.trust("c1", "b1", "partner");
  mesh.trust("b1", "a3", "partner");
  mesh.trust("b2", "c1", "partner");
  mesh.standing("a1", "a2", "quarantined");
  assertEquals(mesh.summaries(), {
    a1: "cluster=a3 regional=b1 backbone=b2,c1 trusted= out=a2",
    a2: "cluster=a1,a3 regional=b1 backbone=b2,c1 trusted= out=",
    a3: "cluster=a1,a2 regional=b1 backbone=b2,c1 trusted= out=",
    b1: "cluster=b2 regional=a1,a2 backbone=c1 trusted=a3 out=",
    b2: "cluster=b1 regional= backbone=a1,a2 trusted=c1 out=a3",
    c1: "cluster= regional= backbone=b2,a1 trusted=a3,b1 out=a2",
  });

  // c1's trust in a3 falls back to known, a1 forgives a2, and b2 leaves.
  mesh.trust("c1", "a3", "known");
  mesh.standing("a1", "a2", "ok");
  mesh.leave("b2");
  const last = mesh.summaries();
  delete last.b2;
  assertEquals(last, {
    a1: "cluster=a2,a3 regional=b1 backbone=c1 trusted= out=",
    a2: "cluster=a1,a3 regional=b1 backbone=c1 trusted= out=",
    a3: "cluster=a1,a2 regional=b1 backbone=c1 trusted= out=",
    b1: "cluster= regional=a1,a2 backbone=c1 trusted=a3 out=",
    c1: "cluster= regional= backbone=a1,a2 trusted=b1 out=a3",
  });
});

// ---- properties ----

const peerArbitrary = fc.record({
  peerId: fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `p${i}`)),
  topology: fc.option(
    fc.record({
      region: fc.constantFrom("eu", "us", "ap"),
      cluster: fc.constantFrom("coop-a", "coop-b", "coop-c"),
      role: fc.constantFrom(...topologyRoles),
    }),
    { nil: undefined },
  ),
  trustClass: fc.constantFrom(...trustClasses),
  standing: fc.constantFrom<PeerStanding>("ok", "ok", "ok", "quarantined", "banned"),
  latencyMs: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
  connectedAtMs: fc.integer({ min: 0, max: 100_000 }),
});
const limitsArbitrary = fc.record({
  cluster: fc.integer({ min: 1, max: 4 }),
  regional: fc.integer({ min: 1, max: 4 }),
  backbone: fc.integer({ min: 1, max: 4 }),
  trusted: fc.integer({ min: 1, max: 4 }),
});
const operationArbitrary = fc.oneof(
  peerArbitrary.map((peer) => ({ upsert: peer })),
  fc.constantFrom(...Array.from({ length: 12 }, (_, i) => ({ remove: `p${i}` }))),
);

/** Checks every invariant of the sets against the peers known. */
function checkInvariants(neighbours: NeighbourSets, known: Map<string, NeighbourPeer>): void {
  const sets = neighbours.sets();
  const placed = new Map<string, NeighbourSetName>();
  for (const set of neighbourSetNames) {
    assert(sets[set].length <= neighbours.limits[set], `${set} over its limit`);
    for (const id of sets[set]) {
      assert(!placed.has(id), `${id} in two sets`);
      placed.set(id, set);
      assert(eligibleSets(neighbours.local, known.get(id)!).includes(set), `${id} not eligible`);
      assertEquals(neighbours.setOf(id), set);
    }
  }
  for (const [id, peer] of known) {
    if (placed.has(id)) continue;
    assertEquals(neighbours.setOf(id), null);
    // An unplaced peer lost every set it was eligible for to better-ranked peers.
    for (const set of eligibleSets(neighbours.local, peer)) {
      assertEquals(sets[set].length, neighbours.limits[set], `${set} has room for ${id}`);
      for (const member of sets[set]) assert(compareForKeeping(known.get(member)!, peer) < 0);
    }
  }
  const out = neighbours.evictionCandidates();
  assert(out.length <= evictionsPerCallMax);
  for (const id of out) assert(!placed.has(id) || known.get(id)!.standing !== "ok");
  assertEquals(neighbours.size, known.size);
}

Deno.test("property: no set ever exceeds its limit, and every unplaced peer lost to better peers", () => {
  fc.assert(
    fc.property(
      limitsArbitrary,
      fc.array(operationArbitrary, { maxLength: 60 }),
      fc.integer({ min: 0, max: 200_000 }),
      (limits, operations, now) => {
        const neighbours = createNeighbourSets({ clock: fixedClock(now) }, { local: here, limits });
        const known = new Map<string, NeighbourPeer>();
        for (const operation of operations) {
          if ("upsert" in operation) {
            neighbours.upsert(operation.upsert);
            known.set(operation.upsert.peerId, operation.upsert);
          } else {
            assertEquals(neighbours.remove(operation.remove), known.delete(operation.remove));
          }
          checkInvariants(neighbours, known);
        }
      },
    ),
  );
});

Deno.test("property: a peer's set is a function of the peers, whatever the insertion order", () => {
  fc.assert(
    fc.property(
      limitsArbitrary,
      fc.uniqueArray(peerArbitrary, { selector: (p) => p.peerId, maxLength: 12 }),
      fc.array(fc.nat()),
      (limits, peers, keys) => {
        const shuffled = peers
          .map((peer, i) => ({ peer, key: keys[i] ?? i }))
          .sort((a, b) => a.key - b.key)
          .map(({ peer }) => peer);
        const build = (order: NeighbourPeer[], churn: boolean) => {
          const neighbours = createNeighbourSets({ clock: fixedClock(50_000) }, {
            local: here,
            limits,
          });
          for (const peer of order) {
            // Churn that ends where it started: a peer known with other values, then removed.
            if (churn) neighbours.upsert({ ...peer, trustClass: "federated", latencyMs: 0 });
            if (churn) neighbours.remove(peer.peerId);
            neighbours.upsert(peer);
          }
          return neighbours;
        };
        const a = build(peers, false);
        const b = build(shuffled, true);
        assertEquals(a.sets(), b.sets());
        assertEquals(a.evictionCandidates(), b.evictionCandidates());
        for (const peer of peers) assertEquals(a.setOf(peer.peerId), b.setOf(peer.peerId));
      },
    ),
  );
});
