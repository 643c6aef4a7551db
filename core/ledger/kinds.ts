/**
 * The ledger's kind handlers (`ledger.transfer`, and the two-phase and request
 * kinds of core/ledger/pending.ts): each gathers facts from state, applies the
 * pure rules, writes derived state.
 */
import type { ApplyContext, KindHandler } from "../chain/ingest.ts";
import type { StateView } from "../chain/state.ts";
import type { Envelope } from "../envelope/envelope.ts";
import { RejectedError } from "../errors.ts";
import type { Genesis } from "../governance/genesis.ts";
import { isMember, paramsAt } from "../governance/membership.ts";
import type { Params } from "../params.ts";
import type { StoreKey } from "../store/store.ts";
import { cooperativeScore } from "../trust/view.ts";
import { amountMinorMax } from "./amount.ts";
import { appendLine } from "./history.ts";
import {
  type Account,
  hourMs,
  type IdRecord,
  ledgerKeys,
  type LineRecord,
  type PendingRecord,
  type RequestRecord,
  type Reservation,
  velocityIn,
  withVelocity,
} from "./keys.ts";
import {
  checkMaxBalance,
  decideAnswer,
  decideResolution,
  declineKind,
  isNonMemberAccount,
  maxBalanceOf,
  openPendingsMax,
  parseDecline,
  parsePending,
  parseRequest,
  parseResolution,
  pendingKind,
  postKind,
  requestKind,
  reservedAt,
  reservesAt,
  resolversOf,
  voidKind,
} from "./pending.ts";
import {
  decideTransfer,
  type LimitBreakdown,
  parseTransfer,
  type Transfer,
  transferKind,
} from "./rules.ts";
import { limitOf, readAccount, readGenesis, velocityFloor, velocityMaxOf } from "./view.ts";

/** What judging an outgoing transfer or pending found: the facts and the accepted decision. */
export interface Outgoing {
  transfer: Transfer;
  params: Params;
  limit: LimitBreakdown;
  payerAccount: Account;
  payeeAccount: Account;
  velocityCount: number;
  hour: number;
  reservation: Reservation;
  balanceAfter: bigint;
}

/**
 * Judges an outgoing transfer or pending of the envelope's author against the
 * payer's credit (reservations of open pendings included), velocity and the
 * payee's maximum balance (this last only when signed here: see docs). Throws
 * `RejectedError`; writes nothing but the cleanup of expired open pendings.
 */
