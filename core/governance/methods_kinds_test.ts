import { deepStrictEqual as assertEquals } from "node:assert";
import fc from "fast-check";
import { Coop, t0 } from "./_fixture.ts";
import { ballotCommitment } from "./secret.ts";
import { GovernanceView, rulesFor } from "./view.ts";
import type { SealedEnvelope } from "../envelope/envelope.ts";

const s = 1000;
const fast = {
  "governance.text.votingPeriod": 100 * s,
  "governance.text.revealWindow": 50 * s,
};
const salt = (n: number) => n.toString(16).padStart(64, "0");

function methodProposal(coop: Coop, method: unknown, options: { secret?: boolean } = {}) {
  return {
    kind: "text",
    title: "Pick",
    body: "",
    action: {},
    rules: rulesFor(coop.genesis.params, "text", options),
    method,
    ...(options.secret ? { secret: true } : {}),
  };
}

const view = (coop: Coop) => new GovernanceView(coop.reader(), coop.genesis);

Deno.test("a method vote is checked by its rule: a bad ballot is refused, a replaced one counts once", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b] = coop.people;
  const spec = { name: "dot", options: ["x", "y"], points: 3 };
  const p = await coop.submit(a, "gov.proposal", methodProposal(coop, spec), t0);
  assertEquals(
    await coop.attempt(b, "gov.vote", { proposal: p.cid, ballot: [2, 2] }, t0 + s),
    "bad_ballot",
  );
  assertEquals(
    await coop.attempt(b, "gov.vote", { proposal: p.cid, choice: "for" }, t0 + s),
    "bad_body",
  );
  await coop.submit(b, "gov.vote", { proposal: p.cid, ballot: [3, 0] }, t0 + s);
  await coop.submit(b, "gov.vote", { proposal: p.cid, ballot: [0, 3] }, t0 + 2 * s);
  await coop.submit(a, "gov.vote", { proposal: p.cid, ballot: [1, 1] }, t0 + 2 * s);
  const record = (await view(coop).proposal(p.cid))!;
  const t = await view(coop).tally(record);
  assertEquals([t.cast, t.method?.result], [2, {
    method: "dot",
    points: [1, 4],
    supporters: [1, 2],
    winners: [1],
  }]);
  assertEquals(await view(coop).stateOf(record, t0 + 101 * s), "Closed");
  // A method is for text proposals only.
  const membership = {
    ...methodProposal(coop, spec),
    kind: "membership",
    action: { admit: a.did },
  };
  membership.rules = rulesFor(coop.genesis.params, "membership");
  assertEquals(await coop.attempt(a, "gov.proposal", membership, t0), "bad_method");
});

