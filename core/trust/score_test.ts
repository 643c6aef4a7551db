import assert from "node:assert/strict";
import { StateOverlay } from "../chain/state.ts";
import { accept, t0, trustNetwork } from "./_testing.ts";
import { TrustGraph } from "./graph.ts";
import { explainScore } from "./score.ts";
import { memberPredicate, scoreFromState } from "./state.ts";
import { cooperativeScore } from "./view.ts";

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);

/** 0 → 1 → 3, 0 → 2 → 3, 0 → 3 (thousandths). */
function smallGraph(direct: number) {
  const edges = [[0, 1, 800], [1, 3, 900], [0, 2, 500], [2, 3, 400]];
  if (direct > 0) edges.push([0, 3, direct]);
  return TrustGraph.fromEdges(4, {
    from: Int32Array.from(edges, (e) => e[0]),
    to: Int32Array.from(edges, (e) => e[1]),
    score: Uint16Array.from(edges, (e) => e[2]),
  });
}

Deno.test("score() with a direct edge only is direct·wd", () => {
  const graph = TrustGraph.fromEdges(2, {
    from: Int32Array.of(0),
    to: Int32Array.of(1),
    score: Uint16Array.of(800),
  });
  close(graph.score(0, 1, "social"), 0.8 * 0.6);
  close(graph.score(0, 1, "economic"), 0.8 * 0.8);
  close(graph.score(0, 1, "technical"), 0.8 * 0.9);
  close(graph.score(0, 1, "all"), 0.8 * 0.7);
});

Deno.test("score() with intermediaries only is the mean product times wt", () => {
  const graph = smallGraph(0);
  close(graph.score(0, 3, "social"), ((0.8 * 0.9 + 0.5 * 0.4) / 2) * 0.4);
  close(graph.score(0, 3, "all"), ((0.8 * 0.9 + 0.5 * 0.4) / 2) * 0.3);
});

Deno.test("score() adds the direct and transitive terms", () => {
  const graph = smallGraph(600);
  close(graph.score(0, 3, "social"), 0.6 * 0.6 + ((0.72 + 0.2) / 2) * 0.4);
});

Deno.test("score() is capped at 1 and a member's score of itself is 1", () => {
  // The formula cannot pass 1 with scores ≤ 1 and wd + wt = 1; the cap guards other weights.
  const explained = explainScore({
    observer: "a",
    target: "b",
    graph: "all",
    direct: 1000,
    paths: [{ via: "c", toVia: 1000, fromVia: 1000 }],
  });
  close(explained.score, 1);
  const graph = smallGraph(1000);
  assert.equal(graph.score(2, 2), 1);
  assert.ok(graph.score(0, 3) <= 1);
});

Deno.test("explain() lists every intermediary, largest contribution first, summing to the score", () => {
  const graph = smallGraph(600);
  const explained = graph.explain(0, 3, "all");
  assert.deepEqual(explained.intermediaries.map((i) => i.via), ["1", "2"]);
  close(explained.intermediaries[0].contribution, 0.72 * 0.3 / 2);
  const sum = explained.directTerm +
    explained.intermediaries.reduce((n, i) => n + i.contribution, 0);
  close(sum, explained.score);
});

Deno.test("scoresFrom() equals score() for every target", () => {
  const graph = smallGraph(600);
  const all = graph.scoresFrom(0, "social");
  for (let t = 0; t < 4; t++) close(all[t], graph.score(0, t, "social"));
});

Deno.test("non-members are not intermediaries", () => {
  const edges = [[0, 1, 800], [1, 2, 900]];
  const graph = TrustGraph.fromEdges(3, {
    from: Int32Array.from(edges, (e) => e[0]),
    to: Int32Array.from(edges, (e) => e[1]),
    score: Uint16Array.from(edges, (e) => e[2]),
  }, { members: Uint8Array.of(1, 0, 1) });
  assert.equal(graph.score(0, 2), 0);
});

Deno.test("scoreFromState() uses the highest score per pair over all graphs, and per-graph weights", async () => {
  const net = await trustNetwork(3);
  const [a, b, c] = net.members;
  await accept(net, [
    await net.writer.edge(a, b, 500, { graph: "social" }),
    await net.writer.edge(a, b, 900, { graph: "technical" }),
    await net.writer.edge(b, c, 1000, { graph: "economic" }),
  ]);
  const state = new StateOverlay(net.deps.store);
  const ask = (observer: string, target: string, scope: "all" | "social" | "technical") =>
    scoreFromState(state, {
      observer,
      target,
      scope,
      ts: t0 + 1000,
      isMember: memberPredicate(state, net.genesis, t0),
    });
  close((await ask(a.did, b.did, "all")).score, 0.9 * 0.7);
  close((await ask(a.did, b.did, "social")).score, 0.5 * 0.6);
  close((await ask(a.did, b.did, "technical")).score, 0.9 * 0.9);
  close((await ask(a.did, c.did, "all")).score, 0.9 * 1 * 0.3);
  close((await ask(a.did, c.did, "social")).score, 0);
});

Deno.test("a later edge replaces the earlier one, score 0 revokes, and expired edges count as absent", async () => {
  const net = await trustNetwork(3);
  const [a, b, c] = net.members;
  await accept(net, [
    await net.writer.edge(a, b, 500),
    await net.writer.edge(a, b, 700),
    await net.writer.edge(a, c, 400, { expires: t0 + 5000 }),
  ]);
  const state = new StateOverlay(net.deps.store);
  const at = async (target: string, ts: number) =>
    (await scoreFromState(state, {
      observer: a.did,
      target,
      scope: "social",
      ts,
      isMember: () => true,
    })).score;
  close(await at(b.did, t0), 0.7 * 0.6);
  close(await at(c.did, t0 + 4999), 0.4 * 0.6);
  close(await at(c.did, t0 + 5000), 0);
  await accept(net, [await net.writer.edge(a, b, 0, { ts: t0 + 10 })]);
  close(await at(b.did, t0 + 20), 0);
});

Deno.test("cooperativeScore() is the mean score over the founders, a founder counting itself as 1", async () => {
  const net = await trustNetwork(3);
  const [a, b, c] = net.members;
  await accept(net, [await net.writer.edge(a, c, 600), await net.writer.edge(b, c, 900)]);
  const state = new StateOverlay(net.deps.store);
  close(
    await cooperativeScore(state, net.genesis, c.did, t0 + 10),
    (0.6 * 0.7 + 0.9 * 0.7 + 1) / 3,
  );
  assert.equal(await cooperativeScore(state, net.genesis, "did:icn:zNobody", t0), 0);
});
