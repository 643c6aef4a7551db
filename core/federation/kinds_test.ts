import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import fc from "fast-check";
import type { TestIdentity } from "../testing.ts";
import {
  FederationNet,
  identity,
  t0,
  type TestCoop,
  testCoop,
  testFederation,
} from "./_fixture.ts";
import { type FederationProposalKind, federationRulesFor } from "./params.ts";
import type { FederationAction } from "./view.ts";

interface World {
  a: TestCoop;
  b: TestCoop;
  c: TestCoop;
  fed: FederationNet;
  outsider: TestIdentity;
}

/** A and B found the federation (delegates a1, a2 and b1, b2); C (delegate c1) is outside. */
async function world(params = {}): Promise<World> {
  const [a, b, c] = await Promise.all([
    testCoop("Alpha", [11, 12, 13]),
    testCoop("Beta", [14, 15, 16]),
    testCoop("Gamma", [17, 18]),
  ]);
  const file = await testFederation([a, b], { params, delegates: 2 });
  const outsider = await identity(19);
  const fed = await FederationNet.create(file, [
    ...a.members,
    ...b.members,
    ...c.members,
    outsider,
  ]);
  return { a, b, c, fed, outsider };
}

function proposalBody(
  coop: TestCoop,
  kind: FederationProposalKind,
  action: FederationAction,
  params = {},
) {
  return {
    coop: coop.net,
    kind,
    title: `A ${kind} proposal`,
    body: "",
    action,
    rules: federationRulesFor(params, kind),
  };
}

function admitC(w: World) {
  return proposalBody(w.a, "admit", {
    genesis: w.c.file.genesis,
    name: "Gamma",
    delegates: [w.c.members[0].did],
  });
}

Deno.test("a cooperative admitted by a federation vote joins, acts, and is removed by another", async () => {
  const w = await world();
  const { a, b, c, fed } = w;
  const admit = await fed.submit(a.members[0], "fed.proposal", admitC(w), t0 + 1000);
  // Before the admission C's delegate cannot act in the federation.
  assertEquals(
    await fed.attempt(c.members[0], "fed.vouch", { from: c.net, to: a.net, score: 500 }, t0 + 2000),
    "not_in_federation",
  );
  for (const [coop, who] of [[a, a.members[1]], [b, b.members[0]]] as const) {
    await fed.submit(
      who,
      "fed.vote",
      { proposal: admit, coop: coop.net, choice: "for" },
      t0 + 2000,
    );
  }
  const view = fed.view();
  const record = (await view.proposal(admit))!;
  const result = await view.tally(record);
  assertEquals([result.cooperatives, result.cast, result.for, result.outcome], [
    2,
    2,
    2,
    "Accepted",
  ]);
  assertEquals(
    [...(await view.coopsAt(record.effective - 1)).keys()].sort(),
    [a.net, b.net].sort(),
  );
  assertEquals((await view.coopsAt(record.effective)).get(c.net)?.name, "Gamma");

  const after = record.effective + 1000;
  await fed.submit(c.members[0], "fed.vouch", { from: c.net, to: a.net, score: 800 }, after);
  const removal = await fed.submit(
    b.members[0],
    "fed.proposal",
    proposalBody(b, "remove", { coop: c.net }),
    after,
  );
  // C, the cooperative to be removed, does not vote: with approval 67 % of 3 cast, its "against"
  // alone would reject (2 is not more than floor(3 × 0.67) = 2), as inside a cooperative.
  for (const [coop, who] of [[a, a.members[0]], [b, b.members[0]]] as const) {
    await fed.submit(
      who,
      "fed.vote",
      { proposal: removal, coop: coop.net, choice: "for" },
      after + 1000,
    );
  }
  const removed = (await fed.view().proposal(removal))!;
  const removeTally = await fed.view().tally(removed);
  assertEquals([removeTally.cooperatives, removeTally.cast, removeTally.outcome], [
    3,
    2,
    "Accepted",
  ]);
  assert(!(await fed.view().coopsAt(removed.effective)).has(c.net));
  // A delegate of a removed cooperative can no longer vote or vouch.
  const text = await fed.submit(
    a.members[0],
    "fed.proposal",
    proposalBody(a, "text", {}),
    removed.effective + 10,
  );
  assertEquals(
    await fed.attempt(
      c.members[0],
      "fed.vote",
      { proposal: text, coop: c.net, choice: "for" },
      removed.effective + 20,
    ),
    "not_eligible",
  );
});

