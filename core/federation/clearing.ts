/**
 * Clearing between cooperatives: the pure rules. A clearing agreement between
 * two cooperatives of a federation sets a limit (in the federation's currency)
 * and each cooperative's rate; payments between their members are committed
 * in the federation by the payer's cooperative, and accepted or refused there
 * by the payee's. The position of a pair (what one owes the other, net of both
 * directions and of settlements) is derived on read from those records alone,
 * in one deterministic order, so every node that holds the same records has
 * the same positions whatever order they arrived in.
 *
 * The order: every decision (an answer to a commit, a settlement both sides
 * noted) is applied by (time, CID). An accept counts only when it is the first
 * decision on its commit, it is dated no later than the commit's expiry, an
 * agreement is in force between the pair at its time with the rates the
 * commit was made at, and the position after it stays within the limit (or
 * moves towards zero). Otherwise it counts as a refusal, with the reason. A
 * second commit of the same payment id by the same cooperative changes
 * nothing (the first by time, then CID, wins).
 *
 * A settlement (a payment between the cooperatives outside the federation
 * ledger) applies once a delegate of each side has noted it with the same id,
 * payer, payee and amount; it always applies, since the payment happened: the
 * handler refuses a note for more than the payer owes in the noter's view.
 *
 * Why an accept checked on one node's view stays accepted in the derived
 * order (with one agent per cooperative, each seeing its own records): the
 * payee's accepts only move the position one way (towards "payer owes"), and
 * what the payee has not yet seen of the other side (the other side's accepts
 * and settlement notes) only moves it the other way, except settlements the
 * payee itself pays, which its agent counts as applied before accepting
 * (`reservedByNotes`). The property test (`clearing_property_test.ts`) checks
 * this over random interleavings.
 *
 * Everything here is a function of its inputs: no clock, no store.
 */
import { InvalidInputError, shown } from "../errors.ts";
import { amountMinorMax } from "../ledger/amount.ts";

/** Rates are decimals with at most this many decimals: 1 minor unit of a cooperative's currency = rate minor units of the federation's. */
export const rateDecimalsMax = 6;
const rateScale = 10n ** BigInt(rateDecimalsMax);
/** Largest rate: far above any sensible exchange, far below overflow. */
export const rateMax = 1_000_000;
/** Longest a commit may stay open before its payee's cooperative answers it. */
export const commitLifetimeMaxMs = 6 * 86_400_000;
/** Shortest commit lifetime: an answer needs at least a network round trip. */
export const commitLifetimeMinMs = 1000;
/**
 * How long after a commit's expiry the payer's cooperative keeps its pending
 * transfer open: an accept dated before the expiry may reach the payer's side
 * late (a partition), and the pending must still be there to post. With
 * `commitLifetimeMaxMs` it stays within the ledger's longest pending (7 days).
 */
export const pendingGraceMs = 86_400_000;
/** Longest settlement interval an agreement may set. */
export const settlementIntervalMaxMs = 366 * 86_400_000;

/** A rate as an exact fraction of `rateScale`. */
export interface Rate {
  /** The decimal text as agreed, e.g. "1" or "0.5". */
  text: string;
  /** rate × 10^rateDecimalsMax, exactly. */
  scaled: bigint;
}

/** Parses a rate ("1", "0.25"): positive, at most `rateDecimalsMax` decimals, at most `rateMax`. */
export function parseRate(text: unknown, what = "rate"): Rate {
  const fail = (why: string): never => {
    throw new InvalidInputError(`Cannot use ${what} "${shown(text)}": ${why}`);
  };
  if (typeof text !== "string" || text.length > 24) fail("expected a decimal like 1 or 0.5");
  const match = /^(\d{1,7})(?:\.(\d+))?$/.exec(text as string);
  if (!match) fail("expected a decimal like 1 or 0.5");
  const fraction = match![2] ?? "";
  if (fraction.length > rateDecimalsMax) fail(`at most ${rateDecimalsMax} decimals`);
  const scaled = BigInt(match![1]) * rateScale +
    BigInt(fraction.padEnd(rateDecimalsMax, "0") || "0");
  if (scaled === 0n) fail("a rate must be greater than zero");
  if (scaled > BigInt(rateMax) * rateScale) fail(`the maximum is ${rateMax}`);
  // One spelling per rate, so two agreements with the same rates are the same bytes.
  const canonical = canonicalRate(scaled);
  if (canonical !== text) fail(`write it as "${canonical}"`);
  return { text: text as string, scaled };
}

