/**
 * Clearing in the federation network: the `clearing` proposal's action (the
 * agreement's terms), the kinds `fed.clear.commit` (the payer's cooperative
 * commits a payment), `fed.clear.answer` (the payee's cooperative accepts or
 * refuses it) and `fed.clear.settle` (one side notes a settlement), and the
 * readers (`readClearing`, `readPositions`). Handlers check each record
 * against what this node holds when it arrives and update the stored
 * positions (`clearing_state.ts`) in the same commit; what is stored is a
 * function of the records, so it does not depend on arrival order, and
 * `icn federation check` compares it with a fold of the records.
 */
import type { ApplyContext, KindHandler } from "../chain/ingest.ts";
import { RejectedError } from "../errors.ts";
import { amountFromBody, amountMinorMax } from "../ledger/amount.ts";
import { transferIdPattern } from "../ledger/rules.ts";
import {
  checkShape,
  did,
  integer,
  literal,
  natural,
  record,
  type Shape,
  ShapeError,
  string,
} from "../strict.ts";
import type { StateReader } from "../governance/view.ts";
import {
  agreementAt,
  type AgreementVersion,
  type AnswerRecord,
  checkAccept,
  type ClearingState,
  type ClearingTerms,
  commitLifetimeMaxMs,
  commitLifetimeMinMs,
  type CommitRecord,
  convertPayment,
  foldClearing,
  owedBy,
  pairOf,
  parseRate,
  reservedByNotes,
  settlementIntervalMaxMs,
  type SettlementNote,
} from "./clearing.ts";
import {
  clearingStateDigest,
  compareStored,
  ensureStored,
  openByPair,
  readStored,
  readStoredPair,
  storeAnswer,
  storeCommit,
  storeNote,
} from "./clearing_state.ts";
import type { FederationGenesis } from "./genesis.ts";
import { FederationView } from "./view.ts";

export const commitKind = "fed.clear.commit";
export const answerKind = "fed.clear.answer";
export const settleKind = "fed.clear.settle";
/** Shortest settlement interval: a day (settling more often is allowed, this is advice). */
export const settlementIntervalMinMs = 86_400_000;

export const clearingKeys = {
  commit: (cid: string) => ["fed", "clr", "c", cid] as const,
  commitsPrefix: ["fed", "clr", "c"] as const,
  /** (payer cooperative, payment id) → commit CID: the idempotency index. */
  paymentId: (from: string, id: string) => ["fed", "clr", "id", from, id] as const,
  answer: (commit: string, cid: string) => ["fed", "clr", "a", commit, cid] as const,
  answersPrefix: ["fed", "clr", "a"] as const,
  note: (cid: string) => ["fed", "clr", "s", cid] as const,
  notesPrefix: ["fed", "clr", "s"] as const,
};

function reject(reason: string, message: string): never {
  throw new RejectedError(reason, message);
}

function body<T>(shape: Shape<T>, value: unknown, what: string): T {
  return checkShape(shape, value, {
    what,
    refuse: (message) => new RejectedError("bad_body", message),
  });
}

const cidShape = string({ min: 8, max: 128, pattern: /^b[a-z2-7]+$/ });
const amountShape: Shape<bigint> = (value, path) => {
  const amount = amountFromBody(value);
  if (amount === undefined || amount < 0n || amount > amountMinorMax) {
    throw new ShapeError(path, `must be a whole number from 0 to ${amountMinorMax}`);
  }
  return amount;
};
const positiveAmount: Shape<bigint> = (value, path) => {
  const amount = amountShape(value, path);
  if (amount === 0n) throw new ShapeError(path, "must be greater than zero");
  return amount;
};
const rateShape: Shape<string> = (value, path) => {
  try {
    return parseRate(value).text;
  } catch (error) {
    throw new ShapeError(path, (error as Error).message);
  }
};
const paymentIdShape = string({ min: 1, max: 128, pattern: transferIdPattern });

/** The action of a `clearing` proposal, as stored. */
export interface ClearingAction {
  coopA: string;
  coopB: string;
  limit: bigint | number;
  rateA: string;
  rateB: string;
  settlementInterval: number;
  end?: true;
}

const actionShape = record({
  coopA: cidShape,
  coopB: cidShape,
  limit: amountShape,
  rateA: rateShape,
  rateB: rateShape,
  settlementInterval: integer({ min: settlementIntervalMinMs, max: settlementIntervalMaxMs }),
}, { end: literal(true) });

