/**
 * Decision methods and secret ballots in a federation: the cooperative's
 * method rules (`core/governance/methods/`) and commitments
 * (`core/governance/secret.ts`) with cooperatives as the voters.
 *
 * A cooperative's ballot is the latest vote cast for it by any of its
 * delegates (`latestVotes`, the same rule as for/against). In a secret
 * proposal that vote carries a commitment made with the cooperative's network
 * id as the voter, and its ballot is the reveal that opens exactly that
 * commitment; a cooperative whose latest commitment is not revealed counts as
 * not voting. Each cooperative counts once, whatever `federation.voteWeight`
 * (the methods count ballots, not weights). Pure: derived on read from the
 * stored votes and reveals, so arrival order never changes the result.
 */
import {
  type MethodBallot,
  type MethodSpec,
  type MethodTally,
  tallyMethod,
} from "../governance/methods/mod.ts";
import { ballotCommitment } from "../governance/secret.ts";
import type { Choice } from "../governance/tally.ts";
import {
  type CoopVote,
  type FederationTallyInput,
  type IgnoredVote,
  type LatestVotes,
  latestVotes,
} from "./tally.ts";

/** A delegate's vote on a method or secret proposal. */
export interface CoopBallotVote extends CoopVote {
  /** An open vote's ballot: a method ballot, or a for/against choice. */
  ballot?: MethodBallot | Choice;
  /** A secret vote's commitment. */
  commitment?: string;
}

/** Where a reveal is looked up: the cooperative and the commitment it opens. */
export function revealKey(coop: string, commitment: string): string {
  return `${coop} ${commitment}`;
}

/** The commitment of `coop`'s ballot on federation proposal `proposal` (the cooperative is the voter). */
export function coopCommitment(
  proposal: string,
  coop: string,
  opening: { ballot: unknown; salt: string },
): string {
  return ballotCommitment({ proposal, voter: coop }, opening);
}

export interface CountedInput
  extends Pick<FederationTallyInput, "cooperatives" | "closes" | "isDelegate"> {
  votes: Iterable<CoopBallotVote>;
  /** Secret: votes carry commitments and count once revealed. */
  secret?: boolean;
  /** Revealed ballots by `revealKey(coop, commitment)` (already checked against their commitment). */
  reveals?: ReadonlyMap<string, MethodBallot | Choice>;
}

export interface Counted extends LatestVotes<CoopBallotVote> {
  /** Each voting cooperative's counted ballot. */
  ballots: Map<string, MethodBallot | Choice>;
  /** Cooperatives whose latest commitment is not revealed (secret only), sorted. */
  unrevealed: string[];
}

/** Each cooperative's counted ballot (see the module comment). */
export function countedBallots(input: CountedInput): Counted {
  const picked = latestVotes(
    input,
    (v) => v.commitment ?? JSON.stringify(v.ballot ?? null),
  );
  const ballots = new Map<string, MethodBallot | Choice>();
  const unrevealed: string[] = [];
  for (const [coop, vote] of picked.latest) {
    if (input.secret) {
      const opened = vote.commitment === undefined
        ? undefined
        : input.reveals?.get(revealKey(coop, vote.commitment));
      if (opened === undefined) unrevealed.push(coop);
      else ballots.set(coop, opened);
    } else if (vote.ballot !== undefined) {
      ballots.set(coop, vote.ballot);
    }
  }
  unrevealed.sort();
  return { ...picked, ballots, unrevealed };
}

/** One cooperative's part in a method tally, for `show`. */
export interface CoopMethodBallot {
  coop: string;
  /** Its counted ballot, or null (did not vote, or did not reveal). */
  ballot: MethodBallot | null;
  /** The delegate whose vote counts. */
  by?: string;
  ts?: number;
  /** Earlier votes for it that the counted one replaced. */
  replaced: number;
  /** Secret: the counted commitment. */
  commitment?: string;
}

export interface FederationMethodTally extends MethodTally {
  /** Every cooperative, sorted by network id. */
  ballots: CoopMethodBallot[];
  ignored: IgnoredVote[];
  unrevealed: string[];
}

export interface FederationMethodInput extends CountedInput {
  spec: MethodSpec;
  /** % of the cooperatives that must take part. */
  quorum: number;
}

/** Tallies a federation method proposal with the method's own rule. */
export function tallyFederationMethod(input: FederationMethodInput): FederationMethodTally {
  const counted = countedBallots(input);
  const method = tallyMethod({
    spec: input.spec,
    eligible: new Set(input.cooperatives.keys()),
    votes: counted.ballots as Map<string, MethodBallot>,
    delegations: new Map(),
    quorum: input.quorum,
  });
  const ballots: CoopMethodBallot[] = [];
  for (const coop of [...input.cooperatives.keys()].sort()) {
    const vote = counted.latest.get(coop);
    const entry: CoopMethodBallot = {
      coop,
      ballot: (counted.ballots.get(coop) as MethodBallot | undefined) ?? null,
      replaced: Math.max(0, (counted.counts.get(coop) ?? 0) - 1),
    };
    if (vote) {
      entry.by = vote.did;
      entry.ts = vote.ts;
      if (vote.commitment !== undefined) entry.commitment = vote.commitment;
    }
    ballots.push(entry);
  }
  return { ...method, ballots, ignored: counted.ignored, unrevealed: counted.unrevealed };
}
