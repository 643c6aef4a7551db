/** Handlers of `icn ledger ...`. Rules live in core/ledger; these parse, call, and shape results. */
import { toHex } from "../core/bytes.ts";
import { InsufficientCreditError, InvalidInputError, RejectedError } from "../core/errors.ts";
import type { Currency, Genesis } from "../core/governance/genesis.ts";
import { membersAt, paramsAt, type StateReader } from "../core/governance/membership.ts";
import { amountToBody, formatAmount, parseAmount } from "../core/ledger/amount.ts";
import type { ExportFormat } from "../core/ledger/export.ts";
import { type Account, type IdRecord, ledgerKeys } from "../core/ledger/keys.ts";
import {
  isNearLimit,
  type LimitBreakdown,
  sameTransfer,
  type TransferBody,
  transferKind,
} from "../core/ledger/rules.ts";
import { limitOf, readAccount, reservedOf } from "../core/ledger/view.ts";
import { readHistoryRange } from "../core/ledger/history.ts";
import { isNearMaxBalance, maxBalanceOf } from "../core/ledger/pending.ts";
import { terminalSafe } from "../core/safe_text.ts";
import type { Store, StoreKey } from "../core/store/store.ts";
import { contactLabels, resolveDid } from "./contacts.ts";
import type { CliContext } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { writeFileAtomic } from "./keystore.ts";
import type { CommandResult } from "./output.ts";

/** `ledger transfer`'s options, parsed where they are declared (cli/ledger_commands.ts). */
export interface TransferOptions {
  to: string;
  /** Parsed by core's `parseAmount` once the currency, and so its decimals, is known. */
  amount: string;
  currency?: string;
  memo?: string;
  /** Sealed to payer and payee into `memo` (cli/private_memo.ts) before the transfer is made. */
  privateMemo?: string;
  id?: string;
  /** Two-phase: reserve now, move when posted (`ledger post`). */
  pending?: boolean;
  /** With `pending`: how long it stays open (ms). */
  timeout?: number;
  /** With `pending`: who may post or void it (default: the payer). */
  poster?: string[];
  /** Pay a member of another cooperative through clearing (cli/clearing.ts). */
  coop?: string;
}

/** Options of the commands that read one currency (`balance`, `balances`, `limit`). */
export interface CurrencyOptions {
  currency?: string;
}

export interface HistoryOptions extends CurrencyOptions {
  limit: number;
  offset: number;
}

export interface ExportOptions {
  format: ExportFormat;
  out?: string;
}

export function pickCurrency(genesis: Genesis, code: string | undefined): Currency {
  if (code === undefined) return genesis.currencies[0];
  const currency = genesis.currencies.find((c) => c.code === code);
  if (!currency) {
    throw new InvalidInputError(
      `Unknown currency "${code}": this cooperative uses ${
        genesis.currencies.map((c) => c.code).join(", ")
      }`,
    );
  }
  return currency;
}

async function memberArg(ctx: CliContext, args: string[]): Promise<string> {
  if (args[0] !== undefined) return await resolveDid(ctx, args[0], { what: "member" });
  return (await ctx.readPublicIdentity()).did;
}

export interface Standing {
  account: Account;
  limit: LimitBreakdown;
  /** Credit held by this member's open pending transfers. */
  reserved: bigint;
}

export async function standingOf(
  store: Store,
  genesis: Genesis,
  did: string,
  currency: Currency,
  ts: number,
): Promise<Standing> {
  const state = storeReader(store);
  const account = await readAccount(state, currency.code, did);
  const [limit, reserved] = await Promise.all([
    limitOf(state, genesis, did, currency.code, ts, { account }),
    reservedOf(state, currency.code, did, ts),
  ]);
  return { account, limit, reserved };
}

