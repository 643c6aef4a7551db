/**
 * Federation state read back from the federation network's store. Proposals,
 * votes, delegate sets and vouches are stored as they arrive; who is in the
 * federation, its parameters and each proposal's outcome are derived on read
 * from those records alone (as in a cooperative), so arrival order never
 * changes them: an accepted proposal takes effect at its derived effective
 * time (`timing()`: the close, moved later by a late quorum under
 * `extendOnLateQuorum`, plus the reveal window when secret, plus the timelock).
 */
import { assert } from "../errors.ts";
import type { Genesis } from "../governance/genesis.ts";
import type { MethodBallot, MethodOutcome, MethodSpec } from "../governance/methods/mod.ts";
import type { Choice, Outcome, Rules } from "../governance/tally.ts";
import { stateAt, type StateReader } from "../governance/view.ts";
import type { Params, ParamValue } from "../params.ts";
import type { StoreKey } from "../store/store.ts";
import type { FederationFile, FederationGenesis } from "./genesis.ts";
import type { FederationProposalKind, VoteWeight } from "./params.ts";
import {
  countedBallots,
  type FederationMethodTally,
  revealKey,
  tallyFederationMethod,
} from "./methods.ts";
import {
  type CoopVoters,
  type DelegateVote,
  type FederationTally as ChoiceTally,
  tallyFederation,
} from "./tally.ts";
import { type CoopEdge, CooperativeTrust } from "./trust.ts";

export type { StateReader } from "../governance/view.ts";

export interface AdmitAction {
  /** The cooperative's genesis document: its CID is the network id admitted. */
  genesis: Genesis;
  name: string;
  delegates: string[];
}
export interface RemoveAction {
  coop: string;
}
export interface FederationConfigAction {
  set: Params;
}
export type FederationAction =
  | AdmitAction
  | RemoveAction
  | FederationConfigAction
  | Record<string, never>;

/** Stored at `federationKeys.proposal(id)`. */
export interface FederationProposalRecord {
  id: string;
  author: string;
  /** The cooperative whose delegate proposed it. */
  coop: string;
  kind: FederationProposalKind;
  title: string;
  text: string;
  action: FederationAction;
  /** Admissions: the admitted network id (the CID of `action.genesis`). */
  target?: string;
  rules: Rules;
  /** `federation.voteWeight` when it opened. */
  weight: VoteWeight;
  opened: number;
  /** The close as proposed; `timing()` gives the one in force (a late quorum can move it later). */
  closes: number;
  /** closes (+ the reveal window when secret) + timelock, from the stored close; see `timing()`. */
  effective: number;
  /** A decision method other than for/against (text proposals only). */
  method?: MethodSpec;
  /** Secret ballot: votes carry commitments, revealed after the close (`rules.revealWindow`). */
  secret?: true;
}

/**
 * A proposal's tally: for/against counts, or (method proposals) the method's
 * result under `method` with outcome `Closed` or `NoQuorum`.
 */
export type FederationTally = Omit<ChoiceTally, "outcome"> & {
  outcome: Outcome | MethodOutcome;
  method?: FederationMethodTally;
  /** Secret: cooperatives whose latest commitment was not revealed (they count as not voting). */
  unrevealed?: string[];
};

/**
 * When voting closes, reveals end (the close unless secret) and an accepted
 * proposal applies, derived from the proposal and its votes.
 */
export interface FederationTiming {
  closes: number;
  revealEnds: number;
  effective: number;
  /** Whether a late quorum moved the close (`extendOnLateQuorum`). */
  extended: boolean;
  /** Under `extendOnLateQuorum`: when quorum was first reached, if it was by the stored close. */
  quorumAt?: number;
}

export interface FederationIndexEntry {
  id: string;
  kind: FederationProposalKind;
  opened: number;
  closes: number;
  effective: number;
}