function canonicalRate(scaled: bigint): string {
  const whole = scaled / rateScale;
  const fraction = (scaled % rateScale).toString().padStart(rateDecimalsMax, "0").replace(
    /0+$/,
    "",
  );
  return fraction === "" ? `${whole}` : `${whole}.${fraction}`;
}

/** `minor` of a cooperative's currency in federation minor units, or undefined when not a whole number. */
export function toFederation(minor: bigint, rate: Rate): bigint | undefined {
  const product = minor * rate.scaled;
  return product % rateScale === 0n ? product / rateScale : undefined;
}

/** `fed` federation minor units in a cooperative's currency, or undefined when not a whole number. */
export function fromFederation(fed: bigint, rate: Rate): bigint | undefined {
  const product = fed * rateScale;
  return product % rate.scaled === 0n ? product / rate.scaled : undefined;
}

/** The terms two cooperatives agree (the action of a `clearing` federation proposal). */
export interface ClearingTerms {
  coopA: string;
  coopB: string;
  /** Largest position either may owe the other, in federation minor units (0 with `end`). */
  limit: bigint;
  rateA: Rate;
  rateB: Rate;
  /** How often the treasurers mean to settle, ms (advice shown by `positions`; not enforced). */
  settlementInterval: number;
  /** True when this proposal ends the agreement: no commit is accepted after it takes effect. */
  end: boolean;
}

/** An accepted clearing proposal, from the time it takes effect. */
export interface AgreementVersion extends ClearingTerms {
  /** The proposal's id. */
  id: string;
  effective: number;
}

/** The two cooperatives of a pair, in id order: positions are what `lo` owes `hi`. */
export function pairOf(x: string, y: string): { lo: string; hi: string; key: string } {
  const [lo, hi] = x < y ? [x, y] : [y, x];
  return { lo, hi, key: `${lo}/${hi}` };
}

/** The rate of `coop` under `terms` (undefined when it is not one of the pair). */
export function rateOf(terms: ClearingTerms, coop: string): Rate | undefined {
  return coop === terms.coopA ? terms.rateA : coop === terms.coopB ? terms.rateB : undefined;
}

/** A payment committed in the federation by a delegate of the payer's cooperative. */
export interface CommitRecord {
  cid: string;
  /** Payment id, unique per payer cooperative: the idempotency key. */
  id: string;
  from: string;
  to: string;
  payer: string;
  payee: string;
  /** Federation minor units. */
  amount: bigint;
  /** In the payer's cooperative's currency (minor units). */
  amountFrom: bigint;
  /** In the payee's cooperative's currency (minor units). */
  amountTo: bigint;
  expires: number;
  ts: number;
  author: string;
}

/** An answer by a delegate of the payee's cooperative. */
export interface AnswerRecord {
  cid: string;
  /** CID of the commit answered. */
  commit: string;
  choice: "accept" | "refuse";
  ts: number;
  author: string;
}

/** One side's note of a settlement: `payer` paid `payee` `amount` outside the federation ledger. */
export interface SettlementNote {
  cid: string;
  /** Settlement id, shared by both sides' notes. */
  id: string;
  payer: string;
  payee: string;
  amount: bigint;
  /** The cooperative whose delegate noted it. */
  by: string;
  ts: number;
}

export type CommitStatus =
  | "open"
  | "accepted"
  | "refused"
  | "expired"
  | "duplicate";

export interface CommitOutcome {
  status: CommitStatus;
  /** Why a refusal: the payee refused, or the accept did not fit. */
  reason?: "refused" | "over_limit" | "no_agreement" | "terms_changed";
  /** The answer that decided it. */
  answer?: string;
  decidedAt?: number;
}

export interface PairState {
  lo: string;
  hi: string;
  /** What `lo` owes `hi`, federation minor units (negative: `hi` owes `lo`). */
  position: bigint;
  /** The agreement in force at the fold's `now` (absent: none, or ended). */
  agreement?: AgreementVersion;
  /** Accepted commits, both directions. */
  accepted: number;
  /** Settlements applied and their total. */
  settled: bigint;
  settlements: number;
}

export interface SettlementOutcome {
  id: string;
  pair: string;
  status: "noted" | "applied" | "mismatch";
  amount: bigint;
  payer: string;
  payee: string;
  appliedAt?: number;
}

export interface ClearingState {
  pairs: Map<string, PairState>;
  commits: Map<string, CommitOutcome>;
  settlements: SettlementOutcome[];
}

export interface ClearingInput {
  agreements: Iterable<AgreementVersion>;
  commits: Iterable<CommitRecord>;
  answers: Iterable<AnswerRecord>;
  settlements: Iterable<SettlementNote>;
  /** Reading time: commits still undecided after their expiry are expired. */
  now: number;
}