/** The read half of a StateView over a Store, for core readers. */
export function storeReader(store: Store): StateReader {
  return {
    get: async <T>(key: StoreKey) => (await store.get<T>(key))?.value ?? undefined,
    list: async <T>(prefix: StoreKey, options?: { limit?: number; reverse?: boolean }) => {
      const out: { key: StoreKey; value: T }[] = [];
      for await (const entry of store.list<T>({ prefix }, options)) {
        out.push({ key: entry.key, value: entry.value });
      }
      return out;
    },
  };
}

/** The lowest balance allowed, as printed: `-100.00`, or `0.00` with no credit. */
function floorText(standing: Standing, currency: Currency): string {
  return formatAmount(-standing.limit.limit, currency.decimals);
}

export function balanceData(did: string, currency: Currency, standing: Standing) {
  const balance = BigInt(standing.account.balance);
  const limit = standing.limit.limit;
  const available = balance - standing.reserved + limit;
  return {
    did,
    currency: currency.code,
    balance: formatAmount(balance, currency.decimals),
    balanceMinor: balance.toString(),
    limit: formatAmount(limit, currency.decimals),
    limitMinor: limit.toString(),
    reserved: formatAmount(standing.reserved, currency.decimals),
    reservedMinor: standing.reserved.toString(),
    available: formatAmount(available, currency.decimals),
    availableMinor: available.toString(),
  };
}

/**
 * Soft-limit warnings about a member's standing: within `credit.softLimit` % of the
 * credit limit (counting reservations), or of the maximum balance (`ledger.maxBalance`).
 * `who` names the member in the text ("Balance" for oneself).
 */
export function softWarning(
  params: Record<string, unknown>,
  s: Standing,
  c: Currency,
  who = "Balance",
  did?: string,
): string[] {
  const percent = typeof params["credit.softLimit"] === "number"
    ? params["credit.softLimit"] as number
    : 0;
  const out: string[] = [];
  const balance = BigInt(s.account.balance);
  const f = (m: bigint) => formatAmount(m, c.decimals);
  if (isNearLimit(balance - s.reserved, s.limit.limit, percent)) {
    out.push(
      `${who} ${f(balance)} ${c.code}${
        s.reserved > 0n ? ` (${f(s.reserved)} reserved)` : ""
      } is within ${percent}% of the credit limit ${f(-s.limit.limit)}`,
    );
  }
  const max = did === undefined ? 0n : maxBalanceOf(params, did);
  if (isNearMaxBalance(balance, max, percent)) {
    out.push(
      `${who} ${f(balance)} ${c.code} is ${
        balance > max ? "above" : `within ${percent}% of`
      } the maximum balance ${f(max)}`,
    );
  }
  return out;
}