/** One of `choice` (for/against), `ballot` (a method) or `commitment` (secret). */
export interface FederationVoteRecord {
  coop: string;
  did: string;
  choice?: Choice;
  ballot?: MethodBallot;
  commitment?: string;
  ts: number;
  /** The delegate's earliest vote on the proposal, when earlier than `ts` (dates late quorum). */
  first?: number;
  seq: number;
  cid: string;
  reason?: string;
}

/** A delegate's reveal of its cooperative's secret ballot (`fed.reveal`). */
export interface FederationRevealRecord {
  coop: string;
  /** The commitment it opens (computed from the ballot and salt, the cooperative as the voter). */
  commitment: string;
  ballot: Choice | MethodBallot;
  salt: string;
  did: string;
  ts: number;
  cid: string;
}

/** A cooperative's delegate set as recorded in the federation. */
export interface DelegatesRecord {
  coop: string;
  delegates: string[];
  /** Its member count, as its delegate reports it (its weight under `members`). */
  members: number;
  /** CID of the cooperative's executed proposal that chose these delegates. */
  proposal: string;
  author: string;
  ts: number;
  cid: string;
}

export interface VouchRecord extends CoopEdge {
  author: string;
  cid: string;
}

/** A cooperative of the federation at some time. */
export interface FederationMember {
  net: string;
  name: string;
  /** When it joined: `created` of the federation genesis for founders, else its admission's effective time. */
  since: number;
  /** Delegates when it joined. */
  delegates: string[];
  /** Member count when it joined (its genesis founders). */
  members: number;
}

export const federationKeys = {
  /** The federation genesis, written when a node joins the federation. */
  genesis: ["fed", "genesis"] as const,
  /** Founders' member counts (net → count), from the genesis files in the federation file. */
  founderMembers: ["fed", "founders"] as const,
  proposal: (id: string) => ["fed", "p", id] as const,
  index: (kind: string, id: string) => ["fed", "k", kind, id] as const,
  indexPrefix: (kind: string) => ["fed", "k", kind] as const,
  vote: (id: string, coop: string, did: string) => ["fed", "v", id, coop, did] as const,
  votesPrefix: (id: string) => ["fed", "v", id] as const,
  /** Every reveal is kept (by its CID): which one counts depends on the derived reveal window. */
  reveal: (id: string, coop: string, commitment: string, cid: string) =>
    ["fed", "r", id, coop, commitment, cid] as const,
  revealsPrefix: (id: string) => ["fed", "r", id] as const,
  delegates: (coop: string, ts: number, cid: string) => ["fed", "d", coop, ts, cid] as const,
  delegatesPrefix: (coop: string) => ["fed", "d", coop] as const,
  vouch: (from: string, to: string) => ["fed", "t", from, to] as const,
  vouchesPrefix: ["fed", "t"] as const,
};

/**
 * What a node writes when it joins a federation (beside the chain keys of the
 * network itself): the genesis and its founders' member counts, the one fact
 * about a founder that the federation genesis does not hold.
 */
export function federationJoinWrites(file: FederationFile): { key: StoreKey; value: unknown }[] {
  const counts: Record<string, number> = {};
  for (const [i, coop] of file.genesis.coops.entries()) {
    counts[coop.net] = file.cooperativeGeneses[i].genesis.members.length;
  }
  return [
    { key: federationKeys.genesis, value: file.genesis },
    { key: federationKeys.founderMembers, value: counts },
  ];
}

