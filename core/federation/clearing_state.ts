/**
 * Stored clearing positions: what `foldClearing` derives from the federation's clearing
 * records, kept in the federation store and updated by the `fed.clear.*` handlers in the
 * same commit as the record they accept, so handlers, agents and `positions` read a few keys
 * instead of folding the whole history (docs/clearing.md, "Stored positions").
 *
 * What is stored is a function of the records alone, whatever order they arrived in:
 *
 * - per pair, its totals (position, accepted, settled) and the key (time, CID) of the last
 *   decision applied, and `basis`: the pair's agreement versions the totals were computed on;
 * - per pair, a log of its decisions (every answer dated inside its commit's window, every
 *   settlement both sides noted), keyed by (time, CID), each carrying the records it needs;
 * - the outcome of every decided commit, the open (undecided) commits, each settlement's status.
 *
 * A decision dated after the pair's last one is applied on top (`applyDecision`, the fold's own
 * rule); one dated earlier (it arrived late) re-folds the pair from its log. Expiry is never
 * stored: an undecided commit is open or expired by the reader's clock. Agreements are derived
 * on read from votes (a vote can arrive late); a pair whose stored basis is not the agreements
 * a reader derives now is re-folded from its log on read, and re-stored by the next handler
 * that touches it. `icn federation check` folds everything and compares (`compareStored`).
 *
 * Stores written before positions were stored hold no `version` key: the first handler that
 * writes clearing state derives everything in its own commit (`ensureStored`); readers fold.
 */
import type { StateView } from "../chain/state.ts";
import {
  agreementAt,
  type AgreementVersion,
  answerInWindow,
  type AnswerRecord,
  applyDecision,
  type ClearingDecision,
  type ClearingState,
  type CommitOutcome,
  type CommitRecord,
  compareDecisions,
  foldClearing,
  pairOf,
  type PairState,
  type PairTotals,
  settlementDecision,
  type SettlementNote,
  settlementNotesMatch,
  type SettlementOutcome,
} from "./clearing.ts";

/** Version of the stored layout; absent in stores written before positions were stored. */
export const clearingStateVersion = 1;

const base = ["fed", "clr"] as const;

export const clearingStateKeys = {
  version: [...base, "v"] as const,
  pair: (pair: string) => [...base, "p", pair] as const,
  pairsPrefix: [...base, "p"] as const,
  decision: (pair: string, ts: number, cid: string) => [...base, "d", pair, ts, cid] as const,
  decisionsPrefix: (pair: string) => [...base, "d", pair] as const,
  outcome: (commit: string) => [...base, "o", commit] as const,
  outcomesPrefix: [...base, "o"] as const,
  open: (commit: string) => [...base, "u", commit] as const,
  openPrefix: [...base, "u"] as const,
  settlement: (pair: string, id: string) => [...base, "so", pair, id] as const,
  settlementsPrefix: [...base, "so"] as const,
};

/** A pair's stored totals. */
export interface StoredPair extends PairTotals {
  /** The pair's agreement versions these totals were computed on (`basisOf`). */
  basis: string;
  /** The last decision applied, (time, CID); null before any. */
  last: [number, string] | null;
}

/** A logged decision with the records it needs to be applied again. */
export type StoredDecision =
  | { type: "answer"; answer: AnswerRecord; commit: CommitRecord }
  | { type: "settle"; notes: [SettlementNote, SettlementNote] };

/** An undecided commit: open until `expires`, expired after (by the reader's clock). */
export interface OpenCommit {
  from: string;
  to: string;
  expires: number;
}

/** A settlement's stored status and the notes seen (the first of each side). */
export interface StoredSettlement extends SettlementOutcome {
  notes: SettlementNote[];
}

/** Decided outcomes stored per commit (open and expired are derived on read). */
type DecidedOutcome = CommitOutcome & { status: "accepted" | "refused" };

