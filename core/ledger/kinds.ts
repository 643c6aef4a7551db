/** The `ledger.transfer` kind handler: gathers facts from state, applies the rules, writes derived state. */
import type { ApplyContext, KindHandler } from "../chain/ingest.ts";
import type { Envelope } from "../envelope/envelope.ts";
import { RejectedError } from "../errors.ts";
import type { StoreKey } from "../store/store.ts";
import { isMember, paramsAt } from "../governance/membership.ts";
import { cooperativeScore } from "../trust/view.ts";
import { amountMinorMax } from "./amount.ts";
import { type Account, type HistoryEntry, hourMs, type IdRecord, ledgerKeys } from "./keys.ts";
import { decideTransfer, parseTransfer, transferKind } from "./rules.ts";
import { limitOf, readAccount, readGenesis, velocityFloor, velocityMaxOf } from "./view.ts";

async function applyTransfer(ctx: ApplyContext): Promise<void> {
  const { envelope, state } = ctx;
  if (ctx.net === null || envelope.net !== ctx.net) {
    throw new RejectedError("no_network", "Cannot apply a transfer outside a joined network");
  }
  const genesis = await readGenesis(state, ctx.net);
  if (!genesis) throw new RejectedError("no_network", `Genesis of ${ctx.net} is missing`);
  const payer = envelope.author;
  const ts = envelope.ts;
  const transfer = parseTransfer(payer, envelope.body, genesis.currencies);
  const code = transfer.currency.code;
  const hour = Math.floor(ts / hourMs);
  // Independent reads go out together: with Deno KV each one is a round trip.
  const [existing, params, payerIsMember, payeeIsMember, payerAccount, payeeAccount, velocity] =
    await Promise.all([
      state.get<IdRecord>(ledgerKeys.transferId(payer, transfer.id)),
      paramsAt(state, genesis, ts),
      isMember(state, genesis, payer, ts),
      isMember(state, genesis, transfer.to, ts),
      readAccount(state, code, payer),
      readAccount(state, code, transfer.to),
      state.get<number>(ledgerKeys.velocity(payer, hour)),
    ]);
  const velocityCount = velocity ?? 0;
  const transferMax = params["credit.transferMax"];
  const known = { account: payerAccount, params };
  // The trust score is the costly fact (a walk of the trust graph from every anchor); it
  // can only raise the limit and the velocity cap, so it is computed only when the
  // decision depends on it. The outcome is the same either way.
  let trust: number | null = null;
  let limit = await limitOf(state, genesis, payer, code, ts, { ...known, trust: null });
  const needsTrust = velocityCount >= velocityFloor(params) ||
    (limit.override === undefined && payerAccount.balance - transfer.amount < -limit.limit);
  if (needsTrust) {
    trust = await cooperativeScore(state, genesis, payer, ts);
    limit = await limitOf(state, genesis, payer, code, ts, { ...known, trust });
  }
  const decision = decideTransfer(transfer, {
    payerIsMember,
    payeeIsMember,
    payerBalance: payerAccount.balance,
    limit: limit.limit,
    velocityCount,
    velocityMax: trust === null ? velocityFloor(params) : velocityMaxOf(params, trust),
    transferMax: typeof transferMax === "number" ? BigInt(transferMax) : amountMinorMax,
    existing,
    softLimitPercent: 0,
  });
  const payerAfter: Account = {
    balance: decision.balanceAfter,
    received: payerAccount.received,
    count: payerAccount.count + 1,
  };
  const payeeAfter: Account = {
    balance: payeeAccount.balance + transfer.amount,
    received: payeeAccount.received + transfer.amount,
    count: payeeAccount.count + 1,
  };
  const line = {
    cid: ctx.cid,
    id: transfer.id,
    from: payer,
    to: transfer.to,
    amount: transfer.amount,
    currency: code,
    memo: transfer.memo,
    ts,
  };
  const payerLine: HistoryEntry = { ...line, balance: payerAfter.balance, limit: limit.limit };
  const payeeLine: HistoryEntry = { ...line, balance: payeeAfter.balance };
  state.set(ledgerKeys.account(code, payer), payerAfter);
  state.set(ledgerKeys.account(code, transfer.to), payeeAfter);
  state.set(ledgerKeys.history(code, payer, payerAccount.count), payerLine);
  state.set(ledgerKeys.history(code, transfer.to, payeeAccount.count), payeeLine);
  state.set(ledgerKeys.velocity(payer, hour), velocityCount + 1);
  const record: IdRecord = {
    cid: ctx.cid,
    to: transfer.to,
    amount: transfer.amount,
    currency: code,
    memo: transfer.memo,
  };
  state.set(ledgerKeys.transferId(payer, transfer.id), record);
}

/** The keys `applyTransfer` reads, from the raw body (a malformed one yields none). */
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
    ledgerKeys.velocity(payer, Math.floor(envelope.ts / hourMs)),
    ledgerKeys.override(payer, currency),
  ];
}

const transfer: KindHandler = { apply: applyTransfer, readKeys: transferReadKeys };

/** `ledger.*` handlers. */
export const ledgerKinds: ReadonlyMap<string, KindHandler> = new Map([[transferKind, transfer]]);
