import assert from "node:assert/strict";
import fc from "fast-check";
import { ingest } from "../chain/ingest.ts";
import { StateOverlay } from "../chain/state.ts";
import { sealEnvelope } from "../envelope/envelope.ts";
import { listAll, type Store } from "../store/store.ts";
import { testIdentity } from "../testing.ts";
import { accept, EdgeWriter, t0, trustNetwork } from "./_testing.ts";
import { TrustGraph } from "./graph.ts";
import { replayHistory } from "./history.ts";
import { readEdgeEvents, scoreFromState, trustEdgeKind } from "./state.ts";

async function snapshot(store: Store): Promise<string> {
  const rows = await listAll(store, { prefix: [] });
  return JSON.stringify(
    rows.map((r) => [r.key, r.value]),
    (_k, v) => typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
  );
}

/** Current edges only (out/in), not the event log. */
async function edgeState(store: Store): Promise<string> {
  const out = await listAll(store, { prefix: ["trust", "out"] });
  const inn = await listAll(store, { prefix: ["trust", "in"] });
  const strip = (v: unknown) => {
    const { cid: _c, seq: _s, ts: _t, ...rest } = v as Record<string, unknown>;
    return rest;
  };
  return JSON.stringify([...out, ...inn].map((r) => [r.key, strip(r.value)]));
}

Deno.test("trust.edge rejects bad bodies and non-members, changing no state", async () => {
  const net = await trustNetwork(2);
  const [a, b] = net.members;
  const outsider = await testIdentity(99, t0 - 1000);
  await accept(net, [outsider.inception]);
  const bodies: [unknown, RegExp][] = [
    [{ to: a.did, score: 500, graph: "social" }, /itself/],
    [{ to: b.did, score: 1001, graph: "social" }, /thousandths/],
    [{ to: b.did, score: 0.5, graph: "social" }, /thousandths/],
    [{ to: b.did, score: 500, graph: "romantic" }, /graph/],
    [{ to: "did:icn:zzz", score: 500, graph: "social" }, /Cannot parse DID/],
    [{ to: b.did, score: 500, graph: "social", extra: 1 }, /unknown field/],
    [{ to: b.did, score: 500, graph: "social", expires: t0 }, /expiry/],
    [{ to: b.did, score: 500, graph: "social", label: "x".repeat(201) }, /label/],
  ];
  const before = await snapshot(net.deps.store);
  for (const [body, pattern] of bodies) {
    const sealed = await sealEnvelope({
      net: net.net,
      kind: trustEdgeKind,
      seq: 0,
      prev: null,
      ts: t0,
      body,
    }, a.signer);
    const [outcome] = await ingest(net.deps, [sealed], { source: "local" });
    assert.equal(outcome.status, "rejected");
    assert.match((outcome as { message: string }).message, pattern);
  }
  const fromOutsider = await new EdgeWriter(net.net).edge(outsider, a, 500);
  const [outcome] = await ingest(net.deps, [fromOutsider], { source: "local" });
  assert.equal(outcome.status, "rejected");
  assert.match((outcome as { message: string }).message, /not a member/);
  assert.equal(await snapshot(net.deps.store), before);
});