/** The terms of a stored clearing action. */
export function termsOf(action: ClearingAction): ClearingTerms {
  return {
    coopA: action.coopA,
    coopB: action.coopB,
    limit: BigInt(action.limit),
    rateA: parseRate(action.rateA),
    rateB: parseRate(action.rateB),
    settlementInterval: action.settlementInterval,
    end: action.end === true,
  };
}

/**
 * Checks a `clearing` proposal's action at `ts`, proposed by a delegate of
 * `proposer`: two different cooperatives of the federation, the proposer one
 * of them; an ending has limit 0. Returns the action and the pair key as the
 * proposal's target.
 */
export async function checkClearingAction(
  view: FederationView,
  action: Record<string, unknown>,
  ts: number,
  proposer: string,
): Promise<{ action: ClearingAction; target: string }> {
  const a = body(actionShape, action, "clearing agreement");
  if (a.coopA === a.coopB) reject("bad_action", "A clearing agreement needs two cooperatives");
  const coops = await view.coopsAt(ts);
  for (const coop of [a.coopA, a.coopB]) {
    if (!coops.has(coop)) {
      reject("bad_action", `Cannot agree clearing with ${coop}: it is not in the federation`);
    }
  }
  if (proposer !== a.coopA && proposer !== a.coopB) {
    reject("bad_action", "Only a delegate of one of its two cooperatives may propose an agreement");
  }
  if (a.end && a.limit !== 0n) reject("bad_action", "An agreement that ends has limit 0");
  const stored: ClearingAction = {
    coopA: a.coopA,
    coopB: a.coopB,
    limit: a.limit <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(a.limit) : a.limit,
    rateA: a.rateA,
    rateB: a.rateB,
    settlementInterval: a.settlementInterval,
  };
  if (a.end) stored.end = true;
  return { action: stored, target: pairOf(a.coopA, a.coopB).key };
}

/** Accepted clearing agreements (each from its effective time), in effect order. */
export async function agreementsOf(view: FederationView): Promise<AgreementVersion[]> {
  const out: AgreementVersion[] = [];
  for (const entry of await view.index("clearing")) {
    const proposal = await view.proposal(entry.id);
    if (!proposal || (await view.tally(proposal)).outcome !== "Accepted") continue;
    out.push({
      ...termsOf(proposal.action as unknown as ClearingAction),
      id: proposal.id,
      effective: proposal.effective,
    });
  }
  return out;
}

/** Everything clearing holds in a federation store, and its state at `now`. */
export interface ClearingReading {
  agreements: AgreementVersion[];
  commits: CommitRecord[];
  answers: AnswerRecord[];
  notes: SettlementNote[];
  state: ClearingState;
}

async function recordsOf(view: FederationView) {
  const [agreements, commits, answers, notes] = await Promise.all([
    agreementsOf(view),
    view.state.list<CommitRecord>(clearingKeys.commitsPrefix).then((l) => l.map((e) => e.value)),
    view.state.list<AnswerRecord>(clearingKeys.answersPrefix).then((l) => l.map((e) => e.value)),
    view.state.list<SettlementNote>(clearingKeys.notesPrefix).then((l) => l.map((e) => e.value)),
  ]);
  return { agreements, commits, answers, notes };
}

/**
 * Reads the clearing records of a federation store and their state at `now`: the stored
 * positions and outcomes (a store written before they were stored is folded instead).
 * Reading writes nothing.
 */
export async function readClearing(view: FederationView, now: number): Promise<ClearingReading> {
  const records = await recordsOf(view);
  const state = await readStored(view.state, records.agreements, now) ??
    foldClearing({ ...records, settlements: records.notes, now });
  return { ...records, state };
}

/** The agreements and the clearing state at `now`, without listing the records (stored state). */
export async function readClearingState(
  view: FederationView,
  now: number,
): Promise<{ agreements: AgreementVersion[]; state: ClearingState }> {
  const agreements = await agreementsOf(view);
  const stored = await readStored(view.state, agreements, now);
  if (stored) return { agreements, state: stored };
  return { agreements, state: (await readClearing(view, now)).state };
}

/** What the positions of a federation are read from: each pair, and its commits still open. */
export interface PositionsReading {
  state: Pick<ClearingState, "pairs">;
  /** Open (undecided, unexpired) commits per pair key. */
  open: ReadonlyMap<string, number>;
}

