/**
 * Handlers of the two-phase and request commands: `ledger transfer --pending`,
 * `post`, `void`, `pending`, `request`, `requests`, `pay`, `decline`. The rules
 * are core/ledger/pending.ts's; these check the same rules before signing (so
 * bad input writes nothing), submit, and shape results.
 */
import { toHex } from "../core/bytes.ts";
import { InvalidInputError, RejectedError } from "../core/errors.ts";
import type { Currency, Genesis } from "../core/governance/genesis.ts";
import { paramsAt } from "../core/governance/membership.ts";
import { amountToBody, formatAmount, parseAmount } from "../core/ledger/amount.ts";
import {
  type IdRecord,
  ledgerKeys,
  type PendingRecord,
  type RequestRecord,
} from "../core/ledger/keys.ts";
import {
  decideAnswer,
  decideResolution,
  declineKind,
  pendingBody,
  pendingKind,
  pendingStatus,
  pendingTimeoutDefault,
  pendingTimeoutMax,
  pendingTimeoutMin,
  postKind,
  requestExpiryDefault,
  requestExpiryMax,
  requestKind,
  requestStatus,
  resolversOf,
  voidKind,
} from "../core/ledger/pending.ts";
import { sameTransfer, type TransferBody, transferKind } from "../core/ledger/rules.ts";
import { terminalSafe } from "../core/safe_text.ts";
import type { Store } from "../core/store/store.ts";
import { didArg, resolveWhen, type When } from "./args.ts";
import { contactLabels, resolveDid } from "./contacts.ts";
import type { CliContext } from "./context.ts";
import {
  balanceData,
  payeeWarnings,
  pickCurrency,
  softWarning,
  standingOf,
  storeReader,
  transfer as plainTransfer,
  type TransferOptions,
} from "./ledger.ts";
import type { CommandResult } from "./output.ts";

const iso = (ms: number) => new Date(ms).toISOString();

function currencyOf(genesis: Genesis, code: string): Currency {
  return genesis.currencies.find((c) => c.code === code) ?? { code, decimals: 0 } as Currency;
}

/** `ledger transfer`: a plain transfer (cli/ledger.ts), or with `--pending` a pending one. */
export async function transfer(
  ctx: CliContext,
  args: string[],
  options: TransferOptions,
): Promise<CommandResult> {
  if (options.privateMemo !== undefined) {
    if (options.coop !== undefined) {
      throw new InvalidInputError(
        "--private-memo does not go with --coop: the payee's key event log is another cooperative's",
      );
    }
    const { sealTransferMemo } = await import("./private_memo.ts");
    options = { ...options, memo: await sealTransferMemo(ctx, options), privateMemo: undefined };
  }
  if (options.coop !== undefined) {
    if (options.pending || (options.poster?.length ?? 0) > 0) {
      throw new InvalidInputError(
        "--coop pays through clearing, which is always two-phase: leave out --pending and --poster",
      );
    }
    return await (await import("./clearing.ts")).payAcross(ctx, { ...options, coop: options.coop });
  }
  // Each --poster is checked like any DID first, so a typo is named whatever else is wrong.
  // (A parser on the option would stop commander from treating it as repeatable.)
  for (const poster of options.poster ?? []) didArg("--poster")(poster);
  if (!options.pending) {
    if (options.timeout !== undefined || (options.poster?.length ?? 0) > 0) {
      throw new InvalidInputError("--timeout and --poster need --pending");
    }
    return await plainTransfer(ctx, args, options);
  }
  const to = await resolveDid(ctx, options.to, { what: "--to" });
  const { genesis } = await ctx.network();
  const currency = pickCurrency(genesis, options.currency);
  const amount = parseAmount(options.amount, currency.decimals, currency.code);
  return await transferPending(ctx, { to, amount, currency, options });
}

