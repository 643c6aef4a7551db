/**
 * Governance state read back from the store. Proposals, votes and
 * delegations are stored as they arrive; outcomes and their effects
 * (membership, parameters, upgrades) are derived on read from those records
 * alone, so they never depend on arrival order: an accepted proposal takes
 * effect at `closes + timelock`, both fixed by the proposal envelope itself.
 */
import type { StateView } from "../chain/state.ts";
import { numberParam, type Params, type ParamValue, stringParam } from "../params.ts";
import type { Genesis } from "./genesis.ts";
import { type CooperativeProposalKind, cooperativeProposalKinds } from "./params.ts";
import {
  type Ballot,
  type Choice,
  type Mode,
  type Outcome,
  resolveBallot,
  type Rules,
  type Tally,
  tally,
} from "./tally.ts";
import {
  type MethodBallot,
  type MethodOutcome,
  type MethodSpec,
  type MethodTally,
  tallyMethod,
} from "./methods/mod.ts";

export type StateReader = Pick<StateView, "get" | "list">;

export type MembershipAction = { admit: string } | { remove: string };
export interface ConfigAction {
  set: Params;
}
export interface UpgradeAction {
  version: string;
  /**
   * ms since epoch: not before it are peers below `minVersion` refused. The
   * version takes effect at the later of this and network readiness
   * (`upgrade.readiness` % of active members' nodes announcing ≥ minVersion;
   * core/governance/upgrade_readiness.ts, decided by each node in net/upgrade.ts).
   */
  deadline: number;
  minVersion: string;
}
/** Who acts for the cooperative in federation `federation` (its network id). */
export interface DelegatesAction {
  federation: string;
  /** Members of the cooperative, sorted and distinct. */
  delegates: string[];
}
export type ProposalAction =
  | Record<string, never>
  | MembershipAction
  | ConfigAction
  | UpgradeAction
  | DelegatesAction;

/** Stored at `govKeys.proposal(id)`. */
export interface ProposalRecord {
  id: string;
  author: string;
  kind: CooperativeProposalKind;
  title: string;
  text: string;
  action: ProposalAction;
  rules: Rules;
  opened: number;
  closes: number;
  /** closes + timelock: when an accepted proposal's action applies. */
  effective: number;
  /** Timestamp of the author's cancel envelope. */
  cancelled?: number;
  /** The decision method, when it is not the for/against `proposal` (text proposals only). */
  method?: MethodSpec;
  /** Ballots are committed while voting and revealed after the close (`rules.revealWindow`). */
  secret?: true;
}

/** Small per-kind index entry, enough to decide which proposals matter at a time. */
export interface IndexEntry {
  id: string;
  opened: number;
  closes: number;
  effective: number;
  cancelled?: number;
  /** Membership proposals: the DID admitted or removed, so `isMember` only tallies what concerns it. */
  target?: string;
}

/**
 * A voter's latest vote on one proposal: a `choice` (the proposal method), a
 * method `ballot`, or, on a secret proposal, the `commitment` to either.
 */
export interface VoteRecord {
  choice?: Choice;
  ballot?: MethodBallot;
  commitment?: string;
  ts: number;
  seq: number;
  cid: string;
  reason?: string;
  /** Time of this voter's earliest vote on the proposal (when they first took part). */
  first?: number;
}

/** A secret ballot opened after the close: checked against the commitment when it arrived. */
export interface RevealRecord {
  /** The vote choice (proposal method) or method ballot. */
  ballot: Choice | MethodBallot;
  salt: string;
  /** The commitment it opens (the voter's latest vote's). */
  commitment: string;
  ts: number;
  seq: number;
  cid: string;
}

/** Derived times of one proposal (see `GovernanceView.timing`). */
export interface Timing {
  /** When voting closes: `closes`, or later when a late quorum extended it. */
  closes: number;
  /** Secret ballots: the end of the reveal window (else equal to `closes`). */
  revealEnds: number;
  /** revealEnds + timelock: when an accepted proposal's action applies. */
  effective: number;
  /** When quorum was first reached, counting each member from their first vote (undefined: not by the close). */
  quorumAt?: number;
  /** True when a late quorum moved the close. */
  extended: boolean;
}

