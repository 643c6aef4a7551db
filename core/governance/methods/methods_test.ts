import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert";
import fc from "fast-check";
import { InstantRunoff, Schulze, utils } from "votes";
import {
  checkBallot,
  checkMethodSpec,
  countBallots,
  instantRunoff,
  type MethodBallot,
  type MethodSpec,
  schulze,
  tallyMethod,
} from "./mod.ts";

const spec = (name: MethodSpec["name"], options: string[], extra = {}) =>
  checkMethodSpec({ name, options, ...extra });

Deno.test("checkMethodSpec() refuses too few options, a repeated option and out-of-range settings", () => {
  assertThrows(() => spec("poll", ["only"]), /2 to 20 options/);
  assertThrows(() => spec("poll", ["a", "a"]), /listed twice/);
  assertThrows(() => spec("score", ["a", "b"], { maxScore: 0 }), /from 1 to 100/);
  assertThrows(() => spec("dot", ["a", "b"], { points: 1001 }), /from 1 to 1000/);
  assertThrows(() => spec("ranked", ["a", "b"], { seats: 2 }), /fewer than the options/);
  assertThrows(() => spec("sense-check", ["a"]), /no options/);
  assertThrows(
    () => checkMethodSpec({ name: "poll", options: ["a", "b"], points: 3 }),
    /no "points"/,
  );
});

Deno.test("checkBallot() refuses a score out of range, too many points, a repeated rank and a bad answer", () => {
  const score = spec("score", ["a", "b"], { maxScore: 5 });
  assertThrows(() => checkBallot(score, [6, 0]), /Score 6 for "a" \(1\) is out of range: 0 to 5/);
  assertThrows(() => checkBallot(score, [1]), /a score for each of the 2 options/);
  const dot = spec("dot", ["a", "b", "c"], { points: 10 });
  assertThrows(() => checkBallot(dot, [5, 5, 1]), /allocates 11 points, more than the 10 allowed/);
  const ranked = spec("ranked", ["a", "b", "c"], { seats: 1 });
  assertThrows(() => checkBallot(ranked, [0, 1, 0]), /"a" \(1\) is ranked twice/);
  assertThrows(() => checkBallot(ranked, [3]), /not one of the 3 options/);
  assertThrows(() => checkBallot(spec("poll", ["a", "b"]), 2), /one of the 2 options/);
  assertThrows(() => checkBallot(spec("meeting", ["mon"]), [3]), /must be 0, 1 or 2/);
  assertThrows(() => checkBallot(spec("sense-check", []), "yes"), /good, unsure, concerned/);
  assertEquals(checkBallot(ranked, [2, 0]), [2, 0]);
});

Deno.test("poll reports the most votes, and a tie as a tie", () => {
  const poll = spec("poll", ["a", "b", "c"]);
  assertEquals(countBallots(poll, [0, 1, 1, 2]), {
    method: "poll",
    votes: [1, 2, 1],
    winners: [1],
  });
  assertEquals(countBallots(poll, [0, 1]).method === "poll" && countBallots(poll, [0, 1]), {
    method: "poll",
    votes: [1, 1, 0],
    winners: [0, 1],
  });
});

Deno.test("score gives means and the distribution; dot adds points; meeting prefers fewest 'if need be'", () => {
  const score = countBallots(spec("score", ["a", "b"], { maxScore: 2 }), [[2, 0], [1, 2], [2, 1]]);
  assertEquals(score, {
    method: "score",
    totals: [5, 3],
    means: [5 / 3, 1],
    distribution: [[0, 1, 2], [1, 1, 1]],
    winners: [0],
  });
  const dot = countBallots(spec("dot", ["a", "b", "c"], { points: 5 }), [[5, 0, 0], [0, 3, 2]]);
  assertEquals(dot, { method: "dot", points: [5, 3, 2], supporters: [1, 1, 1], winners: [0] });
  // mon and tue: 3 available each; tue has fewer "if need be".
  const meeting = countBallots(spec("meeting", ["mon", "tue", "wed"]), [
    [2, 2, 0],
    [1, 2, 2],
    [1, 1, 0],
  ]);
  assertEquals(meeting, {
    method: "meeting",
    can: [1, 2, 1],
    ifNeedBe: [2, 1, 0],
    available: [3, 3, 1],
    winners: [1],
  });
});

Deno.test("Schulze finds Wikipedia's example winner E; instant-runoff eliminates round by round", () => {
  // https://en.wikipedia.org/wiki/Schulze_method#Example: 45 voters, A..E = 0..4.
  const groups: [number, number[]][] = [
    [5, [0, 2, 1, 4, 3]],
    [5, [0, 3, 4, 2, 1]],
    [8, [1, 4, 3, 0, 2]],
    [3, [2, 0, 1, 4, 3]],
    [7, [2, 0, 4, 1, 3]],
    [2, [2, 1, 0, 3, 4]],
    [7, [3, 2, 4, 1, 0]],
    [8, [4, 1, 0, 3, 2]],
  ];
  const ballots = groups.flatMap(([n, b]) => Array.from({ length: n }, () => b));
  const result = schulze(5, ballots);
  assertEquals(result.winners, [4]);
  assertEquals(result.ranking, [[4], [0], [2], [1], [3]]);
  assertEquals(result.pairwise[0][1], 20);
  const irv = instantRunoff(3, [[0], [0], [1, 0], [2, 1], [2, 1]]);
  // Round 1: 0 has 2, 1 has 1, 2 has 2: 1 goes, its ballot moves to 0, which then has 3 of 5.
  assertEquals(irv.winners, [0]);
  assertEquals(irv.rounds.map((r) => r.eliminated), [[1], []]);
  assertEquals(irv.rounds[0].counts, [2, 1, 2]);
  assertEquals(irv.rounds[0].eliminated, [1]);
  assertEquals(irv.rounds[1].counts, [3, null, 2]);
});