/** `ledger transfer --pending`: reserves the amount now; `ledger post` moves it. */
async function transferPending(
  ctx: CliContext,
  input: { to: string; amount: bigint; currency: Currency; options: TransferOptions },
): Promise<CommandResult> {
  const { to, amount, currency, options } = input;
  const timeout = options.timeout ?? pendingTimeoutDefault;
  if (timeout < pendingTimeoutMin || timeout > pendingTimeoutMax) {
    throw new InvalidInputError(
      `Cannot use --timeout ${timeout / 1000}s: use ${pendingTimeoutMin / 1000}s to ${
        pendingTimeoutMax / 86_400_000
      }d`,
    );
  }
  const me = (await ctx.readPublicIdentity()).did;
  if (to === me) throw new InvalidInputError("Cannot transfer to yourself");
  const posters: string[] = [];
  for (const p of options.poster ?? []) {
    posters.push(await resolveDid(ctx, p, { what: "--poster" }));
  }
  const memo = options.memo ?? "";
  const id = options.id ?? `p-${toHex(ctx.rng.bytes(12))}`;
  const store = await ctx.store();
  const existing = (await store.get<IdRecord>(ledgerKeys.transferId(me, id)))?.value;
  if (existing) {
    if (sameTransfer(existing, { from: me, to, amount, currency, memo, id, pending: true })) {
      return {
        data: { id, cid: existing.cid, status: "already_exists", to, currency: currency.code },
        text: `Pending transfer "${id}" already exists (${existing.cid}); nothing new written`,
      };
    }
    throw new RejectedError(
      "id_conflict",
      `Cannot reuse transfer id "${id}": it already names a different transfer (${existing.cid})`,
    );
  }
  const expires = ctx.clock.now() + timeout;
  const body = pendingBody(to, amount, currency.code, { id, memo, expires, posters });
  const result = await ctx.submitOrThrow({ kind: pendingKind, body });
  const { genesis } = await ctx.network();
  // The body's expiry is absolute: the envelope's ts may be a little later than our clock.
  const standing = await standingOf(store, genesis, me, currency, result.envelope.ts);
  const params = await paramsAt(storeReader(store), genesis, result.envelope.ts);
  const data = balanceData(me, currency, standing);
  const labels = await contactLabels(ctx);
  const shown = `${formatAmount(amount, currency.decimals)} ${currency.code}`;
  return {
    data: {
      id,
      cid: result.cid,
      status: "pending",
      from: me,
      to,
      amount: formatAmount(amount, currency.decimals),
      amountMinor: amount.toString(),
      currency: currency.code,
      expires: iso(body.expires),
      posters: body.posters,
      balance: data.balance,
      reserved: data.reserved,
      available: data.available,
    },
    text: [
      `Reserved ${shown} for ${labels.label(to)} (pending until ${iso(body.expires)})`,
      `  id:        ${id}`,
      `  cid:       ${result.cid}`,
      `  posted by: ${
        body.posters.length === 0
          ? "you (icn ledger post " + id + ")"
          : body.posters.map((p) => labels.label(p)).join(", ")
      }`,
      `  available: ${data.available} ${currency.code} (${data.reserved} reserved)`,
    ],
    warnings: [
      ...softWarning(params, standing, currency, "Balance", me),
      ...(await payeeWarnings(store, genesis, params, to, currency, result.envelope.ts)),
      ...labels.warnings,
    ],
  };
}

export interface ResolveOptions {
  /** The pending's payer (DID, contact or prefix); needed only when the id is ambiguous. */
  payer?: string;
}

/** What `ledger pending` and `ledger requests` read before listing. */
async function openLedgerReader(ctx: CliContext) {
  const store = await ctx.store();
  const me = (await ctx.readPublicIdentity()).did;
  const { genesis } = await ctx.network();
  return { store, me, genesis, now: ctx.clock.now(), labels: await contactLabels(ctx) };
}

/** A listed pending's or request's amount, in the currency's decimals and in minor units. */
function moneyFields(
  genesis: Genesis,
  row: { amount: string | number | bigint; currency: string },
) {
  const amount = BigInt(row.amount);
  return {
    amount: formatAmount(amount, currencyOf(genesis, row.currency).decimals),
    amountMinor: amount.toString(),
    currency: row.currency,
  };
}

async function listPendings(store: Store): Promise<PendingRecord[]> {
  const out: PendingRecord[] = [];
  for await (const entry of store.list<PendingRecord>({ prefix: ledgerKeys.pendingPrefix })) {
    out.push(entry.value);
  }
  return out;
}

