import { deepStrictEqual as assertEquals, throws } from "node:assert";
import fc from "fast-check";
import { InvalidInputError } from "../errors.ts";
import { type Choice, tally } from "../governance/tally.ts";
import type { VoteWeight } from "./params.ts";
import {
  type CoopVoters,
  type DelegateVote,
  type FederationTallyInput,
  tallyFederation,
} from "./tally.ts";

const majority = { quorum: 50, approval: 50, mode: "majority" } as const;
const consent = { quorum: 50, approval: 50, mode: "consent" } as const;

/** Cooperatives "c0".."c{n-1}", delegates "c{i}/d0".."c{i}/d{k-1}", members as given. */
function federation(members: readonly number[], delegates = 2): Map<string, CoopVoters> {
  return new Map(members.map((count, i) => [`c${i}`, {
    delegates: new Set(Array.from({ length: delegates }, (_, d) => `c${i}/d${d}`)),
    members: count,
  }]));
}

function vote(coop: number, delegate: number, choice: Choice, ts: number): DelegateVote {
  return { coop: `c${coop}`, did: `c${coop}/d${delegate}`, choice, ts };
}

Deno.test("tallyFederation() counts one vote per cooperative under equal weight", () => {
  const result = tallyFederation({
    cooperatives: federation([3, 3, 3, 3]),
    votes: [vote(0, 0, "for", 1), vote(1, 1, "for", 1), vote(2, 0, "against", 1)],
    weight: "equal",
    rules: majority,
  });
  assertEquals(
    [result.eligible, result.required, result.cast, result.for, result.against],
    [4, 2, 3, 2, 1],
  );
  assertEquals(result.threshold, 1);
  assertEquals(result.outcome, "Accepted");
  assertEquals(result.ballots.map((b) => b.choice), ["for", "for", "against", null]);
});

Deno.test("tallyFederation() takes the latest vote by any delegate of a cooperative as its vote", () => {
  const result = tallyFederation({
    cooperatives: federation([1, 1]),
    votes: [vote(0, 0, "for", 5), vote(0, 1, "against", 7), vote(0, 0, "abstain", 6)],
    weight: "equal",
    rules: majority,
  });
  assertEquals(result.ballots[0], {
    coop: "c0",
    weight: 1,
    choice: "against",
    by: "c0/d1",
    ts: 7,
    replaced: 2,
  });
  assertEquals(result.cast, 1);
  assertEquals(result.outcome, "Rejected");
});

Deno.test("tallyFederation() ignores votes by non-delegates, for unknown cooperatives and after the close", () => {
  const result = tallyFederation({
    cooperatives: federation([1, 1]),
    votes: [
      { coop: "c0", did: "c1/d0", choice: "for", ts: 1 },
      { coop: "c9", did: "c9/d0", choice: "for", ts: 1 },
      vote(1, 0, "for", 11),
      vote(1, 1, "against", 3),
    ],
    weight: "equal",
    rules: majority,
    closes: 10,
  });
  assertEquals(result.ignored, [
    { coop: "c0", did: "c1/d0", reason: "not_delegate" },
    { coop: "c1", did: "c1/d0", reason: "after_close" },
    { coop: "c9", did: "c9/d0", reason: "not_cooperative" },
  ]);
  assertEquals([result.cast, result.against, result.outcome], [1, 1, "Rejected"]);
});

Deno.test("tallyFederation() weighs each cooperative by its member count under members", () => {
  const input: FederationTallyInput = {
    cooperatives: federation([100, 3, 3]),
    votes: [vote(0, 0, "against", 1), vote(1, 0, "for", 1), vote(2, 0, "for", 1)],
    weight: "equal",
    rules: majority,
  };
  assertEquals(tallyFederation(input).outcome, "Accepted");
  const weighted = tallyFederation({ ...input, weight: "members" });
  assertEquals([weighted.eligible, weighted.cast, weighted.for], [106, 106, 6]);
  assertEquals(weighted.outcome, "Rejected");
  assertEquals(weighted.ballots.map((b) => b.weight), [100, 3, 3]);
});

Deno.test("tallyFederation() rejects on a standing block in consent mode and ignores blocks otherwise", () => {
  const cooperatives = federation([1, 1, 1]);
  const votes = [vote(0, 0, "for", 1), vote(1, 0, "for", 1), vote(2, 0, "block", 1)];
  const decided = tallyFederation({ cooperatives, votes, weight: "equal", rules: consent });
  assertEquals([decided.block, decided.outcome], [1, "Rejected"]);
  const majorityResult = tallyFederation({ cooperatives, votes, weight: "equal", rules: majority });
  assertEquals([majorityResult.cast, majorityResult.outcome], [2, "Accepted"]);
  assertEquals(majorityResult.ballots[2].choice, null);
});

