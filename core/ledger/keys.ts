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
  /**
   * Velocity, folded into the account (layout 3): the clock hour (ts / `hourMs`) of this
   * member's latest outgoing transfer or pending in this currency, and how many it made in
   * that hour in this currency. Absent until the member first pays in this currency. The
   * velocity rule counts a payer's outgoing envelopes in one hour over every currency: the
   * sum of `velocityCount` over its accounts whose `velocityHour` is that hour.
   */
  velocityHour?: number;
  velocityCount?: number;
}

/**
 * One line of an account's history, as readers get it: the transfer (kept once, under
 * `ledgerKeys.line`) joined with the account's side of it (its `HistoryRef` in a history page).
 */
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
  /** Set when this line is the posting of a pending transfer (`ledger.post`): the pending's CID. */
  pending?: string;
}

/** A line as stored once for both sides (`ledgerKeys.line`): the history entry without the side's balance and limit. */
export type LineRecord = Omit<HistoryEntry, "balance" | "limit">;

/**
 * One account's side of a line, in its history page: the line number, the account's balance
 * right after it, and on the payer's side the limit the acceptance relied on. A tuple, so a
 * page of 64 stays small to rewrite.
 */
export type HistoryRef =
  | readonly [line: number, balance: bigint]
  | readonly [
    line: number,
    balance: bigint,
    limit: bigint,
  ];

/** History entries per page (`ledgerKeys.historyPage`): entry `n` of an account is in page `n / 64`. */
export const historyPageEntries = 64;

/** What the idempotency index keeps per (payer, id). */
export interface IdRecord {
  cid: string;
  to: string;
  amount: bigint;
  currency: string;
  memo: string;
  /** Set for a pending transfer (`ledger.pending`): the id names a pending, not a transfer. */
  pending?: true;
}

/** How a pending transfer was resolved (absent while it is open or once it expired unresolved). */
export interface Resolution {
  state: "posted" | "voided";
  /** The winning resolution envelope. */
  cid: string;
  by: string;
  ts: number;
}

/** A pending transfer (`ledger.pending`), kept for ever under `["ledger","pend",payer,id]`. */
export interface PendingRecord {
  cid: string;
  from: string;
  to: string;
  amount: bigint;
  currency: string;
  memo: string;
  id: string;
  ts: number;
  /** Last moment (ms, inclusive) a post may be dated; after it the pending is void (derived on read). */
  expires: number;
  /** Who may post or void: these DIDs, or the payer alone when empty. */
  posters: string[];
  resolution?: Resolution;
}

/** A payment request (`ledger.request`), kept under `["ledger","req",requester,id]`. */
export interface RequestRecord {
  cid: string;
  /** The requester, who is paid. */
  to: string;
  /** Who is asked to pay. */
  from: string;
  amount: bigint;
  currency: string;
  memo: string;
  id: string;
  ts: number;
  expires: number;
  answer?: { state: "paid" | "declined"; cid: string; ts: number; transferId?: string };
}

/** What the reservation counter keeps per (currency, payer): unresolved pendings still in the open index. */
export interface Reservation {
  amount: bigint;
  count: number;
}