export async function transfer(
  ctx: CliContext,
  _args: string[],
  options: TransferOptions,
): Promise<CommandResult> {
  const to = await resolveDid(ctx, options.to, { what: "--to" });
  const { genesis } = await ctx.network();
  const currency = pickCurrency(genesis, options.currency);
  const amount = parseAmount(options.amount, currency.decimals, currency.code);
  const memo = options.memo ?? "";
  const id = options.id ?? `t-${toHex(ctx.rng.bytes(12))}`;
  const me = (await ctx.readPublicIdentity()).did;
  if (to === me) throw new InvalidInputError("Cannot transfer to yourself");
  const body: TransferBody = {
    to,
    amount: amountToBody(amount),
    currency: currency.code,
    memo,
    id,
  };
  const store = await ctx.store();
  const shown = `${formatAmount(amount, currency.decimals)} ${currency.code}`;
  const already = async (): Promise<CommandResult> => {
    const record = (await store.get<IdRecord>(ledgerKeys.transferId(me, id)))!.value;
    return {
      data: { id, cid: record.cid, status: "already_exists", to, currency: currency.code },
      text: `Transfer "${id}" already exists (${record.cid}); nothing new written`,
    };
  };
  // Idempotency before signing: the same id with the same content is a no-op.
  const existing = (await store.get<IdRecord>(ledgerKeys.transferId(me, id)))?.value;
  if (existing) {
    const same = sameTransfer(existing, { from: me, to, amount, currency, memo, id });
    if (same) return await already();
    throw new RejectedError(
      "id_conflict",
      `Cannot reuse transfer id "${id}": it already names a different transfer (${existing.cid})`,
    );
  }
  const result = await ctx.submit({ kind: transferKind, body });
  const { outcome } = result;
  if (outcome.status === "rejected") {
    if (outcome.reason === "already_exists") return await already();
    if (outcome.reason === "credit_limit") throw new InsufficientCreditError(outcome.message);
    throw new RejectedError(outcome.reason, outcome.message);
  }
  const standing = await standingOf(store, genesis, me, currency, result.envelope.ts);
  const params = await paramsAt(storeReader(store), genesis, result.envelope.ts);
  const data = balanceData(me, currency, standing);
  const labels = await contactLabels(ctx);
  return {
    data: {
      id,
      cid: result.cid,
      status: outcome.status === "duplicate" ? "already_exists" : "accepted",
      from: me,
      to,
      amount: formatAmount(amount, currency.decimals),
      amountMinor: amount.toString(),
      currency: currency.code,
      balance: data.balance,
      balanceMinor: data.balanceMinor,
      limit: data.limit,
      available: data.available,
    },
    text: [
      `Transferred ${shown} to ${labels.label(to)}`,
      `  id:      ${id}`,
      `  cid:     ${result.cid}`,
      `  balance: ${data.balance} ${currency.code} (limit ${
        floorText(standing, currency)
      }, available ${data.available})`,
    ],
    warnings: [
      ...softWarning(params, standing, currency, "Balance", me),
      ...(await payeeWarnings(store, genesis, params, to, currency, result.envelope.ts)),
      ...labels.warnings,
    ],
  };
}

/** The soft-limit warning about the payee's maximum balance, for the payer's output. */
export async function payeeWarnings(
  store: Store,
  genesis: Genesis,
  params: Record<string, unknown>,
  payee: string,
  currency: Currency,
  ts: number,
): Promise<string[]> {
  const max = maxBalanceOf(params, payee);
  if (max === 0n) return [];
  const standing = await standingOf(store, genesis, payee, currency, ts);
  const percent = typeof params["credit.softLimit"] === "number"
    ? params["credit.softLimit"] as number
    : 0;
  if (!isNearMaxBalance(BigInt(standing.account.balance), max, percent)) return [];
  return [
    `The payee's balance ${
      formatAmount(BigInt(standing.account.balance), currency.decimals)
    } ${currency.code} is within ${percent}% of their maximum balance ${
      formatAmount(max, currency.decimals)
    }`,
  ];
}

export async function balance(
  ctx: CliContext,
  args: string[],
  options: CurrencyOptions,
): Promise<CommandResult> {
  const did = await memberArg(ctx, args);
  const { genesis } = await ctx.network();
  const currency = pickCurrency(genesis, options.currency);
  const store = await ctx.store();
  const now = ctx.clock.now();
  const standing = await standingOf(store, genesis, did, currency, now);
  const data = balanceData(did, currency, standing);
  const labels = await contactLabels(ctx);
  const params = await paramsAt(storeReader(store), genesis, now);
  const max = maxBalanceOf(params, did);
  return {
    data: {
      ...data,
      maxBalance: max === 0n ? null : formatAmount(max, currency.decimals),
    },
    warnings: [...softWarning(params, standing, currency, "Balance", did), ...labels.warnings],
    text: [
      `${data.balance} ${currency.code}  (${labels.label(did)})`,
      `  limit:     ${floorText(standing, currency)}`,
      ...(standing.reserved > 0n ? [`  reserved:  ${data.reserved} (open pending transfers)`] : []),
      `  available: ${data.available}`,
      ...(max > 0n ? [`  maximum:   ${formatAmount(max, currency.decimals)}`] : []),
    ],
  };
}

