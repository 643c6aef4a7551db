/**
 * The ledger's rules, as pure functions of facts: the body's shape, the credit
 * limit formula, and the accept/reject decision. The `ledger.transfer` kind
 * handler gathers the facts from state and calls these; so does every path
 * into the store (local submit, bundle import, gossip, sync, `ledger check`).
 */
import { InsufficientCreditError, RejectedError } from "../errors.ts";
import type { Currency } from "../governance/genesis.ts";
import { isDid, shortDid } from "../identity/did.ts";
import type { Params } from "../params.ts";
import { amountFromBody, amountMinorMax, formatAmount } from "./amount.ts";
import type { IdRecord } from "./keys.ts";

/** Envelope kind of a transfer. */
export const transferKind = "ledger.transfer";

/** Longest memo, in UTF-8 bytes. */
export const memoBytesMax = 1024;
/** Longest idempotency key; the pattern keeps ids printable and usable in file names. */
export const transferIdLengthMax = 128;
/** Characters a transfer id may use (its length is bounded by `transferIdLengthMax`). */
export const transferIdPattern = /^[A-Za-z0-9._:@-]+$/;
/** What a transfer id must be, as refusals say it. */
export const transferIdRule = `1–${transferIdLengthMax} characters of A-Z a-z 0-9 . _ : @ -`;

/** True for a valid transfer id (idempotency key): `transferIdRule`. */
export function isTransferId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= transferIdLengthMax &&
    transferIdPattern.test(value);
}

/** Body of a `ledger.transfer` envelope. */
export interface TransferBody {
  to: string;
  amount: number | bigint;
  currency: string;
  memo: string;
  id: string;
  /** Pays the payment request with this id made by the payee (`ledger.request`). */
  request?: string;
}

/** A validated transfer. */
export interface Transfer {
  from: string;
  to: string;
  amount: bigint;
  currency: Currency;
  memo: string;
  id: string;
  /** The payee's request this transfer pays, if any. */
  request?: string;
  /** Set when this is a pending transfer (two-phase), for the idempotency comparison. */
  pending?: boolean;
}

const bodyFields = "amount,currency,id,memo,to";
const bodyFieldsWithRequest = "amount,currency,id,memo,request,to";
const utf8 = new TextEncoder();

/** Checks the body's shape and values against the genesis currencies; throws `RejectedError("invalid_body" | "unknown_currency" | "self_transfer" | "amount")`. */
export function parseTransfer(
  payer: string,
  body: unknown,
  currencies: readonly Currency[],
): Transfer {
  const invalid = (why: string): never => {
    throw new RejectedError("invalid_body", `Invalid transfer: ${why}`);
  };
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    invalid("body is not a map");
  }
  const b = body as Record<string, unknown>;
  const fields = Object.keys(b).sort().join(",");
  if (fields !== bodyFields && fields !== bodyFieldsWithRequest) {
    invalid(`body must have exactly the fields ${bodyFields} (and optionally request)`);
  }
  if (b.request !== undefined && !isTransferId(b.request)) {
    invalid(`request must be ${transferIdRule}`);
  }
  if (!isDid(b.to)) invalid("`to` is not a DID");
  if (typeof b.currency !== "string") invalid("`currency` is not a string");
  if (typeof b.memo !== "string") invalid("`memo` is not a string");
  if (utf8.encode(b.memo as string).length > memoBytesMax) {
    invalid(`memo is longer than ${memoBytesMax} bytes`);
  }
  if (!isTransferId(b.id)) invalid(`id must be ${transferIdRule}`);
  const amount = amountFromBody(b.amount);
  if (amount === undefined) invalid("`amount` is not an integer");
  const currency = currencies.find((c) => c.code === b.currency);
  if (!currency) {
    throw new RejectedError(
      "unknown_currency",
      `Cannot transfer in "${b.currency}": the cooperative's currencies are ${
        currencies.map((c) => c.code).join(", ")
      }`,
    );
  }
  if (amount! <= 0n) {
    throw new RejectedError("amount", "Cannot transfer a zero or negative amount");
  }
  if (amount! > amountMinorMax) {
    throw new RejectedError(
      "amount",
      `Cannot transfer ${
        formatAmount(amount!, currency.decimals)
      } ${currency.code}: the maximum is ${formatAmount(amountMinorMax, currency.decimals)}`,
    );
  }
  if (b.to === payer) {
    throw new RejectedError("self_transfer", "Cannot transfer to yourself");
  }
  return {
    from: payer,
    to: b.to as string,
    amount: amount!,
    currency,
    memo: b.memo as string,
    id: b.id as string,
    ...(b.request === undefined ? {} : { request: b.request as string }),
  };
}