Deno.test("a vote by someone who is not a delegate of the cooperative it names is refused", async () => {
  const w = await world();
  const { a, b, fed, outsider } = w;
  const text = await fed.submit(a.members[0], "fed.proposal", proposalBody(a, "text", {}), t0);
  const vote = (coop: TestCoop) => ({ proposal: text, coop: coop.net, choice: "for" });
  // A member of Alpha who is not its delegate; Beta's delegate voting for Alpha; an outsider.
  assertEquals(await fed.attempt(a.members[2], "fed.vote", vote(a), t0 + 1), "not_delegate");
  assert(/"Alpha": ".*" is not one of its delegates/.test(fed.lastRejection), fed.lastRejection);
  assertEquals(await fed.attempt(b.members[0], "fed.vote", vote(a), t0 + 1), "not_delegate");
  assertEquals(await fed.attempt(outsider, "fed.vote", vote(b), t0 + 1), "not_delegate");
  assertEquals(await fed.attempt(b.members[0], "fed.vote", vote(b), t0 + 1), "accepted");
});

Deno.test("a delegate change recorded by a current delegate takes effect, and a removed delegate's vote is refused", async () => {
  const { a, b, fed } = await world();
  const [a1, a2, a3] = a.members;
  const citation = b.net; // Stands for the cooperative's executed proposal CID.
  assertEquals(
    await fed.attempt(
      a3,
      "fed.delegates",
      { coop: a.net, delegates: [a3.did], members: 3, proposal: citation },
      t0,
    ),
    "not_delegate",
  );
  await fed.submit(
    a1,
    "fed.delegates",
    { coop: a.net, delegates: [a3.did], members: 5, proposal: citation },
    t0 + 10,
  );
  assertEquals(await fed.view().delegatesAt(a.net, t0 + 10), { delegates: [a3.did], members: 5 });
  const text = await fed.submit(b.members[0], "fed.proposal", proposalBody(b, "text", {}), t0 + 20);
  const vote = { proposal: text, coop: a.net, choice: "for" };
  assertEquals(await fed.attempt(a2, "fed.vote", vote, t0 + 30), "not_delegate");
  assertEquals(await fed.attempt(a3, "fed.vote", vote, t0 + 30), "accepted");
});

Deno.test("a cooperative's vote is the latest by any of its delegates", async () => {
  const { a, b, fed } = await world();
  const text = await fed.submit(b.members[0], "fed.proposal", proposalBody(b, "text", {}), t0);
  const vote = (choice: string) => ({ proposal: text, coop: a.net, choice });
  await fed.submit(a.members[0], "fed.vote", vote("for"), t0 + 10);
  await fed.submit(a.members[1], "fed.vote", vote("against"), t0 + 20);
  const view = fed.view();
  const result = await view.tally((await view.proposal(text))!);
  const ballot = result.ballots.find((x) => x.coop === a.net)!;
  assertEquals([ballot.choice, ballot.by, ballot.replaced], ["against", a.members[1].did, 1]);
});

Deno.test("a vouch for a cooperative outside the federation is refused; one inside is scored", async () => {
  const { a, b, c, fed } = await world();
  const a1 = a.members[0];
  assertEquals(
    await fed.attempt(a1, "fed.vouch", { from: a.net, to: c.net, score: 700 }, t0),
    "not_in_federation",
  );
  assert(/Cannot vouch for cooperative .*: it is not in the federation/.test(fed.lastRejection));
  assertEquals(
    await fed.attempt(a1, "fed.vouch", { from: a.net, to: a.net, score: 700 }, t0),
    "trust_self",
  );
  assertEquals(
    await fed.attempt(a1, "fed.vouch", { from: b.net, to: a.net, score: 700 }, t0),
    "not_delegate",
  );
  assertEquals(
    await fed.attempt(a1, "fed.vouch", { from: a.net, to: b.net, score: 1001 }, t0),
    "bad_body",
  );
  await fed.submit(a1, "fed.vouch", { from: a.net, to: b.net, score: 1000 }, t0 + 1);
  const trust = await fed.view().trustAt(t0 + 2);
  assertEquals(trust.score(a.net, b.net), { coop: b.net, score: 0.7, class: "federated" });
});

