/**
 * Store layout of the ledger's derived state (all under `["ledger", ...]`),
 * written only by the `ledger.transfer` kind handler, plus the two keys
 * governance writes when it executes proposals (credit overrides, admission
 * time). Commands read these instead of re-folding chains.
 */
import type { StateView } from "../chain/state.ts";

/** One member's account in one currency. */
export interface Account {
  /** Minor units; negative when the member owes the cooperative. */
  balance: bigint;
  /** Total ever received (the "cleared volume" that raises the credit limit). */
  received: bigint;
  /** Number of history entries (transfers in or out) of this account. */
  count: number;
}

/** One line of an account's history. */
export interface HistoryEntry {
  cid: string;
  id: string;
  from: string;
  to: string;
  amount: bigint;
  currency: string;
  memo: string;
  ts: number;
  /** Balance of this account right after the transfer. */
  balance: bigint;
  /**
   * On the payer's side: the credit limit the acceptance relied on (the full
   * limit, or its lower bound without the trust term when that already sufficed).
   */
  limit?: bigint;
}

/** What the idempotency index keeps per (payer, id). */
export interface IdRecord {
  cid: string;
  to: string;
  amount: bigint;
  currency: string;
  memo: string;
}

export const ledgerKeys = {
  prefix: ["ledger"] as const,
  account: (currency: string, did: string) => ["ledger", "acct", currency, did] as const,
  accountPrefix: (currency: string) => ["ledger", "acct", currency] as const,
  /** n-th (0-based, acceptance order) history entry of an account. */
  history: (currency: string, did: string, n: number) =>
    ["ledger", "hist", currency, did, n] as const,
  historyPrefix: (currency: string, did: string) => ["ledger", "hist", currency, did] as const,
  /** Idempotency index: a payer's transfer ids. */
  transferId: (payer: string, id: string) => ["ledger", "id", payer, id] as const,
  /** Outgoing transfers of a payer in one clock hour (ts / 3600000). */
  velocity: (payer: string, hour: number) => ["ledger", "vel", payer, hour] as const,
  /** Per-member credit limit set by governance (bigint minor units). */
  override: (did: string, currency: string) => ["ledger", "override", did, currency] as const,
  /** When a member was admitted (ms); starts the new-member ramp. */
  memberSince: (did: string) => ["ledger", "since", did] as const,
};

/** The store key governance writes to set a member's credit limit in a currency. */
export function creditOverrideKey(did: string, currency: string): readonly string[] {
  return ledgerKeys.override(did, currency);
}

/**
 * Sets (or with `null` clears) a member's credit limit override, in minor
 * units. Meant for governance's execution of an accepted credit-policy
 * proposal, inside the same kind handler commit.
 */
export function setCreditOverride(
  state: Pick<StateView, "set" | "delete">,
  did: string,
  currency: string,
  limitMinor: bigint | null,
): void {
  if (limitMinor === null) state.delete(ledgerKeys.override(did, currency));
  else {
    if (limitMinor < 0n) throw new RangeError("A credit limit override cannot be negative");
    state.set(ledgerKeys.override(did, currency), limitMinor);
  }
}

/** Records when a member was admitted (ms since epoch); governance calls this when executing an admission. */
export function setMemberSince(state: Pick<StateView, "set">, did: string, ts: number): void {
  state.set(ledgerKeys.memberSince(did), ts);
}

export const emptyAccount: Account = { balance: 0n, received: 0n, count: 0 };

export const hourMs = 3_600_000;