function byTimeThenCid(a: { ts: number; cid: string }, b: { ts: number; cid: string }): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  return a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0;
}

function byEffective(a: AgreementVersion, b: AgreementVersion): number {
  if (a.effective !== b.effective) return a.effective - b.effective;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The agreement between `x` and `y` in force at `ts`, or undefined (none yet, or ended). */
export function agreementAt(
  agreements: readonly AgreementVersion[],
  x: string,
  y: string,
  ts: number,
): AgreementVersion | undefined {
  const { key } = pairOf(x, y);
  let latest: AgreementVersion | undefined;
  for (const a of [...agreements].sort(byEffective)) {
    if (a.effective > ts) break;
    if (pairOf(a.coopA, a.coopB).key === key) latest = a;
  }
  return latest && !latest.end ? latest : undefined;
}

/**
 * What a commit must carry under `terms`: the federation amount of `amountFrom`
 * at the payer's rate, and that in the payee's currency at the payee's rate;
 * undefined (with why) when either is not a whole number of minor units.
 */
export function convertPayment(
  terms: ClearingTerms,
  from: string,
  to: string,
  amountFrom: bigint,
): { amount: bigint; amountTo: bigint } | { error: string } {
  const rateFrom = rateOf(terms, from), rateTo = rateOf(terms, to);
  if (!rateFrom || !rateTo || from === to) return { error: "the agreement is not between them" };
  const amount = toFederation(amountFrom, rateFrom);
  if (amount === undefined || amount === 0n) {
    return {
      error:
        `it is not a whole number of federation minor units at the agreed rate ${rateFrom.text}`,
    };
  }
  if (amount > amountMinorMax) return { error: "it is above the largest amount" };
  const amountTo = fromFederation(amount, rateTo);
  if (amountTo === undefined || amountTo === 0n) {
    return {
      error:
        `it is not a whole number of the payee cooperative's minor units at its agreed rate ${rateTo.text}`,
    };
  }
  return { amount, amountTo };
}

/** Whether `commit`'s three amounts are what `terms` make of its `amountFrom`. */
export function commitMatchesTerms(terms: ClearingTerms, commit: CommitRecord): boolean {
  const converted = convertPayment(terms, commit.from, commit.to, commit.amountFrom);
  return !("error" in converted) && converted.amount === commit.amount &&
    converted.amountTo === commit.amountTo;
}

/** What `lo` would owe `hi` after accepting `commit` on `position`. */
export function positionAfter(position: bigint, commit: CommitRecord, lo: string): bigint {
  return commit.from === lo ? position + commit.amount : position - commit.amount;
}

/** Whether moving from `before` to `after` keeps within `limit` (a move towards zero always does). */
export function withinLimit(before: bigint, after: bigint, limit: bigint): boolean {
  const abs = (v: bigint) => (v < 0n ? -v : v);
  return abs(after) <= limit || abs(after) <= abs(before);
}

/** A decision of the clearing order: an answer to a commit, or a settlement both sides noted. */
export type ClearingDecision =
  | { ts: number; cid: string; type: "answer"; answer: AnswerRecord; commit: CommitRecord }
  | { ts: number; cid: string; type: "settle"; notes: [SettlementNote, SettlementNote] };

/** The totals of a pair that decisions change (a `PairState` without the agreement at `now`). */
export interface PairTotals {
  lo: string;
  hi: string;
  position: bigint;
  accepted: number;
  settled: bigint;
  settlements: number;
}

/** Order of decisions (and of stored decision keys): time, then CID. */
export function compareDecisions(
  a: { ts: number; cid: string },
  b: { ts: number; cid: string },
): number {
  return byTimeThenCid(a, b);
}

/** The first commit of each payment id (by time, then CID), and the duplicates' outcomes. */
function winnersOf(commits: readonly CommitRecord[]): {
  winners: Map<string, CommitRecord>;
  duplicates: Map<string, CommitOutcome>;
} {
  const winners = new Map<string, CommitRecord>();
  const duplicates = new Map<string, CommitOutcome>();
  const firstById = new Set<string>();
  for (const commit of [...commits].sort(byTimeThenCid)) {
    const idKey = `${commit.from} ${commit.id}`;
    if (firstById.has(idKey)) {
      duplicates.set(commit.cid, { status: "duplicate" });
      continue;
    }
    firstById.add(idKey);
    winners.set(commit.cid, commit);
  }
  return { winners, duplicates };
}

/** Whether `answer` can decide `commit` at all: dated inside the commit's window. */
export function answerInWindow(answer: AnswerRecord, commit: CommitRecord): boolean {
  return answer.ts >= commit.ts && answer.ts <= commit.expires;
}

/**
 * Applies one decision to its pair, in the clearing order: the one rule both the fold and
 * the stored positions (clearing_state.ts) use. A settlement always applies; an answer's
 * outcome is returned (the caller has checked it is the first decision on its commit).
 */
export function applyDecision(
  pair: PairTotals,
  decision: ClearingDecision,
  agreements: readonly AgreementVersion[],
): CommitOutcome | undefined {
  if (decision.type === "settle") {
    const [note] = decision.notes;
    pair.position = note.payer === pair.lo
      ? pair.position - note.amount
      : pair.position + note.amount;
    pair.settled += note.amount;
    pair.settlements++;
    return undefined;
  }
  const { answer, commit } = decision;
  const decided = { answer: answer.cid, decidedAt: answer.ts };
  if (answer.choice === "refuse") return { status: "refused", reason: "refused", ...decided };
  const terms = agreementAt(agreements, commit.from, commit.to, answer.ts);
  if (!terms) return { status: "refused", reason: "no_agreement", ...decided };
  if (!commitMatchesTerms(terms, commit)) {
    return { status: "refused", reason: "terms_changed", ...decided };
  }
  const after = positionAfter(pair.position, commit, pair.lo);
  if (!withinLimit(pair.position, after, terms.limit)) {
    return { status: "refused", reason: "over_limit", ...decided };
  }
  pair.position = after;
  pair.accepted++;
  return { status: "accepted", ...decided };
}

/**
 * The clearing state: positions of every pair, the outcome of every commit and
 * settlement. Deterministic in its inputs whatever their order; duplicates
 * (same CID) count once.
 */
export function foldClearing(input: ClearingInput): ClearingState {
  const agreements = uniqueBy([...input.agreements], (a) => a.id).sort(byEffective);
  const commits = uniqueBy([...input.commits], (c) => c.cid);
  const answers = uniqueBy([...input.answers], (a) => a.cid);
  const notes = uniqueBy([...input.settlements], (n) => n.cid).sort(byTimeThenCid);

  const { winners, duplicates } = winnersOf(commits);
  const outcomes = new Map<string, CommitOutcome>(duplicates);

  const decisions: ClearingDecision[] = [];
  for (const answer of answers) {
    const commit = winners.get(answer.commit);
    if (!commit || !answerInWindow(answer, commit)) continue;
    decisions.push({ ts: answer.ts, cid: answer.cid, type: "answer", answer, commit });
  }
  // A settlement applies once both sides noted it (the first note of each side counts).
  const settlementOutcomes: SettlementOutcome[] = [];
  const bySettlement = new Map<string, SettlementNote[]>();
  for (const note of notes) {
    const key = `${pairOf(note.payer, note.payee).key} ${note.id}`;
    const list = bySettlement.get(key) ?? [];
    if (!list.some((n) => n.by === note.by)) list.push(note);
    bySettlement.set(key, list);
  }
  const settleIndex = new Map<string, SettlementOutcome>();
  for (const [key, list] of [...bySettlement].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const [first, second] = list;
    const outcome: SettlementOutcome = {
      id: first.id,
      pair: pairOf(first.payer, first.payee).key,
      status: "noted",
      amount: first.amount,
      payer: first.payer,
      payee: first.payee,
    };
    settlementOutcomes.push(outcome);
    settleIndex.set(key, outcome);
    if (!second) continue;
    if (!settlementNotesMatch(first, second)) {
      outcome.status = "mismatch";
      continue;
    }
    decisions.push(settlementDecision(first, second));
  }
  decisions.sort(byTimeThenCid);

  const pairs = new Map<string, PairState>();
  const pairState = (x: string, y: string): PairState => {
    const { lo, hi, key } = pairOf(x, y);
    let state = pairs.get(key);
    if (!state) {
      state = { lo, hi, position: 0n, accepted: 0, settled: 0n, settlements: 0 };
      pairs.set(key, state);
    }
    return state;
  };
  for (const agreement of agreements) pairState(agreement.coopA, agreement.coopB);

  for (const decision of decisions) {
    if (decision.type === "settle") {
      const [note] = decision.notes;
      applyDecision(pairState(note.payer, note.payee), decision, agreements);
      const outcome = settleIndex.get(`${pairOf(note.payer, note.payee).key} ${note.id}`)!;
      outcome.status = "applied";
      outcome.appliedAt = decision.ts;
      continue;
    }
    const { commit } = decision;
    if (outcomes.has(commit.cid)) continue; // decided by an earlier answer
    const pair = pairState(commit.from, commit.to);
    outcomes.set(commit.cid, applyDecision(pair, decision, agreements)!);
  }
  for (const commit of winners.values()) {
    if (outcomes.has(commit.cid)) continue;
    outcomes.set(commit.cid, { status: input.now > commit.expires ? "expired" : "open" });
  }
  for (const pair of pairs.values()) {
    const agreement = agreementAt(agreements, pair.lo, pair.hi, input.now);
    if (agreement) pair.agreement = agreement;
  }
  return { pairs, commits: outcomes, settlements: settlementOutcomes };
}

/** Whether two sides' notes of one settlement agree (same payer, payee and amount). */
export function settlementNotesMatch(first: SettlementNote, second: SettlementNote): boolean {
  return second.amount === first.amount && second.payer === first.payer &&
    second.payee === first.payee;
}

/** The decision of a settlement both sides noted: dated by the later note. */
export function settlementDecision(
  first: SettlementNote,
  second: SettlementNote,
): ClearingDecision & { type: "settle" } {
  const last = byTimeThenCid(first, second) < 0 ? second : first;
  return { ts: last.ts, cid: last.cid, type: "settle", notes: [first, second] };
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

/** What `coop` owes `partner` in `state` (negative: is owed), federation minor units. */
export function owedBy(state: ClearingState, coop: string, partner: string): bigint {
  const pair = state.pairs.get(pairOf(coop, partner).key);
  if (!pair) return 0n;
  return coop === pair.lo ? pair.position : -pair.position;
}

/** A canonical text of a clearing state, for comparing folds (the property tests' state hash). */
export function clearingDigest(state: ClearingState): string {
  const pairs = [...state.pairs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map((
    [key, p],
  ) => `${key}:${p.position}:${p.accepted}:${p.settled}:${p.agreement?.id ?? "-"}`);
  const commits = [...state.commits.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map((
    [cid, o],
  ) => `${cid}:${o.status}:${o.reason ?? ""}:${o.answer ?? ""}`);
  const settlements = state.settlements.map((s) => `${s.pair}:${s.id}:${s.status}`).sort();
  return [...pairs, "|", ...commits, "|", ...settlements].join("\n");
}

/**
 * Settlements `payer` has noted towards `payee` that are not applied yet
 * (the other side has not noted them): federation minor units. An agent of
 * `payer` counts them as applied before it accepts, so that an accept it
 * makes stays within the limit whichever way the note is later completed.
 */
export function reservedByNotes(
  state: ClearingState,
  notes: Iterable<SettlementNote>,
  payer: string,
  payee: string,
): bigint {
  const open = new Set(
    state.settlements.filter((s) => s.status === "noted").map((s) => `${s.pair} ${s.id}`),
  );
  const pair = pairOf(payer, payee).key;
  let total = 0n;
  const counted = new Set<string>();
  for (const note of notes) {
    const key = `${pair} ${note.id}`;
    if (note.by !== payer || note.payer !== payer || note.payee !== payee) continue;
    if (!open.has(key) || counted.has(key)) continue;
    counted.add(key);
    total += note.amount;
  }
  return total;
}

/** Why an accept would not fit, or undefined when it would. */
export type AcceptRefusal = "no_agreement" | "terms_changed" | "over_limit" | "decided" | "expired";

/**
 * Whether the payee's cooperative may accept `commit` at `ts` on the state it
 * sees: the conservative check its agent (and the `fed.clear.answer` handler)
 * makes. `state` is the fold of what this node holds at `ts`; `notes` are the
 * settlement notes it holds.
 */
export function checkAccept(
  state: ClearingState,
  agreements: readonly AgreementVersion[],
  notes: Iterable<SettlementNote>,
  commit: CommitRecord,
  ts: number,
): AcceptRefusal | undefined {
  const outcome = state.commits.get(commit.cid);
  if (outcome && outcome.status !== "open" && outcome.status !== "expired") return "decided";
  if (ts > commit.expires) return "expired";
  const terms = agreementAt(agreements, commit.from, commit.to, ts);
  if (!terms) return "no_agreement";
  if (!commitMatchesTerms(terms, commit)) return "terms_changed";
  const { lo } = pairOf(commit.from, commit.to);
  const owedByPayer = owedBy(state, commit.from, commit.to);
  // The payee's own unapplied settlement notes as payer move the position the same way.
  const reserved = reservedByNotes(state, notes, commit.to, commit.from);
  const before = owedByPayer + reserved;
  const after = before + commit.amount;
  const toPosition = (owed: bigint) => (commit.from === lo ? owed : -owed);
  if (!withinLimit(toPosition(before), toPosition(after), terms.limit)) return "over_limit";
  return undefined;
}
