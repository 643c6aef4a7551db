/**
 * Decision methods beyond for/against (Loomio's set): what a proposal of each
 * method carries (`MethodSpec`), the shape of its ballots, and the limits on
 * both. Each method's rule lives in its own file; `mod.ts` dispatches.
 */
import { InvalidInputError, shown } from "../../errors.ts";

/**
 * `proposal` is the engine's for/against/abstain/block vote (no `method` field
 * in the envelope, so every proposal made before methods existed is one).
 */
export const methodNames = [
  "proposal",
  "sense-check",
  "poll",
  "score",
  "dot",
  "ranked",
  "meeting",
] as const;
export type MethodName = typeof methodNames[number];
/** Methods that carry a `method` spec in the proposal body. */
export type OptionMethodName = Exclude<MethodName, "proposal">;

/** Options of one poll: more makes ranked ballots long and Schulze's n³ slow for nothing. */
export const optionsMax = 20;
export const optionLengthMax = 200;
/** Highest `--max-score`: a 0–100 scale is the widest anyone rates on. */
export const maxScoreMax = 100;
export const pointsMax = 1000;
export const maxScoreDefault = 5;
export const pointsDefault = 10;

/** The answers of a sense check (Loomio's "looks good", "not sure", "concerned"). */
export const senseChoices = ["good", "unsure", "concerned"] as const;
export type SenseChoice = typeof senseChoices[number];

/** Meeting-poll answer per option: 0 cannot, 1 if need be, 2 can. */
export const meetingAnswers = { cannot: 0, ifNeedBe: 1, can: 2 } as const;

/** What a proposal of a method other than `proposal` carries (`body.method`). */
export interface MethodSpec {
  name: OptionMethodName;
  /** The options voted on, in the order shown; ballots refer to them by index. Empty for sense-check. */
  options: string[];
  /** score: highest score (lowest is 0). */
  maxScore?: number;
  /** dot: points each voter may allocate. */
  points?: number;
  /** ranked: how many options win (Schulze's order; instant-runoff decides one seat). */
  seats?: number;
}

/**
 * A ballot, by method: sense-check one of `senseChoices`; poll an option
 * index; score one score per option; dot points per option; ranked option
 * indexes, most preferred first, each at most once (unranked options come
 * after every ranked one); meeting one answer (0, 1, 2) per option.
 */
export type MethodBallot = string | number | number[];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

function fail(message: string): never {
  throw new InvalidInputError(message);
}

function wholeIn(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** Fields each method's spec has beyond name and options. */
const extraFields: Record<OptionMethodName, readonly string[]> = {
  "sense-check": [],
  poll: [],
  score: ["maxScore"],
  dot: ["points"],
  ranked: ["seats"],
  meeting: [],
};

/** Checks a proposal's `method` field; returns it typed. Throws InvalidInputError. */
export function checkMethodSpec(value: unknown): MethodSpec {
  if (!isObject(value)) fail("Proposal method must be a map");
  const name = value.name;
  if (
    typeof name !== "string" || name === "proposal" || !methodNames.includes(name as MethodName)
  ) {
    fail(`Unknown method "${shown(name)}" (${methodNames.slice(1).join(", ")})`);
  }
  const method = name as OptionMethodName;
  const allowed = ["name", "options", ...extraFields[method]];
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`A ${method} proposal has no "${key}"`);
  }
  for (const key of allowed) {
    if (!(key in value)) fail(`A ${method} proposal needs "${key}"`);
  }
  const options = value.options;
  if (!Array.isArray(options)) fail("Proposal options must be a list");
  if (method === "sense-check") {
    if (options.length !== 0) fail("A sense check has no options: its answers are fixed");
  } else {
    const min = method === "meeting" ? 1 : 2;
    if (options.length < min || options.length > optionsMax) {
      fail(`A ${method} proposal needs ${min} to ${optionsMax} options, not ${options.length}`);
    }
    const seen = new Set<string>();
    for (const [i, option] of options.entries()) {
      if (typeof option !== "string" || option.trim() === "") {
        fail(`Option ${i + 1} must be non-empty text`);
      }
      if (option.length > optionLengthMax) {
        fail(`Option ${i + 1} has ${option.length} characters, at most ${optionLengthMax}`);
      }
      if (seen.has(option)) fail(`Option "${option}" is listed twice`);
      seen.add(option);
    }
  }
  const spec: MethodSpec = { name: method, options: options as string[] };
  if (method === "score") {
    if (!wholeIn(value.maxScore, 1, maxScoreMax)) {
      fail(
        `Highest score must be a whole number from 1 to ${maxScoreMax}, not ${
          shown(value.maxScore)
        }`,
      );
    }
    spec.maxScore = value.maxScore;
  }
  if (method === "dot") {
    if (!wholeIn(value.points, 1, pointsMax)) {
      fail(
        `Points per voter must be a whole number from 1 to ${pointsMax}, not ${
          shown(value.points)
        }`,
      );
    }
    spec.points = value.points;
  }
  if (method === "ranked") {
    if (!wholeIn(value.seats, 1, options.length - 1)) {
      fail(
        `Seats must be a whole number from 1 to ${
          options.length - 1
        } (fewer than the options), not ${shown(value.seats)}`,
      );
    }
    spec.seats = value.seats;
  }
  return spec;
}

