/**
 * The federation's clearing kinds over a joined store: an agreement in force only once both
 * cooperatives voted for it; commits, answers and settlement notes checked against it (author a
 * delegate of the right cooperative, amounts at the agreed rates, ids once, the limit, what is
 * owed), and the positions read back; the stored positions kept by the handlers, checked
 * against the fold, and derived for a store written before they were stored.
 */
import { federationRulesFor } from "./params.ts";
import { FederationNet, t0, testCoop, testFederation } from "./_fixture.ts";
import {
  answerKind,
  commitKind,
  readClearing,
  readPositions,
  settleKind,
  verifyClearing,
} from "./clearing_kinds.ts";
import { owedBy } from "./clearing.ts";
import { clearingStateKeys, type StoredPair } from "./clearing_state.ts";
import { ingest } from "../chain/ingest.ts";

function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
  const e = JSON.stringify(expected, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
  if (a !== e) throw new Error(`${message} expected ${e}, got ${a}`);
}

const params = { "federation.clearing.votingPeriod": 1000 };

async function setup() {
  const alpha = await testCoop("Alpha", [1, 2]);
  const beta = await testCoop("Beta", [3, 4]);
  const file = await testFederation([alpha, beta], { params });
  const [a, a2] = alpha.members;
  const [b] = beta.members;
  const fed = await FederationNet.create(file, [a, a2, b]);
  const agreement = (limit: number, ts: number) =>
    fed.submit(a, "fed.proposal", {
      coop: alpha.net,
      kind: "clearing",
      title: "Clearing",
      body: "",
      action: {
        coopA: alpha.net,
        coopB: beta.net,
        limit,
        rateA: "1",
        rateB: "1",
        settlementInterval: 86_400_000,
      },
      rules: federationRulesFor(params, "clearing"),
    }, ts);
  const commit = (id: string, amount: number, ts: number, over: Record<string, unknown> = {}) => ({
    id,
    from: alpha.net,
    to: beta.net,
    payer: a2.did,
    payee: beta.members[1].did,
    amount,
    amountFrom: amount,
    amountTo: amount,
    expires: ts + 60_000,
    ...over,
  });
  return { alpha, beta, a, a2, b, fed, agreement, commit };
}

Deno.test("A clearing agreement is in force only when both cooperatives voted for it", async () => {
  const { alpha, beta, a, b, fed, agreement, commit } = await setup();
  const first = await agreement(100, t0 + 1);
  await fed.submit(a, "fed.vote", { proposal: first, coop: alpha.net, choice: "for" }, t0 + 2);
  // Beta did not vote: one cooperative of two is not both.
  assertEquals(
    await fed.attempt(a, commitKind, commit("p1", 10, t0 + 2000), t0 + 2000),
    "no_agreement",
  );
  const tally = await fed.view().tally((await fed.view().proposal(first))!);
  assertEquals([tally.cooperatives, tally.outcome], [2, "NoQuorum"]);
  const second = await agreement(100, t0 + 3000);
  await fed.submit(a, "fed.vote", { proposal: second, coop: alpha.net, choice: "for" }, t0 + 3001);
  await fed.submit(b, "fed.vote", { proposal: second, coop: beta.net, choice: "for" }, t0 + 3002);
  assertEquals(
    await fed.attempt(a, commitKind, commit("p1", 10, t0 + 5000), t0 + 5000),
    "accepted",
  );
  const reading = await readClearing(fed.view(), t0 + 5000);
  assertEquals(reading.agreements.map((x) => x.id), [second]);
});