/** The agreement versions of a pair in a canonical text: what stored totals depend on. */
export function basisOf(agreements: readonly AgreementVersion[], pair: string): string {
  return agreements
    .filter((a) => pairOf(a.coopA, a.coopB).key === pair)
    .map((a) =>
      `${a.id}:${a.effective}:${a.limit}:${a.coopA}=${a.rateA.text}:${a.coopB}=${a.rateB.text}:${
        a.end ? 1 : 0
      }`
    )
    .sort()
    .join(";");
}

function toDecision(stored: StoredDecision): ClearingDecision {
  if (stored.type === "answer") {
    return {
      ts: stored.answer.ts,
      cid: stored.answer.cid,
      type: "answer",
      answer: stored.answer,
      commit: stored.commit,
    };
  }
  return settlementDecision(stored.notes[0], stored.notes[1]);
}

/** Re-applies a pair's logged decisions in order: its totals and its commits' outcomes. */
export function foldPairLog(
  lo: string,
  hi: string,
  log: readonly StoredDecision[],
  agreements: readonly AgreementVersion[],
): { pair: PairTotals; outcomes: Map<string, DecidedOutcome>; last: [number, string] | null } {
  const pair: PairTotals = { lo, hi, position: 0n, accepted: 0, settled: 0n, settlements: 0 };
  const outcomes = new Map<string, DecidedOutcome>();
  const decisions = log.map(toDecision).sort(compareDecisions);
  for (const decision of decisions) {
    if (decision.type === "answer" && outcomes.has(decision.commit.cid)) continue;
    const outcome = applyDecision(pair, decision, agreements);
    if (decision.type === "answer") outcomes.set(decision.commit.cid, outcome as DecidedOutcome);
  }
  const lastDecision = decisions.at(-1);
  return { pair, outcomes, last: lastDecision ? [lastDecision.ts, lastDecision.cid] : null };
}

async function pairLog(state: Pick<StateView, "list">, pair: string): Promise<StoredDecision[]> {
  return (await state.list<StoredDecision>(clearingStateKeys.decisionsPrefix(pair))).map((e) =>
    e.value
  );
}

/** Re-folds one pair from its log and stores the result (only the outcomes that changed). */
async function refoldPair(
  state: StateView,
  agreements: readonly AgreementVersion[],
  lo: string,
  hi: string,
): Promise<void> {
  const key = pairOf(lo, hi).key;
  const { pair, outcomes, last } = foldPairLog(lo, hi, await pairLog(state, key), agreements);
  state.set(
    clearingStateKeys.pair(key),
    {
      ...pair,
      basis: basisOf(agreements, key),
      last,
    } satisfies StoredPair,
  );
  for (const [commit, outcome] of outcomes) {
    const stored = await state.get<DecidedOutcome>(clearingStateKeys.outcome(commit));
    if (!stored || !sameOutcome(stored, outcome)) {
      state.set(clearingStateKeys.outcome(commit), outcome);
    }
  }
}

function sameOutcome(a: CommitOutcome, b: CommitOutcome): boolean {
  return a.status === b.status && a.reason === b.reason && a.answer === b.answer &&
    a.decidedAt === b.decidedAt;
}

function emptyPair(lo: string, hi: string, basis: string): StoredPair {
  return { lo, hi, position: 0n, accepted: 0, settled: 0n, settlements: 0, basis, last: null };
}

/**
 * Logs `decision` for its pair and brings the pair's stored totals up to date: on top when it
 * is the latest, else (or when the agreements changed) by re-folding the pair's log.
 */
