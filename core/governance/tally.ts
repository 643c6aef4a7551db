/**
 * The outcome rule, as one pure function over already-resolved inputs, so the
 * same code decides on every node, displays in `show`, and is benchmarked.
 *
 * required = floor(eligible × quorum / 100); NoQuorum if cast (abstentions
 * included) < required; Accepted iff for > floor(cast × approval / 100);
 * else Rejected. In consent mode any standing block rejects.
 */

export const choices = ["for", "against", "abstain", "block"] as const;
export type Choice = typeof choices[number];
export type Mode = "majority" | "consent";
export type Outcome = "Accepted" | "Rejected" | "NoQuorum";

/** The decision rules of one proposal (a snapshot of its kind's parameters when it opened). */
export interface Rules {
  /** % of eligible members who must vote. */
  quorum: number;
  /** % of votes cast that must be "for" (strictly more than). */
  approval: number;
  votingPeriod: number;
  timelock: number;
  mode: Mode;
  /**
   * Secret ballots only: how long after the close voters may reveal (ms);
   * present exactly when the proposal is secret.
   */
  revealWindow?: number;
  /**
   * When quorum is first reached less than this long before the close, voting
   * stays open until this long after that moment (OpenZeppelin Governor's
   * late-quorum rule); present only when the kind's parameter is above 0.
   */
  extendOnLateQuorum?: number;
}

/** Longest delegation chain followed: member → d1 → d2 → d3. */
export const delegationDepthMax = 3;

export interface TallyInput {
  /** Members eligible when the proposal opened. */
  eligible: Iterable<string>;
  /** Latest direct vote of each voter; votes of non-eligible voters are ignored. */
  votes: ReadonlyMap<string, Choice>;
  /** Delegator → delegate, already resolved for this proposal (scope, expiry, time). */
  delegations: ReadonlyMap<string, string>;
  rules: Pick<Rules, "quorum" | "approval" | "mode">;
}

export interface Ballot {
  did: string;
  choice: Choice;
  /** The delegate whose vote this member's ballot follows (absent for a direct vote). */
  via?: string;
}

export interface Tally {
  eligible: number;
  required: number;
  cast: number;
  for: number;
  against: number;
  abstain: number;
  block: number;
  /** Votes cast through a delegate. */
  delegated: number;
  /** `for` must be strictly greater than this: floor(cast × approval / 100). */
  threshold: number;
  outcome: Outcome;
}

/** The outcome from the counts alone. */
export function decide(
  counts: { eligible: number; cast: number; for: number; block: number },
  rules: Pick<Rules, "quorum" | "approval" | "mode">,
): { required: number; threshold: number; outcome: Outcome } {
  const required = Math.floor((counts.eligible * rules.quorum) / 100);
  const threshold = Math.floor((counts.cast * rules.approval) / 100);
  let outcome: Outcome;
  if (counts.cast < required) outcome = "NoQuorum";
  else if (rules.mode === "consent" && counts.block > 0) outcome = "Rejected";
  else outcome = counts.for > threshold ? "Accepted" : "Rejected";
  return { required, threshold, outcome };
}

/** A member's resolved ballot of any shape: its own, or the one of the delegate it follows. */
export interface Resolved<T> {
  did: string;
  ballot: T;
  /** The delegate whose ballot this member's follows (absent for a direct one). */
  via?: string;
}

/**
 * Resolves a member's ballot: a direct one wins; otherwise the delegation
 * chain is followed up to `delegationDepthMax` links to the first delegate who
 * voted directly. Cycles and non-eligible delegates end the chain. Every
 * decision method resolves ballots with this one rule.
 */
export function resolveBallot<T>(
  did: string,
  eligible: ReadonlySet<string>,
  votes: ReadonlyMap<string, T>,
  delegations: ReadonlyMap<string, string>,
): Resolved<T> | undefined {
  const direct = votes.get(did);
  if (direct !== undefined) return { did, ballot: direct };
  let current = did;
  for (let hop = 0; hop < delegationDepthMax; hop++) {
    const next = delegations.get(current);
    if (next === undefined || next === did || !eligible.has(next)) return undefined;
    const ballot = votes.get(next);
    if (ballot !== undefined) return { did, ballot, via: next };
    current = next;
  }
  return undefined;
}

function resolve(
  did: string,
  eligible: ReadonlySet<string>,
  votes: ReadonlyMap<string, Choice>,
  delegations: ReadonlyMap<string, string>,
): Ballot | undefined {
  const resolved = resolveBallot(did, eligible, votes, delegations);
  if (!resolved) return undefined;
  return resolved.via === undefined
    ? { did, choice: resolved.ballot }
    : { did, choice: resolved.ballot, via: resolved.via };
}

/** Counts one proposal; with `ballots` it also collects every member's resolved ballot. */
export function tally(input: TallyInput, ballots?: Ballot[]): Tally {
  const eligible = input.eligible instanceof Set
    ? input.eligible as ReadonlySet<string>
    : new Set(input.eligible);
  let cast = 0, inFavour = 0, against = 0, abstain = 0, block = 0, delegated = 0;
  for (const did of eligible) {
    const ballot = resolve(did, eligible, input.votes, input.delegations);
    if (!ballot) continue;
    if (ballot.choice === "block" && input.rules.mode !== "consent") continue;
    cast++;
    if (ballot.via !== undefined) delegated++;
    switch (ballot.choice) {
      case "for":
        inFavour++;
        break;
      case "against":
        against++;
        break;
      case "abstain":
        abstain++;
        break;
      case "block":
        block++;
        break;
    }
    ballots?.push(ballot);
  }
  const decision = decide(
    { eligible: eligible.size, cast, for: inFavour, block },
    input.rules,
  );
  return {
    eligible: eligible.size,
    required: decision.required,
    cast,
    for: inFavour,
    against,
    abstain,
    block,
    delegated,
    threshold: decision.threshold,
    outcome: decision.outcome,
  };
}