export async function judgeOutgoing(
  ctx: ApplyContext,
  genesis: Genesis,
  transfer: Transfer,
  options: { pending: boolean },
): Promise<Outgoing> {
  const { envelope, state } = ctx;
  const payer = envelope.author;
  const ts = envelope.ts;
  const code = transfer.currency.code;
  const hour = Math.floor(ts / hourMs);
  // Independent reads go out together: with Deno KV each one is a round trip.
  const [existing, params, payerIsMember, payeeIsMember, payerAccount, payeeAccount, elsewhere] =
    await Promise.all([
      state.get<IdRecord>(ledgerKeys.transferId(payer, transfer.id)),
      paramsAt(state, genesis, ts),
      isMember(state, genesis, payer, ts),
      // A clearing account (core/ledger/clearing.ts) is credited only by the clearing kinds.
      isNonMemberAccount(transfer.to) ? true : isMember(state, genesis, transfer.to, ts),
      readAccount(state, code, payer),
      readAccount(state, code, transfer.to),
      // Velocity is folded into the payer's accounts (layout 3): other currencies count too.
      outgoingElsewhere(state, genesis, payer, code, hour),
    ]);
  const reservation = await reservationAt(state, code, payer, ts);
  const reserved = reservation.live;
  const velocityCount = velocityIn(payerAccount, hour) + elsewhere;
  const transferMax = params["credit.transferMax"];
  const known = { account: payerAccount, params };
  // The trust score is the costly fact (a walk of the trust graph from every anchor); it
  // can only raise the limit and the velocity cap, so it is computed only when the
  // decision depends on it. The outcome is the same either way.
  let trust: number | null = null;
  let limit = await limitOf(state, genesis, payer, code, ts, { ...known, trust: null });
  const needsTrust = velocityCount >= velocityFloor(params) ||
    (limit.override === undefined &&
      payerAccount.balance - reserved - transfer.amount < -limit.limit);
  if (needsTrust) {
    trust = await cooperativeScore(state, genesis, payer, ts);
    limit = await limitOf(state, genesis, payer, code, ts, { ...known, trust });
  }
  if (options.pending && reservation.count >= openPendingsMax) {
    throw new RejectedError(
      "too_many_pending",
      `Cannot hold more than ${openPendingsMax} pending transfers in ${code} at once: post or void some first`,
    );
  }
  const decision = decideTransfer({ ...transfer, pending: options.pending }, {
    payerIsMember,
    payeeIsMember,
    payerBalance: payerAccount.balance,
    limit: limit.limit,
    velocityCount,
    velocityMax: trust === null ? velocityFloor(params) : velocityMaxOf(params, trust),
    transferMax: typeof transferMax === "number" ? BigInt(transferMax) : amountMinorMax,
    existing: existing ?? undefined,
    softLimitPercent: 0,
    reserved,
  });
  if (ctx.source === "local") {
    checkMaxBalance(
      transfer.to,
      BigInt(payeeAccount.balance) + transfer.amount,
      maxBalanceOf(params, transfer.to),
      transfer.currency,
    );
  }
  return {
    transfer,
    params,
    limit,
    payerAccount,
    payeeAccount,
    velocityCount,
    hour,
    reservation: { amount: reservation.amount, count: reservation.count },
    balanceAfter: decision.balanceAfter,
  };
}

/** Outgoing envelopes of `payer` counted in `hour` in every currency but `currency`. */
async function outgoingElsewhere(
  state: StateView,
  genesis: Genesis,
  payer: string,
  currency: string,
  hour: number,
): Promise<number> {
  const others = genesis.currencies.filter((c) => c.code !== currency);
  if (others.length === 0) return 0;
  const accounts = await Promise.all(others.map((c) => readAccount(state, c.code, payer)));
  return accounts.reduce((sum, account) => sum + velocityIn(account, hour), 0);
}

/**
 * Counts an accepted outgoing pending (`ledger.pending`, `ledger.clearing.pay`) against the
 * payer's velocity: the counter lives in the payer's account of its currency (layout 3).
 */
export function countOutgoing(state: StateView, out: Outgoing): void {
  state.set(
    ledgerKeys.account(out.transfer.currency.code, out.transfer.from),
    withVelocity(out.payerAccount, out.hour),
  );
}

/**
 * The payer's reservation at `ts`: `live` counts open pendings that reserve at
 * `ts`; entries that expired before `ts` are dropped from the open index (and
 * from the stored sum) on the way.
 */
export async function reservationAt(
  state: StateView,
  currency: string,
  payer: string,
  ts: number,
): Promise<{ live: bigint; amount: bigint; count: number }> {
  const stored = await state.get<Reservation>(ledgerKeys.reserved(currency, payer));
  if (!stored || stored.count === 0) return { live: 0n, amount: 0n, count: 0 };
  let amount = BigInt(stored.amount);
  let count = stored.count;
  const entries = await state.list<bigint>(ledgerKeys.openPrefix(currency, payer));
  const live: { expires: number; amount: bigint }[] = [];
  for (const entry of entries) {
    const expires = entry.key[4] as number;
    if (reservesAt({ expires }, ts)) live.push({ expires, amount: BigInt(entry.value) });
    else {
      state.delete(entry.key);
      amount -= BigInt(entry.value);
      count--;
    }
  }
  if (count !== stored.count) writeReservation(state, currency, payer, { amount, count });
  return { live: reservedAt(live, ts), amount, count };
}

