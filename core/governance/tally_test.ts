import { type Choice, decide, tally } from "./tally.ts";

function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message} expected ${e}, got ${a}`);
}

const majority = { quorum: 50, approval: 50, mode: "majority" as const };
const consent = { quorum: 50, approval: 50, mode: "consent" as const };

function members(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `m${i}`);
}

function votes(entries: [string, Choice][]): Map<string, Choice> {
  return new Map(entries);
}

Deno.test("decide() treats cast exactly at required as quorate and one below as NoQuorum", () => {
  // 10 eligible × 50% → required 5.
  assertEquals(decide({ eligible: 10, cast: 5, for: 5, block: 0 }, majority).outcome, "Accepted");
  assertEquals(decide({ eligible: 10, cast: 4, for: 4, block: 0 }, majority).outcome, "NoQuorum");
  // 7 eligible × 67% = 4.69 → required 4.
  const upgrade = { quorum: 67, approval: 75, mode: "majority" as const };
  assertEquals(decide({ eligible: 7, cast: 4, for: 4, block: 0 }, upgrade).required, 4);
  assertEquals(decide({ eligible: 7, cast: 3, for: 3, block: 0 }, upgrade).outcome, "NoQuorum");
});

Deno.test("decide() accepts only when for is strictly above floor(cast × approval / 100)", () => {
  // cast 4 × 50% = 2: 2 for is a tie → Rejected, 3 → Accepted.
  assertEquals(decide({ eligible: 4, cast: 4, for: 2, block: 0 }, majority).outcome, "Rejected");
  assertEquals(decide({ eligible: 4, cast: 4, for: 3, block: 0 }, majority).outcome, "Accepted");
  // cast 3 × 67% = 2.01 → threshold 2: 2 for rejected, 3 accepted.
  const config = { quorum: 50, approval: 67, mode: "majority" as const };
  assertEquals(decide({ eligible: 3, cast: 3, for: 2, block: 0 }, config).threshold, 2);
  assertEquals(decide({ eligible: 3, cast: 3, for: 2, block: 0 }, config).outcome, "Rejected");
  assertEquals(decide({ eligible: 3, cast: 3, for: 3, block: 0 }, config).outcome, "Accepted");
  // cast 3 × 66% = 1.98 → threshold 1: 2 for accepted.
  const lower = { quorum: 50, approval: 66, mode: "majority" as const };
  assertEquals(decide({ eligible: 3, cast: 3, for: 2, block: 0 }, lower).outcome, "Accepted");
});

Deno.test("tally() counts abstentions towards quorum and against approval", () => {
  const result = tally({
    eligible: members(10),
    votes: votes([["m0", "for"], ["m1", "for"], ["m2", "abstain"], ["m3", "abstain"], [
      "m4",
      "against",
    ]]),
    delegations: new Map(),
    rules: majority,
  });
  // cast 5 ≥ required 5; threshold floor(5 × 0.5) = 2; for 2 is not > 2.
  assertEquals(
    [result.cast, result.required, result.threshold, result.for, result.abstain, result.outcome],
    [5, 5, 2, 2, 2, "Rejected"],
  );
});

Deno.test("tally() in consent mode rejects on any standing block and accepts without one", () => {
  const base: [string, Choice][] = [["m0", "for"], ["m1", "for"], ["m2", "for"], ["m3", "for"]];
  const withBlock = tally({
    eligible: members(5),
    votes: votes([...base, ["m4", "block"]]),
    delegations: new Map(),
    rules: consent,
  });
  assertEquals([withBlock.block, withBlock.outcome], [1, "Rejected"]);
  const without = tally({
    eligible: members(5),
    votes: votes([...base, ["m4", "against"]]),
    delegations: new Map(),
    rules: consent,
  });
  assertEquals(without.outcome, "Accepted");
});

Deno.test("tally() ignores votes of non-eligible voters", () => {
  const result = tally({
    eligible: members(4),
    votes: votes([["m0", "for"], ["x1", "for"], ["x2", "for"], ["x3", "for"]]),
    delegations: new Map(),
    rules: majority,
  });
  assertEquals([result.cast, result.outcome], [1, "NoQuorum"]);
});

Deno.test("tally() follows delegation chains of 1, 2 and 3 links", () => {
  for (let depth = 1; depth <= 3; depth++) {
    const chain = new Map<string, string>();
    for (let i = 0; i < depth; i++) chain.set(`m${i}`, `m${i + 1}`);
    const result = tally({
      eligible: members(10),
      votes: votes([[`m${depth}`, "for"]]),
      delegations: chain,
      rules: majority,
    });
    // m0 … m(depth-1) all reach m(depth)'s vote within 3 links.
    assertEquals([result.cast, result.for, result.delegated], [depth + 1, depth + 1, depth]);
  }
});

Deno.test("tally() ignores the 4th link of a 4-deep delegation chain", () => {
  const chain = new Map([["m0", "m1"], ["m1", "m2"], ["m2", "m3"], ["m3", "m4"]]);
  const ballots: { did: string }[] = [];
  const result = tally({
    eligible: members(10),
    votes: votes([["m4", "for"]]),
    delegations: chain,
    rules: majority,
  }, ballots as never);
  // m1, m2, m3 reach m4 in ≤ 3 links; m0 would need 4 and does not count.
  assertEquals(ballots.map((b) => b.did).sort(), ["m1", "m2", "m3", "m4"]);
  assertEquals(result.cast, 4);
});

Deno.test("tally() ends a delegation cycle without counting it", () => {
  const result = tally({
    eligible: members(4),
    votes: votes([["m3", "for"]]),
    delegations: new Map([["m0", "m1"], ["m1", "m2"], ["m2", "m0"]]),
    rules: majority,
  });
  assertEquals([result.cast, result.delegated], [1, 0]);
});

Deno.test("tally() lets a direct vote override the delegated one", () => {
  const ballots: { did: string; choice: Choice; via?: string }[] = [];
  const result = tally({
    eligible: members(3),
    votes: votes([["m1", "for"], ["m0", "against"]]),
    delegations: new Map([["m0", "m1"], ["m2", "m1"]]),
    rules: majority,
  }, ballots);
  assertEquals([result.for, result.against, result.delegated], [2, 1, 1]);
  assertEquals(ballots.find((b) => b.did === "m0"), { did: "m0", choice: "against" });
});

Deno.test("tally() does not pass votes through a delegate who is not eligible", () => {
  const result = tally({
    eligible: ["m0", "m2"],
    votes: votes([["m2", "for"]]),
    delegations: new Map([["m0", "x"], ["x", "m2"]]),
    rules: majority,
  });
  assertEquals(result.cast, 1);
});