/** Finds the pending `id` that `me` may act on: of `payer` when given, else the one match. */
async function findPending(
  ctx: CliContext,
  store: Store,
  id: string,
  options: ResolveOptions,
  me: string,
): Promise<PendingRecord> {
  if (options.payer !== undefined) {
    const payer = await resolveDid(ctx, options.payer, { what: "--payer" });
    const record = (await store.get<PendingRecord>(ledgerKeys.pending(payer, id)))?.value;
    if (!record) {
      throw new RejectedError("unknown_pending", `Unknown pending transfer "${id}" of "${payer}"`);
    }
    return record;
  }
  const matches = (await listPendings(store)).filter((p) => p.id === id);
  const mine = matches.filter((p) => resolversOf(p).includes(me) || p.from === me || p.to === me);
  const chosen = mine.length > 0 ? mine : matches;
  if (chosen.length === 0) {
    throw new RejectedError("unknown_pending", `Unknown pending transfer "${id}"`);
  }
  if (chosen.length > 1) {
    throw new InvalidInputError(
      `Pending transfer id "${id}" is used by ${chosen.length} payers: add --payer DID`,
    );
  }
  return chosen[0];
}

async function resolvePending(
  ctx: CliContext,
  id: string,
  options: ResolveOptions,
  kind: "post" | "void",
): Promise<CommandResult> {
  const store = await ctx.store();
  const me = (await ctx.readPublicIdentity()).did;
  const record = await findPending(ctx, store, id, options, me);
  // The same rule the handler applies, before signing: nothing is written when it refuses.
  decideResolution(record, { kind, by: me, ts: ctx.clock.now(), cid: "", local: true });
  const result = await ctx.submitOrThrow({
    kind: kind === "post" ? postKind : voidKind,
    body: { payer: record.from, id: record.id },
  });
  const { genesis } = await ctx.network();
  const currency = currencyOf(genesis, record.currency);
  const shown = `${formatAmount(BigInt(record.amount), currency.decimals)} ${currency.code}`;
  const labels = await contactLabels(ctx);
  const warnings: string[] = [...labels.warnings];
  if (kind === "post") {
    const params = await paramsAt(storeReader(store), genesis, result.envelope.ts);
    warnings.unshift(
      ...(await payeeWarnings(store, genesis, params, record.to, currency, result.envelope.ts)),
    );
  }
  return {
    data: {
      id: record.id,
      payer: record.from,
      to: record.to,
      cid: result.cid,
      status: kind === "post" ? "posted" : "voided",
      amount: formatAmount(BigInt(record.amount), currency.decimals),
      currency: currency.code,
    },
    text: kind === "post"
      ? `Posted "${record.id}": ${shown} from ${labels.label(record.from)} to ${
        labels.label(record.to)
      } (${result.cid})`
      : `Voided "${record.id}": the ${shown} reserved by ${
        labels.label(record.from)
      } is released (${result.cid})`,
    warnings,
  };
}

export function post(ctx: CliContext, args: string[], options: ResolveOptions) {
  return resolvePending(ctx, args[0], options, "post");
}

export function voidPending(ctx: CliContext, args: string[], options: ResolveOptions) {
  return resolvePending(ctx, args[0], options, "void");
}

export interface ListOptions {
  /** Also resolved and expired ones. */
  all?: boolean;
}

/** `ledger pending`: pendings this identity pays, receives or may post, open ones unless `--all`. */
export async function pendingList(
  ctx: CliContext,
  _args: string[],
  options: ListOptions,
): Promise<CommandResult> {
  const { store, me, genesis, now, labels } = await openLedgerReader(ctx);
  const rows = (await listPendings(store))
    .filter((p) => p.from === me || p.to === me || p.posters.includes(me))
    .map((p) => ({ p, status: pendingStatus(p, now) }))
    .filter((r) => options.all || r.status === "open")
    .sort((a, b) => a.p.expires - b.p.expires || (a.p.id < b.p.id ? -1 : 1))
    .map(({ p, status }) => {
      return {
        id: p.id,
        cid: p.cid,
        status,
        role: p.from === me ? "payer" : p.to === me ? "payee" : "poster",
        from: p.from,
        to: p.to,
        ...moneyFields(genesis, p),
        memo: p.memo,
        time: iso(p.ts),
        expires: iso(p.expires),
        posters: resolversOf(p),
        canPost: status === "open" && resolversOf(p).includes(me),
      };
    });
  return {
    data: rows,
    warnings: labels.warnings,
    text: rows.length === 0
      ? [`No ${options.all ? "" : "open "}pending transfers`]
      : rows.map((r) =>
        `${r.id}  ${r.status.padEnd(7)} ${r.amount} ${r.currency}  ${labels.label(r.from)} → ${
          labels.label(r.to)
        }  until ${r.expires}${r.canPost ? "  (you may post or void)" : ""}${
          r.memo ? `  "${terminalSafe(r.memo)}"` : ""
        }`
      ),
  };
}