function writeReservation(
  state: StateView,
  currency: string,
  payer: string,
  reservation: Reservation,
): void {
  if (reservation.count === 0) state.delete(ledgerKeys.reserved(currency, payer));
  else state.set(ledgerKeys.reserved(currency, payer), reservation);
}

/** Removes a pending from the open index (when it is there) and its amount from the reservation. */
export async function releaseReservation(state: StateView, record: PendingRecord): Promise<void> {
  const key = ledgerKeys.open(record.currency, record.from, record.expires, record.id);
  if ((await state.get(key)) === undefined) return;
  state.delete(key);
  const stored = await state.get<Reservation>(ledgerKeys.reserved(record.currency, record.from));
  if (!stored) return;
  writeReservation(state, record.currency, record.from, {
    amount: BigInt(stored.amount) - BigInt(record.amount),
    count: stored.count - 1,
  });
}

/**
 * Moves `amount` from payer to payee with a history line on each side. With
 * `outgoingHour` (a transfer the payer signed) the payer's velocity counter for
 * that hour goes up by one; other fields of both accounts are kept.
 */
export async function moveAmount(
  state: StateView,
  line: LineRecord,
  payerLimit?: bigint,
  accounts?: { payer: Account; payee: Account },
  outgoingHour?: number,
): Promise<void> {
  const [payerAccount, payeeAccount] = accounts
    ? [accounts.payer, accounts.payee]
    : await Promise.all([
      readAccount(state, line.currency, line.from),
      readAccount(state, line.currency, line.to),
    ]);
  const amount = BigInt(line.amount);
  const payerMoved: Account = {
    ...payerAccount,
    balance: BigInt(payerAccount.balance) - amount,
    received: BigInt(payerAccount.received),
    count: payerAccount.count + 1,
  };
  const payerAfter = outgoingHour === undefined
    ? payerMoved
    : withVelocity(payerMoved, outgoingHour);
  const payeeAfter: Account = {
    ...payeeAccount,
    balance: BigInt(payeeAccount.balance) + amount,
    received: BigInt(payeeAccount.received) + amount,
    count: payeeAccount.count + 1,
  };
  state.set(ledgerKeys.account(line.currency, line.from), payerAfter);
  state.set(ledgerKeys.account(line.currency, line.to), payeeAfter);
  await appendLine(state, line, {
    payer: payerAccount,
    payee: payeeAccount,
    payerAfter: payerAfter.balance,
    payeeAfter: payeeAfter.balance,
    payerLimit,
  });
}

async function networkGenesis(ctx: ApplyContext): Promise<Genesis> {
  if (ctx.net === null || ctx.envelope.net !== ctx.net) {
    throw new RejectedError(
      "no_network",
      "Cannot apply a ledger envelope outside a joined network",
    );
  }
  const genesis = await readGenesis(ctx.state, ctx.net);
  if (!genesis) throw new RejectedError("no_network", `Genesis of ${ctx.net} is missing`);
  return genesis;
}

async function applyTransfer(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  const genesis = await networkGenesis(ctx);
  const payer = envelope.author;
  const ts = envelope.ts;
  const transfer = parseTransfer(payer, envelope.body, genesis.currencies);
  const code = transfer.currency.code;
  let request: RequestRecord | undefined;
  if (transfer.request !== undefined) {
    request = await state.get<RequestRecord>(ledgerKeys.request(transfer.to, transfer.request));
    if (!request) {
      throw new RejectedError(
        "unknown_request",
        `Cannot pay request "${transfer.request}": no such request from "${transfer.to}"`,
      );
    }
    decideAnswer(request, {
      by: payer,
      ts,
      kind: "pay",
      amount: transfer.amount,
      currency: code,
    });
  }
  const out = await judgeOutgoing(ctx, genesis, transfer, { pending: false });
  await moveAmount(
    state,
    {
      cid: ctx.cid,
      id: transfer.id,
      from: payer,
      to: transfer.to,
      amount: transfer.amount,
      currency: code,
      memo: transfer.memo,
      ts,
    },
    out.limit.limit,
    { payer: out.payerAccount, payee: out.payeeAccount },
    out.hour,
  );
  const record: IdRecord = {
    cid: ctx.cid,
    to: transfer.to,
    amount: transfer.amount,
    currency: code,
    memo: transfer.memo,
  };
  state.set(ledgerKeys.transferId(payer, transfer.id), record);
  if (request) {
    state.set(
      ledgerKeys.request(request.to, request.id),
      {
        ...request,
        answer: { state: "paid", cid: ctx.cid, ts, transferId: transfer.id },
      } satisfies RequestRecord,
    );
  }
}