Deno.test("property: scores are always in [0,1]", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(7), fc.nat(7), fc.integer({ min: 0, max: 1000 })), {
        maxLength: 40,
      }),
      fc.constantFrom("social", "economic", "technical", "all" as const),
      (edges, scope) => {
        const graph = TrustGraph.fromEdges(8, {
          from: Int32Array.from(edges, (e) => e[0]),
          to: Int32Array.from(edges, (e) => e[1]),
          score: Uint16Array.from(edges, (e) => e[2]),
        });
        for (let o = 0; o < 8; o++) {
          const all = graph.scoresFrom(o, scope);
          for (let t = 0; t < 8; t++) {
            const one = graph.score(o, t, scope);
            assert.ok(one >= 0 && one <= 1);
            assert.ok(Math.abs(all[t] - one) < 1e-12);
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});

const edgeArb = fc.array(
  fc.record({
    from: fc.nat(3),
    to: fc.nat(3),
    score: fc.integer({ min: 0, max: 1000 }),
    graph: fc.constantFrom("social" as const, "economic" as const),
  }).filter((e) => e.from !== e.to),
  { minLength: 1, maxLength: 12 },
);

Deno.test("property: adding an edge with score 0 equals removing it", async () => {
  await fc.assert(
    fc.asyncProperty(edgeArb, fc.nat(100), async (edges, pick) => {
      const victim = edges[pick % edges.length];
      const run = async (list: typeof edges, revoke: boolean) => {
        const net = await trustNetwork(4);
        const sealed = [];
        for (const e of list) {
          sealed.push(
            await net.writer.edge(net.members[e.from], net.members[e.to], e.score, {
              graph: e.graph,
            }),
          );
        }
        if (revoke) {
          sealed.push(
            await net.writer.edge(net.members[victim.from], net.members[victim.to], 0, {
              graph: victim.graph,
            }),
          );
        }
        await accept(net, sealed);
        return edgeState(net.deps.store);
      };
      const same = (e: typeof victim) =>
        e.from === victim.from && e.to === victim.to && e.graph === victim.graph;
      assert.equal(await run(edges, true), await run(edges.filter((e) => !same(e)), false));
    }),
    { numRuns: 15 },
  );
});

Deno.test("property: state and history do not depend on the order envelopes arrive in", async () => {
  await fc.assert(
    fc.asyncProperty(edgeArb, fc.array(fc.nat(1000), { minLength: 12, maxLength: 12 }), async (
      edges,
      shuffle,
    ) => {
      const net = await trustNetwork(4);
      const perAuthor = new Map<number, Awaited<ReturnType<EdgeWriter["edge"]>>[]>();
      for (const [i, e] of edges.entries()) {
        const sealed = await net.writer.edge(net.members[e.from], net.members[e.to], e.score, {
          graph: e.graph,
          ts: t0 + 10 * i,
        });
        perAuthor.set(e.from, [...(perAuthor.get(e.from) ?? []), sealed]);
      }
      // Interleave the authors' chains in a random order (each chain stays in order).
      const queues = [...perAuthor.values()].map((q) => [...q]);
      const interleaved = [];
      for (let k = 0; queues.some((q) => q.length > 0); k++) {
        const open = queues.filter((q) => q.length > 0);
        interleaved.push(open[shuffle[k % shuffle.length] % open.length].shift()!);
      }
      const inOrder = [...perAuthor.values()].flat();
      const results = [];
      for (const order of [inOrder, interleaved]) {
        const fresh = await trustNetwork(4);
        for (const sealed of order) await accept(fresh, [sealed]);
        const state = new StateOverlay(fresh.deps.store);
        const scores = [];
        for (const o of fresh.members) {
          for (const t of fresh.members) {
            scores.push(
              (await scoreFromState(state, {
                observer: o.did,
                target: t.did,
                scope: "all",
                ts: t0 + 1000,
                isMember: () => true,
              })).score,
            );
          }
        }
        const history = replayHistory(await readEdgeEvents(state), {
          anchors: fresh.genesis.members,
        });
        results.push(JSON.stringify([await edgeState(fresh.deps.store), scores, [...history]]));
      }
      assert.equal(results[0], results[1]);
    }),
    { numRuns: 10 },
  );
});

Deno.test("trust.edge accepts a vouch for a candidate who is not a member yet", async () => {
  const net = await trustNetwork(2);
  const candidate = await testIdentity(77, t0 - 1000);
  await accept(net, [await net.writer.edge(net.members[0], candidate.did, 600)]);
  const state = new StateOverlay(net.deps.store);
  const explained = await scoreFromState(state, {
    observer: net.members[0].did,
    target: candidate.did,
    scope: "social",
    ts: t0,
    isMember: () => true,
  });
  assert.ok(Math.abs(explained.score - 0.6 * 0.6) < 1e-9);
});
