/**
 * The CLI side of decision methods and secret ballots: building a method's
 * spec from `propose` options, reading a ballot from `vote` options, keeping
 * a secret ballot's salt in the data dir until `reveal`, and describing a
 * method's result for `show`.
 */
import { utf8Decode, utf8Encode } from "../core/bytes.ts";
import { InvalidInputError, NotFoundError } from "../core/errors.ts";
import {
  checkBallot,
  checkMethodSpec,
  maxScoreDefault,
  type MethodBallot,
  type MethodName,
  type MethodResult,
  type MethodSpec,
  pointsDefault,
  type RankedResult,
  senseChoices,
} from "../core/governance/methods/mod.ts";
import {
  ballotCommitment,
  type BallotOpening,
  saltBytes,
  saltFrom,
} from "../core/governance/secret.ts";
import { type Choice, choices } from "../core/governance/tally.ts";
import type { ProposalRecord } from "../core/governance/view.ts";
import { terminalSafe } from "../core/safe_text.ts";
import type { CliContext } from "./context.ts";
import { systemRng } from "./context.ts";
import { writeFileAtomic } from "./files.ts";

export interface MethodOptions {
  method?: MethodName;
  option: string[];
  points?: number;
  maxScore?: number;
  seats?: number;
}

/** The `method` field of a proposal body, or undefined for the for/against `proposal` method. */
export function buildMethodSpec(options: MethodOptions): MethodSpec | undefined {
  const method = options.method ?? "proposal";
  const misplaced = (flag: string, only: string) => {
    throw new InvalidInputError(`Option ${flag} applies to ${only} proposals only, not ${method}`);
  };
  if (options.points !== undefined && method !== "dot") misplaced("--points", "dot");
  if (options.maxScore !== undefined && method !== "score") misplaced("--max-score", "score");
  if (options.seats !== undefined && method !== "ranked") misplaced("--seats", "ranked");
  if (method === "proposal" || method === "sense-check") {
    if (options.option.length > 0) {
      throw new InvalidInputError(
        method === "proposal"
          ? "Option --option needs a --method (poll, score, dot, ranked or meeting)"
          : "A sense check has no --option: its answers are good, unsure and concerned",
      );
    }
    if (method === "proposal") return undefined;
  }
  const spec: Record<string, unknown> = { name: method, options: options.option };
  if (method === "score") spec.maxScore = options.maxScore ?? maxScoreDefault;
  if (method === "dot") spec.points = options.points ?? pointsDefault;
  if (method === "ranked") spec.seats = options.seats ?? 1;
  return checkMethodSpec(spec);
}

export interface BallotOptions {
  choice?: string;
  score: string[];
  points: string[];
  rank: string[];
  can: string[];
  ifNeedBe: string[];
}

/**
 * An option named on the command line: its exact text, a unique
 * case-insensitive match, or its number (1 = the first option).
 */
export function optionIndex(spec: MethodSpec, text: string): number {
  const exact = spec.options.indexOf(text);
  if (exact >= 0) return exact;
  const lower = text.toLowerCase();
  const folded = spec.options.flatMap((o, i) => (o.toLowerCase() === lower ? [i] : []));
  if (folded.length === 1) return folded[0];
  if (/^#?\d{1,3}$/.test(text)) {
    const n = Number(text.replace("#", ""));
    if (n >= 1 && n <= spec.options.length) return n - 1;
  }
  throw new InvalidInputError(
    `No option "${text}": use its text or number (${
      spec.options.map((o, i) => `${i + 1} ${terminalSafe(o)}`).join(", ")
    })`,
  );
}

function assignments(spec: MethodSpec, values: string[], flag: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const value of values) {
    const eq = value.lastIndexOf("=");
    const number = value.slice(eq + 1);
    if (eq <= 0 || !/^\d{1,6}$/.test(number)) {
      throw new InvalidInputError(`Cannot read ${flag} "${value}": use OPTION=N`);
    }
    const index = optionIndex(spec, value.slice(0, eq));
    if (out.has(index)) {
      throw new InvalidInputError(`Option "${spec.options[index]}" is given twice with ${flag}`);
    }
    out.set(index, Number(number));
  }
  return out;
}

function onlyFlags(method: string, options: BallotOptions, allowed: (keyof BallotOptions)[]) {
  const flags: Record<keyof BallotOptions, string> = {
    choice: "a choice",
    score: "--score",
    points: "--points",
    rank: "--rank",
    can: "--can",
    ifNeedBe: "--if-need-be",
  };
  for (const key of Object.keys(flags) as (keyof BallotOptions)[]) {
    const value = options[key];
    const given = Array.isArray(value) ? value.length > 0 : value !== undefined;
    if (given && !allowed.includes(key)) {
      throw new InvalidInputError(`A ${method} ballot does not take ${flags[key]}`);
    }
  }
}