/**
 * The state rule of a proposal, cooperative or federation (cancellation
 * aside): Open until the close; Revealing until a secret one's reveal window
 * ends; then its outcome, Executed once an accepted one's effective time passed.
 */
export async function stateAt<O extends string>(
  timing: { closes: number; revealEnds: number; effective: number },
  secret: boolean,
  now: number,
  outcome: () => Promise<O>,
): Promise<"Open" | "Revealing" | "Executed" | O> {
  if (now <= timing.closes) return "Open";
  if (secret && now <= timing.revealEnds) return "Revealing";
  const decided = await outcome();
  return decided === "Accepted" && now >= timing.effective ? "Executed" : decided;
}

/** A tally of any method: the proposal rule's counts, or a method's result under `method`. */
export type ProposalTally = Omit<Tally, "outcome"> & {
  outcome: Outcome | MethodOutcome;
  method?: MethodTally;
};

export interface DelegationRecord {
  delegator: string;
  scope: string;
  /** null: an undelegation of this scope. */
  to: string | null;
  ts: number;
  expires?: number;
  cid: string;
}

export const govKeys = {
  proposal: (id: string) => ["gov", "p", id] as const,
  index: (kind: string, id: string) => ["gov", "k", kind, id] as const,
  indexPrefix: (kind: string) => ["gov", "k", kind] as const,
  vote: (id: string, voter: string) => ["gov", "v", id, voter] as const,
  votesPrefix: (id: string) => ["gov", "v", id] as const,
  reveal: (id: string, voter: string) => ["gov", "r", id, voter] as const,
  revealsPrefix: (id: string) => ["gov", "r", id] as const,
  delegation: (delegator: string, scope: string, ts: number, cid: string) =>
    ["gov", "d", delegator, scope, ts, cid] as const,
  delegationsOf: (delegator: string) => ["gov", "d", delegator] as const,
  delegationsPrefix: ["gov", "d"] as const,
  /** Hash chain over accepted governance envelopes; keys the shared cache of derived data. */
  revision: ["gov", "rev"] as const,
};

export const proposalKindList: readonly CooperativeProposalKind[] = cooperativeProposalKinds;

/** A cooperative's delegates to one federation, as its latest executed proposal set them. */
export interface DelegateSet {
  federation: string;
  delegates: string[];
  /** The executed `delegates` proposal that chose them. */
  proposal: string;
  /** When it took effect. */
  effective: number;
}

/**
 * The rules a `kind` proposal gets under `params`: `revealWindow` only when it
 * is secret, `extendOnLateQuorum` only when the kind's parameter is above 0
 * (so proposals made before these parameters existed keep their exact rules).
 */
export function rulesFor(
  params: Params,
  kind: CooperativeProposalKind,
  options: { secret?: boolean } = {},
): Rules {
  const rules: Rules = {
    quorum: numberParam(params, `governance.${kind}.quorum`),
    approval: numberParam(params, `governance.${kind}.approval`),
    votingPeriod: numberParam(params, `governance.${kind}.votingPeriod`),
    timelock: numberParam(params, `governance.${kind}.timelock`),
    mode: stringParam(params, `governance.${kind}.mode`) as Mode,
  };
  if (options.secret) rules.revealWindow = numberParam(params, `governance.${kind}.revealWindow`);
  const extend = numberParam(params, `governance.${kind}.extendOnLateQuorum`);
  if (extend > 0) rules.extendOnLateQuorum = extend;
  return rules;
}

export type ProposalState =
  | "Draft"
  | "Open"
  | "Revealing"
  | "Closed"
  | "Accepted"
  | "Rejected"
  | "NoQuorum"
  | "Cancelled"
  | "Executed";

export const proposalStates: readonly ProposalState[] = [
  "Draft",
  "Open",
  "Revealing",
  "Closed",
  "Accepted",
  "Rejected",
  "NoQuorum",
  "Cancelled",
  "Executed",
];

/** Per-member credit limit overrides travel as config keys `credit.override.<did>`. */
export const creditOverridePrefix = "credit.override.";

interface Shared {
  records: Map<string, ProposalRecord | null>;
  indexes: Map<string, IndexEntry[]>;
  tallies: Map<string, ProposalTally>;
  timings: Map<string, Timing>;
  progress: Map<string, { next: number; accepted: ProposalRecord[] }>;
  delegations?: Map<string, Map<string, DelegationRecord[]>>;
}