export interface RequestOptions {
  from: string;
  amount: string;
  currency?: string;
  memo?: string;
  expires?: When;
  id?: string;
}

/** `ledger request`: asks a member to pay this identity. */
export async function request(
  ctx: CliContext,
  _args: string[],
  options: RequestOptions,
): Promise<CommandResult> {
  const from = await resolveDid(ctx, options.from, { what: "--from" });
  const { genesis } = await ctx.network();
  const currency = pickCurrency(genesis, options.currency);
  const amount = parseAmount(options.amount, currency.decimals, currency.code);
  const me = (await ctx.readPublicIdentity()).did;
  if (from === me) throw new InvalidInputError("Cannot request a payment from yourself");
  const now = ctx.clock.now();
  const expires = options.expires === undefined
    ? now + requestExpiryDefault
    : resolveWhen(options.expires, now);
  if (expires <= now || expires - now > requestExpiryMax) {
    throw new InvalidInputError(
      `Cannot use --expires: it must be in the future and within ${
        requestExpiryMax / 86_400_000
      } days`,
    );
  }
  const id = options.id ?? `r-${toHex(ctx.rng.bytes(12))}`;
  const store = await ctx.store();
  if ((await store.get(ledgerKeys.request(me, id)))?.value !== undefined) {
    throw new RejectedError("already_exists", `Request "${id}" already exists`);
  }
  const result = await ctx.submitOrThrow({
    kind: requestKind,
    body: {
      from,
      amount: amountToBody(amount),
      currency: currency.code,
      memo: options.memo ?? "",
      id,
      expires,
    },
  });
  const labels = await contactLabels(ctx);
  return {
    data: {
      id,
      cid: result.cid,
      status: "open",
      from,
      to: me,
      amount: formatAmount(amount, currency.decimals),
      currency: currency.code,
      expires: iso(expires),
    },
    text: [
      `Requested ${formatAmount(amount, currency.decimals)} ${currency.code} from ${
        labels.label(from)
      } (until ${iso(expires)})`,
      `  id:  ${id}`,
      `  cid: ${result.cid}`,
    ],
    warnings: labels.warnings,
  };
}

async function requestsToMe(store: Store, me: string): Promise<RequestRecord[]> {
  const out: RequestRecord[] = [];
  for await (const entry of store.list({ prefix: ledgerKeys.requestToPrefix(me) })) {
    const [, , , requester, id] = entry.key as string[];
    const record = (await store.get<RequestRecord>(ledgerKeys.request(requester, id)))?.value;
    if (record) out.push(record);
  }
  return out;
}

/** `ledger requests`: requests to this identity (to pay) and from it (to be paid). */
export async function requests(
  ctx: CliContext,
  _args: string[],
  options: ListOptions,
): Promise<CommandResult> {
  const { store, me, genesis, now, labels } = await openLedgerReader(ctx);
  const mine: RequestRecord[] = [];
  for await (const entry of store.list<RequestRecord>({ prefix: ledgerKeys.requestPrefix(me) })) {
    mine.push(entry.value);
  }
  const row = (r: RequestRecord, direction: "to me" | "from me") => {
    return {
      id: r.id,
      cid: r.cid,
      direction,
      status: requestStatus(r, now),
      from: r.from,
      to: r.to,
      ...moneyFields(genesis, r),
      memo: r.memo,
      time: iso(r.ts),
      expires: iso(r.expires),
      answer: r.answer ? { ...r.answer, time: iso(r.answer.ts) } : null,
    };
  };
  const rows = [
    ...(await requestsToMe(store, me)).map((r) => row(r, "to me")),
    ...mine.map((r) => row(r, "from me")),
  ].filter((r) => options.all || r.status === "open")
    .sort((a, b) => a.time < b.time ? -1 : a.time > b.time ? 1 : 0);
  return {
    data: rows,
    warnings: labels.warnings,
    text: rows.length === 0
      ? [`No ${options.all ? "" : "open "}payment requests`]
      : rows.map((r) =>
        `${r.id}  ${r.status.padEnd(8)} ${r.amount} ${r.currency}  ${
          r.direction === "to me"
            ? `${labels.label(r.to)} asks you`
            : `you ask ${labels.label(r.from)}`
        }  until ${r.expires}${r.memo ? `  "${terminalSafe(r.memo)}"` : ""}`
      ),
  };
}