async function storeDecision(
  state: StateView,
  agreements: readonly AgreementVersion[],
  decision: ClearingDecision,
  stored: StoredDecision,
  lo: string,
  hi: string,
): Promise<void> {
  const key = pairOf(lo, hi).key;
  state.set(clearingStateKeys.decision(key, decision.ts, decision.cid), stored);
  const basis = basisOf(agreements, key);
  const current = await state.get<StoredPair>(clearingStateKeys.pair(key)) ??
    emptyPair(lo, hi, basis);
  const latest = current.last === null ||
    compareDecisions(decision, { ts: current.last[0], cid: current.last[1] }) > 0;
  if (current.basis !== basis || !latest) return refoldPair(state, agreements, lo, hi);
  const pair: StoredPair = { ...current, last: [decision.ts, decision.cid] };
  if (decision.type === "answer") {
    // An earlier answer decided it already: logged, changes nothing.
    if (await state.get(clearingStateKeys.outcome(decision.commit.cid))) {
      state.set(clearingStateKeys.pair(key), pair);
      return;
    }
    const outcome = applyDecision(pair, decision, agreements)!;
    state.set(clearingStateKeys.outcome(decision.commit.cid), outcome);
  } else {
    applyDecision(pair, decision, agreements);
  }
  state.set(clearingStateKeys.pair(key), pair);
}

/** Records a commit the handler accepted: open until answered. */
export function storeCommit(state: StateView, commit: CommitRecord): void {
  state.set(
    clearingStateKeys.open(commit.cid),
    {
      from: commit.from,
      to: commit.to,
      expires: commit.expires,
    } satisfies OpenCommit,
  );
}

/** Records an answer the handler accepted: a decision when dated inside the commit's window. */
export async function storeAnswer(
  state: StateView,
  agreements: readonly AgreementVersion[],
  answer: AnswerRecord,
  commit: CommitRecord,
): Promise<void> {
  if (!answerInWindow(answer, commit)) return;
  state.delete(clearingStateKeys.open(commit.cid));
  const { lo, hi } = pairOf(commit.from, commit.to);
  await storeDecision(
    state,
    agreements,
    { ts: answer.ts, cid: answer.cid, type: "answer", answer, commit },
    { type: "answer", answer, commit },
    lo,
    hi,
  );
}

/** Records a settlement note the handler accepted: applied once both sides noted the same. */
export async function storeNote(
  state: StateView,
  agreements: readonly AgreementVersion[],
  note: SettlementNote,
): Promise<void> {
  const { lo, hi, key } = pairOf(note.payer, note.payee);
  const stored = await state.get<StoredSettlement>(clearingStateKeys.settlement(key, note.id));
  if (!stored) {
    state.set(
      clearingStateKeys.settlement(key, note.id),
      {
        id: note.id,
        pair: key,
        status: "noted",
        amount: note.amount,
        payer: note.payer,
        payee: note.payee,
        notes: [note],
      } satisfies StoredSettlement,
    );
    return;
  }
  if (stored.notes.some((n) => n.by === note.by)) return; // the first note of each side counts
  const [first] = stored.notes;
  if (!settlementNotesMatch(first, note)) {
    state.set(clearingStateKeys.settlement(key, note.id), {
      ...stored,
      status: "mismatch",
      notes: [first, note],
    });
    return;
  }
  const decision = settlementDecision(first, note);
  state.set(
    clearingStateKeys.settlement(key, note.id),
    {
      ...stored,
      status: "applied",
      appliedAt: decision.ts,
      notes: [first, note],
    } satisfies StoredSettlement,
  );
  await storeDecision(
    state,
    agreements,
    decision,
    { type: "settle", notes: [first, note] },
    lo,
    hi,
  );
}

/** The records a full derivation folds (`readClearing` lists them). */
export interface ClearingRecords {
  agreements: readonly AgreementVersion[];
  commits: readonly CommitRecord[];
  answers: readonly AnswerRecord[];
  notes: readonly SettlementNote[];
}

/**
 * Derives the whole stored state from the records, into `state` (a store written before
 * positions were stored, upgraded by the first handler that writes clearing state, in its own
 * commit). Writes nothing when the version key is there already.
 */