/** Governance revisions whose derived data is kept in memory (a few: one per open store). */
const sharedCacheMax = 8;
const sharedCache = new Map<string, Shared>();
/** Shared data of stores without any governance envelope, per genesis (it depends on nothing else). */
const beforeGovernance = new WeakMap<Genesis, Shared>();

function emptyShared(): Shared {
  return {
    records: new Map(),
    indexes: new Map(),
    tallies: new Map(),
    timings: new Map(),
    progress: new Map(),
  };
}

function byEffective(a: IndexEntry, b: IndexEntry): number {
  if (a.effective !== b.effective) return a.effective - b.effective;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Compares two `x.y.z` versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return 0;
}

/**
 * A read-only view over governance state with memoized outcomes; build one
 * per query (or per envelope being validated) and drop it after.
 */
export class GovernanceView {
  readonly state: StateReader;
  readonly genesis: Genesis;
  #shared: Shared | undefined;

  constructor(state: StateReader, genesis: Genesis) {
    this.state = state;
    this.genesis = genesis;
  }

  /**
   * Derived data shared by every view of the same governance revision (a hash
   * chain over the governance envelopes a store accepted, seeded with the
   * network id): equal revisions mean equal governance state, so outcomes
   * computed once are reused by the next query or envelope.
   */
  async #data(): Promise<Shared> {
    if (this.#shared) return this.#shared;
    const revision = await this.state.get<string>(govKeys.revision);
    if (revision === undefined) {
      // No governance envelope accepted yet: the state is empty for every store of this genesis.
      let shared = beforeGovernance.get(this.genesis);
      if (!shared) beforeGovernance.set(this.genesis, shared = emptyShared());
      return this.#shared = shared;
    }
    let shared = sharedCache.get(revision);
    if (!shared) {
      shared = emptyShared();
      sharedCache.set(revision, shared);
      if (sharedCache.size > sharedCacheMax) {
        sharedCache.delete(sharedCache.keys().next().value!);
      }
    } else {
      sharedCache.delete(revision);
      sharedCache.set(revision, shared);
    }
    this.#shared = shared;
    return shared;
  }

  async proposal(id: string): Promise<ProposalRecord | undefined> {
    const { records } = await this.#data();
    if (!records.has(id)) {
      records.set(id, (await this.state.get<ProposalRecord>(govKeys.proposal(id))) ?? null);
    }
    return records.get(id) ?? undefined;
  }

  /** Index entries of one kind, ordered by effective time then id. */
  async index(kind: CooperativeProposalKind): Promise<IndexEntry[]> {
    const { indexes } = await this.#data();
    let entries = indexes.get(kind);
    if (!entries) {
      entries = (await this.state.list<IndexEntry>(govKeys.indexPrefix(kind))).map((e) => e.value);
      entries.sort(byEffective);
      indexes.set(kind, entries);
    }
    return entries;
  }

  /** Every proposal id, all kinds. */
  async allEntries(): Promise<(IndexEntry & { kind: CooperativeProposalKind })[]> {
    const out: (IndexEntry & { kind: CooperativeProposalKind })[] = [];
    for (const kind of proposalKindList) {
      for (const entry of await this.index(kind)) out.push({ ...entry, kind });
    }
    return out;
  }

