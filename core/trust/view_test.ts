import assert from "node:assert/strict";
import fc from "fast-check";
import { StateOverlay } from "../chain/state.ts";
import { createGenesis } from "../governance/genesis.ts";
import type { StateReader } from "../governance/membership.ts";
import { didFromPublicKey } from "../identity/did.ts";
import { MemoryStore } from "../store/memory_store.ts";
import type { StoreMutation } from "../store/store.ts";
import { trustGraphs } from "./edge.ts";
import { type EdgeRecord, trustKeys } from "./state.ts";
import { cooperativeScore, cooperativeScoreByWalk, meanScore, meanScoreByWalk } from "./view.ts";

const t0 = 1_700_000_000_000;
/** A valid DID per number (no key behind it: these tests write derived state directly). */
function didOf(n: number): string {
  const key = new Uint8Array(32);
  new DataView(key.buffer).setUint32(0, n + 1);
  return didFromPublicKey(key);
}
const pool = Array.from({ length: 7 }, (_, i) => didOf(i));

const edgeArb = fc.record({
  from: fc.integer({ min: 0, max: pool.length - 1 }),
  to: fc.integer({ min: 0, max: pool.length - 1 }),
  graph: fc.constantFrom(...trustGraphs),
  score: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })),
  expires: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
});

/**
 * Random edge sequences written the way the `trust.edge` handler writes them
 * (latest replaces, score 0 deletes, out and in together), founders a random
 * subset, trusters sometimes not members: the target-side computation must give
 * exactly the walk from every anchor, at times before and after expiries.
 */
Deno.test("cooperativeScore() equals the walk from every anchor on random graphs", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.integer({ min: 0, max: pool.length - 1 }), {
        minLength: 1,
        maxLength: pool.length,
      }),
      fc.array(edgeArb, { maxLength: 40 }),
      fc.uniqueArray(fc.integer({ min: 0, max: pool.length - 1 }), { maxLength: pool.length }),
      async (founderIdx, edges, anchorIdx) => {
        const genesis = createGenesis({
          name: "Prop",
          members: founderIdx.map((i) => pool[i]),
          created: t0 - 1000,
        });
        const store = new MemoryStore();
        const mutations: StoreMutation[] = [];
        edges.forEach((e, seq) => {
          if (e.from === e.to) return;
          const from = pool[e.from];
          const to = pool[e.to];
          const outKey = trustKeys.out(e.graph, from, to);
          const inKey = trustKeys.in(e.graph, to, from);
          if (e.score === 0) {
            mutations.push({ type: "delete", key: outKey }, { type: "delete", key: inKey });
            return;
          }
          const record: EdgeRecord = {
            from,
            to,
            graph: e.graph,
            score: e.score,
            ts: t0 + seq,
            seq,
            cid: `cid${seq}`,
            ...(e.expires !== undefined ? { expires: t0 + e.expires } : {}),
          };
          mutations.push({ type: "set", key: outKey, value: record }, {
            type: "set",
            key: inKey,
            value: record,
          });
        });
        if (mutations.length > 0) assert.notEqual(await store.commit([], mutations), null);
        const state = new StateOverlay(store);
        const anchors = anchorIdx.map((i) => pool[i]).sort();
        for (const ts of [t0, t0 + 10, t0 + 31]) {
          for (const did of [...pool, didOf(999_999)]) {
            assert.equal(
              await cooperativeScore(state, genesis, did, ts),
              await cooperativeScoreByWalk(state, genesis, did, ts),
            );
            assert.equal(
              await meanScore(state, genesis, did, { ts, anchors }),
              await meanScoreByWalk(state, genesis, did, { ts, anchors }),
            );
          }
        }
        store.close();
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("cooperativeScore() reads the target's side only: 1,000 founders, one trusted member", async () => {
  const founders = Array.from({ length: 1000 }, (_, i) => didOf(1000 + i));
  const genesis = createGenesis({ name: "Big", members: founders, created: t0 - 1000 });
  const store = new MemoryStore();
  const target = didOf(5000);
  const record = (from: string, to: string, score: number): EdgeRecord => ({
    from,
    to,
    graph: "economic",
    score,
    ts: t0,
    seq: 0,
    cid: `${from}>${to}`,
  });
  const mutations: StoreMutation[] = [];
  for (
    const [from, to, score] of [[founders[0], founders[1], 900], [founders[1], target, 800], [
      founders[2],
      target,
      500,
    ]] as const
  ) {
    const r = record(from, to, score);
    mutations.push({ type: "set", key: trustKeys.out("economic", from, to), value: r });
    mutations.push({ type: "set", key: trustKeys.in("economic", to, from), value: r });
  }
  assert.notEqual(await store.commit([], mutations), null);
  let lists = 0;
  const inner = new StateOverlay(store);
  const state: StateReader = {
    get: (key) => inner.get(key),
    list: (prefix, options) => {
      lists++;
      return inner.list(prefix, options);
    },
  };
  const score = await cooperativeScore(state, genesis, target, t0 + 1);
  // founder 1 direct 0.8, founder 2 direct 0.5, founder 0 through founder 1: 0.9·0.8·0.3.
  const expected = (0.8 * 0.7 + 0.5 * 0.7 + 0.9 * 0.8 * 0.3) / 1000;
  assert.ok(Math.abs(score - expected) < 1e-12, `${score} vs ${expected}`);
  assert.equal(
    score,
    await cooperativeScoreByWalk(new StateOverlay(store), genesis, target, t0 + 1),
  );
  // The target's in-edges and each member truster's (3 graphs each) and the membership index: not 1,000 walks.
  assert.ok(lists <= 3 * 3 + 4, `${lists} list calls`);
  store.close();
});