/** The positions at `now`, from the stored state (folded in a store written before it). */
export async function readPositions(view: FederationView, now: number): Promise<PositionsReading> {
  const agreements = await agreementsOf(view);
  const stored = await readStored(view.state, agreements, now, { commits: false });
  if (stored) return { state: stored, open: await openByPair(view.state, now) };
  return positionsOfReading(await readClearing(view, now));
}

/** The positions of a full reading (a fold): open commits counted from its outcomes. */
export function positionsOfReading(reading: ClearingReading): PositionsReading {
  const open = new Map<string, number>();
  for (const c of reading.commits) {
    if (reading.state.commits.get(c.cid)?.status !== "open") continue;
    const key = pairOf(c.from, c.to).key;
    open.set(key, (open.get(key) ?? 0) + 1);
  }
  return { state: reading.state, open };
}

/**
 * The stored clearing state checked against a fold of every record (`icn federation check`):
 * the differences (empty when they agree), the pairs whose stored totals predate an agreement
 * change (read by re-folding; re-stored by the next clearing envelope), and the state hash.
 */
export async function verifyClearing(view: FederationView, now: number): Promise<{
  stored: boolean;
  differences: string[];
  stale: string[];
  digest: string;
  reading: ClearingReading;
}> {
  const records = await recordsOf(view);
  const fold = foldClearing({ ...records, settlements: records.notes, now });
  const stored = await readStored(view.state, records.agreements, now);
  const reading = { ...records, state: stored ?? fold };
  return {
    stored: stored !== undefined,
    differences: stored ? compareStored(stored, fold) : [],
    stale: stored?.stale ?? [],
    digest: clearingStateDigest(stored ?? fold),
    reading,
  };
}

/** Upgrades a store written before positions were stored, inside a handler's commit. */
function ensureStoredIn(ctx: ApplyContext, view: FederationView): Promise<void> {
  return ensureStored(ctx.state, () => recordsOf(view));
}

async function federationOf(ctx: ApplyContext): Promise<FederationView> {
  if (ctx.net === null || ctx.envelope.net !== ctx.net) {
    reject("wrong_network", "Clearing envelopes need a joined federation network");
  }
  const genesis = await ctx.state.get<FederationGenesis>(["fed", "genesis"]);
  if (!genesis) reject("wrong_network", `Network ${ctx.net} is not a federation`);
  return new FederationView(ctx.state as StateReader, genesis);
}

async function requireDelegate(
  view: FederationView,
  coop: string,
  ctx: ApplyContext,
  what: string,
) {
  const { author, ts } = ctx.envelope;
  const current = await view.delegatesAt(coop, ts);
  if (!current) reject("not_in_federation", `Cannot ${what}: ${coop} is not in the federation`);
  if (!current.delegates.includes(author)) {
    reject("not_delegate", `Cannot ${what}: "${author}" is not a delegate of ${coop}`);
  }
}

const commitShape = record({
  id: paymentIdShape,
  from: cidShape,
  to: cidShape,
  payer: did,
  payee: did,
  amount: positiveAmount,
  amountFrom: positiveAmount,
  amountTo: positiveAmount,
  expires: natural,
});

const commit: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const view = await federationOf(ctx);
    const b = body(commitShape, envelope.body, "clearing commit");
    await requireDelegate(view, b.from, ctx, `commit payment "${b.id}"`);
    const lifetime = b.expires - envelope.ts;
    if (lifetime < commitLifetimeMinMs || lifetime > commitLifetimeMaxMs) {
      reject(
        "bad_expiry",
        `Cannot commit payment "${b.id}": it must expire ${commitLifetimeMinMs / 1000} s to ${
          commitLifetimeMaxMs / 86_400_000
        } days after it is made`,
      );
    }
    const known = await ctx.state.get<string>(clearingKeys.paymentId(b.from, b.id));
    if (known !== undefined) {
      reject("duplicate", `Payment "${b.id}" of ${b.from} is already committed (${known})`);
    }
    const agreements = await agreementsOf(view);
    const terms = agreementAt(agreements, b.from, b.to, envelope.ts);
    if (!terms) {
      reject(
        "no_agreement",
        `Cannot commit payment "${b.id}": no clearing agreement between ${b.from} and ${b.to} is in force`,
      );
    }
    const converted = convertPayment(terms, b.from, b.to, b.amountFrom);
    if ("error" in converted) {
      reject("bad_amount", `Cannot commit payment "${b.id}": ${converted.error}`);
    }
    if (converted.amount !== b.amount || converted.amountTo !== b.amountTo) {
      reject(
        "bad_amount",
        `Cannot commit payment "${b.id}": at the agreed rates it is ${converted.amount} in the federation and ${converted.amountTo} to the payee`,
      );
    }
    const stored: CommitRecord = { ...b, cid, ts: envelope.ts, author: envelope.author };
    await ensureStoredIn(ctx, view);
    ctx.state.set(clearingKeys.commit(cid), stored);
    ctx.state.set(clearingKeys.paymentId(b.from, b.id), cid);
    storeCommit(ctx.state, stored);
  },
};

