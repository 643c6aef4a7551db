import assert from "node:assert/strict";
import { defaultParams } from "../params.ts";
import { generatedTrustGraph, generateTrustGraph } from "../../scripts/trust_graph.ts";
import {
  findRapidGrowth,
  findRings,
  findSybilClusters,
  scanAnomalies,
  thresholdsFromParams,
} from "./anomalies.ts";
import { TrustGraph } from "./graph.ts";
import { replayHistory } from "./history.ts";
import { louvain } from "./louvain.ts";
import { stronglyConnectedComponents } from "./scc.ts";

const thresholds = thresholdsFromParams(defaultParams());
const day = 86_400_000;

function graphOf(n: number, edges: number[][]): TrustGraph {
  return TrustGraph.fromEdges(n, {
    from: Int32Array.from(edges, (e) => e[0]),
    to: Int32Array.from(edges, (e) => e[1]),
    score: Uint16Array.from(edges, (e) => e[2]),
  }, { ids: Array.from({ length: n }, (_, i) => `m${i}`) });
}

Deno.test("stronglyConnectedComponents() handles a 200,000-node cycle without recursion", () => {
  const n = 200_000;
  const from = Int32Array.from({ length: n }, (_, i) => i);
  const to = Int32Array.from({ length: n }, (_, i) => (i + 1) % n);
  const graph = TrustGraph.fromEdges(n, { from, to, score: new Uint16Array(n).fill(500) });
  const { count, sizes } = stronglyConnectedComponents(graph);
  assert.equal(count, 1);
  assert.equal(sizes[0], n);
});

Deno.test("findRings() reports a 3-member ring of high scores with its edges, not a weak one", () => {
  // 0→1→2→0 strong; 3↔4 weak; 5 vouches for the ring from outside.
  const graph = graphOf(6, [
    [0, 1, 900],
    [1, 2, 850],
    [2, 0, 800],
    [3, 4, 300],
    [4, 3, 400],
    [5, 0, 500],
  ]);
  const rings = findRings(graph, thresholds);
  assert.equal(rings.length, 1);
  assert.deepEqual(rings[0].members, ["m0", "m1", "m2"]);
  assert.equal(rings[0].edges.length, 3);
  assert.ok(Math.abs(rings[0].meanScore - 0.85) < 1e-9);
});

Deno.test("findRings() ignores components larger than the configured size", () => {
  const edges = Array.from({ length: 6 }, (_, i) => [i, (i + 1) % 6, 1000]);
  assert.equal(findRings(graphOf(6, edges), thresholds).length, 0);
  assert.equal(findRings(graphOf(6, edges), { ...thresholds, ringSizeMax: 6 }).length, 1);
});

Deno.test("findSybilClusters() flags a dense cluster hanging on one edge, with that edge as evidence", () => {
  const edges: number[][] = [];
  // Honest: a sparse ring of 40 with chords.
  for (let i = 0; i < 40; i++) {
    edges.push([i, (i + 1) % 40, 600], [i, (i + 7) % 40, 500], [i, (i + 19) % 40, 400]);
  }
  // Sybils 40..47: everyone vouches for everyone; one honest member vouches for one Sybil.
  for (let i = 40; i < 48; i++) for (let j = 40; j < 48; j++) if (i !== j) edges.push([i, j, 1000]);
  edges.push([3, 40, 500]);
  const graph = graphOf(48, edges);
  const found = findSybilClusters(graph, thresholds, louvain(graph, { seed: 7 }));
  assert.equal(found.length, 1);
  assert.deepEqual(found[0].members, Array.from({ length: 8 }, (_, i) => `m${40 + i}`).sort());
  assert.deepEqual(found[0].attachments, [{ from: "m3", to: "m40", score: 0.5 }]);
  assert.equal(found[0].internalEdges, 56);
});

Deno.test("louvain() is deterministic for a seed", () => {
  const g = generatedTrustGraph(generateTrustGraph({ honest: 500, rings: 2, sybilClusters: 2 }));
  assert.deepEqual(louvain(g, { seed: 3 }).levels, louvain(g, { seed: 3 }).levels);
});

Deno.test("findRapidGrowth() flags a rise of ≥ 50 % within 7 days, not a slow one", () => {
  const histories = new Map([
    ["fast", [{ ts: 0, score: 0.2 }, { ts: 3 * day, score: 0.31 }]],
    ["slow", [0.2, 0.22, 0.24, 0.26, 0.28].map((score, i) => ({ ts: 4 * i * day, score }))],
    ["small", [{ ts: 0, score: 0.2 }, { ts: day, score: 0.29 }]],
    ["new", [{ ts: 0, score: 0.05 }, { ts: day, score: 0.5 }]],
  ]);
  const found = findRapidGrowth(histories, thresholds);
  assert.deepEqual(found.map((f) => f.member), ["fast"]);
  assert.ok(Math.abs(found[0].risePercent - 55) < 1e-9);
});

Deno.test("replayHistory() records the cooperative's score whenever it changes, expiry included", () => {
  const events = [
    { from: "a", to: "x", graph: "social" as const, score: 500, ts: 10, cid: "c1" },
    { from: "a", to: "x", graph: "economic" as const, score: 800, ts: 20, cid: "c2", expires: 40 },
    { from: "b", to: "x", graph: "social" as const, score: 500, ts: 30, cid: "c3" },
  ];
  const history = replayHistory(events, { anchors: ["a", "b"] }).get("x")!;
  assert.deepEqual(history.map((p) => p.ts), [10, 20, 30, 40]);
  assert.ok(Math.abs(history[0].score - 0.5 * 0.7 / 2) < 1e-9);
  assert.ok(Math.abs(history[2].score - (0.8 * 0.7 + 0.5 * 0.7) / 2) < 1e-9);
  assert.ok(Math.abs(history[3].score - (0.5 * 0.7 + 0.5 * 0.7) / 2) < 1e-9);
});

Deno.test("scanAnomalies() on a 10,000-member graph finds every planted ring and ≥ 90 % of Sybils, ≤ 5 % honest", () => {
  const generated = generateTrustGraph({ seed: 42 });
  assert.ok(generated.n >= 10_000);
  const graph = generatedTrustGraph(generated);
  const report = scanAnomalies(graph, { thresholds, seed: 1 });
  const ringKeys = new Set(report.rings.map((r) => r.members.join(",")));
  for (const ring of generated.rings) {
    assert.ok(ringKeys.has(ring.map((i) => `m${i}`).sort().join(",")), `ring ${ring} missed`);
  }
  const flagged = new Set(report.sybils.flatMap((s) => s.members));
  const sybils = generated.sybils.flat();
  const caught = sybils.filter((i) => flagged.has(`m${i}`)).length;
  assert.ok(caught >= 0.9 * sybils.length, `${caught}/${sybils.length} Sybils flagged`);
  let honest = 0;
  for (let i = 0; i < generated.honestCount; i++) if (flagged.has(`m${i}`)) honest++;
  assert.ok(honest <= 0.05 * generated.honestCount, `${honest} honest members flagged`);
  for (const cluster of report.sybils) {
    assert.ok(cluster.attachments.length > 0 || cluster.externalEdges === 0);
  }
});