export async function balances(
  ctx: CliContext,
  _args: string[],
  options: CurrencyOptions,
): Promise<CommandResult> {
  const { genesis } = await ctx.network();
  const store = await ctx.store();
  const currencies = options.currency === undefined
    ? genesis.currencies
    : [pickCurrency(genesis, options.currency)];
  const now = ctx.clock.now();
  const reader = storeReader(store);
  const members = new Set(await membersAt(reader, genesis, now));
  const rows: ReturnType<typeof balanceData>[] = [];
  for (const currency of currencies) {
    const dids = new Set(members);
    for await (const entry of store.list({ prefix: ledgerKeys.accountPrefix(currency.code) })) {
      dids.add(entry.key[3] as string);
    }
    for (const did of [...dids].sort()) {
      rows.push(balanceData(did, currency, await standingOf(store, genesis, did, currency, now)));
    }
  }
  const width = Math.max(0, ...rows.map((r) => r.balance.length));
  const labels = await contactLabels(ctx);
  return {
    data: rows,
    warnings: labels.warnings,
    text: rows.map((r) => `${r.balance.padStart(width)} ${r.currency}  ${labels.label(r.did)}`),
  };
}

export async function history(
  ctx: CliContext,
  args: string[],
  options: HistoryOptions,
): Promise<CommandResult> {
  const did = await memberArg(ctx, args);
  const { limit, offset } = options;
  const { genesis } = await ctx.network();
  const currency = pickCurrency(genesis, options.currency);
  const store = await ctx.store();
  const total = (await readAccount(storeReader(store), currency.code, did)).count;
  const newest = total - 1 - offset;
  const oldest = Math.max(0, newest - limit + 1);
  const entries = await readHistoryRange(store, currency.code, did, oldest, newest);
  const rows = entries.map((e) => {
    const outgoing = e.from === did;
    const amount = BigInt(e.amount);
    return {
      time: new Date(e.ts).toISOString(),
      ts: e.ts,
      id: e.id,
      cid: e.cid,
      direction: outgoing ? "out" : "in",
      counterparty: outgoing ? e.to : e.from,
      from: e.from,
      to: e.to,
      amount: formatAmount(outgoing ? -amount : amount, currency.decimals),
      amountMinor: (outgoing ? -amount : amount).toString(),
      currency: currency.code,
      memo: e.memo,
      balance: formatAmount(BigInt(e.balance), currency.decimals),
      /** The pending transfer's CID when this line is its posting, else null. */
      pending: e.pending ?? null,
    };
  });
  const { revealPrivateMemos } = await import("./private_memo.ts");
  const memoWarnings = await revealPrivateMemos(ctx, rows);
  const first = rows.length === 0 ? 0 : offset + 1;
  const last = offset + rows.length;
  const more = last < total;
  const summary = rows.length === 0
    ? `No transfers${offset > 0 ? ` at offset ${offset}` : ""} (${total} in all)`
    : `Showing ${first}-${last} of ${total}${more ? ` (use --offset ${last} for more)` : ""}`;
  const width = Math.max(0, ...rows.map((r) => r.amount.length));
  const labels = await contactLabels(ctx);
  const now = ctx.clock.now();
  const params = await paramsAt(storeReader(store), genesis, now);
  const standing = await standingOf(store, genesis, did, currency, now);
  return {
    data: { did, currency: currency.code, total, offset, limit, entries: rows },
    warnings: [
      ...softWarning(params, standing, currency, "Balance", did),
      ...labels.warnings,
      ...memoWarnings,
    ],
    text: [
      ...rows.map((r) =>
        `${r.time}  ${r.amount.padStart(width)}  ${r.direction === "out" ? "to  " : "from"} ${
          labels.label(r.counterparty)
        }  ${r.id}${r.memo ? `  "${terminalSafe(r.memo)}"` : ""}`
      ),
      summary,
    ],
  };
}

