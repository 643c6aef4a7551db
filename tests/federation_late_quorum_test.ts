/**
 * `federation.<kind>.extendOnLateQuorum` (OpenZeppelin Governor's rule, as in a cooperative):
 * when quorum is first reached so late that quorum + extension is after the close, voting stays
 * open until then. The close is derived on read from the votes (`FederationView.timing`), so
 * `fed.vote` accepts votes until it, the tally counts them, and an accepted admission or config
 * change takes effect at the derived effective time, whatever order the envelopes arrive in.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import fc from "fast-check";
import { ingest } from "../core/chain/ingest.ts";
import { StateOverlay } from "../core/chain/state.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { joinFederation } from "../core/federation/join.ts";
import { coopCommitment } from "../core/federation/methods.ts";
import { federationRulesFor, validateFederationParam } from "../core/federation/params.ts";
import { FederationView } from "../core/federation/view.ts";
import {
  FederationNet,
  t0,
  type TestCoop,
  testCoop,
  testFederation,
} from "../core/federation/_fixture.ts";
import { kindRegistryFor } from "../core/kinds.ts";
import type { Params } from "../core/params.ts";
import { fixedClock } from "../core/ports.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import { listAll } from "../core/store/store.ts";

const s = 1000;
const minute = 60 * s;
const hour = 60 * minute;
const day = 24 * hour;

/** Text and config: 1 day to vote; a quorum reached in its last hour keeps it open an hour more. */
const params: Params = {
  "federation.text.votingPeriod": day,
  "federation.text.extendOnLateQuorum": hour,
  "federation.config.votingPeriod": day,
  "federation.config.timelock": 10 * minute,
  "federation.config.extendOnLateQuorum": hour,
};

async function world(extra: Params = {}) {
  const coops = await Promise.all([
    testCoop("Alpha", [41, 42, 43]),
    testCoop("Beta", [44, 45, 46]),
    testCoop("Gamma", [47, 48, 49]),
  ]);
  const file = await testFederation(coops, { delegates: 2, params: { ...params, ...extra } });
  const fed = await FederationNet.create(file, coops.flatMap((c) => c.members));
  const [a, b, c] = coops;
  return { a, b, c, fed, file };
}

function proposalBody(
  coop: TestCoop,
  kind: "text" | "config",
  action: Record<string, unknown>,
  extra: { secret?: true } = {},
) {
  return {
    coop: coop.net,
    kind,
    title: "Late quorum",
    body: "",
    action,
    rules: federationRulesFor(params, kind, { secret: extra.secret === true }),
    ...extra,
  };
}

Deno.test("federationRulesFor: extendOnLateQuorum only when above 0, never for a clearing agreement", () => {
  assertEquals(federationRulesFor(params, "text").extendOnLateQuorum, hour);
  assertEquals("extendOnLateQuorum" in federationRulesFor({}, "text"), false);
  assertEquals(
    "extendOnLateQuorum" in federationRulesFor({ "federation.text.extendOnLateQuorum": 0 }, "text"),
    false,
  );
  assertEquals("extendOnLateQuorum" in federationRulesFor(params, "clearing"), false);
  validateFederationParam("federation.admit.extendOnLateQuorum", 30 * day);
  for (const bad of [-1, 30 * day + 1, 1.5, "1h"]) {
    let message = "";
    try {
      validateFederationParam("federation.text.extendOnLateQuorum", bad);
    } catch (error) {
      message = (error as Error).message;
    }
    assert(
      message.startsWith('Federation parameter "federation.text.extendOnLateQuorum" has invalid'),
      `${bad}: ${message}`,
    );
  }
});

