/**
 * Two-phase transfers, payment requests and the maximum balance, as pure
 * rules over facts (docs/ledger.md, "Pending transfers").
 *
 * A pending transfer (`ledger.pending`, in the payer's chain) reserves its
 * amount against the payer's available credit; balances change only when it
 * is posted (`ledger.post`). It is voided by `ledger.void`, or by its expiry:
 * a pending not resolved by a resolution dated at or before `expires` is void
 * on every node, derived on read from envelope timestamps (`pendingStatus`),
 * like proposal outcomes.
 *
 * Who resolves: the pending's `posters` when it names any, else the payer
 * alone (`resolversOf`). One chain deciding keeps post and void from racing
 * across chains; with several posters (a cooperative's delegates, for
 * clearing) a post wins over a void from another poster, whatever order they
 * arrive in, so every node ends in the same state (`decideResolution`); so
 * such a void keeps the reservation until the expiry, and the payer's credit
 * is never released by a fact a later envelope can undo.
 *
 * Reuse (clearing between cooperatives, core/federation/clearing*.ts): build
 * the body with `pendingBody`, judge with `parsePending` + `decidePending`,
 * resolve with `decideResolution`, read with `pendingStatus` and
 * `reservedAt`. An account id is a member DID or a non-member account such
 * as `clearing:<networkId>` (`isNonMemberAccount`); the facts say whether the
 * payee may be credited (`payeeIsMember`), so the caller decides what a
 * clearing account is allowed.
 */
import { RejectedError } from "../errors.ts";
import type { Currency } from "../governance/genesis.ts";
import { isDid } from "../identity/did.ts";
import { amountToBody, formatAmount } from "./amount.ts";
import type { PendingRecord, RequestRecord } from "./keys.ts";
import { parseTransfer, type Transfer } from "./rules.ts";

export const pendingKind = "ledger.pending";
export const postKind = "ledger.post";
export const voidKind = "ledger.void";
export const requestKind = "ledger.request";
export const declineKind = "ledger.decline";

const minute = 60_000;
/** Default time a pending stays open (`--timeout`). */
export const pendingTimeoutDefault = 60 * minute;
/** Shortest and longest timeout of a pending. */
export const pendingTimeoutMin = 10_000;
export const pendingTimeoutMax = 7 * 24 * 60 * minute;
/** Most posters one pending may name. */
export const postersMax = 16;
/** Most pendings of one payer, in one currency, open at a time. */
export const openPendingsMax = 100;
/** Default and longest life of a payment request. */
export const requestExpiryDefault = 30 * 24 * 60 * minute;
export const requestExpiryMax = 365 * 24 * 60 * minute;

/** Prefix of non-member accounts that clearing between cooperatives adds (`clearing:<networkId>`). */
export const clearingAccountPrefix = "clearing:";

/** True for an account id that is not a member's DID (a clearing account). */
export function isNonMemberAccount(account: string): boolean {
  return account.startsWith(clearingAccountPrefix);
}

/** Body of a `ledger.pending` envelope: a transfer's fields plus its expiry and posters. */
export interface PendingBody {
  to: string;
  amount: number | bigint;
  currency: string;
  memo: string;
  id: string;
  /** Absolute ms; the pending is void after it. */
  expires: number;
  /** Sorted, distinct DIDs who may post or void; empty: the payer. */
  posters: string[];
}

/** A validated pending transfer. */
export interface Pending extends Transfer {
  ts: number;
  expires: number;
  posters: string[];
}

/** The body of a pending from its parts (posters sorted and made distinct). */
export function pendingBody(
  to: string,
  amount: bigint,
  currency: string,
  options: { id: string; memo?: string; expires: number; posters?: readonly string[] },
): PendingBody {
  return {
    to,
    amount: amountToBody(amount),
    currency,
    memo: options.memo ?? "",
    id: options.id,
    expires: options.expires,
    posters: [...new Set(options.posters ?? [])].sort(),
  };
}

function invalid(why: string): never {
  throw new RejectedError("invalid_body", `Invalid pending transfer: ${why}`);
}

/** Checks a pending's body (the transfer fields as `parseTransfer`, then expiry and posters). */
export function parsePending(
  payer: string,
  ts: number,
  body: unknown,
  currencies: readonly Currency[],
): Pending {
  if (typeof body !== "object" || body === null || Array.isArray(body)) invalid("not a map");
  const { expires, posters, ...rest } = body as Record<string, unknown>;
  if (Object.keys(body as object).length !== Object.keys(rest).length + 2) {
    invalid("body must have the fields of a transfer plus expires and posters");
  }
  const transfer = parseTransfer(payer, rest, currencies);
  if (!Number.isSafeInteger(expires)) invalid("`expires` is not an integer");
  const timeout = (expires as number) - ts;
  if (timeout < pendingTimeoutMin || timeout > pendingTimeoutMax) {
    throw new RejectedError(
      "timeout",
      `Cannot hold a pending transfer for ${Math.round(timeout / 1000)} s: the timeout must be ${
        pendingTimeoutMin / 1000
      } s to ${pendingTimeoutMax / 86_400_000} days`,
    );
  }
  if (!Array.isArray(posters) || posters.length > postersMax) {
    invalid(`\`posters\` must be a list of at most ${postersMax} DIDs`);
  }
  const list = posters as unknown[];
  for (let i = 0; i < list.length; i++) {
    if (!isDid(list[i])) invalid("a poster is not a DID");
    if (i > 0 && !((list[i - 1] as string) < (list[i] as string))) {
      invalid("`posters` must be sorted and distinct");
    }
  }
  return { ...transfer, ts, expires: expires as number, posters: list as string[] };
}