  /**
   * Accepted, not cancelled proposals of `kind` whose effective time is ≤ ts,
   * in effect order. Entries are decided in effective order and the progress
   * kept: deciding one needs only members at its opening, which only earlier
   * entries can change, so the recursion always stops.
   */
  async #effective(kind: CooperativeProposalKind, ts: number): Promise<ProposalRecord[]> {
    const entries = await this.index(kind);
    const { progress } = await this.#data();
    let state = progress.get(kind);
    if (!state) progress.set(kind, state = { next: 0, accepted: [] });
    while (state.next < entries.length && entries[state.next].effective <= ts) {
      const entry = entries[state.next];
      const record = entry.cancelled === undefined ? await this.proposal(entry.id) : undefined;
      if (record && (await this.tally(record)).outcome === "Accepted") state.accepted.push(record);
      state.next++;
    }
    const out: ProposalRecord[] = [];
    for (const record of state.accepted) {
      if (record.effective > ts) break;
      // A late quorum can only move the effective time later than the entry's.
      if (record.rules.extendOnLateQuorum && (await this.timing(record)).effective > ts) continue;
      out.push(record);
    }
    return out;
  }

  async membersAt(ts: number): Promise<Set<string>> {
    const members = new Set(this.genesis.members);
    for (const record of await this.#effective("membership", ts)) {
      const action = record.action as MembershipAction;
      if ("admit" in action) members.add(action.admit);
      else members.delete(action.remove);
    }
    return members;
  }

  /** Effective time of the admission that made `did` a member at `ts`; undefined for founders or non-members. */
  async admittedAt(did: string, ts: number): Promise<number | undefined> {
    let since: number | undefined;
    let member = this.genesis.members.includes(did);
    for (const record of await this.#effective("membership", ts)) {
      const action = record.action as MembershipAction;
      if ("admit" in action && action.admit === did) {
        member = true;
        since = record.effective;
      } else if ("remove" in action && action.remove === did) {
        member = false;
        since = undefined;
      }
    }
    return member ? since : undefined;
  }

  async isMember(did: string, ts: number): Promise<boolean> {
    let member = this.genesis.members.includes(did);
    for (const entry of await this.index("membership")) {
      if (entry.effective > ts) break;
      if (entry.cancelled !== undefined || (entry.target !== undefined && entry.target !== did)) {
        continue;
      }
      const record = await this.proposal(entry.id);
      if (!record || (await this.tally(record)).outcome !== "Accepted") continue;
      if (record.rules.extendOnLateQuorum && (await this.timing(record)).effective > ts) continue;
      const action = record.action as MembershipAction;
      if ("admit" in action && action.admit === did) member = true;
      if ("remove" in action && action.remove === did) member = false;
    }
    return member;
  }

  async paramsAt(ts: number): Promise<Params> {
    const accepted = await this.#effective("config", ts);
    if (accepted.length === 0) return this.genesis.params;
    const params: Params = { ...this.genesis.params };
    for (const record of accepted) {
      for (const [key, value] of Object.entries((record.action as ConfigAction).set)) {
        params[key] = value as ParamValue;
      }
    }
    return params;
  }

  /**
   * The delegates the cooperative chose for `federation`, as of `at`: the set
   * of the latest executed `delegates` proposal for it (by effective time,
   * then id) whose delegates were all still members when it took effect; a
   * proposal one of whose delegates left before then changes nothing.
   * Undefined when no such proposal was executed.
   */
  async delegatesFor(federation: string, at: number): Promise<DelegateSet | undefined> {
    let latest: DelegateSet | undefined;
    for (const record of await this.#effective("delegates", at)) {
      const action = record.action as DelegatesAction;
      if (action.federation !== federation) continue;
      if (!(await this.delegatesWereMembers(record))) continue;
      latest = {
        federation,
        delegates: action.delegates,
        proposal: record.id,
        effective: record.effective,
      };
    }
    return latest;
  }

  /** True when every delegate a `delegates` proposal names was a member when it took effect. */
  async delegatesWereMembers(record: ProposalRecord): Promise<boolean> {
    for (const did of (record.action as DelegatesAction).delegates) {
      if (!(await this.isMember(did, record.effective))) return false;
    }
    return true;
  }

  async #allDelegations(): Promise<Map<string, Map<string, DelegationRecord[]>>> {
    const shared = await this.#data();
    if (!shared.delegations) {
      const byDelegator = new Map<string, Map<string, DelegationRecord[]>>();
      for (const { value } of await this.state.list<DelegationRecord>(govKeys.delegationsPrefix)) {
        let scopes = byDelegator.get(value.delegator);
        if (!scopes) byDelegator.set(value.delegator, scopes = new Map());
        let list = scopes.get(value.scope);
        if (!list) scopes.set(value.scope, list = []);
        list.push(value);
      }
      for (const scopes of byDelegator.values()) {
        for (const list of scopes.values()) list.sort((a, b) => a.ts - b.ts);
      }
      shared.delegations = byDelegator;
    }
    return shared.delegations;
  }

  /** The delegation of one scope in force at `ts` (latest entry dated ≤ ts, not expired). */
  static activeIn(list: readonly DelegationRecord[] | undefined, ts: number): string | undefined {
    if (!list) return undefined;
    let latest: DelegationRecord | undefined;
    for (const entry of list) {
      if (entry.ts > ts) break;
      latest = entry;
    }
    if (!latest || latest.to === null) return undefined;
    if (latest.expires !== undefined && latest.expires <= ts) return undefined;
    return latest.to;
  }

  /** Delegator → delegate for one proposal: the most specific scope in force at its close wins. */
  async delegationsFor(record: ProposalRecord): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const scopes = [`proposal:${record.id}`, `kind:${record.kind}`, "all"];
    for (const [delegator, byScope] of await this.#allDelegations()) {
      for (const scope of scopes) {
        const to = GovernanceView.activeIn(byScope.get(scope), record.closes);
        if (to !== undefined) {
          out.set(delegator, to);
          break;
        }
      }
    }
    return out;
  }

  /** Every scope's delegation of `did` in force at `ts`. */
  async delegationsOf(did: string, ts: number): Promise<{ scope: string; to: string }[]> {
    const out: { scope: string; to: string }[] = [];
    const byScope = (await this.#allDelegations()).get(did);
    for (const [scope, list] of byScope ?? []) {
      const to = GovernanceView.activeIn(list, ts);
      if (to !== undefined) out.push({ scope, to });
    }
    return out;
  }

  async votes(id: string): Promise<Map<string, VoteRecord>> {
    const out = new Map<string, VoteRecord>();
    for (const { key, value } of await this.state.list<VoteRecord>(govKeys.votesPrefix(id))) {
      out.set(key[3] as string, value);
    }
    return out;
  }

  async reveals(id: string): Promise<Map<string, RevealRecord>> {
    const out = new Map<string, RevealRecord>();
    for (const { key, value } of await this.state.list<RevealRecord>(govKeys.revealsPrefix(id))) {
      out.set(key[3] as string, value);
    }
    return out;
  }

  /**
   * The proposal's times, derived from its own data and its votes: with
   * `extendOnLateQuorum`, voting closes at the later of its close and the
   * moment quorum was first reached plus the extension (OpenZeppelin
   * Governor's rule); a member counts towards quorum from their first vote (or
   * their delegate's) dated by the original close.
   */
  async timing(record: ProposalRecord): Promise<Timing> {
    const { timings } = await this.#data();
    const cached = timings.get(record.id);
    if (cached) return cached;
    const extension = record.rules.extendOnLateQuorum ?? 0;
    const reveal = record.rules.revealWindow ?? 0;
    let closes = record.closes;
    let quorumAt: number | undefined;
    if (extension > 0) {
      quorumAt = await this.quorumReachedAt(record);
      if (quorumAt !== undefined) closes = Math.max(closes, quorumAt + extension);
    }
    const timing: Timing = {
      closes,
      revealEnds: closes + reveal,
      effective: closes + reveal + record.rules.timelock,
      extended: closes > record.closes,
      ...(quorumAt === undefined ? {} : { quorumAt }),
    };
    timings.set(record.id, timing);
    return timing;
  }

  /**
   * When quorum was first reached: each eligible member counts from their
   * first vote (or their delegate's) dated by the original close; the opening
   * when quorum is 0; undefined when it was not reached by the close.
   */
  async quorumReachedAt(record: ProposalRecord): Promise<number | undefined> {
    const eligible = await this.membersAt(record.opened);
    const required = Math.floor((eligible.size * record.rules.quorum) / 100);
    if (required === 0) return record.opened;
    const firstVotes = new Map<string, number>();
    for (const [voter, vote] of await this.votes(record.id)) {
      const first = Math.min(vote.first ?? vote.ts, vote.ts);
      if (first <= record.closes) firstVotes.set(voter, first);
    }
    const delegations = await this.delegationsFor(record);
    const times: number[] = [];
    for (const did of eligible) {
      const resolved = resolveBallot(did, eligible, firstVotes, delegations);
      if (resolved) times.push(resolved.ballot);
    }
    times.sort((a, b) => a - b);
    return times[required - 1];
  }

  /**
   * Each voter's counted ballot: their latest vote dated by the close; on a
   * secret proposal, the ballot they revealed for the commitment of that vote
   * within the reveal window (no reveal, no ballot).
   */
  async counted(record: ProposalRecord): Promise<Map<string, Choice | MethodBallot>> {
    const { closes, revealEnds } = await this.timing(record);
    const votes = await this.votes(record.id);
    const out = new Map<string, Choice | MethodBallot>();
    const reveals = record.secret ? await this.reveals(record.id) : undefined;
    for (const [voter, vote] of votes) {
      if (vote.ts > closes) continue;
      if (reveals) {
        const reveal = reveals.get(voter);
        if (
          reveal && vote.commitment !== undefined && reveal.commitment === vote.commitment &&
          reveal.ts > closes && reveal.ts <= revealEnds
        ) out.set(voter, reveal.ballot);
        continue;
      }
      const ballot = record.method ? vote.ballot : vote.choice;
      if (ballot !== undefined) out.set(voter, ballot);
    }
    return out;
  }

  /**
   * The tally from stored votes, reveals and delegations; deterministic in the
   * envelopes held. A method proposal's result is under `method`, and its
   * outcome is `Closed` or `NoQuorum`; `ballots` is filled for the proposal
   * method only.
   */
  async tally(record: ProposalRecord, ballots?: Ballot[]): Promise<ProposalTally> {
    const { tallies } = await this.#data();
    const cached = tallies.get(record.id);
    if (cached && !ballots) return cached;
    const eligible = await this.membersAt(record.opened);
    const counted = await this.counted(record);
    const delegations = await this.delegationsFor(record);
    let result: ProposalTally;
    if (record.method) {
      const method = tallyMethod({
        spec: record.method,
        eligible,
        votes: counted as Map<string, MethodBallot>,
        delegations,
        quorum: record.rules.quorum,
      });
      result = {
        eligible: method.eligible,
        required: method.required,
        cast: method.cast,
        for: 0,
        against: 0,
        abstain: 0,
        block: 0,
        delegated: method.delegated,
        threshold: 0,
        outcome: method.outcome,
        method,
      };
    } else {
      result = tally({
        eligible,
        votes: counted as Map<string, Choice>,
        delegations,
        rules: record.rules,
      }, ballots);
    }
    tallies.set(record.id, result);
    return result;
  }

  /** A method proposal's tally with every member's resolved ballot, for `show`. */
  async methodBallots(
    record: ProposalRecord,
  ): Promise<{ did: string; ballot: MethodBallot; via?: string }[]> {
    if (!record.method) return [];
    const out: { did: string; ballot: MethodBallot; via?: string }[] = [];
    tallyMethod({
      spec: record.method,
      eligible: await this.membersAt(record.opened),
      votes: (await this.counted(record)) as Map<string, MethodBallot>,
      delegations: await this.delegationsFor(record),
      quorum: record.rules.quorum,
    }, out);
    return out;
  }

  /**
   * State at `now`: Open until the (derived) close; Revealing until a secret
   * proposal's reveal window ends; then the outcome (Closed or NoQuorum for a
   * method proposal); Executed once an accepted one's effective time passed.
   */
  async stateOf(record: ProposalRecord, now: number): Promise<ProposalState> {
    if (record.cancelled !== undefined) return "Cancelled";
    return await stateAt(
      await this.timing(record),
      record.secret === true,
      now,
      async () => (await this.tally(record)).outcome,
    );
  }

  /** Accepted upgrade proposals, in effect order. */
  async acceptedUpgrades(now: number): Promise<ProposalRecord[]> {
    const out: ProposalRecord[] = [];
    for (const entry of await this.index("upgrade")) {
      if (entry.cancelled !== undefined || entry.closes >= now) continue;
      const record = await this.proposal(entry.id);
      if (!record || (await this.timing(record)).revealEnds >= now) continue;
      if ((await this.tally(record)).outcome === "Accepted") out.push(record);
    }
    return out;
  }

  /** The highest `minVersion` of executed upgrades whose deadline has passed, or null. */
  async upgradeRequirement(now: number): Promise<string | null> {
    let required: string | null = null;
    for (const record of await this.acceptedUpgrades(now)) {
      const action = record.action as UpgradeAction;
      if ((await this.timing(record)).effective > now || action.deadline > now) continue;
      if (required === null || compareVersions(action.minVersion, required) > 0) {
        required = action.minVersion;
      }
    }
    return required;
  }
}