Deno.test("extendOnLateQuorum: a quorum in the last part of the period keeps voting open; votes after the derived close are refused", async () => {
  const { a, b, c, fed } = await world();
  const id = await fed.submit(a.members[0], "fed.proposal", proposalBody(a, "text", {}), t0 + 1);
  const record = (await fed.view().proposal(id))!;
  assertEquals(record.rules.extendOnLateQuorum, hour);
  // Rules without the extension in force (or with another one) are stale.
  const { extendOnLateQuorum: _, ...without } = record.rules;
  for (const rules of [without, { ...record.rules, extendOnLateQuorum: 2 * hour }]) {
    assertEquals(
      await fed.attempt(
        b.members[0],
        "fed.proposal",
        { ...proposalBody(b, "text", {}), rules },
        t0 + 2,
      ),
      "stale_rules",
    );
  }
  const vote = (coop: TestCoop, choice: string) => ({ proposal: id, coop: coop.net, choice });
  // Quorum (1 of 3 cooperatives at 50 %) first reached 10 minutes before the close.
  const quorumAt = record.closes - 10 * minute;
  await fed.submit(a.members[0], "fed.vote", vote(a, "for"), quorumAt);
  const timing = await fed.view().timing(record);
  assertEquals(timing, {
    closes: quorumAt + hour,
    revealEnds: quorumAt + hour,
    effective: quorumAt + hour,
    extended: true,
    quorumAt,
  });
  assertEquals(await fed.view().stateOf(record, record.closes + minute), "Open");
  // Inside the extension: accepted and counted; a re-vote by Alpha's delegate keeps its first time.
  await fed.submit(b.members[0], "fed.vote", vote(b, "against"), record.closes + 20 * minute);
  await fed.submit(a.members[0], "fed.vote", vote(a, "against"), record.closes + 30 * minute);
  assertEquals((await fed.view().timing(record)).closes, quorumAt + hour);
  assertEquals(await fed.view().quorumReachedAt(record), quorumAt);
  // After the derived close: refused, naming it.
  assertEquals(
    await fed.attempt(c.members[0], "fed.vote", vote(c, "for"), quorumAt + hour + 1),
    "closed",
  );
  assertEquals(
    fed.lastRejection,
    `Cannot vote on "${id}": voting closed at ${new Date(quorumAt + hour).toISOString()}`,
  );
  const t = await fed.view().tally(record);
  assertEquals([t.for, t.against, t.cast, t.outcome], [0, 2, 2, "Rejected"]);
  assertEquals(await fed.view().stateOf(record, quorumAt + hour + 1), "Rejected");
});

Deno.test("extendOnLateQuorum: an early quorum leaves the close where it was", async () => {
  const { a, b, fed } = await world();
  const id = await fed.submit(a.members[0], "fed.proposal", proposalBody(a, "text", {}), t0 + 1);
  const record = (await fed.view().proposal(id))!;
  await fed.submit(
    a.members[0],
    "fed.vote",
    { proposal: id, coop: a.net, choice: "for" },
    t0 + hour,
  );
  assertEquals(await fed.view().timing(record), {
    closes: record.closes,
    revealEnds: record.closes,
    effective: record.closes,
    extended: false,
    quorumAt: t0 + hour,
  });
  assertEquals(
    await fed.attempt(
      b.members[0],
      "fed.vote",
      { proposal: id, coop: b.net, choice: "for" },
      record.closes + 1,
    ),
    "closed",
  );
});

Deno.test("extendOnLateQuorum: a config change takes effect at the derived effective time", async () => {
  const { a, b, fed } = await world();
  // A signed config proposal with a bad value is refused and changes nothing.
  const before = await listAll(fed.store, { prefix: [] });
  for (const bad of [-1, 31 * day, "1h"]) {
    const action = { set: { "federation.text.extendOnLateQuorum": bad } };
    assertEquals(
      await fed.attempt(a.members[0], "fed.proposal", proposalBody(a, "config", action), t0 + 1),
      "bad_action",
    );
    assert(fed.lastRejection.includes('"federation.text.extendOnLateQuorum" has invalid value'));
  }
  assertEquals(await listAll(fed.store, { prefix: [] }), before);
  const set = { "federation.voteWeight": "members" };
  const id = await fed.submit(
    a.members[0],
    "fed.proposal",
    proposalBody(a, "config", { set }),
    t0 + 1,
  );
  const record = (await fed.view().proposal(id))!;
  const vote = (coop: TestCoop) => ({ proposal: id, coop: coop.net, choice: "for" });
  await fed.submit(a.members[1], "fed.vote", vote(a), record.closes - 5 * minute);
  await fed.submit(b.members[1], "fed.vote", vote(b), record.closes + 40 * minute);
  const view = fed.view();
  const timing = await view.timing(record);
  assertEquals(timing.closes, record.closes + 55 * minute);
  assertEquals(timing.effective, timing.closes + 10 * minute);
  assertEquals((await view.tally(record)).outcome, "Accepted");
  // The stored effective time has passed, the derived one has not: not in force yet.
  assert(record.effective < timing.effective);
  assertEquals((await view.paramsAt(record.effective))["federation.voteWeight"], "equal");
  assertEquals((await view.paramsAt(timing.effective - 1))["federation.voteWeight"], "equal");
  assertEquals((await view.paramsAt(timing.effective))["federation.voteWeight"], "members");
});