/**
 * The ballot `vote` options describe, checked by the method's own rule:
 * `CHOICE` for proposal, sense-check and poll; `--score OPT=N` (options left
 * out score 0); `--points OPT=N` (left out: 0); `--rank OPT` in order
 * (repeatable, or one comma-separated list); `--can OPT` / `--if-need-be OPT`
 * (times left out: cannot).
 */
export function readBallot(record: ProposalRecord, options: BallotOptions): Choice | MethodBallot {
  const spec = record.method;
  if (!spec) {
    onlyFlags("for/against", options, ["choice"]);
    const choice = options.choice;
    if (choice === undefined || !(choices as readonly string[]).includes(choice)) {
      throw new InvalidInputError(
        `Unknown vote "${choice ?? ""}": use for, against, abstain${
          record.rules.mode === "consent" ? " or block" : " (block in consent mode)"
        }`,
      );
    }
    if (choice === "block" && record.rules.mode !== "consent") {
      throw new InvalidInputError(
        "Cannot block: this proposal is decided by majority, not consent",
      );
    }
    return choice as Choice;
  }
  const n = spec.options.length;
  let ballot: unknown;
  switch (spec.name) {
    case "sense-check":
      onlyFlags(spec.name, options, ["choice"]);
      if (options.choice === undefined) {
        throw new InvalidInputError(`A sense check needs an answer: ${senseChoices.join(", ")}`);
      }
      ballot = options.choice;
      break;
    case "poll":
      onlyFlags(spec.name, options, ["choice"]);
      if (options.choice === undefined) {
        throw new InvalidInputError("A poll needs a choice: an option's text or number");
      }
      ballot = optionIndex(spec, options.choice);
      break;
    case "score":
    case "dot": {
      const flag = spec.name === "score" ? "score" : "points";
      onlyFlags(spec.name, options, [flag]);
      if (options[flag].length === 0) {
        throw new InvalidInputError(`A ${spec.name} ballot needs --${flag} OPTION=N (repeatable)`);
      }
      const given = assignments(spec, options[flag], `--${flag}`);
      ballot = Array.from({ length: n }, (_, i) => given.get(i) ?? 0);
      break;
    }
    case "ranked": {
      onlyFlags(spec.name, options, ["rank"]);
      const names = options.rank.flatMap((r) =>
        spec.options.includes(r) ? [r] : r.split(",").map((s) => s.trim()).filter((s) => s !== "")
      );
      if (names.length === 0) {
        throw new InvalidInputError("A ranked ballot needs --rank A,B,C (most preferred first)");
      }
      ballot = names.map((name) => optionIndex(spec, name));
      break;
    }
    case "meeting": {
      onlyFlags(spec.name, options, ["can", "ifNeedBe"]);
      if (options.can.length + options.ifNeedBe.length === 0) {
        throw new InvalidInputError("A meeting ballot needs --can TIME or --if-need-be TIME");
      }
      const answers = new Array<number>(n).fill(0);
      for (const [list, answer] of [[options.can, 2], [options.ifNeedBe, 1]] as const) {
        for (const name of list) {
          const i = optionIndex(spec, name);
          if (answers[i] !== 0) {
            throw new InvalidInputError(`Time "${spec.options[i]}" is given twice`);
          }
          answers[i] = answer;
        }
      }
      ballot = answers;
      break;
    }
  }
  return checkBallot(spec, ballot);
}

/** One ballot in words, for `show` and `reveal`. */
export function describeBallot(spec: MethodSpec | undefined, ballot: unknown): string {
  if (!spec) return String(ballot);
  const name = (i: number) => terminalSafe(spec.options[i]);
  switch (spec.name) {
    case "sense-check":
      return String(ballot);
    case "poll":
      return name(ballot as number);
    case "score":
    case "dot":
      return (ballot as number[]).flatMap((v, i) => (v > 0 ? [`${name(i)}=${v}`] : [])).join(
        ", ",
      ) ||
        "nothing";
    case "ranked":
      return (ballot as number[]).map(name).join(" > ");
    case "meeting":
      return (ballot as number[]).flatMap((v, i) =>
        v === 2 ? [name(i)] : v === 1 ? [`${name(i)} (if need be)`] : []
      ).join(", ") || "none";
  }
}

/** Where a secret ballot's opening waits for `reveal`: one file per commitment. */
function openingDir(ctx: CliContext, proposal: string): string {
  return ctx.path(`ballots/${proposal}`);
}

interface StoredOpening extends BallotOpening {
  proposal: string;
  voter: string;
  commitment: string;
}

/** Commits to `ballot` and keeps its opening (0600) before the vote is signed. */
export async function commitBallot(
  ctx: CliContext,
  context: { proposal: string; voter: string },
  ballot: unknown,
): Promise<string> {
  const salt = saltFrom(systemRng.bytes(saltBytes));
  const commitment = ballotCommitment(context, { ballot, salt });
  const dir = openingDir(ctx, context.proposal);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const stored: StoredOpening = { ...context, commitment, ballot, salt };
  await writeFileAtomic(`${dir}/${commitment}.json`, utf8Encode(JSON.stringify(stored) + "\n"));
  return commitment;
}