export async function ensureStored(
  state: StateView,
  records: () => Promise<ClearingRecords>,
): Promise<void> {
  if (await state.get(clearingStateKeys.version) !== undefined) return;
  const { agreements, commits, answers, notes } = await records();
  const fold = foldClearing({ agreements, commits, answers, settlements: notes, now: 0 });
  const byCid = new Map(commits.map((c) => [c.cid, c]));
  // Only first commits of a payment id count, as in the fold.
  const winners = new Set(
    [...fold.commits].filter(([, o]) => o.status !== "duplicate").map(([cid]) => cid),
  );
  for (const cid of winners) {
    const commit = byCid.get(cid)!;
    const outcome = fold.commits.get(cid)!;
    if (outcome.status === "accepted" || outcome.status === "refused") {
      state.set(clearingStateKeys.outcome(cid), outcome);
    } else {
      storeCommit(state, commit);
    }
  }
  const logs = new Map<string, { lo: string; hi: string; last: [number, string] | null }>();
  const log = (lo: string, hi: string, decision: ClearingDecision, stored: StoredDecision) => {
    const key = pairOf(lo, hi).key;
    state.set(clearingStateKeys.decision(key, decision.ts, decision.cid), stored);
    const entry = logs.get(key) ?? { lo, hi, last: null };
    if (
      entry.last === null ||
      compareDecisions(decision, { ts: entry.last[0], cid: entry.last[1] }) > 0
    ) {
      entry.last = [decision.ts, decision.cid];
    }
    logs.set(key, entry);
  };
  for (const answer of answers) {
    const commit = byCid.get(answer.commit);
    if (!commit || !winners.has(commit.cid) || !answerInWindow(answer, commit)) continue;
    const { lo, hi } = pairOf(commit.from, commit.to);
    log(lo, hi, { ts: answer.ts, cid: answer.cid, type: "answer", answer, commit }, {
      type: "answer",
      answer,
      commit,
    });
  }
  const seen = new Map<string, SettlementNote[]>();
  for (const note of [...notes].sort(compareDecisions)) {
    const key = `${pairOf(note.payer, note.payee).key} ${note.id}`;
    const list = seen.get(key) ?? [];
    if (!list.some((n) => n.by === note.by)) list.push(note);
    seen.set(key, list);
  }
  for (const outcome of fold.settlements) {
    const list = seen.get(`${outcome.pair} ${outcome.id}`)!;
    const { appliedAt: _, ...rest } = outcome;
    state.set(
      clearingStateKeys.settlement(outcome.pair, outcome.id),
      {
        ...rest,
        ...(outcome.appliedAt !== undefined ? { appliedAt: outcome.appliedAt } : {}),
        notes: list.slice(0, 2),
      } satisfies StoredSettlement,
    );
    if (outcome.status === "applied") {
      const [first, second] = list;
      const { lo, hi } = pairOf(first.payer, first.payee);
      log(lo, hi, settlementDecision(first, second), { type: "settle", notes: [first, second] });
    }
  }
  for (const [key, pair] of fold.pairs) {
    const last = logs.get(key)?.last ?? null;
    state.set(
      clearingStateKeys.pair(key),
      {
        lo: pair.lo,
        hi: pair.hi,
        position: pair.position,
        accepted: pair.accepted,
        settled: pair.settled,
        settlements: pair.settlements,
        basis: basisOf(agreements, key),
        last,
      } satisfies StoredPair,
    );
  }
  state.set(clearingStateKeys.version, clearingStateVersion);
}

/** Whether `state` holds stored positions (written since positions were stored, or upgraded). */
export async function hasStoredState(state: Pick<StateView, "get">): Promise<boolean> {
  return await state.get(clearingStateKeys.version) !== undefined;
}

/**
 * The clearing state from what is stored, at `now`: pairs (a pair whose basis is not
 * `agreements` re-folded from its log, nothing written), decided outcomes, undecided commits
 * open or expired by `now`, settlements (with `commits: false`, the pairs alone: what
 * `positions` reads). Undefined when the store holds no stored state.
 */
