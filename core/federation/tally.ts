/**
 * The federation's outcome rule: the cooperative's outcome rule with the
 * cooperative as the voting principal. A cooperative's vote is the latest
 * vote cast for it by any of its delegates (a later vote by any of them
 * replaces the earlier); votes by anyone else are ignored. Cooperatives are
 * resolved to ballots (delegation included) by `tally()` and the outcome is
 * `decide()`, both from `core/governance/tally.ts`, so quorum, approval and
 * consent are exactly the same rule with cooperatives counted instead of
 * members; with `federation.voteWeight = members` each cooperative counts
 * with its member count instead of 1.
 */
import { InvalidInputError, shown } from "../errors.ts";
import {
  type Ballot,
  type Choice,
  choices,
  decide,
  type Outcome,
  type Rules,
  tally,
} from "../governance/tally.ts";
import type { VoteWeight } from "./params.ts";

/** A cooperative of the federation when the proposal opened. */
export interface CoopVoters {
  /** DIDs who may vote for it. */
  delegates: ReadonlySet<string> | readonly string[];
  /** Member count: its weight under `members`. */
  members: number;
}

/** One delegate's vote, for the cooperative it names. */
export interface DelegateVote {
  /** Network id of the cooperative voted for. */
  coop: string;
  did: string;
  choice: Choice;
  /** Envelope time, ms since epoch: the latest vote for a cooperative wins. */
  ts: number;
  /** Envelope CID: breaks ties between votes of the same time. */
  cid?: string;
}

export interface FederationTallyInput {
  /** Network id → voters, for every cooperative of the federation when the proposal opened. */
  cooperatives: ReadonlyMap<string, CoopVoters>;
  votes: Iterable<DelegateVote>;
  weight: VoteWeight;
  rules: Pick<Rules, "quorum" | "approval" | "mode">;
  /** Votes after this time (ms since epoch) are ignored; default: none. */
  closes?: number;
  /** Cooperative → cooperative it follows, already resolved for this proposal. */
  delegations?: ReadonlyMap<string, string>;
  /**
   * Whether `did` was a delegate of `coop` at `ts`, for when delegates change
   * while a proposal is open (a vote counts when its author was a delegate
   * when it voted); default: membership of the cooperative's `delegates`.
   */
  isDelegate?: (coop: string, did: string, ts: number) => boolean;
}

/** One cooperative's part in the tally, for `--explain`. */
export interface CoopBallot {
  coop: string;
  /** What it counts for: 1, or its member count. */
  weight: number;
  /** Its counted choice, or null when it did not vote (or voted "block" outside consent). */
  choice: Choice | null;
  /** The delegate whose vote counts (absent when none voted for it). */
  by?: string;
  ts?: number;
  /** The cooperative whose vote it follows by delegation. */
  via?: string;
  /** Earlier votes for it that the counted one replaced. */
  replaced: number;
  /** Secret: the commitment of its counted vote (revealed or not). */
  commitment?: string;
}

/** A vote that counts for nothing, and why. */
export interface IgnoredVote {
  coop: string;
  did: string;
  reason: "not_cooperative" | "not_delegate" | "after_close";
}

export interface FederationTally {
  weight: VoteWeight;
  /** Cooperatives of the federation when the proposal opened. */
  cooperatives: number;
  /** The counts below are weights (cooperatives under `equal`, members under `members`). */
  eligible: number;
  required: number;
  cast: number;
  for: number;
  against: number;
  abstain: number;
  block: number;
  delegated: number;
  threshold: number;
  outcome: Outcome;
  /** Every cooperative, sorted by network id. */
  ballots: CoopBallot[];
  ignored: IgnoredVote[];
}

/** A delegate's vote for the cooperative it names, whatever it carries. */
export interface CoopVote {
  coop: string;
  did: string;
  ts: number;
  cid?: string;
}

/** Each cooperative's counted vote, how many of its votes counted, and the ignored ones. */
export interface LatestVotes<V extends CoopVote> {
  latest: Map<string, V>;
  counts: Map<string, number>;
  ignored: IgnoredVote[];
}

/**
 * The federation's vote rule, for every method: a vote counts when it is for
 * a cooperative of the proposal, its author was that cooperative's delegate
 * when voting, and it is not after the close; the latest such vote of each
 * cooperative (by time, then CID, then DID, then `tiebreak`) is its vote, so
 * the order votes are given in never matters.
 */