Deno.test("fed.clear.* refuse what the agreement, the author or the position does not allow", async () => {
  const { alpha, beta, a, a2, b, fed, agreement, commit } = await setup();
  const id = await agreement(100, t0 + 1);
  await fed.submit(a, "fed.vote", { proposal: id, coop: alpha.net, choice: "for" }, t0 + 2);
  await fed.submit(b, "fed.vote", { proposal: id, coop: beta.net, choice: "for" }, t0 + 3);
  const ts = t0 + 2000;
  assertEquals(await fed.attempt(a2, commitKind, commit("p1", 60, ts), ts), "not_delegate");
  assertEquals(
    await fed.attempt(a, commitKind, commit("p1", 60, ts, { amountTo: 61 }), ts),
    "bad_amount",
  );
  assertEquals(
    await fed.attempt(a, commitKind, commit("p1", 60, ts, { expires: ts + 10 }), ts),
    "bad_expiry",
  );
  const c1 = await fed.submit(a, commitKind, commit("p1", 60, ts), ts);
  assertEquals(await fed.attempt(a, commitKind, commit("p1", 60, ts + 1), ts + 1), "duplicate");
  assertEquals(
    await fed.attempt(a, answerKind, { commit: c1, choice: "accept" }, ts + 2),
    "not_delegate",
  );
  await fed.submit(b, answerKind, { commit: c1, choice: "accept" }, ts + 3);
  assertEquals(
    await fed.attempt(b, answerKind, { commit: c1, choice: "refuse" }, ts + 4),
    "decided",
  );
  // 60 + 50 passes the limit of 100: the accept is refused, a refusal is not.
  const c2 = await fed.submit(a, commitKind, commit("p2", 50, ts + 5), ts + 5);
  assertEquals(
    await fed.attempt(b, answerKind, { commit: c2, choice: "accept" }, ts + 6),
    "over_limit",
  );
  await fed.submit(b, answerKind, { commit: c2, choice: "refuse", reason: "limit" }, ts + 7);
  // An answer after the expiry is refused.
  const c3 = await fed.submit(a, commitKind, commit("p3", 5, ts + 8), ts + 8);
  assertEquals(
    await fed.attempt(b, answerKind, { commit: c3, choice: "accept" }, ts + 8 + 60_001),
    "expired",
  );
  let reading = await readClearing(fed.view(), ts + 100_000);
  assertEquals(owedBy(reading.state, alpha.net, beta.net), 60n);
  assertEquals(
    [c1, c2, c3].map((c) => reading.state.commits.get(c)?.status),
    ["accepted", "refused", "expired"],
  );

  // Settlement: more than owed is refused; the same note by both sides applies.
  const note = (amount: number, by: string) => ({
    id: "s1",
    payer: alpha.net,
    payee: beta.net,
    amount,
    by,
  });
  const later = ts + 200_000;
  assertEquals(await fed.attempt(a, settleKind, note(70, alpha.net), later), "exceeds_position");
  assertEquals(await fed.attempt(a, settleKind, note(60, beta.net), later), "not_delegate");
  await fed.submit(a, settleKind, note(60, alpha.net), later);
  assertEquals(await fed.attempt(a, settleKind, note(60, alpha.net), later + 1), "duplicate");
  assertEquals(await fed.attempt(b, settleKind, note(59, beta.net), later + 2), "mismatch");
  await fed.submit(b, settleKind, note(60, beta.net), later + 3);
  reading = await readClearing(fed.view(), later + 4);
  assertEquals(owedBy(reading.state, alpha.net, beta.net), 0n);
  assertEquals(reading.state.settlements.map((s) => s.status), ["applied"]);
});