async function applyPending(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  const genesis = await networkGenesis(ctx);
  const payer = envelope.author;
  const pending = parsePending(payer, envelope.ts, envelope.body, genesis.currencies);
  const out = await judgeOutgoing(ctx, genesis, pending, { pending: true });
  const code = pending.currency.code;
  const record: PendingRecord = {
    cid: ctx.cid,
    from: payer,
    to: pending.to,
    amount: pending.amount,
    currency: code,
    memo: pending.memo,
    id: pending.id,
    ts: envelope.ts,
    expires: pending.expires,
    posters: pending.posters,
  };
  state.set(ledgerKeys.pending(payer, pending.id), record);
  state.set(ledgerKeys.open(code, payer, pending.expires, pending.id), pending.amount);
  state.set(
    ledgerKeys.reserved(code, payer),
    {
      amount: out.reservation.amount + pending.amount,
      count: out.reservation.count + 1,
    } satisfies Reservation,
  );
  countOutgoing(state, out);
  const id: IdRecord = {
    cid: ctx.cid,
    to: pending.to,
    amount: pending.amount,
    currency: code,
    memo: pending.memo,
    pending: true,
  };
  state.set(ledgerKeys.transferId(payer, pending.id), id);
}

async function requirePending(ctx: ApplyContext, payer: string, id: string) {
  const record = await ctx.state.get<PendingRecord>(ledgerKeys.pending(payer, id));
  if (!record) {
    throw new RejectedError(
      "unknown_pending",
      `Unknown pending transfer "${id}" of "${payer}"`,
    );
  }
  return record;
}

async function applyPost(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  const genesis = await networkGenesis(ctx);
  const { payer, id } = parseResolution(envelope.body);
  const record = await requirePending(ctx, payer, id);
  const resolution = { by: envelope.author, ts: envelope.ts, cid: ctx.cid };
  const outcome = decideResolution(record, {
    kind: "post",
    ...resolution,
    local: ctx.source === "local",
  });
  if (outcome === "none") return;
  const next: PendingRecord = { ...record, resolution: { state: "posted", ...resolution } };
  state.set(ledgerKeys.pending(payer, id), next);
  if (outcome === "replace") return;
  const currency = genesis.currencies.find((c) => c.code === record.currency);
  if (ctx.source === "local" && currency) {
    const params = await paramsAt(state, genesis, envelope.ts);
    const payee = await readAccount(state, record.currency, record.to);
    checkMaxBalance(
      record.to,
      BigInt(payee.balance) + BigInt(record.amount),
      maxBalanceOf(params, record.to),
      currency,
    );
  }
  await releaseReservation(state, record);
  await moveAmount(state, {
    cid: ctx.cid,
    id: record.id,
    from: record.from,
    to: record.to,
    amount: BigInt(record.amount),
    currency: record.currency,
    memo: record.memo,
    ts: envelope.ts,
    pending: record.cid,
  });
}

