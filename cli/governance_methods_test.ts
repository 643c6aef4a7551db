import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert";
import { countBallots } from "../core/governance/methods/mod.ts";
import type { ProposalRecord } from "../core/governance/view.ts";
import {
  type BallotOptions,
  buildMethodSpec,
  describeBallot,
  describeResult,
  optionIndex,
  readBallot,
} from "./governance_methods.ts";

const none: BallotOptions = { score: [], points: [], rank: [], can: [], ifNeedBe: [] };
const record = (method?: ProposalRecord["method"], mode: "majority" | "consent" = "majority") =>
  ({
    method,
    rules: { quorum: 50, approval: 50, votingPeriod: 1, timelock: 0, mode },
  }) as unknown as ProposalRecord;

Deno.test("buildMethodSpec() fills defaults and refuses options that belong to another method", () => {
  assertEquals(buildMethodSpec({ option: [] }), undefined);
  assertEquals(buildMethodSpec({ method: "dot", option: ["a", "b"] }), {
    name: "dot",
    options: ["a", "b"],
    points: 10,
  });
  assertEquals(buildMethodSpec({ method: "score", option: ["a", "b"] })?.maxScore, 5);
  assertEquals(buildMethodSpec({ method: "ranked", option: ["a", "b", "c"] })?.seats, 1);
  assertThrows(() => buildMethodSpec({ option: ["a"] }), /--option needs a --method/);
  assertThrows(
    () => buildMethodSpec({ method: "poll", option: ["a", "b"], points: 3 }),
    /--points applies to dot/,
  );
  assertThrows(() => buildMethodSpec({ method: "sense-check", option: ["a"] }), /has no --option/);
  assertThrows(() => buildMethodSpec({ method: "poll", option: ["a"] }), /2 to 20 options/);
});

Deno.test("optionIndex() takes the exact text, a unique case-insensitive match or the number", () => {
  const spec = { name: "poll" as const, options: ["Tea", "tea party", "2"] };
  assertEquals(optionIndex(spec, "Tea"), 0);
  assertEquals(optionIndex(spec, "TEA PARTY"), 1);
  assertEquals(optionIndex(spec, "2"), 2); // the option whose text is "2" wins over number 2
  assertEquals(optionIndex(spec, "#1"), 0);
  assertThrows(() => optionIndex(spec, "4"), /No option "4"/);
});

Deno.test("readBallot() builds each method's ballot from vote options and refuses what does not fit", () => {
  assertEquals(readBallot(record(), { ...none, choice: "for" }), "for");
  assertThrows(() => readBallot(record(), { ...none, choice: "block" }), /not consent/);
  assertEquals(readBallot(record(undefined, "consent"), { ...none, choice: "block" }), "block");
  assertThrows(
    () => readBallot(record(), { ...none, choice: "for", rank: ["a"] }),
    /does not take --rank/,
  );
  const score = record({ name: "score", options: ["a", "b", "c"], maxScore: 5 });
  assertEquals(readBallot(score, { ...none, score: ["b=4"] }), [0, 4, 0]);
  assertThrows(() => readBallot(score, { ...none, score: ["b=4", "B=1"] }), /given twice/);
  assertThrows(() => readBallot(score, { ...none, score: ["b"] }), /use OPTION=N/);
  const ranked = record({ name: "ranked", options: ["a", "b,c", "d"], seats: 1 });
  assertEquals(readBallot(ranked, { ...none, rank: ["d,a"] }), [2, 0]);
  assertEquals(readBallot(ranked, { ...none, rank: ["b,c", "a"] }), [1, 0]);
  const meeting = record({ name: "meeting", options: ["mon", "tue"] });
  assertEquals(readBallot(meeting, { ...none, can: ["tue"], ifNeedBe: ["mon"] }), [1, 2]);
  assertThrows(
    () => readBallot(meeting, { ...none, can: ["tue"], ifNeedBe: ["tue"] }),
    /given twice/,
  );
  const sense = record({ name: "sense-check", options: [] });
  assertThrows(() => readBallot(sense, { ...none, choice: "yes" }), /good, unsure, concerned/);
});

Deno.test("describeBallot() and describeResult() say ballots and results in words", () => {
  const spec = { name: "ranked" as const, options: ["Ann", "Bo", "Cy"], seats: 1 };
  assertEquals(describeBallot(spec, [2, 0]), "Cy > Ann");
  const result = countBallots(spec, [[1, 0], [2, 1, 0]]);
  const lines = describeResult(spec, result, true);
  assertEquals(lines[0], "  result:    tie for 1 seat(s) between Bo, Cy (Schulze, 1 seat(s))");
  assertEquals(lines.includes("    round 1: Ann 0, Bo 1, Cy 1; exhausted 0; eliminated Ann"), true);
  const poll = { name: "poll" as const, options: ["x", "y"] };
  assertEquals(
    describeResult(poll, countBallots(poll, []), false)[0],
    "  result:    none (no ballots)",
  );
});