Deno.test("fed.clear.* keep the stored positions in the envelope's commit; the check compares them with the fold", async () => {
  const { alpha, beta, a, b, fed, agreement, commit } = await setup();
  const id = await agreement(100, t0 + 1);
  await fed.submit(a, "fed.vote", { proposal: id, coop: alpha.net, choice: "for" }, t0 + 2);
  await fed.submit(b, "fed.vote", { proposal: id, coop: beta.net, choice: "for" }, t0 + 3);
  const ts = t0 + 2000;
  const c1 = await fed.submit(a, commitKind, commit("p1", 60, ts), ts);
  const c2 = await fed.submit(a, commitKind, commit("p2", 10, ts + 1), ts + 1);
  const key = `${[alpha.net, beta.net].sort().join("/")}`;
  // Committed, not answered: open in the stored index, nothing in the pair yet.
  assertEquals((await readPositions(fed.view(), ts + 2)).open.get(key), 2);
  await fed.submit(b, answerKind, { commit: c1, choice: "accept" }, ts + 3);
  const stored = (await fed.store.get<StoredPair>(clearingStateKeys.pair(key)))!.value;
  assertEquals(stored.position, alpha.net < beta.net ? 60n : -60n);
  assertEquals([stored.accepted, stored.last?.[0]], [1, ts + 3]);
  const positions = await readPositions(fed.view(), ts + 4);
  assertEquals(positions.open.get(key), 1);
  let verified = await verifyClearing(fed.view(), ts + 4);
  assertEquals([verified.stored, verified.differences, verified.stale], [true, [], []]);
  const digest = verified.digest;
  // A stored pair that is not what the records give is found by the check.
  await fed.store.commit([], [{
    type: "set",
    key: clearingStateKeys.pair(key),
    value: { ...stored, position: stored.position + 1n },
  }]);
  verified = await verifyClearing(fed.view(), ts + 4);
  assertEquals(verified.differences.length, 1);
  await fed.store.commit([], [{ type: "set", key: clearingStateKeys.pair(key), value: stored }]);

  // A store written before positions were stored: the stored state removed, readers fold, and
  // the next clearing envelope derives it all in its own commit.
  const mutations = [];
  for await (const entry of fed.store.list({ prefix: ["fed", "clr"] })) {
    const section = entry.key[2];
    if (["v", "p", "d", "o", "u", "so"].includes(section as string)) {
      mutations.push({ type: "delete" as const, key: entry.key });
    }
  }
  await fed.store.commit([], mutations);
  verified = await verifyClearing(fed.view(), ts + 4);
  assertEquals([verified.stored, verified.digest], [false, digest]);
  assertEquals((await readPositions(fed.view(), ts + 4)).open.get(key), 1);
  await fed.submit(b, answerKind, { commit: c2, choice: "accept" }, ts + 5);
  verified = await verifyClearing(fed.view(), ts + 6);
  assertEquals([verified.stored, verified.differences], [true, []]);
  const reading = await readClearing(fed.view(), ts + 6);
  assertEquals(owedBy(reading.state, alpha.net, beta.net), 70n);
  assertEquals(
    [c1, c2].map((c) => reading.state.commits.get(c)?.status),
    ["accepted", "accepted"],
  );
});

Deno.test("two writers upgrading a store without stored positions at once: one derivation lands, the other retries on it", async () => {
  const { alpha, beta, a, b, fed, agreement, commit } = await setup();
  const id = await agreement(100, t0 + 1);
  await fed.submit(a, "fed.vote", { proposal: id, coop: alpha.net, choice: "for" }, t0 + 2);
  await fed.submit(b, "fed.vote", { proposal: id, coop: beta.net, choice: "for" }, t0 + 3);
  const ts = t0 + 2000;
  const c1 = await fed.submit(a, commitKind, commit("p1", 30, ts), ts);
  // As written before positions were stored: the records only.
  const mutations = [];
  for await (const entry of fed.store.list({ prefix: ["fed", "clr"] })) {
    if (["v", "p", "d", "o", "u", "so"].includes(entry.key[2] as string)) {
      mutations.push({ type: "delete" as const, key: entry.key });
    }
  }
  await fed.store.commit([], mutations);
  assertEquals((await verifyClearing(fed.view(), ts + 1)).stored, false);
  // Two writers (each its own ingest, no shared cache), each upgrading in its envelope's commit.
  const answer = await fed.seal(b, answerKind, { commit: c1, choice: "accept" }, ts + 2);
  const second = await fed.seal(a, commitKind, commit("p2", 20, ts + 2), ts + 2);
  fed.clock.set(ts + 2);
  // Counts the commits that lost to the other writer (the store answers null).
  let lost = 0;
  const store = new Proxy(fed.store, {
    get(target, prop) {
      if (prop === "commit") {
        return async (...args: Parameters<typeof target.commit>) => {
          const result = await target.commit(...args);
          if (result === null) lost++;
          return result;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const deps = { ...fed.deps, store };
  const outcomes = await Promise.all([
    ingest(deps, [answer], { source: "gossip" }),
    ingest(deps, [second], { source: "gossip" }),
  ]);
  assertEquals(outcomes.map((o) => o[0].status), ["accepted", "accepted"]);
  assertEquals(lost > 0, true, "one writer lost a commit and retried");
  const verified = await verifyClearing(fed.view(), ts + 3);
  assertEquals([verified.stored, verified.differences, verified.stale], [true, [], []]);
  const reading = await readClearing(fed.view(), ts + 3);
  assertEquals(owedBy(reading.state, alpha.net, beta.net), 30n);
  assertEquals(
    (await readPositions(fed.view(), ts + 3)).open.get(
      [alpha.net, beta.net].sort().join("/"),
    ),
    1,
  );
});