export async function readStored(
  state: Pick<StateView, "get" | "list">,
  agreements: readonly AgreementVersion[],
  now: number,
  options: { commits?: boolean } = {},
): Promise<(ClearingState & { stale: string[] }) | undefined> {
  if (!(await hasStoredState(state))) return undefined;
  const pairs = new Map<string, PairState>();
  const commits = new Map<string, CommitOutcome>();
  const stale: string[] = [];
  for (const { value } of await state.list<StoredPair>(clearingStateKeys.pairsPrefix)) {
    const key = pairOf(value.lo, value.hi).key;
    let totals: PairTotals = value;
    if (value.basis !== basisOf(agreements, key)) {
      stale.push(key);
      const refold = foldPairLog(value.lo, value.hi, await pairLog(state, key), agreements);
      totals = refold.pair;
      for (const [cid, outcome] of refold.outcomes) commits.set(cid, outcome);
    }
    pairs.set(key, {
      lo: value.lo,
      hi: value.hi,
      position: totals.position,
      accepted: totals.accepted,
      settled: totals.settled,
      settlements: totals.settlements,
    });
  }
  // A pair with an agreement and no decision yet is shown even, as the fold does.
  for (const a of agreements) {
    const { lo, hi, key } = pairOf(a.coopA, a.coopB);
    if (!pairs.has(key)) {
      pairs.set(key, { lo, hi, position: 0n, accepted: 0, settled: 0n, settlements: 0 });
    }
  }
  for (const pair of pairs.values()) {
    const agreement = agreementAt(agreements, pair.lo, pair.hi, now);
    if (agreement) pair.agreement = agreement;
  }
  if (options.commits === false) return { pairs, commits, settlements: [], stale };
  for (const { key, value } of await state.list<DecidedOutcome>(clearingStateKeys.outcomesPrefix)) {
    const cid = key[3] as string;
    if (!commits.has(cid)) commits.set(cid, value);
  }
  for (const { key, value } of await state.list<OpenCommit>(clearingStateKeys.openPrefix)) {
    commits.set(key[3] as string, { status: now > value.expires ? "expired" : "open" });
  }
  const settlements: SettlementOutcome[] = [];
  for (const { value } of await state.list<StoredSettlement>(clearingStateKeys.settlementsPrefix)) {
    const { notes: _, ...outcome } = value;
    settlements.push(outcome);
  }
  return { pairs, commits, settlements, stale };
}