Deno.test("a secret ballot: commitment while open, reveal in the window only, unrevealed counts as not voting", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b, c] = coop.people;
  const spec = { name: "poll", options: ["keep", "change"] };
  const p = await coop.submit(a, "gov.proposal", methodProposal(coop, spec, { secret: true }), t0);
  const commit = (who: typeof a, ballot: number, n: number) =>
    ballotCommitment({ proposal: p.cid, voter: who.did }, { ballot, salt: salt(n) });
  assertEquals(
    await coop.attempt(b, "gov.vote", { proposal: p.cid, ballot: 1 }, t0 + s),
    "bad_body",
  );
  await coop.submit(a, "gov.vote", { proposal: p.cid, commitment: commit(a, 1, 1) }, t0 + s);
  await coop.submit(b, "gov.vote", { proposal: p.cid, commitment: commit(b, 0, 2) }, t0 + s);
  await coop.submit(c, "gov.vote", { proposal: p.cid, commitment: commit(c, 0, 3) }, t0 + s);
  const record = (await view(coop).proposal(p.cid))!;
  assertEquals(record.effective, t0 + 150 * s);
  // Too early, wrong salt, ballot that does not fit, too late.
  assertEquals(
    await coop.attempt(a, "gov.reveal", { proposal: p.cid, ballot: 1, salt: salt(1) }, t0 + 50 * s),
    "too_early",
  );
  assertEquals(
    await coop.attempt(
      a,
      "gov.reveal",
      { proposal: p.cid, ballot: 1, salt: salt(9) },
      t0 + 101 * s,
    ),
    "bad_reveal",
  );
  assertEquals(
    await coop.attempt(
      a,
      "gov.reveal",
      { proposal: p.cid, ballot: 0, salt: salt(1) },
      t0 + 101 * s,
    ),
    "bad_reveal",
  );
  assertEquals(
    await coop.attempt(
      a,
      "gov.reveal",
      { proposal: p.cid, ballot: 5, salt: salt(1) },
      t0 + 101 * s,
    ),
    "bad_ballot",
  );
  await coop.submit(a, "gov.reveal", { proposal: p.cid, ballot: 1, salt: salt(1) }, t0 + 101 * s);
  await coop.submit(b, "gov.reveal", { proposal: p.cid, ballot: 0, salt: salt(2) }, t0 + 120 * s);
  assertEquals(
    await coop.attempt(
      c,
      "gov.reveal",
      { proposal: p.cid, ballot: 0, salt: salt(3) },
      t0 + 151 * s,
    ),
    "closed",
  );
  const v = view(coop);
  assertEquals(await v.stateOf(record, t0 + 120 * s), "Revealing");
  assertEquals(await v.stateOf(record, t0 + 151 * s), "Closed");
  const t = await v.tally(record);
  assertEquals([t.cast, t.method?.result], [2, { method: "poll", votes: [1, 1], winners: [0, 1] }]);
});

Deno.test("extendOnLateQuorum: quorum reached near the close keeps voting open; an early quorum does not", async () => {
  const coop = await Coop.create(4, 0, { ...fast, "governance.text.extendOnLateQuorum": 30 * s });
  const [a, b, c, d] = coop.people;
  const body = (title: string) => ({ ...coop.proposalBody("text", {}), title });
  const late = await coop.submit(a, "gov.proposal", body("late"), t0);
  const early = await coop.submit(a, "gov.proposal", body("early"), t0);
  // Quorum (2 of 4) on `late` comes at t0 + 90 s: the close moves to t0 + 120 s.
  // (A chain's timestamps never go back: each member's earlier votes come first.)
  await coop.submit(a, "gov.vote", { proposal: early.cid, choice: "for" }, t0 + 10 * s);
  await coop.submit(b, "gov.vote", { proposal: early.cid, choice: "for" }, t0 + 20 * s);
  await coop.submit(a, "gov.vote", { proposal: late.cid, choice: "for" }, t0 + 10 * s);
  await coop.submit(b, "gov.vote", { proposal: late.cid, choice: "against" }, t0 + 90 * s);
  // Inside the extension a vote still counts; on the early one it is refused.
  await coop.submit(c, "gov.vote", { proposal: late.cid, choice: "against" }, t0 + 110 * s);
  assertEquals(
    await coop.attempt(c, "gov.vote", { proposal: early.cid, choice: "against" }, t0 + 110 * s),
    "closed",
  );
  assertEquals(
    await coop.attempt(d, "gov.vote", { proposal: late.cid, choice: "for" }, t0 + 121 * s),
    "closed",
  );
  const v = view(coop);
  const lateRecord = (await v.proposal(late.cid))!;
  const timing = await v.timing(lateRecord);
  assertEquals([timing.quorumAt, timing.closes, timing.extended], [
    t0 + 90 * s,
    t0 + 120 * s,
    true,
  ]);
  assertEquals(await v.stateOf(lateRecord, t0 + 110 * s), "Open");
  assertEquals(await v.stateOf(lateRecord, t0 + 121 * s), "Rejected");
  const earlyTiming = await v.timing((await v.proposal(early.cid))!);
  assertEquals([earlyTiming.closes, earlyTiming.extended], [t0 + 100 * s, false]);
  assertEquals(await v.quorumReachedAt((await v.proposal(early.cid))!), t0 + 20 * s);
});

