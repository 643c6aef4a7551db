/**
 * A cooperative's side of clearing between cooperatives (core/federation/clearing.ts):
 * one clearing account per partner cooperative, `clearing:<partnerNetworkId>`,
 * in the cooperative's own ledger.
 *
 * - `ledger.clearing.pay` (signed by the paying member a): a pending transfer
 *   a → clearing(B), reserving a's credit like `ledger.pending`, naming the
 *   member of B it is for and the cooperative's delegates as its posters. The
 *   delegates commit it in the federation and post it (`ledger.post`) once B
 *   accepted it there, or void it (`ledger.void`) otherwise.
 * - `ledger.clearing.credit` (signed by a delegate of B): clearing(A) → b,
 *   citing the federation commit B accepted; once per commit.
 * - `ledger.clearing.settle` (signed by a delegate): a settlement noted in the
 *   federation, booked between clearing(P) and `clearing:<P>:settled`.
 *
 * The cooperative's network does not hold the federation's, so these check
 * what the cooperative can: the author is one of its delegates to that
 * federation (its governance's `delegates` decision), the payee a member,
 * each commit credited once. That the cited accept exists is what the
 * federation checks (`icn federation check` compares both sides).
 */
import type { ApplyContext, KindHandler } from "../chain/ingest.ts";
import { RejectedError } from "../errors.ts";
import type { Genesis } from "../governance/genesis.ts";
import { isMember, paramsAt } from "../governance/membership.ts";
import { GovernanceView } from "../governance/view.ts";
import { amountFromBody, amountMinorMax } from "./amount.ts";
import { countOutgoing, judgeOutgoing, moveAmount } from "./kinds.ts";
import { type IdRecord, ledgerKeys, type PendingRecord, type Reservation } from "./keys.ts";
import {
  checkMaxBalance,
  clearingAccountPrefix,
  maxBalanceOf,
  pendingTimeoutMax,
  pendingTimeoutMin,
  postersMax,
} from "./pending.ts";
import { memoBytesMax, transferIdPattern } from "./rules.ts";
import { readGenesis } from "./view.ts";
import {
  array,
  checkShape,
  did,
  natural,
  record,
  type Shape,
  ShapeError,
  string,
} from "../strict.ts";

export const clearingPayKind = "ledger.clearing.pay";
export const clearingCreditKind = "ledger.clearing.credit";
export const clearingSettleKind = "ledger.clearing.settle";

/** The clearing account of a partner cooperative in this cooperative's ledger. */
export function clearingAccount(partner: string): string {
  return `${clearingAccountPrefix}${partner}`;
}

/** Where settlements with a partner are booked against its clearing account. */
export function settledAccount(partner: string): string {
  return `${clearingAccountPrefix}${partner}:settled`;
}

export const ledgerClearingKeys = {
  /** (federation, commit CID) → the credit's CID: a commit is credited once. */
  credit: (federation: string, commit: string) =>
    ["ledger", "clr", "credit", federation, commit] as const,
  /** (federation, settlement id) → the booking's CID. */
  settle: (federation: string, id: string) => ["ledger", "clr", "settle", federation, id] as const,
  /** A clearing pending's partner facts, by (payer, id). */
  pay: (payer: string, id: string) => ["ledger", "clr", "pay", payer, id] as const,
};

/** What a clearing pending adds to its `PendingRecord`. */
export interface ClearingPayRecord {
  federation: string;
  coop: string;
  payee: string;
  cid: string;
}

const cidShape = string({ min: 8, max: 128, pattern: /^b[a-z2-7]+$/ });
const amountShape: Shape<bigint> = (value, path) => {
  const amount = amountFromBody(value);
  if (amount === undefined || amount <= 0n || amount > amountMinorMax) {
    throw new ShapeError(path, `must be a whole number from 1 to ${amountMinorMax}`);
  }
  return amount;
};
const idShape = string({ min: 1, max: 128, pattern: transferIdPattern });
const memoShape: Shape<string> = (value, path) => {
  const text = string({ max: memoBytesMax })(value, path);
  if (new TextEncoder().encode(text).length > memoBytesMax) {
    throw new ShapeError(path, `must be at most ${memoBytesMax} bytes`);
  }
  return text;
};

function body<T>(shape: Shape<T>, value: unknown, what: string): T {
  return checkShape(shape, value, {
    what,
    refuse: (message) => new RejectedError("invalid_body", message),
  });
}