function byEffective(a: FederationIndexEntry, b: FederationIndexEntry): number {
  if (a.effective !== b.effective) return a.effective - b.effective;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * A read-only view over federation state; build one per query (or per
 * envelope being validated) and drop it after.
 */
export class FederationView {
  readonly state: StateReader;
  readonly genesis: FederationGenesis;
  #founderMembers: Record<string, number> | undefined;
  readonly #records = new Map<string, FederationProposalRecord | null>();
  readonly #indexes = new Map<string, FederationIndexEntry[]>();
  readonly #tallies = new Map<string, FederationTally>();
  readonly #timings = new Map<string, FederationTiming>();
  readonly #delegates = new Map<string, DelegatesRecord[]>();
  /** Admit and remove proposals decided so far, in effect order. */
  #membership: {
    entries: FederationIndexEntry[];
    next: number;
    accepted: FederationProposalRecord[];
  } | undefined;

  constructor(state: StateReader, genesis: FederationGenesis) {
    this.state = state;
    this.genesis = genesis;
  }

  async proposal(id: string): Promise<FederationProposalRecord | undefined> {
    if (!this.#records.has(id)) {
      const record = await this.state.get<FederationProposalRecord>(federationKeys.proposal(id));
      this.#records.set(id, record ?? null);
    }
    return this.#records.get(id) ?? undefined;
  }

  /** Index entries of one kind, ordered by effective time then id. */
  async index(kind: FederationProposalKind): Promise<FederationIndexEntry[]> {
    let entries = this.#indexes.get(kind);
    if (!entries) {
      entries = (await this.state.list<FederationIndexEntry>(federationKeys.indexPrefix(kind)))
        .map((e) => e.value);
      entries.sort(byEffective);
      this.#indexes.set(kind, entries);
    }
    return entries;
  }

  /**
   * Accepted admit/remove proposals effective by `ts`, in effect order.
   * Deciding one needs the cooperatives at its opening, which only earlier
   * entries change, so deciding in effect order always ends. Entries are
   * read in the order of their stored effective time; a late quorum can only
   * move a proposal's effective time later (`timing()`), so one whose derived
   * time is after `ts` is left out, and the rest are ordered by derived time.
   */
  async #membershipChanges(ts: number): Promise<FederationProposalRecord[]> {
    if (!this.#membership) {
      const entries = [...await this.index("admit"), ...await this.index("remove")];
      this.#membership = { entries: entries.sort(byEffective), next: 0, accepted: [] };
    }
    const state = this.#membership;
    while (state.next < state.entries.length && state.entries[state.next].effective <= ts) {
      const record = await this.proposal(state.entries[state.next].id);
      state.next++;
      if (record && (await this.tally(record)).outcome === "Accepted") state.accepted.push(record);
    }
    return await this.#inForce(state.accepted, ts);
  }

  /** Of `accepted` (in stored effective order), those in force at `ts`, ordered by derived effective time. */
  async #inForce(
    accepted: readonly FederationProposalRecord[],
    ts: number,
  ): Promise<FederationProposalRecord[]> {
    const out: { record: FederationProposalRecord; effective: number }[] = [];
    for (const record of accepted) {
      if (record.effective > ts) break;
      const { effective } = await this.timing(record);
      if (effective <= ts) out.push({ record, effective });
    }
    out.sort((a, b) =>
      a.effective - b.effective ||
      (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0)
    );
    return out.map((e) => e.record);
  }

  async #founderCount(net: string): Promise<number> {
    this.#founderMembers ??= await this.state.get<Record<string, number>>(
      federationKeys.founderMembers,
    ) ?? {};
    const count = this.#founderMembers[net];
    assert(count !== undefined, `Founder ${net} has no member count: the join did not write it`);
    return count;
  }

  /** The cooperatives of the federation at `ts`, by network id. */
  async coopsAt(ts: number): Promise<Map<string, FederationMember>> {
    const out = new Map<string, FederationMember>();
    for (const coop of this.genesis.coops) {
      out.set(coop.net, {
        net: coop.net,
        name: coop.name,
        since: this.genesis.created,
        delegates: coop.delegates,
        members: await this.#founderCount(coop.net),
      });
    }
    for (const record of await this.#membershipChanges(ts)) {
      if (record.kind === "admit") {
        const action = record.action as AdmitAction;
        out.set(record.target!, {
          net: record.target!,
          name: action.name,
          since: (await this.timing(record)).effective,
          delegates: action.delegates,
          members: action.genesis.members.length,
        });
      } else {
        out.delete((record.action as RemoveAction).coop);
      }
    }
    return out;
  }

  async #delegateRecords(coop: string): Promise<DelegatesRecord[]> {
    let list = this.#delegates.get(coop);
    if (!list) {
      list = (await this.state.list<DelegatesRecord>(federationKeys.delegatesPrefix(coop)))
        .map((e) => e.value);
      this.#delegates.set(coop, list);
    }
    return list;
  }

  /**
   * The delegates and member count of `coop` at `ts`: the latest delegate set
   * recorded since it joined, else those it joined with; undefined when it is
   * not in the federation at `ts`.
   */
  async delegatesAt(
    coop: string,
    ts: number,
  ): Promise<{ delegates: string[]; members: number } | undefined> {
    const member = (await this.coopsAt(ts)).get(coop);
    if (!member) return undefined;
    return this.#delegatesOf(member, ts);
  }

  async #delegatesOf(member: FederationMember, ts: number) {
    let latest: DelegatesRecord | undefined;
    for (const record of await this.#delegateRecords(member.net)) {
      // Keys sort by time, then CID: the last one dated ≤ ts wins.
      if (record.ts > ts) break;
      if (record.ts >= member.since) latest = record;
    }
    return latest
      ? { delegates: latest.delegates, members: latest.members }
      : { delegates: member.delegates, members: member.members };
  }

  async paramsAt(ts: number): Promise<Params> {
    const params: Params = { ...this.genesis.params };
    const accepted: FederationProposalRecord[] = [];
    for (const entry of await this.index("config")) {
      if (entry.effective > ts) break;
      const record = await this.proposal(entry.id);
      if (record && (await this.tally(record)).outcome === "Accepted") accepted.push(record);
    }
    for (const record of await this.#inForce(accepted, ts)) {
      for (const [key, value] of Object.entries((record.action as FederationConfigAction).set)) {
        params[key] = value as ParamValue;
      }
    }
    return params;
  }

  async votes(id: string): Promise<FederationVoteRecord[]> {
    return (await this.state.list<FederationVoteRecord>(federationKeys.votesPrefix(id)))
      .map((e) => e.value);
  }

  async reveals(id: string): Promise<FederationRevealRecord[]> {
    return (await this.state.list<FederationRevealRecord>(federationKeys.revealsPrefix(id)))
      .map((e) => e.value);
  }

  /**
   * A proposal's times, derived from its own data and its votes: with
   * `extendOnLateQuorum`, voting closes at the later of its stored close and
   * the moment quorum was first reached plus the extension (OpenZeppelin
   * Governor's rule, as in a cooperative); reveals run from that close to
   * `revealEnds` (secret only); an accepted proposal applies at `effective`.
   * Quorum is dated with the stored close (`quorumReachedAt`), so the derived
   * close never feeds back into itself.
   */
  async timing(record: FederationProposalRecord): Promise<FederationTiming> {
    const cached = this.#timings.get(record.id);
    if (cached) return cached;
    const extension = record.rules.extendOnLateQuorum ?? 0;
    const reveal = record.secret ? record.rules.revealWindow ?? 0 : 0;
    let closes = record.closes;
    let quorumAt: number | undefined;
    if (extension > 0) {
      quorumAt = await this.quorumReachedAt(record);
      if (quorumAt !== undefined) closes = Math.max(closes, quorumAt + extension);
    }
    const timing: FederationTiming = {
      closes,
      revealEnds: closes + reveal,
      effective: closes + reveal + record.rules.timelock,
      extended: closes > record.closes,
      ...(quorumAt === undefined ? {} : { quorumAt }),
    };
    this.#timings.set(record.id, timing);
    return timing;
  }

  /**
   * When quorum was first reached: each cooperative of the proposal counts
   * (with its tally weight: 1, or its member count under `members` on a
   * for/against proposal) from the earliest vote of one of its delegates
   * (each delegate dated by their first vote on it, `first`) that the vote
   * rule counts, by the stored close; the opening when nothing is required;
   * undefined when quorum was not reached by the stored close. It reads the
   * votes directly rather than the tally, whose close is the derived one.
   */
  async quorumReachedAt(record: FederationProposalRecord): Promise<number | undefined> {
    const { cooperatives, delegateAt } = await this.#voters(record);
    const votes = await this.votes(record.id);
    const byWeight = record.method === undefined && record.kind !== "clearing" &&
      record.weight === "members";
    const weightOf = (coop: string) => byWeight ? cooperatives.get(coop)!.members : 1;
    let eligible = 0;
    for (const coop of cooperatives.keys()) eligible += weightOf(coop);
    const required = Math.floor((eligible * record.rules.quorum) / 100);
    if (required === 0) return record.opened;
    const first = new Map<string, number>();
    for (const v of votes) {
      const at = Math.min(v.first ?? v.ts, v.ts);
      if (!cooperatives.has(v.coop) || at > record.closes) continue;
      if (!(await delegateAt(v.coop, v.did, at))) continue;
      first.set(v.coop, Math.min(first.get(v.coop) ?? Infinity, at));
    }
    let reached = 0;
    for (const [coop, ts] of [...first].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))) {
      reached += weightOf(coop);
      if (reached >= required) return ts;
    }
    return undefined;
  }

  /**
   * The cooperatives that vote on `record` (those in the federation when it
   * opened; a clearing agreement: its two), with their delegates and member
   * counts then, and whether a DID was a cooperative's delegate at a time.
   */
  async #voters(record: FederationProposalRecord): Promise<{
    coops: Map<string, FederationMember>;
    cooperatives: Map<string, CoopVoters>;
    delegateAt: (coop: string, did: string, ts: number) => Promise<boolean>;
  }> {
    const coops = await this.coopsAt(record.opened);
    if (record.kind === "clearing") {
      // A clearing agreement is decided by the two cooperatives it names (clearing_kinds.ts).
      const { coopA, coopB } = record.action as unknown as { coopA: string; coopB: string };
      for (const net of [...coops.keys()]) if (net !== coopA && net !== coopB) coops.delete(net);
    }
    const cooperatives = new Map<string, CoopVoters>();
    for (const [net, member] of coops) {
      const { delegates, members } = await this.#delegatesOf(member, record.opened);
      cooperatives.set(net, { delegates, members });
    }
    const delegateAt = async (coop: string, did: string, ts: number) => {
      const member = coops.get(coop);
      return member !== undefined &&
        (await this.#delegatesOf(member, ts)).delegates.includes(did);
    };
    return { coops, cooperatives, delegateAt };
  }

  /**
   * Open until the close; Revealing until a secret proposal's reveal window
   * ends; then its outcome (Closed or NoQuorum for a method proposal);
   * Executed once an accepted one's effective time passed.
   */
  async stateOf(record: FederationProposalRecord, now: number): Promise<string> {
    return stateAt(
      await this.timing(record),
      record.secret === true,
      now,
      async () => (await this.tally(record)).outcome,
    );
  }

  /**
   * The tally of a proposal: the cooperatives in the federation when it
   * opened, each weighted as it was then (methods: one each), each counting
   * the latest vote by one who was its delegate when voting, by the derived
   * close (`timing()`); a secret proposal counts each cooperative's revealed
   * latest commitment, revealed inside the derived reveal window.
   */
  async tally(record: FederationProposalRecord): Promise<FederationTally> {
    const cached = this.#tallies.get(record.id);
    if (cached) return cached;
    const { cooperatives, delegateAt: delegateAtTime } = await this.#voters(record);
    const { closes, revealEnds } = await this.timing(record);
    const votes = await this.votes(record.id);
    // Delegates at each vote's time, looked up before the (synchronous) count.
    const delegateAt = new Map<string, boolean>();
    for (const vote of votes) {
      delegateAt.set(
        `${vote.coop} ${vote.did} ${vote.ts}`,
        await delegateAtTime(vote.coop, vote.did, vote.ts),
      );
    }
    const isDelegate = (coop: string, did: string, ts: number) =>
      delegateAt.get(`${coop} ${did} ${ts}`) === true;
    const reveals = new Map<string, Choice | MethodBallot>();
    if (record.secret) {
      for (const r of await this.reveals(record.id)) {
        // Accepted inside the window a node knew then; counted only inside the derived one.
        if (r.ts > closes && r.ts <= revealEnds) {
          reveals.set(revealKey(r.coop, r.commitment), r.ballot);
        }
      }
    }
    const ballotVotes = votes.map((v) => ({ ...v, ballot: v.ballot ?? v.choice }));
    const counting = { cooperatives, closes, isDelegate };
    let result: FederationTally;
    if (record.method) {
      const method = tallyFederationMethod({
        ...counting,
        votes: ballotVotes,
        secret: record.secret === true,
        reveals,
        spec: record.method,
        quorum: record.rules.quorum,
      });
      result = {
        weight: "equal",
        cooperatives: cooperatives.size,
        eligible: method.eligible,
        required: method.required,
        cast: method.cast,
        for: 0,
        against: 0,
        abstain: 0,
        block: 0,
        delegated: 0,
        threshold: 0,
        outcome: method.outcome,
        ballots: method.ballots.map((b) => ({
          coop: b.coop,
          weight: 1,
          choice: null,
          replaced: b.replaced,
          ...(b.by !== undefined ? { by: b.by, ts: b.ts } : {}),
          ...(b.commitment !== undefined ? { commitment: b.commitment } : {}),
        })),
        ignored: method.ignored,
        method,
        ...(record.secret ? { unrevealed: method.unrevealed } : {}),
      };
    } else if (record.secret) {
      // The revealed choice of each cooperative's latest commitment, counted by the for/against rule.
      const counted = countedBallots({ ...counting, votes: ballotVotes, secret: true, reveals });
      const opened: DelegateVote[] = [];
      for (const [coop, vote] of counted.latest) {
        const choice = counted.ballots.get(coop);
        if (choice !== undefined) {
          opened.push({
            coop,
            did: vote.did,
            ts: vote.ts,
            cid: vote.cid,
            choice: choice as Choice,
          });
        }
      }
      const choices = tallyFederation({
        ...counting,
        votes: opened,
        weight: record.weight,
        rules: record.rules,
      });
      result = {
        ...choices,
        ballots: choices.ballots.map((b) => {
          const vote = counted.latest.get(b.coop);
          return {
            ...b,
            ...(vote ? { by: vote.did, ts: vote.ts } : {}),
            ...(vote?.commitment !== undefined ? { commitment: vote.commitment } : {}),
            replaced: Math.max(0, (counted.counts.get(b.coop) ?? 0) - 1),
          };
        }),
        ignored: counted.ignored,
        unrevealed: counted.unrevealed,
      };
    } else {
      result = tallyFederation({
        ...counting,
        votes: votes as DelegateVote[],
        weight: record.kind === "clearing" ? "equal" : record.weight,
        rules: record.rules,
      });
    }
    this.#tallies.set(record.id, result);
    return result;
  }

  /** Trust between the federation's cooperatives at `ts`, from the recorded vouches. */
  async trustAt(ts: number): Promise<CooperativeTrust> {
    const edges = (await this.state.list<VouchRecord>(federationKeys.vouchesPrefix))
      .map((e) => e.value);
    return CooperativeTrust.build(edges, { coops: (await this.coopsAt(ts)).keys(), ts });
  }
}