Deno.test("extendOnLateQuorum: an admission takes effect at the derived effective time", async () => {
  const { a, b, fed } = await world({
    "federation.admit.votingPeriod": day,
    "federation.admit.timelock": 0,
    "federation.admit.extendOnLateQuorum": hour,
  });
  const delta = await testCoop("Delta", [50, 51]);
  const admitRules = federationRulesFor({
    ...params,
    "federation.admit.votingPeriod": day,
    "federation.admit.timelock": 0,
    "federation.admit.extendOnLateQuorum": hour,
  }, "admit");
  const id = await fed.submit(a.members[0], "fed.proposal", {
    coop: a.net,
    kind: "admit",
    title: "Admit Delta",
    body: "",
    action: { genesis: delta.file.genesis, name: "Delta", delegates: [delta.members[0].did] },
    rules: admitRules,
  }, t0 + 1);
  const record = (await fed.view().proposal(id))!;
  const vote = (coop: TestCoop) => ({ proposal: id, coop: coop.net, choice: "for" });
  await fed.submit(a.members[0], "fed.vote", vote(a), record.closes - 30 * minute);
  await fed.submit(b.members[0], "fed.vote", vote(b), record.closes + 10 * minute);
  const view = fed.view();
  const { effective } = await view.timing(record);
  assertEquals(effective, record.closes + 30 * minute);
  assertEquals((await view.coopsAt(record.effective)).has(delta.net), false);
  const admitted = (await view.coopsAt(effective)).get(delta.net);
  assertEquals(admitted?.since, effective);
});

Deno.test("extendOnLateQuorum: a reveal a node took before it knew of the extension counts only inside the derived window", async () => {
  const { c, fed } = await world();
  const id = await fed.submit(
    c.members[0],
    "fed.proposal",
    proposalBody(c, "text", {}, { secret: true }),
    t0 + 1,
  );
  const record = (await fed.view().proposal(id))!;
  const opening = { ballot: "for", salt: "c".repeat(64) };
  const reveal = { proposal: id, coop: c.net, ...opening };
  // This node holds no vote yet, so the close it knows is the stored one: the reveal is taken.
  await fed.submit(c.members[1], "fed.reveal", reveal, record.closes + minute);
  // Gamma's commitment, made 5 minutes before the close, reaches quorum late: the close moves.
  const vote = await fed.seal(c.members[0], "fed.vote", {
    proposal: id,
    coop: c.net,
    commitment: coopCommitment(id, c.net, opening),
  }, record.closes - 5 * minute);
  fed.clock.set(record.closes + 2 * minute);
  assertEquals((await ingest(fed.deps, [vote], { source: "import" }))[0].status, "accepted");
  const timing = await fed.view().timing(record);
  assertEquals(timing.closes, record.closes + 55 * minute);
  // The early reveal was before the derived close: not counted, as on a node that refused it.
  assertEquals((await fed.view().tally(record)).unrevealed, [c.net]);
  await fed.submit(c.members[1], "fed.reveal", reveal, timing.closes + minute);
  const t = await fed.view().tally(record);
  assertEquals([t.unrevealed, t.for, t.outcome], [[], 1, "Accepted"]);
});