/** Inputs of the credit limit formula. */
export interface LimitFacts {
  params: Params;
  /** Cooperative trust score of the member, in [0, 1]. */
  trust: number;
  /** The trust class's factor on the trust term (`policy.<class>.creditMultiplier`); default 1. */
  classMultiplier?: number;
  /** Total the member has received in this currency. */
  clearedVolume: bigint;
  /** Limit set by governance for this member, replacing the formula. */
  override?: bigint;
  /** Founders are exempt from the new-member ramp. */
  founder: boolean;
  /** Admission time, when known (non-founders without one start at the ramp's beginning). */
  memberSince?: number;
  ts: number;
}

/** The limit and each term it came from, all minor units. */
export interface LimitBreakdown {
  limit: bigint;
  baseline: bigint;
  trustTerm: bigint;
  historyTerm: bigint;
  trust: number;
  clearedVolume: bigint;
  /** Share of the formula's value in force (parts per million) under the new-member ramp. */
  rampPpm: number;
  override?: bigint;
}

const ppm = 1_000_000;

/** A parameter of the credit policy; absent means 0 (no policy is a zero limit, never unlimited). */
function policyNumber(params: Params, key: string): number {
  const value = params[key];
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * `baseline + baseline·trust·trustMultiplier + clearedVolume·historyRate`,
 * scaled by the new-member ramp, or the governance override when one is set.
 * Integer arithmetic (ppm) so every node computes the same limit.
 */
export function creditLimit(facts: LimitFacts): LimitBreakdown {
  const { params } = facts;
  const trust = Math.min(1, Math.max(0, Number.isFinite(facts.trust) ? facts.trust : 0));
  const baseline = BigInt(Math.floor(policyNumber(params, "credit.baseline")));
  const multiplier = policyNumber(params, "credit.trustMultiplier") *
    Math.max(0, facts.classMultiplier ?? 1);
  const trustTerm = baseline * BigInt(Math.round(trust * ppm)) *
    BigInt(Math.round(multiplier * ppm)) / BigInt(ppm) / BigInt(ppm);
  const historyTerm = facts.clearedVolume *
    BigInt(Math.round(policyNumber(params, "credit.historyRate") * ppm)) / BigInt(ppm);
  const rampPpm = rampShare(facts);
  const formula = (baseline + trustTerm + historyTerm) * BigInt(rampPpm) / BigInt(ppm);
  const base = { baseline, trustTerm, historyTerm, trust, clearedVolume: facts.clearedVolume };
  if (facts.override !== undefined) {
    return { ...base, limit: facts.override, rampPpm: ppm, override: facts.override };
  }
  return { ...base, limit: formula, rampPpm };
}

function rampShare(facts: LimitFacts): number {
  if (facts.founder) return ppm;
  const duration = policyNumber(facts.params, "credit.rampDuration");
  if (duration === 0) return ppm;
  const start = Math.round(policyNumber(facts.params, "credit.rampStart") * ppm / 100);
  if (facts.memberSince === undefined) return Math.min(ppm, start);
  const elapsed = Math.max(0, facts.ts - facts.memberSince);
  if (elapsed >= duration) return ppm;
  return Math.min(ppm, start + Math.floor((ppm - start) * elapsed / duration));
}

/** Everything the decision needs besides the transfer itself. */
export interface TransferFacts {
  payerIsMember: boolean;
  payeeIsMember: boolean;
  payerBalance: bigint;
  limit: bigint;
  /** Outgoing transfers of the payer already accepted in this clock hour. */
  velocityCount: number;
  velocityMax: number;
  transferMax: bigint;
  /** The idempotency record already stored for (payer, id), if any. */
  existing?: IdRecord;
  /** Soft-limit share in percent (0: off). */
  softLimitPercent: number;
  /** The payer's pendings that still reserve credit at the transfer's time (default 0). */
  reserved?: bigint;
}

export interface TransferDecision {
  balanceAfter: bigint;
  /** True when the payer ends within the soft-limit share of the limit. */
  nearLimit: boolean;
}

/** True when a stored idempotency record describes the same transfer. */
export function sameTransfer(record: IdRecord, transfer: Transfer): boolean {
  return record.to === transfer.to && BigInt(record.amount) === transfer.amount &&
    record.currency === transfer.currency.code && record.memo === transfer.memo &&
    (record.pending === true) === (transfer.pending === true);
}

/** Accepts or rejects a parsed transfer given the facts; throws `RejectedError` with a stable reason. */
export function decideTransfer(transfer: Transfer, facts: TransferFacts): TransferDecision {
  const { currency } = transfer;
  const show = (minor: bigint) => formatAmount(minor, currency.decimals);
  if (facts.existing) {
    if (sameTransfer(facts.existing, transfer)) {
      throw new RejectedError(
        "already_exists",
        `Transfer "${transfer.id}" already exists (${facts.existing.cid})`,
      );
    }
    throw new RejectedError(
      "id_conflict",
      `Cannot reuse transfer id "${transfer.id}": it already names a different transfer (${facts.existing.cid})`,
    );
  }
  if (!facts.payerIsMember) {
    throw new RejectedError(
      "not_member",
      `Cannot transfer from "${transfer.from}": not a member of the cooperative`,
    );
  }
  if (!facts.payeeIsMember) {
    throw new RejectedError(
      "not_member",
      `Cannot transfer to "${transfer.to}": not a member of the cooperative`,
    );
  }
  if (transfer.amount > facts.transferMax) {
    throw new RejectedError(
      "amount",
      `Cannot transfer ${show(transfer.amount)} ${currency.code}: the largest transfer allowed is ${
        show(facts.transferMax)
      }`,
    );
  }
  if (facts.velocityCount >= facts.velocityMax) {
    throw new RejectedError(
      "velocity",
      `Cannot transfer more than ${facts.velocityMax} times per hour: ${facts.velocityCount} transfers already this hour`,
    );
  }
  const balanceAfter = facts.payerBalance - transfer.amount;
  const reserved = facts.reserved ?? 0n;
  if (balanceAfter - reserved < -facts.limit) {
    throw new InsufficientCreditError(
      `Cannot transfer ${show(transfer.amount)} ${currency.code} to "${
        shortDid(transfer.to)
      }": balance would be ${show(balanceAfter)}${
        reserved > 0n ? ` with ${show(reserved)} reserved by pending transfers` : ""
      }, limit is ${show(-facts.limit)}`,
    );
  }
  return {
    balanceAfter,
    nearLimit: isNearLimit(balanceAfter, facts.limit, facts.softLimitPercent),
  };
}

/** True when `balance` is within `percent` % of the limit (and the soft limit is on). */
export function isNearLimit(balance: bigint, limit: bigint, percent: number): boolean {
  if (percent <= 0 || limit <= 0n) return false;
  const margin = limit * BigInt(Math.round(percent * 100)) / 10_000n;
  return balance < -limit + margin;
}