export interface AnswerOptions {
  /** The requester (DID, contact or prefix); needed only when the id is ambiguous. */
  requester?: string;
}

async function findRequest(
  ctx: CliContext,
  store: Store,
  id: string,
  options: AnswerOptions,
  me: string,
): Promise<RequestRecord> {
  if (options.requester !== undefined) {
    const requester = await resolveDid(ctx, options.requester, { what: "--requester" });
    const record = (await store.get<RequestRecord>(ledgerKeys.request(requester, id)))?.value;
    if (!record) {
      throw new RejectedError("unknown_request", `Unknown request "${id}" of "${requester}"`);
    }
    return record;
  }
  const matches = (await requestsToMe(store, me)).filter((r) => r.id === id);
  if (matches.length === 0) {
    throw new RejectedError("unknown_request", `No request "${id}" asks you to pay`);
  }
  if (matches.length > 1) {
    throw new InvalidInputError(
      `Request id "${id}" is used by ${matches.length} requesters: add --requester DID`,
    );
  }
  return matches[0];
}

/** `ledger pay REQUEST_ID`: a transfer of exactly what was asked, citing the request. */
export async function pay(
  ctx: CliContext,
  args: string[],
  options: AnswerOptions,
): Promise<CommandResult> {
  const store = await ctx.store();
  const me = (await ctx.readPublicIdentity()).did;
  const record = await findRequest(ctx, store, args[0], options, me);
  const amount = BigInt(record.amount);
  decideAnswer(record, {
    by: me,
    ts: ctx.clock.now(),
    kind: "pay",
    amount,
    currency: record.currency,
  });
  const { genesis } = await ctx.network();
  const currency = currencyOf(genesis, record.currency);
  const id = `t-${toHex(ctx.rng.bytes(12))}`;
  const body: TransferBody = {
    to: record.to,
    amount: amountToBody(amount),
    currency: record.currency,
    memo: record.memo,
    id,
    request: record.id,
  };
  const result = await ctx.submitOrThrow({ kind: transferKind, body });
  const standing = await standingOf(store, genesis, me, currency, result.envelope.ts);
  const params = await paramsAt(storeReader(store), genesis, result.envelope.ts);
  const data = balanceData(me, currency, standing);
  const labels = await contactLabels(ctx);
  return {
    data: {
      request: record.id,
      id,
      cid: result.cid,
      status: "paid",
      to: record.to,
      amount: formatAmount(amount, currency.decimals),
      currency: currency.code,
      balance: data.balance,
      available: data.available,
    },
    text: [
      `Paid request "${record.id}": ${
        formatAmount(amount, currency.decimals)
      } ${currency.code} to ${labels.label(record.to)}`,
      `  transfer id: ${id}`,
      `  cid:         ${result.cid}`,
      `  balance:     ${data.balance} ${currency.code} (available ${data.available})`,
    ],
    warnings: [
      ...softWarning(params, standing, currency, "Balance", me),
      ...(await payeeWarnings(store, genesis, params, record.to, currency, result.envelope.ts)),
      ...labels.warnings,
    ],
  };
}

/** `ledger decline REQUEST_ID`. */
export async function decline(
  ctx: CliContext,
  args: string[],
  options: AnswerOptions,
): Promise<CommandResult> {
  const store = await ctx.store();
  const me = (await ctx.readPublicIdentity()).did;
  const record = await findRequest(ctx, store, args[0], options, me);
  decideAnswer(record, { by: me, ts: ctx.clock.now(), kind: "decline" });
  const result = await ctx.submitOrThrow({
    kind: declineKind,
    body: { requester: record.to, id: record.id },
  });
  const labels = await contactLabels(ctx);
  return {
    data: { request: record.id, cid: result.cid, status: "declined", to: record.to },
    text: `Declined request "${record.id}" from ${labels.label(record.to)} (${result.cid})`,
    warnings: labels.warnings,
  };
}