/** Who may post or void a pending: its posters, or the payer when it names none. */
export function resolversOf(record: Pick<PendingRecord, "from" | "posters">): readonly string[] {
  return record.posters.length > 0 ? record.posters : [record.from];
}

export type PendingStatus = "open" | "posted" | "voided" | "expired";

/** The status of a pending at `now`: its resolution, else expired once `now` passed `expires`. */
export function pendingStatus(record: PendingRecord, now: number): PendingStatus {
  if (record.resolution) return record.resolution.state;
  return now > record.expires ? "expired" : "open";
}

/** True while a pending reserves its amount at `ts` (unresolved and not expired). */
export function reservesAt(record: Pick<PendingRecord, "expires">, ts: number): boolean {
  return ts <= record.expires;
}

/** Sum of the amounts of open-index entries that still reserve at `ts`. */
export function reservedAt(
  open: readonly { expires: number; amount: bigint }[],
  ts: number,
): bigint {
  let sum = 0n;
  for (const entry of open) if (reservesAt(entry, ts)) sum += BigInt(entry.amount);
  return sum;
}

/** A post or void to judge. */
export interface ResolutionAction {
  kind: "post" | "void";
  by: string;
  ts: number;
  cid: string;
  /** From this node's own signer: pointless resolutions are refused with a clear error instead of stored as no-ops. */
  local: boolean;
}

/**
 * What a resolution does to a pending: `apply` (it becomes the resolution; a
 * post moves the amount), `switch` (a post replacing another poster's void:
 * the amount moves now), `replace` (the same outcome, an earlier envelope:
 * only the record's winner changes) or `none` (stored, changes nothing).
 *
 * Refused: a resolver not named (`not_poster`), dated after the expiry
 * (`expired`), the same resolver resolving twice (`already_posted` /
 * `already_voided`; one chain, so every node refuses alike). A resolution
 * from another poster of an already-resolved pending is refused only when
 * signed here (`local`); from elsewhere it is stored as a no-op, or for a
 * post over a void it wins, because refusing it would make the outcome
 * depend on arrival order.
 */
export function decideResolution(
  record: PendingRecord,
  action: ResolutionAction,
): "apply" | "switch" | "replace" | "none" {
  const name = `pending transfer "${record.id}"`;
  if (!resolversOf(record).includes(action.by)) {
    throw new RejectedError(
      "not_poster",
      record.posters.length > 0
        ? `Cannot ${action.kind} ${name}: only its posters may (${record.posters.length} named)`
        : `Cannot ${action.kind} ${name}: only its payer may`,
    );
  }
  if (action.ts > record.expires) {
    throw new RejectedError(
      "expired",
      `Cannot ${action.kind} ${name}: it expired at ${new Date(record.expires).toISOString()}`,
    );
  }
  const current = record.resolution;
  if (!current) return "apply";
  const done = current.state === "posted" ? "already_posted" : "already_voided";
  if (current.by === action.by || action.local) {
    throw new RejectedError(done, `Cannot ${action.kind} ${name}: it is already ${current.state}`);
  }
  if (action.kind === "post" && current.state === "voided") return "switch";
  const earlier = action.ts < current.ts || (action.ts === current.ts && action.cid < current.cid);
  if (action.kind === "post" && earlier) return "replace";
  if (action.kind === "void" && current.state === "voided" && earlier) return "replace";
  return "none";
}

/** Body of `ledger.post` and `ledger.void`: which pending (its payer and id). */
export interface ResolutionBody {
  payer: string;
  id: string;
}

/** Checks a post or void body. */
export function parseResolution(body: unknown): ResolutionBody {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RejectedError("invalid_body", "Invalid resolution: body is not a map");
  }
  const b = body as Record<string, unknown>;
  if (Object.keys(b).sort().join(",") !== "id,payer") {
    throw new RejectedError("invalid_body", "Invalid resolution: body must have exactly id, payer");
  }
  if (!isDid(b.payer)) throw new RejectedError("invalid_body", "Invalid resolution: bad payer");
  if (typeof b.id !== "string" || b.id.length === 0 || b.id.length > 128) {
    throw new RejectedError("invalid_body", "Invalid resolution: bad id");
  }
  return { payer: b.payer as string, id: b.id as string };
}

/**
 * The maximum balance of `did` (minor units; 0: none): governance's per-member
 * `ledger.maxBalance.<did>` when set, else the cooperative's `ledger.maxBalance`.
 */
