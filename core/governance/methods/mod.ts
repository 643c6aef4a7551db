/**
 * Decision methods: one rule per method (its own file), dispatched here, and
 * the tally every method shares: ballots resolved by the engine's delegation
 * rule, quorum as for the `proposal` method, then the method's count. Pure and
 * deterministic in its inputs, so every node that holds the same envelopes
 * derives the same result whatever order they arrived in.
 *
 * @example
 * ```ts
 * import { tallyMethod } from "./mod.ts";
 * const t = tallyMethod({
 *   spec: { name: "poll", options: ["Tea", "Coffee"] },
 *   eligible: new Set(["a", "b", "c"]),
 *   votes: new Map([["a", 1], ["b", 1]]),
 *   delegations: new Map(),
 *   quorum: 50,
 * });
 * if (t.outcome !== "Closed" || t.result.method !== "poll") throw new Error("unexpected");
 * ```
 */
import { resolveBallot, type Resolved } from "../tally.ts";
import { countDot, type DotResult } from "./dot.ts";
import { countMeeting, type MeetingResult } from "./meeting.ts";
import { countPoll, type PollResult } from "./poll.ts";
import { countRanked, type RankedResult } from "./ranked.ts";
import { countScore, type ScoreResult } from "./score.ts";
import { countSenseCheck, type SenseCheckResult } from "./sense_check.ts";
import type { MethodBallot, MethodSpec } from "./spec.ts";

export * from "./spec.ts";
export type { DotResult, MeetingResult, PollResult, RankedResult, ScoreResult, SenseCheckResult };
export type { RunoffRound } from "./ranked.ts";
export { instantRunoff, schulze } from "./ranked.ts";

export type MethodResult =
  | SenseCheckResult
  | PollResult
  | ScoreResult
  | DotResult
  | RankedResult
  | MeetingResult;

/** Counts already checked ballots (`checkBallot`) with the method's rule. */
export function countBallots(spec: MethodSpec, ballots: readonly MethodBallot[]): MethodResult {
  const n = spec.options.length;
  switch (spec.name) {
    case "sense-check":
      return countSenseCheck(ballots as string[]);
    case "poll":
      return countPoll(n, ballots as number[]);
    case "score":
      return countScore(n, spec.maxScore!, ballots as number[][]);
    case "dot":
      return countDot(n, ballots as number[][]);
    case "ranked":
      return countRanked(n, spec.seats!, ballots as number[][]);
    case "meeting":
      return countMeeting(n, ballots as number[][]);
  }
}

/**
 * A method's proposal closes with a result, not a yes or no: `Closed` when
 * quorum was reached, `NoQuorum` otherwise (the counts are still shown).
 */
export type MethodOutcome = "Closed" | "NoQuorum";

export interface MethodTallyInput {
  spec: MethodSpec;
  /** Members eligible when the proposal opened. */
  eligible: Iterable<string>;
  /** Latest counted ballot of each voter (checked); ballots of non-eligible voters are ignored. */
  votes: ReadonlyMap<string, MethodBallot>;
  /** Delegator → delegate, resolved for this proposal. */
  delegations: ReadonlyMap<string, string>;
  /** % of eligible members who must take part. */
  quorum: number;
}

export interface MethodTally {
  method: MethodSpec["name"];
  eligible: number;
  required: number;
  cast: number;
  delegated: number;
  outcome: MethodOutcome;
  result: MethodResult;
}

/** Tallies one method proposal; with `resolved` it also collects every member's ballot. */
export function tallyMethod(
  input: MethodTallyInput,
  resolved?: Resolved<MethodBallot>[],
): MethodTally {
  const eligible = input.eligible instanceof Set
    ? input.eligible as ReadonlySet<string>
    : new Set(input.eligible);
  const ballots: MethodBallot[] = [];
  let delegated = 0;
  for (const did of eligible) {
    const ballot = resolveBallot(did, eligible, input.votes, input.delegations);
    if (!ballot) continue;
    ballots.push(ballot.ballot);
    if (ballot.via !== undefined) delegated++;
    resolved?.push(ballot);
  }
  const required = Math.floor((eligible.size * input.quorum) / 100);
  return {
    method: input.spec.name,
    eligible: eligible.size,
    required,
    cast: ballots.length,
    delegated,
    outcome: ballots.length < required ? "NoQuorum" : "Closed",
    result: countBallots(input.spec, ballots),
  };
}