/** Undecided commits per pair that are still open at `now` (the positions' "open" column). */
export async function openByPair(
  state: Pick<StateView, "list">,
  now: number,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const { value } of await state.list<OpenCommit>(clearingStateKeys.openPrefix)) {
    if (now > value.expires) continue;
    const key = pairOf(value.from, value.to).key;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/**
 * Where the stored state and a full fold of the records disagree (`icn federation check`):
 * empty when they agree. Compared: each pair's totals, each winning commit's outcome (open and
 * expired alike as undecided) and each settlement's status.
 */
export function compareStored(stored: ClearingState, fold: ClearingState): string[] {
  const out: string[] = [];
  const keys = new Set([...stored.pairs.keys(), ...fold.pairs.keys()]);
  for (const key of [...keys].sort()) {
    const s = stored.pairs.get(key), f = fold.pairs.get(key);
    const text = (p?: PairState) =>
      p ? `position ${p.position}, ${p.accepted} accepted, settled ${p.settled}` : "absent";
    if (text(s) !== text(f)) out.push(`pair ${key}: stored ${text(s)}, the fold gives ${text(f)}`);
  }
  const undecided = (o?: CommitOutcome) =>
    !o
      ? "absent"
      : o.status === "open" || o.status === "expired"
      ? "undecided"
      : `${o.status}${o.reason ? ` (${o.reason})` : ""} by ${o.answer}`;
  const cids = new Set([...stored.commits.keys(), ...fold.commits.keys()]);
  for (const cid of [...cids].sort()) {
    const f = fold.commits.get(cid);
    if (f?.status === "duplicate") continue;
    const a = undecided(stored.commits.get(cid)), b = undecided(f);
    if (a !== b) out.push(`commit ${cid}: stored ${a}, the fold gives ${b}`);
  }
  const settlement = (list: SettlementOutcome[]) =>
    new Map(list.map((s) => [`${s.pair} ${s.id}`, `${s.status} ${s.amount}`]));
  const ss = settlement(stored.settlements), fs = settlement(fold.settlements);
  for (const key of [...new Set([...ss.keys(), ...fs.keys()])].sort()) {
    if (ss.get(key) !== fs.get(key)) {
      out.push(
        `settlement ${key}: stored ${ss.get(key) ?? "absent"}, the fold gives ${
          fs.get(key) ?? "absent"
        }`,
      );
    }
  }
  return out;
}

/**
 * A canonical text of the clearing state that does not depend on the reader's clock: pair
 * totals, decided outcomes (undecided commits as such), settlement statuses. Its SHA-256 is the
 * clearing part of the federation's state hash (`icn federation check`).
 */
export function clearingStateDigest(state: ClearingState): string {
  const pairs = [...state.pairs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map((
    [key, p],
  ) => `${key}:${p.position}:${p.accepted}:${p.settled}:${p.settlements}`);
  const commits = [...state.commits.entries()]
    .filter(([, o]) => o.status !== "duplicate")
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([cid, o]) =>
      o.status === "open" || o.status === "expired"
        ? `${cid}:undecided`
        : `${cid}:${o.status}:${o.reason ?? ""}:${o.answer ?? ""}`
    );
  const settlements = state.settlements.map((s) => `${s.pair}:${s.id}:${s.status}:${s.amount}`)
    .sort();
  return [...pairs, "|", ...commits, "|", ...settlements].join("\n");
}

/**
 * The part of the stored state one handler needs, at `now`: the pair of `x` and `y` (re-folded
 * from its log when its basis is stale, nothing written), the outcomes of `commits`, and the
 * pair's settlements with their notes. Reads a few keys, not the history.
 */
export async function readStoredPair(
  state: Pick<StateView, "get" | "list">,
  agreements: readonly AgreementVersion[],
  pairOfCoops: { x: string; y: string },
  commits: readonly CommitRecord[],
  now: number,
): Promise<{ state: ClearingState; notes: SettlementNote[] }> {
  const { lo, hi, key } = pairOf(pairOfCoops.x, pairOfCoops.y);
  const stored = await state.get<StoredPair>(clearingStateKeys.pair(key));
  const pairs = new Map<string, PairState>();
  const outcomes = new Map<string, CommitOutcome>();
  let refolded: Map<string, DecidedOutcome> | undefined;
  let totals: PairTotals = stored ??
    { lo, hi, position: 0n, accepted: 0, settled: 0n, settlements: 0 };
  if (stored && stored.basis !== basisOf(agreements, key)) {
    const refold = foldPairLog(lo, hi, await pairLog(state, key), agreements);
    totals = refold.pair;
    refolded = refold.outcomes;
  }
  const pair: PairState = {
    lo,
    hi,
    position: totals.position,
    accepted: totals.accepted,
    settled: totals.settled,
    settlements: totals.settlements,
  };
  const agreement = agreementAt(agreements, lo, hi, now);
  if (agreement) pair.agreement = agreement;
  pairs.set(key, pair);
  for (const commit of commits) {
    const decided = refolded?.get(commit.cid) ??
      await state.get<DecidedOutcome>(clearingStateKeys.outcome(commit.cid));
    if (decided) outcomes.set(commit.cid, decided);
    else if (await state.get(clearingStateKeys.open(commit.cid))) {
      outcomes.set(commit.cid, { status: now > commit.expires ? "expired" : "open" });
    }
  }
  const settlements: SettlementOutcome[] = [];
  const notes: SettlementNote[] = [];
  for (
    const { value } of await state.list<StoredSettlement>([
      ...clearingStateKeys.settlementsPrefix,
      key,
    ])
  ) {
    const { notes: seen, ...outcome } = value;
    settlements.push(outcome);
    notes.push(...seen);
  }
  return { state: { pairs, commits: outcomes, settlements }, notes };
}
