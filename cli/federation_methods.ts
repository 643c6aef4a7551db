/**
 * The CLI side of decision methods and secret ballots in a federation: the
 * same options, ballot reading, commitments and result wording as a
 * cooperative's (`cli/governance_methods.ts`), with the cooperative as the
 * voter. A secret ballot's opening is kept in the voting delegate's data dir
 * (`ballots/<proposal>/<commitment>.json`) until `icn federation reveal`.
 */
import { InvalidInputError } from "../core/errors.ts";
import type { FederationProposalKind } from "../core/federation/params.ts";
import type { FederationProposalRecord, FederationTally } from "../core/federation/view.ts";
import type { MethodBallot, MethodName, MethodSpec } from "../core/governance/methods/mod.ts";
import type { Choice } from "../core/governance/tally.ts";
import type { ProposalRecord } from "../core/governance/view.ts";
import { terminalSafe } from "../core/safe_text.ts";
import type { CliContext } from "./context.ts";
import {
  type BallotOptions,
  buildMethodSpec,
  commitBallot,
  describeBallot,
  describeResult,
} from "./governance_methods.ts";

/** `federation propose`'s method options. */
export interface FederationMethodOptions {
  method?: MethodName;
  option: string[];
  points?: number;
  maxScore?: number;
  seats?: number;
  secret?: boolean;
}

/** The `method` and `secret` fields of a federation proposal body, checked before anything opens. */
export function proposalExtras(
  kind: FederationProposalKind,
  options: FederationMethodOptions,
): { method?: MethodSpec; secret?: true } {
  const method = buildMethodSpec(options);
  if (method && kind !== "text") {
    throw new InvalidInputError(
      `A federation ${kind} proposal is decided for or against: --method ${method.name} is for text proposals`,
    );
  }
  if (options.secret && kind === "clearing") {
    throw new InvalidInputError("A clearing agreement is voted openly by its two cooperatives");
  }
  return { ...(method ? { method } : {}), ...(options.secret ? { secret: true as const } : {}) };
}

/** How to vote on `record`, for `propose`'s hint. */
export function voteHint(record: Pick<FederationProposalRecord, "method" | "rules">): string {
  switch (record.method?.name) {
    case undefined:
      return `for|against|abstain${record.rules.mode === "consent" ? "|block" : ""}`;
    case "sense-check":
      return "good|unsure|concerned";
    case "poll":
      return "OPTION";
    case "score":
      return "--score OPTION=N ...";
    case "dot":
      return "--points OPTION=N ...";
    case "ranked":
      return "--rank A,B,C";
    case "meeting":
      return "--can TIME ... [--if-need-be TIME ...]";
  }
}

/** `federation vote`'s ballot options (as `governance vote`'s). */
export interface FederationBallotOptions extends Omit<BallotOptions, "choice"> {
  choice?: string;
  reason?: string;
}

/**
 * The vote body for `coop` on `record`: a choice, a method ballot, or (secret)
 * a commitment whose opening is kept in this data dir. The ballot is checked
 * by the method's own rule before anything is signed.
 */
export async function voteContent(
  ctx: CliContext,
  record: FederationProposalRecord,
  coop: string,
  positional: string | undefined,
  options: FederationBallotOptions,
): Promise<{ body: Record<string, unknown>; ballot: Choice | MethodBallot; shown: string }> {
  if (positional !== undefined && options.choice !== undefined) {
    throw new InvalidInputError(
      `Give the choice once: "${positional}" or --choice "${options.choice}"`,
    );
  }
  const { readBallot } = await import("./governance_methods.ts");
  // readBallot reads only the method and the mode of the proposal it is given.
  const ballot = readBallot(
    { method: record.method, rules: record.rules } as ProposalRecord,
    { ...options, choice: positional ?? options.choice },
  );
  const body: Record<string, unknown> = { proposal: record.id, coop };
  if (record.secret) {
    if (options.reason !== undefined) {
      throw new InvalidInputError("A secret ballot takes no --reason: it would tell your choice");
    }
    body.commitment = await commitBallot(ctx, { proposal: record.id, voter: coop }, ballot);
  } else if (record.method) body.ballot = ballot;
  else body.choice = ballot;
  if (options.reason !== undefined) body.reason = options.reason;
  return { body, ballot, shown: describeBallot(record.method, ballot) };
}

/**
 * `show`'s lines for a method or secret proposal: the method's result (hidden
 * until a secret proposal's reveal window ends), each cooperative's counted
 * ballot, and who has not revealed.
 */
export function methodLines(
  record: FederationProposalRecord,
  t: FederationTally,
  options: {
    explain: boolean;
    hidden: boolean;
    name: (net: string) => string;
    /** The end of the reveal window (`view.timing()`: after a late quorum's extension). */
    revealEnds: number;
  },
): string[] {
  const lines: string[] = [];
  if (record.method) {
    lines.push(
      `  method:    ${record.method.name}${
        record.method.options.length > 0
          ? ` (${record.method.options.map((o, i) => `${i + 1} ${terminalSafe(o)}`).join(", ")})`
          : ""
      }; each cooperative counts once`,
    );
  }
  if (record.secret) {
    lines.push(
      `  secret:    ballots are commitments; revealed after the close until ${
        new Date(options.revealEnds).toISOString()
      }`,
    );
  }
  if (options.hidden) {
    lines.push("  result:    hidden until the reveal window ends");
  } else if (record.method && t.method) {
    lines.push(...describeResult(record.method, t.method.result, options.explain));
  }
  if (t.unrevealed && t.unrevealed.length > 0 && !options.hidden) {
    lines.push(`  unrevealed (not counted): ${t.unrevealed.map(options.name).join(", ")}`);
  }
  if (record.method && t.method) {
    lines.push("  cooperatives:");
    for (const b of t.method.ballots) {
      const what = b.ballot !== null && !options.hidden
        ? describeBallot(record.method, b.ballot)
        : b.commitment !== undefined
        ? "committed"
        : b.by !== undefined
        ? "voted"
        : "-";
      lines.push(
        `    ${options.name(b.coop)}: ${what}${
          b.replaced > 0 ? `, replacing ${b.replaced} earlier` : ""
        }`,
      );
    }
  }
  return lines;
}
