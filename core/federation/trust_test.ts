import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert";
import fc from "fast-check";
import { InvalidInputError } from "../errors.ts";
import { trustClassOf } from "../policy/policy.ts";
import { type CoopEdge, CooperativeTrust } from "./trust.ts";

const coops = ["a", "b", "c", "d"];
const near = (x: number, y: number) => Math.abs(x - y) < 1e-9;

Deno.test("CooperativeTrust scores a direct vouch with the member formula and classes", () => {
  const trust = CooperativeTrust.build([{ from: "a", to: "b", score: 800, ts: 1 }], {
    coops,
    ts: 10,
  });
  const { score, class: cls } = trust.score("a", "b");
  assert(near(score, 0.8 * 0.7), String(score));
  assertEquals(cls, "partner");
  assertEquals(trust.score("b", "a").score, 0);
  assertEquals(trust.score("a", "a").score, 1);
});

Deno.test("CooperativeTrust counts cooperatives of the federation as intermediaries", () => {
  const edges: CoopEdge[] = [
    { from: "a", to: "b", score: 1000, ts: 1 },
    { from: "b", to: "c", score: 500, ts: 1 },
    // x is not in the federation: neither its edges nor a path through it count.
    { from: "a", to: "x", score: 1000, ts: 1 },
    { from: "x", to: "c", score: 1000, ts: 1 },
  ];
  const trust = CooperativeTrust.build(edges, { coops, ts: 10 });
  const explanation = trust.explain("a", "c");
  assert(near(explanation.score, 1 * 0.5 * 0.3), String(explanation.score));
  assertEquals(explanation.intermediaries.map((i) => i.via), ["b"]);
  assertEquals(explanation.class, "known");
});

Deno.test("CooperativeTrust takes the latest vouch of a pair, and drops revoked, expired and later ones", () => {
  const edges: CoopEdge[] = [
    { from: "a", to: "b", score: 900, ts: 1 },
    { from: "a", to: "b", score: 300, ts: 2 },
    { from: "a", to: "c", score: 900, ts: 1 },
    { from: "a", to: "c", score: 0, ts: 3 },
    { from: "a", to: "d", score: 900, ts: 1, expires: 10 },
    { from: "b", to: "a", score: 900, ts: 11 },
  ];
  const at10 = CooperativeTrust.build(edges, { coops, ts: 10 });
  assert(near(at10.score("a", "b").score, 0.3 * 0.7));
  assertEquals(at10.score("a", "c").score, 0);
  assertEquals(at10.score("a", "d").score, 0);
  assertEquals(at10.score("b", "a").score, 0);
  const at9 = CooperativeTrust.build(edges, { coops, ts: 9 });
  assert(near(at9.score("a", "d").score, 0.9 * 0.7));
});

Deno.test("CooperativeTrust refuses a cooperative outside the federation and a score it cannot use", () => {
  const trust = CooperativeTrust.build([], { coops, ts: 1 });
  throws(() => trust.score("a", "x"), /Cannot score trust of cooperative "x": it is not in/);
  throws(() => trust.scoresFrom("x"), InvalidInputError);
  throws(
    () => CooperativeTrust.build([{ from: "a", to: "b", score: 1001, ts: 1 }], { coops, ts: 1 }),
    /score "1001" is not a whole number of thousandths/,
  );
});

Deno.test("CooperativeTrust scores do not depend on edge order and agree with scoresFrom", () => {
  const edge = fc.record({
    from: fc.constantFrom(...coops, "x"),
    to: fc.constantFrom(...coops, "x"),
    score: fc.integer({ min: 0, max: 1000 }),
    ts: fc.integer({ min: 0, max: 20 }),
    expires: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(edge, { maxLength: 30 }), fc.integer({ min: 0, max: 25 }), (edges, ts) => {
      const forward = CooperativeTrust.build(edges, { coops, ts });
      const backward = CooperativeTrust.build([...edges].reverse(), { coops, ts });
      for (const observer of coops) {
        const all = forward.scoresFrom(observer);
        assertEquals(all, backward.scoresFrom(observer));
        for (const { coop, score, class: cls } of all) {
          const single = forward.score(observer, coop);
          assert(near(single.score, score), `${observer} → ${coop}: ${single.score} ≠ ${score}`);
          assert(score >= 0 && score <= 1);
          assertEquals(cls, trustClassOf(score));
        }
      }
    }),
    { numRuns: 200, seed: 16 },
  );
});