async function applyVoid(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  await networkGenesis(ctx);
  const { payer, id } = parseResolution(envelope.body);
  const record = await requirePending(ctx, payer, id);
  const resolution = { by: envelope.author, ts: envelope.ts, cid: ctx.cid };
  const outcome = decideResolution(record, {
    kind: "void",
    ...resolution,
    local: ctx.source === "local",
  });
  if (outcome === "none") return;
  state.set(
    ledgerKeys.pending(payer, id),
    {
      ...record,
      resolution: { state: "voided", ...resolution },
    } satisfies PendingRecord,
  );
  // With several posters another one's post can still win until the expiry (post beats
  // void), so the reservation stays until then; with one resolver a void is final.
  if (outcome === "apply" && resolversOf(record).length === 1) {
    await releaseReservation(state, record);
  }
}

async function applyRequest(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  const genesis = await networkGenesis(ctx);
  const requester = envelope.author;
  const parsed = parseRequest(requester, envelope.ts, envelope.body, genesis.currencies);
  const key = ledgerKeys.request(requester, parsed.id);
  const existing = await state.get<RequestRecord>(key);
  if (existing) {
    throw new RejectedError(
      "already_exists",
      `Request "${parsed.id}" already exists (${existing.cid})`,
    );
  }
  const [requesterIsMember, payerIsMember] = await Promise.all([
    isMember(state, genesis, requester, envelope.ts),
    isMember(state, genesis, parsed.from, envelope.ts),
  ]);
  if (!requesterIsMember || !payerIsMember) {
    throw new RejectedError(
      "not_member",
      `Cannot request a payment from "${parsed.from}": ${
        requesterIsMember ? "they are" : "you are"
      } not a member of the cooperative`,
    );
  }
  state.set(key, { ...parsed, cid: ctx.cid } satisfies RequestRecord);
  state.set(ledgerKeys.requestTo(parsed.from, requester, parsed.id), envelope.ts);
}

async function applyDecline(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  await networkGenesis(ctx);
  const { requester, id } = parseDecline(envelope.body);
  const key = ledgerKeys.request(requester, id);
  const record = await state.get<RequestRecord>(key);
  if (!record) {
    throw new RejectedError(
      "unknown_request",
      `Cannot decline request "${id}": no such request from "${requester}"`,
    );
  }
  decideAnswer(record, { by: envelope.author, ts: envelope.ts, kind: "decline" });
  state.set(
    key,
    {
      ...record,
      answer: { state: "declined", cid: ctx.cid, ts: envelope.ts },
    } satisfies RequestRecord,
  );
}

/** The keys `applyTransfer` and `applyPending` read, from the raw body (a malformed one yields none). */
function transferReadKeys(envelope: Envelope): StoreKey[] {
  const body = envelope.body as Record<string, unknown> | null;
  if (typeof body !== "object" || body === null) return [];
  const { to, currency, id } = body;
  if (typeof to !== "string" || typeof currency !== "string" || typeof id !== "string") return [];
  const payer = envelope.author;
  return [
    ledgerKeys.transferId(payer, id),
    ledgerKeys.account(currency, payer),
    ledgerKeys.account(currency, to),
    ledgerKeys.override(payer, currency),
    ledgerKeys.reserved(currency, payer),
    ledgerKeys.historyTail(currency, payer),
    ledgerKeys.historyTail(currency, to),
  ];
}

function resolutionReadKeys(envelope: Envelope): StoreKey[] {
  const body = envelope.body as Record<string, unknown> | null;
  if (typeof body !== "object" || body === null) return [];
  const { payer, id } = body;
  if (typeof payer !== "string" || typeof id !== "string") return [];
  return [ledgerKeys.pending(payer, id)];
}

/** `ledger.*` handlers. */
export const ledgerKinds: ReadonlyMap<string, KindHandler> = new Map<string, KindHandler>([
  [transferKind, { apply: applyTransfer, readKeys: transferReadKeys }],
  [pendingKind, { apply: applyPending, readKeys: transferReadKeys }],
  [postKind, { apply: applyPost, readKeys: resolutionReadKeys }],
  [voidKind, { apply: applyVoid, readKeys: resolutionReadKeys }],
  [requestKind, { apply: applyRequest }],
  [declineKind, { apply: applyDecline }],
]);