async function genesisOf(ctx: ApplyContext): Promise<Genesis> {
  if (ctx.net === null || ctx.envelope.net !== ctx.net) {
    throw new RejectedError("no_network", "Cannot apply a clearing entry outside a joined network");
  }
  const genesis = await readGenesis(ctx.state, ctx.net);
  if (!genesis) throw new RejectedError("no_network", `Genesis of ${ctx.net} is missing`);
  return genesis;
}

function currencyOf(genesis: Genesis, code: string) {
  const currency = genesis.currencies.find((c) => c.code === code);
  if (!currency) {
    throw new RejectedError(
      "unknown_currency",
      `Unknown currency "${code}": the cooperative's currencies are ${
        genesis.currencies.map((c) => c.code).join(", ")
      }`,
    );
  }
  return currency;
}

/** The author must be one of the cooperative's delegates to `federation` at the envelope's time. */
async function requireDelegate(
  ctx: ApplyContext,
  genesis: Genesis,
  federation: string,
  what: string,
) {
  const set = await new GovernanceView(ctx.state, genesis).delegatesFor(
    federation,
    ctx.envelope.ts,
  );
  if (!set?.delegates.includes(ctx.envelope.author)) {
    throw new RejectedError(
      "not_delegate",
      `Cannot ${what}: "${ctx.envelope.author}" is not a delegate of the cooperative to federation ${federation}`,
    );
  }
}

const payShape = record({
  federation: cidShape,
  coop: cidShape,
  payee: did,
  amount: amountShape,
  currency: string({ min: 1, max: 16 }),
  memo: memoShape,
  id: idShape,
  expires: natural,
  posters: array(did, { min: 1, max: postersMax }),
});

async function applyPay(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  const genesis = await genesisOf(ctx);
  const b = body(payShape, envelope.body, "clearing payment");
  if (b.coop === ctx.net) {
    throw new RejectedError(
      "self_transfer",
      "Cannot pay through clearing within the same cooperative",
    );
  }
  for (let i = 1; i < b.posters.length; i++) {
    if (!(b.posters[i - 1] < b.posters[i])) {
      throw new RejectedError("invalid_body", "`posters` must be sorted and distinct");
    }
  }
  const timeout = b.expires - envelope.ts;
  if (timeout < pendingTimeoutMin || timeout > pendingTimeoutMax) {
    throw new RejectedError(
      "timeout",
      `Cannot hold a clearing payment for ${Math.round(timeout / 1000)} s: ${
        pendingTimeoutMin / 1000
      } s to ${pendingTimeoutMax / 86_400_000} days`,
    );
  }
  // The posters are the cooperative's delegates to the federation: they alone answer for it there.
  const set = await new GovernanceView(state, genesis).delegatesFor(b.federation, envelope.ts);
  if (!set || set.delegates.join(" ") !== b.posters.join(" ")) {
    throw new RejectedError(
      "not_delegate",
      `Cannot pay through federation ${b.federation}: the posters must be the cooperative's delegates to it${
        set ? ` (${set.delegates.join(", ")})` : " (it has none recorded)"
      }`,
    );
  }
  const currency = currencyOf(genesis, b.currency);
  const payer = envelope.author;
  const transfer = {
    from: payer,
    to: clearingAccount(b.coop),
    amount: b.amount,
    currency,
    memo: b.memo,
    id: b.id,
  };
  const out = await judgeOutgoing(ctx, genesis, transfer, { pending: true });
  const pending: PendingRecord = {
    cid: ctx.cid,
    from: payer,
    to: transfer.to,
    amount: b.amount,
    currency: currency.code,
    memo: b.memo,
    id: b.id,
    ts: envelope.ts,
    expires: b.expires,
    posters: b.posters,
  };
  state.set(ledgerKeys.pending(payer, b.id), pending);
  state.set(ledgerKeys.open(currency.code, payer, b.expires, b.id), b.amount);
  state.set(
    ledgerKeys.reserved(currency.code, payer),
    {
      amount: out.reservation.amount + b.amount,
      count: out.reservation.count + 1,
    } satisfies Reservation,
  );
  countOutgoing(state, out);
  const id: IdRecord = {
    cid: ctx.cid,
    to: transfer.to,
    amount: b.amount,
    currency: currency.code,
    memo: b.memo,
    pending: true,
  };
  state.set(ledgerKeys.transferId(payer, b.id), id);
  const facts: ClearingPayRecord = {
    federation: b.federation,
    coop: b.coop,
    payee: b.payee,
    cid: ctx.cid,
  };
  state.set(ledgerClearingKeys.pay(payer, b.id), facts);
}