Deno.test("(property) a method proposal's result is the same whatever order the voters' chains arrive in", async () => {
  const source = await Coop.create(4, 0, fast);
  const spec = { name: "ranked", options: ["x", "y", "z"], seats: 1 };
  const p = await source.seal(source.people[0], "gov.proposal", methodProposal(source, spec), t0);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.shuffledSubarray([0, 1, 2], { minLength: 1 }), { minLength: 4, maxLength: 8 }),
      fc.array(fc.nat(3), { minLength: 8, maxLength: 8 }),
      fc.nat(),
      async (ballots, who, seed) => {
        const coops = [await Coop.create(4, 0, fast), await Coop.create(4, 0, fast)];
        const chains = new Map<number, SealedEnvelope[]>();
        const people = coops[0].people;
        people[0].seq = source.people[0].seq;
        people[0].prev = source.people[0].prev;
        people[0].ts = source.people[0].ts;
        for (const [i, ballot] of ballots.entries()) {
          const voter = who[i];
          const sealed = await coops[0].seal(
            people[voter],
            "gov.vote",
            { proposal: p.cid, ballot },
            t0 + (i + 1) * s,
          );
          chains.set(voter, [...(chains.get(voter) ?? []), sealed]);
        }
        const order = [...chains.keys()].sort((x, y) =>
          ((x * 7 + seed) % 5) - ((y * 7 + seed) % 5) || x - y
        );
        await coops[0].ingestAll([p, ...[...chains.keys()].flatMap((k) => chains.get(k)!)]);
        await coops[1].ingestAll([p, ...order.flatMap((k) => chains.get(k)!)]);
        const results = [];
        for (const coop of coops) {
          const v = new GovernanceView(coop.reader(), coop.genesis);
          results.push(await v.tally((await v.proposal(p.cid))!));
        }
        assertEquals(results[0], results[1]);
        assertEquals(results[0].cast, chains.size);
      },
    ),
    { numRuns: 15 },
  );
});

Deno.test("a secret for/against membership vote decides at the end of the reveal window, then admits", async () => {
  const coop = await Coop.create(3, 1, {
    "governance.membership.votingPeriod": 100 * s,
    "governance.membership.revealWindow": 50 * s,
  });
  const [a, b, c, newcomer] = coop.people;
  const body = {
    ...coop.proposalBody("membership", { admit: newcomer.did }),
    rules: rulesFor(coop.genesis.params, "membership", { secret: true }),
    secret: true,
  };
  // Rules without the reveal window do not match a secret proposal.
  assertEquals(
    await coop.attempt(a, "gov.proposal", {
      ...body,
      rules: rulesFor(coop.genesis.params, "membership"),
    }, t0),
    "stale_rules",
  );
  const p = await coop.submit(a, "gov.proposal", body, t0);
  for (const [i, who] of [a, b, c].entries()) {
    const choice = who === c ? "against" : "for";
    const commitment = ballotCommitment({ proposal: p.cid, voter: who.did }, {
      ballot: choice,
      salt: salt(i),
    });
    await coop.submit(who, "gov.vote", { proposal: p.cid, commitment }, t0 + s);
  }
  for (const [i, who] of [a, b].entries()) {
    await coop.submit(
      who,
      "gov.reveal",
      { proposal: p.cid, ballot: "for", salt: salt(i) },
      t0 + 110 * s,
    );
  }
  const v = view(coop);
  const record = (await v.proposal(p.cid))!;
  assertEquals(record.effective, t0 + 150 * s);
  assertEquals(await v.stateOf(record, t0 + 120 * s), "Revealing");
  assertEquals(await v.isMember(newcomer.did, t0 + 120 * s), false);
  const t = await v.tally(record);
  assertEquals([t.cast, t.for, t.against, t.outcome], [2, 2, 0, "Accepted"]);
  assertEquals(await v.stateOf(record, t0 + 151 * s), "Executed");
  assertEquals(await v.isMember(newcomer.did, t0 + 151 * s), true);
});