/** The kept opening of `commitment`, or a clear error when this data dir never made it. */
export async function readOpening(
  ctx: CliContext,
  proposal: string,
  commitment: string,
): Promise<StoredOpening> {
  const path = `${openingDir(ctx, proposal)}/${commitment}.json`;
  let text: string;
  try {
    text = utf8Decode(await Deno.readFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Cannot reveal: this data dir does not hold the ballot of your vote (${path} is missing); reveal from the data dir that voted`,
      );
    }
    throw error;
  }
  const stored = JSON.parse(text) as StoredOpening;
  if (stored.commitment !== commitment) {
    throw new InvalidInputError(`Cannot reveal: ${path} holds another commitment`);
  }
  return stored;
}

function pct(n: number, of: number): string {
  return of === 0 ? "0%" : `${Math.round((n * 1000) / of) / 10}%`;
}

function rankedOutcome(result: RankedResult, name: (i: number) => string): string {
  const parts: string[] = [];
  if (result.elected.length > 0) parts.push(result.elected.map(name).join(", "));
  if (result.tiedForLastSeat.length > 0) {
    parts.push(
      `tie for ${result.seats - result.elected.length} seat(s) between ${
        result.tiedForLastSeat.map(name).join(", ")
      }`,
    );
  }
  return parts.join("; ") || "none (no ballots)";
}

/** A method's result in lines; `explain` adds instant-runoff rounds and Schulze's pairwise table. */
export function describeResult(spec: MethodSpec, result: MethodResult, explain: boolean): string[] {
  const name = (i: number) => terminalSafe(spec.options[i]);
  const winners = (list: number[], none = "none (no ballots)") =>
    list.length === 0
      ? none
      : list.length === 1
      ? name(list[0])
      : `tie between ${list.map(name).join(", ")}`;
  switch (result.method) {
    case "sense-check": {
      const total = Object.values(result.counts).reduce((a, b) => a + b, 0);
      return [
        `  answers:   ${
          senseChoices.map((c) => `${c} ${result.counts[c]} (${pct(result.counts[c], total)})`)
            .join(", ")
        } — a sense check decides nothing`,
      ];
    }
    case "poll": {
      const total = result.votes.reduce((a, b) => a + b, 0);
      return [
        `  result:    ${winners(result.winners)}`,
        ...result.votes.map((v, i) =>
          `    ${String(v).padStart(6)}  ${pct(v, total).padStart(6)}  ${name(i)}`
        ),
      ];
    }
    case "score":
      return [
        `  result:    ${winners(result.winners)} (highest mean, 0 to ${spec.maxScore})`,
        ...result.means.map((m, i) =>
          `    mean ${m.toFixed(2).padStart(6)}  total ${String(result.totals[i]).padStart(6)}  ${
            name(i)
          }  [${result.distribution[i].join(" ")}]`
        ),
      ];
    case "dot":
      return [
        `  result:    ${winners(result.winners)} (${spec.points} points per voter)`,
        ...result.points.map((p, i) =>
          `    ${String(p).padStart(6)} points from ${result.supporters[i]} voter(s)  ${name(i)}`
        ),
      ];
    case "meeting":
      return [
        `  result:    ${winners(result.winners)} (most can attend, then fewest "if need be")`,
        ...result.can.map((c, i) =>
          `    can ${String(c).padStart(4)}  if need be ${
            String(result.ifNeedBe[i]).padStart(4)
          }  ${name(i)}`
        ),
      ];
    case "ranked": {
      const lines = [
        `  result:    ${rankedOutcome(result, name)} (Schulze, ${result.seats} seat(s))`,
        `  instant-runoff: ${winners(result.instantRunoff.winners)}`,
        `  Schulze winners: ${winners(result.schulze.winners)}; order: ${
          result.schulze.ranking.map((g) => g.map(name).join(" = ")).join(" > ") || "none"
        }`,
      ];
      if (explain) {
        lines.push("  instant-runoff rounds:");
        for (const [r, round] of result.instantRunoff.rounds.entries()) {
          lines.push(
            `    round ${r + 1}: ${
              round.counts.flatMap((c, i) => (c === null ? [] : [`${name(i)} ${c}`])).join(", ")
            }; exhausted ${round.exhausted}${
              round.eliminated.length > 0
                ? `; eliminated ${round.eliminated.map(name).join(", ")}`
                : ""
            }`,
          );
        }
        lines.push("  Schulze pairwise (row preferred to column by N ballots; strongest path):");
        for (let i = 0; i < spec.options.length; i++) {
          lines.push(
            `    ${String(i + 1).padStart(2)} ${name(i)}: ${
              result.schulze.pairwise[i].map((d, j) =>
                i === j ? "-" : `${d}/${result.schulze.strongest[i][j]}`
              ).join(" ")
            }`,
          );
        }
      }
      return lines;
    }
  }
}