export const ledgerKeys = {
  prefix: ["ledger"] as const,
  account: (currency: string, did: string) => ["ledger", "acct", currency, did] as const,
  accountPrefix: (currency: string) => ["ledger", "acct", currency] as const,
  /**
   * Layout 4 history: the n-th line (0-based, in acceptance order over the whole ledger) that
   * moved an amount, kept once for payer and payee (`LineRecord`). Appended in key order.
   */
  line: (n: number) => ["ledger", "line", n] as const,
  linePrefix: ["ledger", "line"] as const,
  /** How many lines there are (the next line number). */
  lineNext: ["ledger", "lineNext"] as const,
  /**
   * Full page `page` of an account's history: the 64 `HistoryRef`s of its entries
   * `page * historyPageEntries` onwards, in acceptance order. Written once, when it fills.
   */
  historyPage: (currency: string, did: string, page: number) =>
    ["ledger", "hp", currency, did, page] as const,
  historyPagePrefix: (currency: string, did: string) => ["ledger", "hp", currency, did] as const,
  historyPagesPrefix: ["ledger", "hp"] as const,
  /**
   * The account's last page while it is not full (absent when the entry count is a multiple of
   * 64): rewritten on append. Its key does not depend on the count, so a transfer's handler can
   * name it before reading the account, and ingest reads it with the accounts in one batch.
   */
  historyTail: (currency: string, did: string) => ["ledger", "ht", currency, did] as const,
  historyTailsPrefix: ["ledger", "ht"] as const,
  /**
   * Layout 3 and older: the n-th history entry of an account, a full `HistoryEntry` per side
   * (a scattered insert per side per transfer). `upgradeLedgerHistory` moves old stores to
   * lines and pages; nothing else reads or writes these keys.
   */
  legacyHistory: (currency: string, did: string, n: number) =>
    ["ledger", "hist", currency, did, n] as const,
  legacyHistoryPrefix: (currency: string, did: string) =>
    ["ledger", "hist", currency, did] as const,
  legacyHistoryAllPrefix: ["ledger", "hist"] as const,
  /** Idempotency index: a payer's transfer ids. */
  transferId: (payer: string, id: string) => ["ledger", "id", payer, id] as const,
  /**
   * Layout 2 and older: outgoing transfers of a payer in one clock hour (ts / 3600000), one key
   * per (payer, hour). Layout 3 folds the counter into the account (`Account.velocityHour`);
   * `upgradeLedgerLayout` moves old stores over. Nothing else reads or writes these keys.
   */
  legacyVelocity: (payer: string, hour: number) => ["ledger", "vel", payer, hour] as const,
  legacyVelocityPrefix: ["ledger", "vel"] as const,
  /** Per-member credit limit set by governance (bigint minor units). */
  override: (did: string, currency: string) => ["ledger", "override", did, currency] as const,
  /** When a member was admitted (ms); starts the new-member ramp. */
  memberSince: (did: string) => ["ledger", "since", did] as const,
  /** Pending transfers, by payer and id (resolved ones stay, with their resolution). */
  pending: (payer: string, id: string) => ["ledger", "pend", payer, id] as const,
  pendingPrefix: ["ledger", "pend"] as const,
  /**
   * Open index: a payer's unresolved pendings by expiry (value: amount). Entries whose
   * expiry has passed are dropped when the payer's next envelope is judged, so this
   * index (and `reserved`) depends on arrival order and is not in the state hash.
   */
  open: (currency: string, payer: string, expires: number, id: string) =>
    ["ledger", "open", currency, payer, expires, id] as const,
  openPrefix: (currency: string, payer: string) => ["ledger", "open", currency, payer] as const,
  /** Sum and count of the open index of (currency, payer), so a payer without pendings costs one read. */
  reserved: (currency: string, payer: string) => ["ledger", "resv", currency, payer] as const,
  /** Payment requests, by requester and id. */
  request: (requester: string, id: string) => ["ledger", "req", requester, id] as const,
  requestPrefix: (requester: string) => ["ledger", "req", requester] as const,
  /** Requests addressed to a payer (value: the request's ts). */
  requestTo: (payer: string, requester: string, id: string) =>
    ["ledger", "reqto", payer, requester, id] as const,
  requestToPrefix: (payer: string) => ["ledger", "reqto", payer] as const,
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

/** Outgoing envelopes counted in `account` for clock hour `hour` (0 when its latest is another hour). */
export function velocityIn(account: Account, hour: number): number {
  return account.velocityHour === hour ? account.velocityCount ?? 0 : 0;
}

/** `account` with one more outgoing envelope counted in `hour` (the velocity fold). */
export function withVelocity(account: Account, hour: number): Account {
  return { ...account, velocityHour: hour, velocityCount: velocityIn(account, hour) + 1 };
}