Deno.test("property: with extendOnLateQuorum, any order of arrival gives the same federation state", async () => {
  const { a, b, c, fed, file } = await world();
  const coops = [a, b, c];
  const kinds = kindRegistryFor("federation");
  const proposal = await fed.seal(
    a.members[0],
    "fed.proposal",
    proposalBody(a, "text", {}, { secret: true }),
    t0 + 1,
  );
  fed.clock.set(t0 + 1);
  assertEquals((await ingest(fed.deps, [proposal], { source: "import" }))[0].status, "accepted");
  const id = proposal.cid;
  const record = (await fed.view().proposal(id))!;
  const window = record.rules.revealWindow!;
  // Alpha's first delegate reaches quorum 10 minutes before the close (extended by 50 minutes)
  // and votes again inside the extension (its first vote still dates the quorum); the others
  // vote inside the extension (Beta twice, by two delegates); each delegate reveals its last
  // commitment after the derived close.
  const plan = [
    { who: a.members[0], coop: a, at: record.closes - 10 * minute, ballot: "against" },
    { who: b.members[0], coop: b, at: record.closes + 10 * minute, ballot: "against" },
    { who: c.members[1], coop: c, at: record.closes + 20 * minute, ballot: "for" },
    { who: a.members[0], coop: a, at: record.closes + 30 * minute, ballot: "for" },
    { who: b.members[1], coop: b, at: record.closes + 40 * minute, ballot: "for" },
  ];
  const extendedClose = record.closes + 50 * minute;
  const chains = new Map<string, SealedEnvelope[]>();
  const last = new Map<string, { coop: string; ballot: string; salt: string }>();
  for (const [i, step] of plan.entries()) {
    const salt = (i + 1).toString(16).repeat(64);
    const { ballot } = step;
    const chain = chains.get(step.who.did) ?? [];
    chains.set(step.who.did, chain);
    chain.push(
      await fed.seal(step.who, "fed.vote", {
        proposal: id,
        coop: step.coop.net,
        commitment: coopCommitment(id, step.coop.net, { ballot, salt }),
      }, step.at),
    );
    last.set(step.who.did, { coop: step.coop.net, ballot, salt });
  }
  for (const [i, step] of plan.entries()) {
    const opening = last.get(step.who.did);
    if (!opening) continue;
    last.delete(step.who.did);
    chains.get(step.who.did)!.push(
      await fed.seal(
        step.who,
        "fed.reveal",
        { proposal: id, ...opening },
        extendedClose + minute * (i + 1),
      ),
    );
  }
  const sealed = [...chains.values()];
  const inceptions = coops.flatMap((coop) => coop.members.map((m) => m.inception));
  const now = extendedClose + window + 1;
  const clock = fixedClock(now);

  /** Ingests `order`; what is refused (a vote before the votes that extend the close) is offered again, as sync would. */
  async function replay(order: SealedEnvelope[]) {
    const store = new MemoryStore();
    await joinFederation(store, file);
    const deps = { store, clock, kinds };
    await ingest(deps, inceptions, { source: "import" });
    await ingest(deps, [proposal], { source: "import" });
    let pending = order;
    for (let round = 0; round < order.length && pending.length > 0; round++) {
      const refused: SealedEnvelope[] = [];
      for (const env of pending) {
        const [outcome] = await ingest(deps, [env], { source: "import" });
        if (outcome.status !== "accepted" && outcome.status !== "duplicate") refused.push(env);
      }
      pending = refused;
    }
    assertEquals(pending.length, 0);
    const view = new FederationView(new StateOverlay(store), file.genesis);
    const got = (await view.proposal(id))!;
    return {
      timing: await view.timing(got),
      tally: await view.tally(got),
      state: await view.stateOf(got, now),
      fed: (await listAll(store, { prefix: ["fed"] })).map((e) => [e.key, e.value]),
    };
  }
  const expected = await replay(sealed.flat());
  assertEquals(expected.timing.closes, extendedClose);
  assertEquals(expected.timing.extended, true);
  // Alpha for, Beta's latest (its second delegate) for, Gamma for: accepted, 3 of 3 revealed.
  assertEquals([expected.tally.for, expected.tally.against, expected.tally.outcome], [
    3,
    0,
    "Accepted",
  ]);
  assertEquals(expected.tally.unrevealed, []);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: sealed.length - 1 }), { minLength: 10, maxLength: 10 }),
      async (picks) => {
        const heads = sealed.map(() => 0);
        const order: SealedEnvelope[] = [];
        for (const p of picks) {
          if (heads[p] < sealed[p].length) order.push(sealed[p][heads[p]++]);
        }
        for (const [i, chain] of sealed.entries()) order.push(...chain.slice(heads[i]));
        assertEquals(await replay(order), expected);
      },
    ),
    { numRuns: 15 },
  );
});