Deno.test("a config proposal changes the vote weight for proposals opened after it takes effect", async () => {
  const { a, b, fed } = await world();
  const config = await fed.submit(
    a.members[0],
    "fed.proposal",
    proposalBody(a, "config", { set: { "federation.voteWeight": "members" } }),
    t0,
  );
  for (const [coop, who] of [[a, a.members[0]], [b, b.members[0]]] as const) {
    await fed.submit(who, "fed.vote", { proposal: config, coop: coop.net, choice: "for" }, t0 + 1);
  }
  const effective = (await fed.view().proposal(config))!.effective;
  const params = await fed.view().paramsAt(effective);
  assertEquals(params["federation.voteWeight"], "members");
  // Stale rules are refused: the text rules did not change, so this one is accepted.
  const text = await fed.submit(
    b.members[0],
    "fed.proposal",
    proposalBody(b, "text", {}, params),
    effective,
  );
  await fed.submit(
    a.members[0],
    "fed.vote",
    { proposal: text, coop: a.net, choice: "for" },
    effective + 1,
  );
  const result = await fed.view().tally((await fed.view().proposal(text))!);
  // Founders' member counts come from their genesis files: 3 each.
  assertEquals([result.weight, result.eligible, result.cast], ["members", 6, 3]);
});

Deno.test("malformed or stale federation proposals are refused with a reason", async () => {
  const w = await world();
  const { a, fed } = w;
  const a1 = a.members[0];
  const stale = {
    ...proposalBody(a, "text", {}),
    rules: { ...federationRulesFor({}, "text"), quorum: 1 },
  };
  assertEquals(await fed.attempt(a1, "fed.proposal", stale, t0), "stale_rules");
  const extra = { ...proposalBody(a, "text", {}), note: "x" };
  assertEquals(await fed.attempt(a1, "fed.proposal", extra, t0), "bad_body");
  const badConfig = proposalBody(a, "config", { set: { "credit.baseline": 1 } });
  assertEquals(await fed.attempt(a1, "fed.proposal", badConfig, t0), "bad_action");
  const removeOutsider = proposalBody(a, "remove", { coop: w.c.net });
  assertEquals(await fed.attempt(a1, "fed.proposal", removeOutsider, t0), "bad_action");
  const outsiderDelegate = proposalBody(a, "admit", {
    genesis: w.c.file.genesis,
    name: "Gamma",
    delegates: [w.outsider.did],
  });
  assertEquals(await fed.attempt(a1, "fed.proposal", outsiderDelegate, t0), "bad_action");
  assert(/is not a founder in its genesis/.test(fed.lastRejection), fed.lastRejection);
  const admitMember = proposalBody(a, "admit", {
    genesis: a.file.genesis,
    name: "Alpha again",
    delegates: [a1.did],
  });
  assertEquals(await fed.attempt(a1, "fed.proposal", admitMember, t0), "bad_action");
  assertEquals(
    await fed.attempt(a1, "fed.vote", { proposal: a.net, coop: a.net, choice: "for" }, t0),
    "unknown_proposal",
  );
});

Deno.test("random bodies of every federation kind are refused with a reason, never a crash", async () => {
  const { a, fed } = await world();
  const a1 = a.members[0];
  const kindsList = ["fed.delegates", "fed.proposal", "fed.vote", "fed.vouch"];
  const nearValid = fc.record({
    coop: fc.constantFrom(a.net, "bafyx", 1),
    from: fc.constantFrom(a.net, "x"),
    to: fc.constantFrom(a.net, "bafyzzzzzzzz"),
    kind: fc.constantFrom("admit", "remove", "config", "text", "x"),
    action: fc.oneof(fc.constant({}), fc.jsonValue({ maxDepth: 2 })),
    score: fc.integer({ min: -1, max: 1001 }),
  }, { requiredKeys: [] });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...kindsList),
      fc.oneof(fc.jsonValue({ maxDepth: 3 }), nearValid),
      async (kind, body) => {
        const result = await fed.attempt(a1, kind, body, t0);
        assert(typeof result === "string" && result.length > 0);
      },
    ),
    { numRuns: 200, seed: 16 },
  );
});