/** The option a ballot names, for messages: `"Tuesday" (2)`. */
function optionName(spec: MethodSpec, index: number): string {
  return `"${spec.options[index]}" (${index + 1})`;
}

function perOption(spec: MethodSpec, ballot: unknown, what: string): number[] {
  if (!Array.isArray(ballot) || ballot.length !== spec.options.length) {
    fail(`A ${spec.name} ballot needs ${what} for each of the ${spec.options.length} options`);
  }
  return ballot as number[];
}

/**
 * Checks one ballot against its proposal's method: the one rule every node
 * and the CLI apply, so a ballot that does not fit is refused before it is
 * signed and by every node after. Throws InvalidInputError.
 */
export function checkBallot(spec: MethodSpec, ballot: unknown): MethodBallot {
  switch (spec.name) {
    case "sense-check":
      if (!(senseChoices as readonly unknown[]).includes(ballot)) {
        fail(`Unknown sense-check answer "${shown(ballot)}": use ${senseChoices.join(", ")}`);
      }
      return ballot as string;
    case "poll":
      if (!wholeIn(ballot, 0, spec.options.length - 1)) {
        fail(`A poll ballot names one of the ${spec.options.length} options`);
      }
      return ballot;
    case "score": {
      const scores = perOption(spec, ballot, "a score");
      for (const [i, score] of scores.entries()) {
        if (!wholeIn(score, 0, spec.maxScore!)) {
          fail(
            `Score ${shown(score)} for ${
              optionName(spec, i)
            } is out of range: 0 to ${spec.maxScore}`,
          );
        }
      }
      return scores;
    }
    case "dot": {
      const points = perOption(spec, ballot, "points");
      let total = 0;
      for (const [i, n] of points.entries()) {
        if (!wholeIn(n, 0, spec.points!)) {
          fail(`Points ${shown(n)} for ${optionName(spec, i)} must be a whole number from 0`);
        }
        total += n;
      }
      if (total > spec.points!) {
        fail(`This ballot allocates ${total} points, more than the ${spec.points} allowed`);
      }
      return points;
    }
    case "ranked": {
      if (!Array.isArray(ballot) || ballot.length === 0 || ballot.length > spec.options.length) {
        fail(`A ranked ballot lists 1 to ${spec.options.length} options, most preferred first`);
      }
      const seen = new Set<number>();
      for (const index of ballot) {
        if (!wholeIn(index, 0, spec.options.length - 1)) {
          fail(`Ranked option ${shown(index)} is not one of the ${spec.options.length} options`);
        }
        if (seen.has(index)) fail(`Option ${optionName(spec, index)} is ranked twice`);
        seen.add(index);
      }
      return ballot as number[];
    }
    case "meeting": {
      const answers = perOption(spec, ballot, "an answer (0 cannot, 1 if need be, 2 can)");
      for (const [i, answer] of answers.entries()) {
        if (!wholeIn(answer, 0, 2)) {
          fail(`Answer ${shown(answer)} for ${optionName(spec, i)} must be 0, 1 or 2`);
        }
      }
      return answers;
    }
  }
}
