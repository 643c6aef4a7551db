/**
 * Decision methods and secret ballots in a federation (core/federation/methods.ts,
 * fed.proposal / fed.vote / fed.reveal in core/federation/kinds.ts): cooperatives are the
 * voters, a later vote by any delegate replaces the earlier, bad ballots are refused, and the
 * outcome does not depend on the order envelopes arrive in.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import fc from "fast-check";
import { ingest } from "../core/chain/ingest.ts";
import { StateOverlay } from "../core/chain/state.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { joinFederation } from "../core/federation/join.ts";
import { coopCommitment } from "../core/federation/methods.ts";
import { federationRulesFor } from "../core/federation/params.ts";
import { FederationView } from "../core/federation/view.ts";
import {
  FederationNet,
  t0,
  type TestCoop,
  testCoop,
  testFederation,
} from "../core/federation/_fixture.ts";
import { kindRegistryFor } from "../core/kinds.ts";
import { fixedClock } from "../core/ports.ts";
import { MemoryStore } from "../core/store/memory_store.ts";

const day = 86_400_000;
const saltA = "a".repeat(64);
const saltB = "b".repeat(64);

async function world() {
  const coops = await Promise.all([
    testCoop("Alpha", [31, 32, 33]),
    testCoop("Beta", [34, 35, 36]),
    testCoop("Gamma", [37, 38, 39]),
  ]);
  const file = await testFederation(coops, { delegates: 2 });
  const fed = await FederationNet.create(file, coops.flatMap((c) => c.members));
  const [a, b, c] = coops;
  return { a, b, c, fed, file };
}

function textBody(
  coop: TestCoop,
  extra: { method?: unknown; secret?: true } = {},
) {
  return {
    coop: coop.net,
    kind: "text",
    title: "Where do we meet?",
    body: "",
    action: {},
    rules: federationRulesFor({}, "text", { secret: extra.secret === true }),
    ...extra,
  };
}

const poll = { name: "poll", options: ["Lyon", "Turin", "Ghent"] };

Deno.test("federation poll: a later vote by another delegate replaces the cooperative's earlier one, which counts once", async () => {
  const { a, b, c, fed } = await world();
  const id = await fed.submit(a.members[0], "fed.proposal", textBody(a, { method: poll }), t0 + 1);
  const vote = (coop: TestCoop, ballot: unknown) => ({ proposal: id, coop: coop.net, ballot });
  await fed.submit(a.members[0], "fed.vote", vote(a, 0), t0 + 10);
  await fed.submit(a.members[1], "fed.vote", vote(a, 2), t0 + 20); // replaces Alpha's 0
  await fed.submit(b.members[0], "fed.vote", vote(b, 2), t0 + 30);
  await fed.submit(c.members[1], "fed.vote", vote(c, 1), t0 + 40);
  const view = fed.view();
  const record = (await view.proposal(id))!;
  const t = await view.tally(record);
  assertEquals(t.outcome, "Closed");
  assertEquals(t.cast, 3);
  assertEquals(t.method?.result, { method: "poll", votes: [0, 1, 2], winners: [2] });
  const alpha = t.method!.ballots.find((x) => x.coop === a.net)!;
  assertEquals([alpha.ballot, alpha.by, alpha.replaced], [2, a.members[1].did, 1]);
  assertEquals(await view.stateOf(record, t0 + 1), "Open");
  assertEquals(await view.stateOf(record, record.closes + 1), "Closed");
});

Deno.test("federation methods: bad proposals and ballots are refused and change nothing", async () => {
  const { a, b, c, fed } = await world();
  // A method is for text proposals; its spec is checked by the method rule.
  assertEquals(
    await fed.attempt(a.members[0], "fed.proposal", {
      ...textBody(a, { method: poll }),
      kind: "remove",
      action: { coop: c.net },
      rules: federationRulesFor({}, "remove"),
    }, t0 + 1),
    "bad_method",
  );
  assertEquals(
    await fed.attempt(
      a.members[0],
      "fed.proposal",
      textBody(a, { method: { name: "poll", options: ["only"] } }),
      t0 + 1,
    ),
    "bad_method",
  );
  // A secret proposal's rules must carry the reveal window in force.
  assertEquals(
    await fed.attempt(
      a.members[0],
      "fed.proposal",
      { ...textBody(a), secret: true },
      t0 + 1,
    ),
    "stale_rules",
  );
  const score = await fed.submit(
    a.members[0],
    "fed.proposal",
    textBody(a, { method: { name: "score", options: ["x", "y"], maxScore: 5 } }),
    t0 + 2,
  );
  const ranked = await fed.submit(
    a.members[0],
    "fed.proposal",
    textBody(a, { method: { name: "ranked", options: ["x", "y", "z"], seats: 1 } }),
    t0 + 3,
  );
  const dot = await fed.submit(
    a.members[0],
    "fed.proposal",
    textBody(a, { method: { name: "dot", options: ["x", "y"], points: 10 } }),
    t0 + 4,
  );
  const before = await fed.store.list({ prefix: [] });
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [score, { ballot: [6, 0] }, "bad_ballot", /Score 6 for "x" \(1\) is out of range: 0 to 5/],
    [ranked, { ballot: [0, 0] }, "bad_ballot", /ranked twice/],
    [dot, { ballot: [6, 5] }, "bad_ballot", /allocates 11 points, more than the 10 allowed/],
    [score, { choice: "for" }, "bad_body", /carries a score ballot, not a choice/],
    [score, { commitment: "0".repeat(64) }, "bad_body", /not a commitment/],
  ];
  for (const [proposal, content, reason, message] of cases) {
    assertEquals(
      await fed.attempt(b.members[0], "fed.vote", { proposal, coop: b.net, ...content }, t0 + 10),
      reason,
    );
    assert(message.test(fed.lastRejection), fed.lastRejection);
  }
  // Not Beta's delegate (its third member) cannot vote for it.
  assertEquals(
    await fed.attempt(
      b.members[2],
      "fed.vote",
      { proposal: dot, coop: b.net, ballot: [1, 1] },
      t0 + 10,
    ),
    "not_delegate",
  );
  assertEquals(await fed.store.list({ prefix: [] }), before);
});

Deno.test("federation secret poll: commit, close, reveal; the cooperative's latest commitment counts, an unrevealed one does not", async () => {
  const { a, b, c, fed } = await world();
  const id = await fed.submit(
    a.members[0],
    "fed.proposal",
    textBody(a, { method: poll, secret: true }),
    t0 + 1,
  );
  const commit = (coop: TestCoop, ballot: number, salt: string) => ({
    proposal: id,
    coop: coop.net,
    commitment: coopCommitment(id, coop.net, { ballot, salt }),
  });
  // An open ballot is refused on a secret proposal.
  assertEquals(
    await fed.attempt(a.members[0], "fed.vote", { proposal: id, coop: a.net, ballot: 0 }, t0 + 5),
    "bad_body",
  );
  await fed.submit(a.members[0], "fed.vote", commit(a, 0, saltA), t0 + 10);
  await fed.submit(a.members[1], "fed.vote", commit(a, 1, saltB), t0 + 20); // Alpha's latest
  await fed.submit(b.members[0], "fed.vote", commit(b, 1, saltA), t0 + 30);
  await fed.submit(c.members[0], "fed.vote", commit(c, 2, saltA), t0 + 40); // never revealed
  const view0 = fed.view();
  const record = (await view0.proposal(id))!;
  const { closes, revealEnds } = await view0.timing(record);
  assertEquals(revealEnds, closes + 2 * day);
  assertEquals(record.effective, closes + 2 * day);
  const reveal = (coop: TestCoop, ballot: number, salt: string) => ({
    proposal: id,
    coop: coop.net,
    ballot,
    salt,
  });
  assertEquals(
    await fed.attempt(a.members[1], "fed.reveal", reveal(a, 1, saltB), closes),
    "too_early",
  );
  assertEquals(await view0.stateOf(record, closes + 1), "Revealing");
  // Any delegate of Alpha may reveal; the earlier commitment's reveal is kept but does not count.
  await fed.submit(a.members[0], "fed.reveal", reveal(a, 0, saltA), closes + 10);
  await fed.submit(a.members[0], "fed.reveal", reveal(a, 1, saltB), closes + 20);
  await fed.submit(b.members[1], "fed.reveal", reveal(b, 1, saltA), closes + 30);
  assertEquals(
    await fed.attempt(b.members[2], "fed.reveal", reveal(b, 1, saltA), closes + 40),
    "not_delegate",
  );
  assertEquals(
    await fed.attempt(c.members[0], "fed.reveal", reveal(c, 7, saltA), closes + 40),
    "bad_ballot",
  );
  assertEquals(
    await fed.attempt(c.members[0], "fed.reveal", reveal(c, 2, saltA), revealEnds + 1),
    "closed",
  );
  const view = fed.view();
  assertEquals(await view.stateOf(record, revealEnds), "Revealing");
  assertEquals(await view.stateOf(record, revealEnds + 1), "Closed");
  const t = await view.tally(record);
  assertEquals(t.method?.result, { method: "poll", votes: [0, 2, 0], winners: [1] });
  assertEquals(t.cast, 2);
  assertEquals(t.unrevealed, [c.net]);
  assertEquals(t.method!.ballots.find((x) => x.coop === a.net)!.replaced, 1);
});

Deno.test("federation secret for/against: revealed choices decide by the for/against rule", async () => {
  const { a, b, c, fed } = await world();
  const id = await fed.submit(a.members[0], "fed.proposal", textBody(a, { secret: true }), t0 + 1);
  const record = (await fed.view().proposal(id))!;
  for (
    const [coop, choice, salt] of [[a, "for", saltA], [b, "for", saltB], [
      c,
      "against",
      saltA,
    ]] as const
  ) {
    await fed.submit(coop.members[0], "fed.vote", {
      proposal: id,
      coop: coop.net,
      commitment: coopCommitment(id, coop.net, { ballot: choice, salt }),
    }, t0 + 10);
  }
  const hidden = await fed.view().tally(record);
  assertEquals([hidden.cast, hidden.outcome], [0, "NoQuorum"]);
  for (
    const [coop, choice, salt] of [[a, "for", saltA], [b, "for", saltB], [
      c,
      "against",
      saltA,
    ]] as const
  ) {
    await fed.submit(coop.members[1], "fed.reveal", {
      proposal: id,
      coop: coop.net,
      ballot: choice,
      salt,
    }, record.closes + 5);
  }
  const t = await fed.view().tally(record);
  assertEquals([t.cast, t.for, t.against, t.outcome], [3, 2, 1, "Accepted"]);
});

Deno.test("property: a federation method's tally is the same whatever order the envelopes arrive in", async () => {
  const { a, b, c, fed, file } = await world();
  const coops = [a, b, c];
  const kinds = kindRegistryFor("federation");
  const proposal = await fed.seal(
    a.members[0],
    "fed.proposal",
    textBody(a, {
      method: { name: "ranked", options: ["x", "y", "z", "w"], seats: 1 },
      secret: true,
    }),
    t0 + 1,
  );
  fed.clock.set(t0 + 1);
  assertEquals((await ingest(fed.deps, [proposal], { source: "import" }))[0].status, "accepted");
  const id = proposal.cid;
  const record = (await fed.view().proposal(id))!;
  // Two delegates per cooperative each commit once and reveal: the later commitment counts.
  const sealed: SealedEnvelope[][] = [];
  const rankings = [[0, 1, 2], [1, 0], [2, 3, 1, 0], [3], [0, 2], [1, 2, 3]];
  for (const [i, coop] of coops.entries()) {
    for (const d of [0, 1]) {
      const who = coop.members[d];
      const ballot = rankings[i * 2 + d];
      const salt = (i * 2 + d).toString(16).repeat(64);
      const chain = [
        await fed.seal(who, "fed.vote", {
          proposal: id,
          coop: coop.net,
          commitment: coopCommitment(id, coop.net, { ballot, salt }),
        }, t0 + 100 + 10 * (i * 2 + d)),
        await fed.seal(
          who,
          "fed.reveal",
          { proposal: id, coop: coop.net, ballot, salt },
          record.closes + 1 + i,
        ),
      ];
      sealed.push(chain);
    }
  }
  const inceptions = coops.flatMap((coop) => coop.members.map((m) => m.inception));
  const clock = fixedClock(record.closes + 100);
  fed.clock.set(record.closes + 100);
  for (const chain of sealed) {
    for (const env of chain) {
      assertEquals((await ingest(fed.deps, [env], { source: "import" }))[0].status, "accepted");
    }
  }
  const expected = await fed.view().tally(record);
  assertEquals(expected.cast, 3);
  // Alpha's later delegate ranked y first, Beta's w, Gamma's y: y wins.
  assertEquals(expected.method?.result.method, "ranked");
  assertEquals((expected.method!.result as { elected: number[] }).elected, [1]);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: sealed.length - 1 }), { minLength: 24, maxLength: 24 }),
      async (picks) => {
        const store = new MemoryStore();
        await joinFederation(store, file);
        const deps = { store, clock, kinds };
        await ingest(deps, inceptions, { source: "import" });
        const heads = sealed.map(() => 0);
        const order: SealedEnvelope[] = [];
        for (const p of picks) {
          if (heads[p] < sealed[p].length) order.push(sealed[p][heads[p]++]);
        }
        for (const [i, chain] of sealed.entries()) order.push(...chain.slice(heads[i]));
        await ingest(deps, [proposal], { source: "import" });
        for (const env of order) {
          const [outcome] = await ingest(deps, [env], { source: "import" });
          assertEquals(outcome.status, "accepted");
        }
        const view = new FederationView(new StateOverlay(store), file.genesis);
        const got = await view.tally((await view.proposal(id))!);
        assertEquals(got, expected);
      },
    ),
    { numRuns: 15 },
  );
});

Deno.test("federation quorumReachedAt: the vote that brings the required cooperatives, dated by the close", async () => {
  const { a, b, c, fed } = await world();
  const id = await fed.submit(a.members[0], "fed.proposal", textBody(a, { method: poll }), t0 + 1);
  const vote = (coop: TestCoop, ballot: unknown) => ({ proposal: id, coop: coop.net, ballot });
  const view = () => fed.view();
  const record = (await view().proposal(id))!;
  assertEquals(await view().quorumReachedAt(record), undefined);
  await fed.submit(a.members[0], "fed.vote", vote(a, 0), t0 + 10);
  await fed.submit(a.members[1], "fed.vote", vote(a, 2), t0 + 20); // same cooperative
  await fed.submit(b.members[0], "fed.vote", vote(b, 2), t0 + 30);
  assertEquals((await view().tally(record)).required, 1); // 50 % of three cooperatives
  assertEquals(await view().quorumReachedAt(record), t0 + 10);
  // Every cooperative required: Alpha's two delegates' votes count once, so not reached yet.
  const all = { ...record, rules: { ...record.rules, quorum: 100 } };
  assertEquals(await view().quorumReachedAt(all), undefined);
  await fed.submit(c.members[1], "fed.vote", vote(c, 1), t0 + 40);
  assertEquals(await view().quorumReachedAt(all), t0 + 40);
  assertEquals(await view().quorumReachedAt(record), t0 + 10);
});