export async function limit(
  ctx: CliContext,
  args: string[],
  options: CurrencyOptions,
): Promise<CommandResult> {
  const did = await memberArg(ctx, args);
  const { genesis } = await ctx.network();
  const currency = pickCurrency(genesis, options.currency);
  const store = await ctx.store();
  const { limit: b } = await standingOf(store, genesis, did, currency, ctx.clock.now());
  const f = (minor: bigint) => formatAmount(minor, currency.decimals);
  const ramp = b.rampPpm / 10_000;
  const labels = await contactLabels(ctx);
  return {
    warnings: labels.warnings,
    data: {
      did,
      currency: currency.code,
      limit: f(b.limit),
      limitMinor: b.limit.toString(),
      baseline: f(b.baseline),
      trust: b.trust,
      trustTerm: f(b.trustTerm),
      clearedVolume: f(b.clearedVolume),
      historyTerm: f(b.historyTerm),
      rampPercent: ramp,
      override: b.override === undefined ? null : f(b.override),
    },
    text: [
      `Credit limit of ${labels.label(did)}: ${f(b.limit)} ${currency.code}`,
      ...(b.override !== undefined ? [`  set by governance (override): ${f(b.override)}`] : [
        `  baseline:                     ${f(b.baseline)}`,
        `  + trust ${b.trust.toFixed(3)} × multiplier:   ${f(b.trustTerm)}`,
        `  + cleared volume ${f(b.clearedVolume)} × rate: ${f(b.historyTerm)}`,
        `  × new-member ramp:            ${ramp}%`,
      ]),
    ],
  };
}

export async function check(ctx: CliContext): Promise<CommandResult> {
  const { id, store } = await ctx.network();
  // Loaded only here: the audit pulls in every domain's kind handlers.
  const { checkLedger, ledgerStateHash } = await import("../core/ledger/audit.ts");
  const { createKindRegistry } = await import("../core/kinds.ts");
  const findings = await checkLedger(store, { kinds: createKindRegistry() });
  // The hash every node holding the same envelopes shares: `--json` shows it, to compare nodes.
  const stateHash = await ledgerStateHash(store);
  return {
    data: { ok: findings.length === 0, findings, net: id, stateHash },
    text: findings,
    exitCode: findings.length === 0 ? exitCodes.ok : exitCodes.failure,
  };
}

export async function exportLedger(
  ctx: CliContext,
  _args: string[],
  options: ExportOptions,
): Promise<CommandResult> {
  const { format } = options;
  const { genesis } = await ctx.network();
  const store = await ctx.store();
  const { listOpenPendings, listTransfers, toCsv, toHledger, toJsonRows } = await import(
    "../core/ledger/export.ts"
  );
  // An export never decrypts: a private memo is "(private)" for everyone (cli/private_memo.ts).
  const { publicMemo } = await import("./private_memo.ts");
  const transfers = (await listTransfers(store)).map((t) => ({ ...t, memo: publicMemo(t.memo) }));
  const now = ctx.clock.now();
  const members = await membersAt(storeReader(store), genesis, now);
  const pendings = (await listOpenPendings(store, now)).map((p) => ({
    ...p,
    memo: publicMemo(p.memo),
  }));
  const content = format === "hledger"
    ? toHledger(transfers, genesis.currencies, members, pendings)
    : format === "csv"
    ? toCsv(transfers, genesis.currencies)
    : JSON.stringify(toJsonRows(transfers, genesis.currencies), null, 2) + "\n";
  if (options.out !== undefined) {
    const { out } = options;
    await writeFileAtomic(out, new TextEncoder().encode(content), 0o644);
    return {
      data: { file: out, format, count: transfers.length },
      text: `Exported ${transfers.length} transfer(s) to ${out} (${format})`,
    };
  }
  return {
    data: format === "json" ? toJsonRows(transfers, genesis.currencies) : { format, content },
    text: content,
  };
}