const creditShape = record({
  federation: cidShape,
  from: cidShape,
  commit: cidShape,
  payee: did,
  amount: amountShape,
  currency: string({ min: 1, max: 16 }),
  memo: memoShape,
});

/** A credit of a clearing payment, as the cooperative's ledger keeps it. */
export interface ClearingCreditRecord {
  cid: string;
  federation: string;
  from: string;
  commit: string;
  payee: string;
  amount: bigint;
  currency: string;
  ts: number;
}

async function applyCredit(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  const genesis = await genesisOf(ctx);
  const b = body(creditShape, envelope.body, "clearing credit");
  if (b.from === ctx.net) {
    throw new RejectedError(
      "self_transfer",
      "Cannot credit a clearing payment from the same cooperative",
    );
  }
  await requireDelegate(ctx, genesis, b.federation, `credit clearing payment ${b.commit}`);
  const currency = currencyOf(genesis, b.currency);
  const key = ledgerClearingKeys.credit(b.federation, b.commit);
  const existing = await state.get<ClearingCreditRecord>(key);
  if (existing) {
    throw new RejectedError(
      "duplicate",
      `Clearing payment ${b.commit} is already credited (${existing.cid})`,
    );
  }
  if (!(await isMember(state, genesis, b.payee, envelope.ts))) {
    throw new RejectedError(
      "not_member",
      `Cannot credit "${b.payee}": not a member of the cooperative`,
    );
  }
  if (ctx.source === "local") {
    const params = await paramsAt(state, genesis, envelope.ts);
    const { readAccount } = await import("./view.ts");
    const payee = await readAccount(state, currency.code, b.payee);
    checkMaxBalance(
      b.payee,
      BigInt(payee.balance) + b.amount,
      maxBalanceOf(params, b.payee),
      currency,
    );
  }
  await moveAmount(state, {
    cid: ctx.cid,
    id: `clearing-${b.commit}`,
    from: clearingAccount(b.from),
    to: b.payee,
    amount: b.amount,
    currency: currency.code,
    memo: b.memo,
    ts: envelope.ts,
  });
  const stored: ClearingCreditRecord = {
    cid: ctx.cid,
    federation: b.federation,
    from: b.from,
    commit: b.commit,
    payee: b.payee,
    amount: b.amount,
    currency: currency.code,
    ts: envelope.ts,
  };
  state.set(key, stored);
}

const settleShape = record({
  federation: cidShape,
  partner: cidShape,
  id: idShape,
  /** `paid`: this cooperative paid the partner; `received`: the partner paid it. */
  direction: string({ min: 4, max: 8, pattern: /^(paid|received)$/ }),
  amount: amountShape,
  currency: string({ min: 1, max: 16 }),
});

async function applySettle(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  const genesis = await genesisOf(ctx);
  const b = body(settleShape, envelope.body, "clearing settlement");
  await requireDelegate(ctx, genesis, b.federation, `book settlement "${b.id}"`);
  const currency = currencyOf(genesis, b.currency);
  const key = ledgerClearingKeys.settle(b.federation, b.id);
  if (await state.get(key)) {
    throw new RejectedError("duplicate", `Settlement "${b.id}" is already booked`);
  }
  const [from, to] = b.direction === "paid"
    ? [clearingAccount(b.partner), settledAccount(b.partner)]
    : [settledAccount(b.partner), clearingAccount(b.partner)];
  await moveAmount(state, {
    cid: ctx.cid,
    id: `settlement-${b.id}`,
    from,
    to,
    amount: b.amount,
    currency: currency.code,
    memo: `settlement ${b.id}`,
    ts: envelope.ts,
  });
  state.set(key, { cid: ctx.cid, ...b, ts: envelope.ts });
}

/** `ledger.clearing.*` handlers (cooperative networks; registered in core/kinds.ts). */
export const clearingLedgerKinds: ReadonlyMap<string, KindHandler> = new Map<string, KindHandler>([
  [clearingPayKind, { apply: applyPay }],
  [clearingCreditKind, { apply: applyCredit }],
  [clearingSettleKind, { apply: applySettle }],
]);