export function maxBalanceOf(params: Record<string, unknown>, did: string): bigint {
  const own = params[`ledger.maxBalance.${did}`];
  const value = typeof own === "number" ? own : params["ledger.maxBalance"];
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? BigInt(value) : 0n;
}

/** Refuses a credit that would take the payee above its maximum balance (`max_balance`). */
export function checkMaxBalance(
  payee: string,
  balanceAfter: bigint,
  max: bigint,
  currency: Currency,
): void {
  if (max > 0n && balanceAfter > max) {
    const show = (m: bigint) => formatAmount(m, currency.decimals);
    throw new RejectedError(
      "max_balance",
      `Cannot credit "${payee}" with this transfer: their balance would be ${
        show(balanceAfter)
      } ${currency.code}, above their maximum ${show(max)}`,
    );
  }
}

/** True when a balance is within `percent` % of the maximum (and both are on). */
export function isNearMaxBalance(balance: bigint, max: bigint, percent: number): boolean {
  if (percent <= 0 || max <= 0n) return false;
  return balance > max - max * BigInt(Math.round(percent * 100)) / 10_000n;
}

/** Body of a `ledger.request` envelope (signed by the requester, who is paid). */
export interface RequestBody {
  from: string;
  amount: number | bigint;
  currency: string;
  memo: string;
  id: string;
  expires: number;
}

/** Checks a request body: the fields of a transfer from `from` to the requester, and its expiry. */
export function parseRequest(
  requester: string,
  ts: number,
  body: unknown,
  currencies: readonly Currency[],
): Omit<RequestRecord, "cid"> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RejectedError("invalid_body", "Invalid request: body is not a map");
  }
  const b = body as Record<string, unknown>;
  if (Object.keys(b).sort().join(",") !== "amount,currency,expires,from,id,memo") {
    throw new RejectedError(
      "invalid_body",
      "Invalid request: body must have exactly amount, currency, expires, from, id, memo",
    );
  }
  if (!isDid(b.from)) {
    throw new RejectedError("invalid_body", "Invalid request: `from` is not a DID");
  }
  // The same checks as the transfer it asks for (amount, currency, memo, id, not to oneself).
  const asked = parseTransfer(b.from as string, {
    to: requester,
    amount: b.amount,
    currency: b.currency,
    memo: b.memo,
    id: b.id,
  }, currencies);
  if (!Number.isSafeInteger(b.expires)) {
    throw new RejectedError("invalid_body", "Invalid request: `expires` is not an integer");
  }
  const life = (b.expires as number) - ts;
  if (life <= 0 || life > requestExpiryMax) {
    throw new RejectedError(
      "timeout",
      `Cannot make a request that expires ${
        life <= 0 ? "before it is made" : `after more than ${requestExpiryMax / 86_400_000} days`
      }`,
    );
  }
  return {
    to: requester,
    from: asked.from,
    amount: asked.amount,
    currency: asked.currency.code,
    memo: asked.memo,
    id: asked.id,
    ts,
    expires: b.expires as number,
  };
}

export type RequestStatus = "open" | "paid" | "declined" | "expired";

export function requestStatus(record: RequestRecord, now: number): RequestStatus {
  if (record.answer) return record.answer.state;
  return now > record.expires ? "expired" : "open";
}

/**
 * Judges an answer (a paying transfer or a decline) to a request. Only the
 * payer answers, so every answer is in one chain and every node judges alike.
 * A payment must match the request's amount and currency and be dated at or
 * before its expiry.
 */
export function decideAnswer(
  record: RequestRecord,
  answer: { by: string; ts: number; kind: "pay" | "decline"; amount?: bigint; currency?: string },
): void {
  const name = `request "${record.id}"`;
  if (answer.by !== record.from) {
    throw new RejectedError("not_payer", `Cannot answer ${name}: it asks someone else to pay`);
  }
  if (record.answer) {
    throw new RejectedError(
      record.answer.state === "paid" ? "already_paid" : "already_declined",
      `Cannot ${answer.kind} ${name}: it is already ${record.answer.state}`,
    );
  }
  if (answer.ts > record.expires) {
    throw new RejectedError(
      "expired",
      `Cannot ${answer.kind} ${name}: it expired at ${new Date(record.expires).toISOString()}`,
    );
  }
  if (
    answer.kind === "pay" &&
    (answer.amount !== BigInt(record.amount) || answer.currency !== record.currency)
  ) {
    throw new RejectedError(
      "request_mismatch",
      `Cannot pay ${name}: the transfer must be exactly the amount and currency asked`,
    );
  }
}

/** Body of `ledger.decline`: which request (its requester and id). */
export function parseDecline(body: unknown): { requester: string; id: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RejectedError("invalid_body", "Invalid decline: body is not a map");
  }
  const b = body as Record<string, unknown>;
  if (Object.keys(b).sort().join(",") !== "id,requester" || !isDid(b.requester)) {
    throw new RejectedError("invalid_body", "Invalid decline: body must be {requester, id}");
  }
  if (typeof b.id !== "string" || b.id.length === 0 || b.id.length > 128) {
    throw new RejectedError("invalid_body", "Invalid decline: bad id");
  }
  return { requester: b.requester as string, id: b.id as string };
}