Deno.test("ranked with two seats takes Schulze's top two, and reports a tie across the last seat", () => {
  const four = spec("ranked", ["a", "b", "c", "d"], { seats: 2 });
  const clear = countBallots(four, [[0, 1, 2, 3], [0, 1, 3, 2], [1, 0, 2, 3]]);
  assertEquals(clear.method === "ranked" && [clear.elected, clear.tiedForLastSeat], [[0, 1], []]);
  // a first everywhere; b and c split evenly below it: one seat sure, the second tied.
  const tied = countBallots(four, [[0, 1, 2], [0, 2, 1]]);
  assertEquals(tied.method === "ranked" && [tied.elected, tied.tiedForLastSeat], [[0], [1, 2]]);
  const none = countBallots(four, []);
  assertEquals(none.method === "ranked" && [none.elected, none.instantRunoff.winners], [[], []]);
});

const rankedBallots = (options: number) =>
  fc.array(
    fc.shuffledSubarray([...Array(options).keys()], { minLength: 1 }),
    { minLength: 1, maxLength: 40 },
  );

Deno.test("(property) instant-runoff and Schulze agree with the votes library (npm:votes)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 6 }).chain((n) => fc.tuple(fc.constant(n), rankedBallots(n))),
      ([n, ballots]) => {
        const names = [...Array(n).keys()].map((i) => `o${i}`);
        const library = ballots.map((b) => ({ ranking: b.map((i) => [names[i]]), weight: 1 }));
        // Schulze: the number of options each beats by strongest paths, option by option.
        const theirs = new Schulze(utils.matrixFromBallots(library, names)).scores();
        const ours = schulze(n, ballots);
        assertEquals(ours.beats, names.map((name) => theirs[name]));
        // Instant-runoff: the library eliminates every last-placed option each round and
        // ranks by elimination, so its first group is the winner (or the tie at the end).
        const irv = new InstantRunoff({ candidates: names, ballots: library }).ranking();
        assertEquals(
          instantRunoff(n, ballots).winners.map((i) => names[i]).sort(),
          [...irv[0]].sort(),
        );
      },
    ),
    { numRuns: 300 },
  );
});

const methodCase = fc.constantFrom<MethodSpec>(
  spec("poll", ["a", "b", "c"]),
  spec("score", ["a", "b", "c"], { maxScore: 3 }),
  spec("dot", ["a", "b", "c"], { points: 4 }),
  spec("ranked", ["a", "b", "c", "d"], { seats: 2 }),
  spec("meeting", ["a", "b", "c"]),
  spec("sense-check", []),
);

function ballotFor(s: MethodSpec): fc.Arbitrary<MethodBallot> {
  const n = s.options.length;
  switch (s.name) {
    case "sense-check":
      return fc.constantFrom("good", "unsure", "concerned");
    case "poll":
      return fc.integer({ min: 0, max: n - 1 });
    case "score":
      return fc.array(fc.integer({ min: 0, max: s.maxScore! }), { minLength: n, maxLength: n });
    case "dot":
      return fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n });
    case "ranked":
      return fc.shuffledSubarray([...Array(n).keys()], { minLength: 1 });
    case "meeting":
      return fc.array(fc.integer({ min: 0, max: 2 }), { minLength: n, maxLength: n });
  }
}

Deno.test("(property) every method's tally is the same whatever order voters and delegations come in", () => {
  fc.assert(
    fc.property(
      methodCase.chain((s) =>
        fc.tuple(
          fc.constant(s),
          fc.array(fc.option(ballotFor(s), { nil: undefined }), { minLength: 1, maxLength: 12 }),
          fc.array(fc.nat(11), { minLength: 12, maxLength: 12 }),
          fc.integer({ min: 0, max: 100 }),
          fc.nat(),
        )
      ),
      ([s, ballots, delegateTo, quorum, seed]) => {
        const voters = ballots.map((_, i) => `m${i}`);
        const votes = new Map<string, MethodBallot>();
        ballots.forEach((b, i) => b !== undefined && votes.set(voters[i], b));
        const delegations = new Map<string, string>();
        voters.forEach((v, i) => {
          const to = voters[delegateTo[i] % voters.length];
          if (to !== v) delegations.set(v, to);
        });
        for (const b of votes.values()) checkBallot(s, b);
        const shuffle = <T>(list: T[]) =>
          list.map((x, i) => [((seed + 1) * (i + 7919)) % 104729, x] as const)
            .sort((a, b) => a[0] - b[0]).map(([, x]) => x);
        const a = tallyMethod({ spec: s, eligible: voters, votes, delegations, quorum });
        const b = tallyMethod({
          spec: s,
          eligible: shuffle(voters),
          votes: new Map(shuffle([...votes])),
          delegations: new Map(shuffle([...delegations])),
          quorum,
        });
        assertEquals(a, b);
        assertEquals(a.cast <= voters.length, true);
        assertEquals(
          a.outcome,
          a.cast < Math.floor((voters.length * quorum) / 100) ? "NoQuorum" : "Closed",
        );
      },
    ),
    { numRuns: 300 },
  );
});