const answerShape = record({
  commit: cidShape,
  choice: literal("accept", "refuse"),
}, { reason: string({ max: 200 }) });

const answer: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const view = await federationOf(ctx);
    const b = body(answerShape, envelope.body, "clearing answer");
    const target = await ctx.state.get<CommitRecord>(clearingKeys.commit(b.commit));
    if (!target) reject("unknown_commit", `Unknown clearing commit "${b.commit}"`);
    await requireDelegate(view, target.to, ctx, `answer payment "${target.id}"`);
    await ensureStoredIn(ctx, view);
    const agreements = await agreementsOf(view);
    const reading = await readStoredPair(
      ctx.state,
      agreements,
      { x: target.from, y: target.to },
      [target],
      envelope.ts,
    );
    if (b.choice === "accept") {
      const refusal = checkAccept(reading.state, agreements, reading.notes, target, envelope.ts);
      if (refusal !== undefined) {
        const why: Record<string, string> = {
          decided: "it is already answered",
          expired: "it expired",
          no_agreement: "no clearing agreement is in force",
          terms_changed: "the agreement's rates changed since it was committed",
          over_limit: "the position would pass the agreement's limit",
        };
        reject(refusal, `Cannot accept payment "${target.id}": ${why[refusal]}`);
      }
    } else {
      const outcome = reading.state.commits.get(target.cid);
      if (outcome && outcome.status !== "open") {
        reject("decided", `Cannot refuse payment "${target.id}": it is ${outcome.status}`);
      }
    }
    const stored: AnswerRecord = {
      cid,
      commit: target.cid,
      choice: b.choice,
      ts: envelope.ts,
      author: envelope.author,
    };
    ctx.state.set(clearingKeys.answer(target.cid, cid), stored);
    await storeAnswer(ctx.state, agreements, stored, target);
  },
};

const settleShape = record({
  id: paymentIdShape,
  payer: cidShape,
  payee: cidShape,
  amount: positiveAmount,
  by: cidShape,
});

const settle: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const view = await federationOf(ctx);
    const b = body(settleShape, envelope.body, "settlement note");
    if (b.by !== b.payer && b.by !== b.payee) {
      reject("bad_body", "A settlement is noted by its payer's or its payee's cooperative");
    }
    if (b.payer === b.payee) reject("bad_body", "A settlement needs two cooperatives");
    await requireDelegate(view, b.by, ctx, `note settlement "${b.id}"`);
    await ensureStoredIn(ctx, view);
    const agreements = await agreementsOf(view);
    const reading = await readStoredPair(
      ctx.state,
      agreements,
      { x: b.payer, y: b.payee },
      [],
      envelope.ts,
    );
    const key = pairOf(b.payer, b.payee).key;
    const same = reading.notes.filter((n) => pairOf(n.payer, n.payee).key === key && n.id === b.id);
    if (same.some((n) => n.by === b.by)) {
      reject("duplicate", `Settlement "${b.id}" is already noted by ${b.by}`);
    }
    const other = same.find((n) => n.by !== b.by);
    if (other && (other.amount !== b.amount || other.payer !== b.payer)) {
      reject("mismatch", `Settlement "${b.id}" was noted by the other side with other terms`);
    }
    const owed = owedBy(reading.state, b.payer, b.payee) -
      (b.by === b.payer ? reservedByNotes(reading.state, reading.notes, b.payer, b.payee) : 0n);
    if (b.amount > owed) {
      reject(
        "exceeds_position",
        `Cannot note settlement "${b.id}": ${b.payer} owes ${
          owed < 0n ? 0n : owed
        }, not ${b.amount}`,
      );
    }
    const stored: SettlementNote = { ...b, cid, ts: envelope.ts };
    ctx.state.set(clearingKeys.note(cid), stored);
    await storeNote(ctx.state, agreements, stored);
  },
};

/** `fed.clear.*` handlers, registered for federation networks in `core/kinds.ts`. */
export const clearingKinds: ReadonlyMap<string, KindHandler> = new Map([
  [commitKind, commit],
  [answerKind, answer],
  [settleKind, settle],
]);