Deno.test("tallyFederation() lets a cooperative follow another's vote by delegation", () => {
  const result = tallyFederation({
    cooperatives: federation([1, 1, 1]),
    votes: [vote(0, 1, "for", 4)],
    weight: "equal",
    rules: majority,
    delegations: new Map([["c2", "c0"]]),
  });
  assertEquals([result.cast, result.for, result.delegated], [2, 2, 1]);
  assertEquals(result.ballots[2], {
    coop: "c2",
    weight: 1,
    choice: "for",
    by: "c0/d1",
    ts: 4,
    via: "c0",
    replaced: 0,
  });
});

Deno.test("tallyFederation() refuses a member count or vote weight it cannot count", () => {
  const cooperatives = new Map([["c0", { delegates: ["d"], members: -1 }]]);
  throws(
    () => tallyFederation({ cooperatives, votes: [], weight: "members", rules: majority }),
    InvalidInputError,
  );
  throws(
    () =>
      tallyFederation({
        cooperatives,
        votes: [],
        weight: "most" as VoteWeight,
        rules: majority,
      }),
    /Unknown vote weight "most"/,
  );
});

const arbitraryCase = fc.record({
  members: fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 12 }),
  votes: fc.array(
    fc.record({
      coop: fc.integer({ min: 0, max: 13 }),
      delegate: fc.integer({ min: 0, max: 2 }),
      choice: fc.constantFrom<Choice>("for", "against", "abstain", "block"),
      ts: fc.integer({ min: 0, max: 20 }),
    }),
    { maxLength: 40 },
  ),
  quorum: fc.integer({ min: 0, max: 100 }),
  approval: fc.integer({ min: 0, max: 100 }),
  mode: fc.constantFrom("majority" as const, "consent" as const),
});

Deno.test("tallyFederation() does not depend on the order votes are given in", () => {
  fc.assert(
    fc.property(arbitraryCase, fc.integer(), (c, seed) => {
      const votes = c.votes.map((v) => vote(v.coop, v.delegate, v.choice, v.ts));
      const shuffled = [...votes];
      let s = seed;
      for (let i = shuffled.length - 1; i > 0; i--) {
        s = (s * 1103515245 + 12345) & 0x7fffffff;
        const j = s % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      const rules = { quorum: c.quorum, approval: c.approval, mode: c.mode };
      const input = { cooperatives: federation(c.members), weight: "members" as const, rules };
      assertEquals(
        tallyFederation({ ...input, votes: shuffled }),
        tallyFederation({ ...input, votes }),
      );
    }),
    { numRuns: 300, seed: 16 },
  );
});

Deno.test("under equal weight the federation tally is the cooperative tally with cooperatives as members", () => {
  fc.assert(
    fc.property(arbitraryCase, (c) => {
      const cooperatives = federation(c.members);
      const votes = c.votes.map((v) => vote(v.coop, v.delegate, v.choice, v.ts));
      const rules = { quorum: c.quorum, approval: c.approval, mode: c.mode };
      const result = tallyFederation({ cooperatives, votes, weight: "equal", rules });
      // The cooperative rule, fed each cooperative's latest vote directly.
      const latest = new Map<string, DelegateVote>();
      for (const v of votes) {
        const known = cooperatives.get(v.coop);
        if (!known || !(known.delegates as Set<string>).has(v.did)) continue;
        const previous = latest.get(v.coop);
        if (
          !previous || v.ts > previous.ts ||
          (v.ts === previous.ts && (v.did > previous.did ||
            (v.did === previous.did && v.choice > previous.choice)))
        ) latest.set(v.coop, v);
      }
      const expected = tally({
        eligible: cooperatives.keys(),
        votes: new Map([...latest].map(([coop, v]) => [coop, v.choice])),
        delegations: new Map(),
        rules,
      });
      const { ballots: _b, ignored: _i, weight: _w, cooperatives: _c, ...counts } = result;
      assertEquals(counts, expected);
      // With one member each, weighing by members changes nothing.
      const ones = federation(c.members.map(() => 1));
      const byMembers = tallyFederation({ cooperatives: ones, votes, weight: "members", rules });
      const byEqual = tallyFederation({ cooperatives: ones, votes, weight: "equal", rules });
      assertEquals({ ...byMembers, weight: "equal" }, byEqual);
    }),
    { numRuns: 300, seed: 16 },
  );
});

Deno.test("tallyFederation() counts a vote when its author was a delegate at the time it voted", () => {
  // c0's delegates change at ts 10 from d0 to d1: d0's vote at 5 counts, d0's later one does not.
  const isDelegate = (coop: string, did: string, ts: number) =>
    coop === "c0" && (ts < 10 ? did === "c0/d0" : did === "c0/d1");
  const result = tallyFederation({
    cooperatives: federation([1]),
    votes: [vote(0, 0, "for", 5), vote(0, 0, "against", 12)],
    weight: "equal",
    rules: majority,
    isDelegate,
  });
  assertEquals([result.for, result.ballots[0].ts], [1, 5]);
  assertEquals(result.ignored, [{ coop: "c0", did: "c0/d0", reason: "not_delegate" }]);
});