export function latestVotes<V extends CoopVote>(
  input: Pick<FederationTallyInput, "cooperatives" | "closes" | "isDelegate"> & {
    votes: Iterable<V>;
  },
  tiebreak: (vote: V) => string,
): LatestVotes<V> {
  const later = (a: V, b: V): boolean => {
    if (a.ts !== b.ts) return a.ts > b.ts;
    const ac = a.cid ?? "", bc = b.cid ?? "";
    if (ac !== bc) return ac > bc;
    if (a.did !== b.did) return a.did > b.did;
    return tiebreak(a) > tiebreak(b);
  };
  const latest = new Map<string, V>();
  const counts = new Map<string, number>();
  const ignored: IgnoredVote[] = [];
  for (const vote of input.votes) {
    const voters = input.cooperatives.get(vote.coop);
    let reason: IgnoredVote["reason"] | undefined;
    if (!voters) reason = "not_cooperative";
    else if (
      input.isDelegate
        ? !input.isDelegate(vote.coop, vote.did, vote.ts)
        : !hasDelegate(voters, vote.did)
    ) reason = "not_delegate";
    else if (input.closes !== undefined && vote.ts > input.closes) reason = "after_close";
    if (reason) {
      ignored.push({ coop: vote.coop, did: vote.did, reason });
      continue;
    }
    counts.set(vote.coop, (counts.get(vote.coop) ?? 0) + 1);
    const previous = latest.get(vote.coop);
    if (!previous || later(vote, previous)) latest.set(vote.coop, vote);
  }
  ignored.sort((a, b) =>
    a.coop < b.coop ? -1 : a.coop > b.coop ? 1 : a.did < b.did ? -1 : a.did > b.did ? 1 : 0
  );
  return { latest, counts, ignored };
}

function weightOf(net: string, voters: CoopVoters, weight: VoteWeight): number {
  if (weight === "equal") return 1;
  if (!Number.isSafeInteger(voters.members) || voters.members < 0) {
    throw new InvalidInputError(
      `Cannot count cooperative ${net}: its member count ${
        shown(voters.members)
      } is not a whole number`,
    );
  }
  return voters.members;
}

function hasDelegate(voters: CoopVoters, did: string): boolean {
  const delegates = voters.delegates;
  return delegates instanceof Set ? delegates.has(did) : (delegates as string[]).includes(did);
}

/** Counts one federation proposal. Deterministic in its inputs, whatever their order. */
export function tallyFederation(input: FederationTallyInput): FederationTally {
  const { cooperatives, weight, rules } = input;
  if (weight !== "equal" && weight !== "members") {
    throw new InvalidInputError(`Unknown vote weight "${shown(weight)}": use equal or members`);
  }
  for (const vote of input.votes) {
    if (!(choices as readonly string[]).includes(vote.choice)) {
      throw new InvalidInputError(
        `Unknown vote "${shown(vote.choice)}" by "${
          shown(vote.did)
        }": use for, against, abstain or block`,
      );
    }
  }
  const { latest, counts, ignored } = latestVotes(input, (v) => v.choice);
  // The cooperative's own rule resolves each cooperative's ballot (direct, or by delegation).
  const direct = new Map<string, Choice>();
  for (const [coop, vote] of latest) direct.set(coop, vote.choice);
  const resolved: Ballot[] = [];
  tally({
    eligible: new Set(cooperatives.keys()),
    votes: direct,
    delegations: input.delegations ?? new Map(),
    rules,
  }, resolved);
  const byCoop = new Map(resolved.map((b) => [b.did, b]));
  let eligible = 0, cast = 0, inFavour = 0, against = 0, abstain = 0, block = 0, delegated = 0;
  const ballots: CoopBallot[] = [];
  for (const net of [...cooperatives.keys()].sort()) {
    const w = weightOf(net, cooperatives.get(net)!, weight);
    eligible += w;
    const ballot = byCoop.get(net);
    const vote = latest.get(net);
    const entry: CoopBallot = {
      coop: net,
      weight: w,
      choice: ballot?.choice ?? null,
      replaced: Math.max(0, (counts.get(net) ?? 0) - 1),
    };
    if (vote) {
      entry.by = vote.did;
      entry.ts = vote.ts;
    }
    if (ballot?.via !== undefined) {
      entry.via = ballot.via;
      const followed = latest.get(ballot.via);
      if (followed) {
        entry.by = followed.did;
        entry.ts = followed.ts;
      }
    }
    ballots.push(entry);
    if (!ballot) continue;
    cast += w;
    if (ballot.via !== undefined) delegated += w;
    if (ballot.choice === "for") inFavour += w;
    else if (ballot.choice === "against") against += w;
    else if (ballot.choice === "abstain") abstain += w;
    else block += w;
  }
  const decision = decide({ eligible, cast, for: inFavour, block }, rules);
  return {
    weight,
    cooperatives: cooperatives.size,
    eligible,
    required: decision.required,
    cast,
    for: inFavour,
    against,
    abstain,
    block,
    delegated,
    threshold: decision.threshold,
    outcome: decision.outcome,
    ballots,
    ignored,
  };
}
