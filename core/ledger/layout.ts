/**
 * Ledger layout upgrade (layout 3, first part): the velocity counter moves
 * from one key per (payer, clock hour) — `["ledger","vel",payer,hour]`, a new
 * scattered key for nearly every transfer — into the payer's account of each
 * currency (`Account.velocityHour`, `Account.velocityCount`), which the
 * transfer rewrites anyway. Old stores are upgraded in place when opened.
 *
 * The folded fields are exactly what a fresh fold of the chains writes: per
 * currency, the hour of the payer's latest outgoing envelope that counts
 * (a transfer it signed, or a pending: `ledger.pending`, `ledger.clearing.pay`)
 * and how many it made in that hour. They are derived from the payer's history
 * lines and pending records, so `ledger check` and the state hash agree with a
 * fresh fold after the upgrade.
 *
 * Safe with two processes at once: each commit checks the versionstamps of the
 * old keys it deletes, of the accounts it rewrites and of the log counter (so
 * an ingest in between makes it start over), and rewrites the log counter so
 * running ingests drop their read caches. Safe to interrupt: every commit is
 * complete on its own (a payer's accounts are rewritten in the same commit
 * that deletes its last old key), and the old keys left say what remains.
 */
import { chainKeys } from "../chain/keys.ts";
import type { Genesis } from "../governance/genesis.ts";
import type { Store, StoreCheck, StoreEntry, StoreKey, StoreMutation } from "../store/store.ts";
import {
  type Account,
  emptyAccount,
  type HistoryEntry,
  hourMs,
  ledgerKeys,
  type PendingRecord,
} from "./keys.ts";
import { hasLegacyHistory, upgradeLedgerHistory } from "./history_upgrade.ts";

/** Old velocity keys deleted per commit (one mutation and one check each; Deno KV allows 1,000). */
const legacyKeysPerCommit = 200;
/** Commit attempts lost to another writer in a row before giving up. */
const conflictsMax = 20;

/** True when the store still holds layout-2 velocity keys or layout-3 history entries. */
export async function hasLegacyLedgerLayout(store: Pick<Store, "list">): Promise<boolean> {
  for await (const _ of store.list({ prefix: ledgerKeys.legacyVelocityPrefix }, { limit: 1 })) {
    return true;
  }
  return await hasLegacyHistory(store);
}

/**
 * Upgrades an older ledger layout in place: folds layout-2 velocity keys into the accounts
 * (this reads the layout-3 history, so it runs first), then moves layout-3 history to lines
 * and pages (`history_upgrade.ts`). Returns how many payers' velocity this call upgraded and
 * how many history lines it wrote.
 */
export async function upgradeLedgerLayout(
  store: Store,
): Promise<{ payers: number; lines: number }> {
  const payers = await upgradeVelocity(store);
  return { payers, lines: await upgradeLedgerHistory(store) };
}

async function upgradeVelocity(store: Store): Promise<number> {
  let legacy = false;
  for await (const _ of store.list({ prefix: ledgerKeys.legacyVelocityPrefix }, { limit: 1 })) {
    legacy = true;
  }
  if (!legacy) return 0;
  const net = (await store.get<string>(chainKeys.network))?.value;
  const genesis = net ? (await store.get<Genesis>(chainKeys.genesis(net)))?.value : undefined;
  const currencies = genesis ? genesis.currencies.map((c) => c.code) : [];
  let upgraded = 0;
  let conflicts = 0;
  for (;;) {
    const [first] = await listAll<number>(store, ledgerKeys.legacyVelocityPrefix, 1);
    if (!first) break;
    const payer = first.key[2] as string;
    const keys = await listAll<number>(
      store,
      [...ledgerKeys.legacyVelocityPrefix, payer],
      legacyKeysPerCommit + 1,
    );
    const committed = keys.length > legacyKeysPerCommit
      // More old keys than one commit takes: drop the older ones first (only the latest hour
      // matters, and the accounts are not touched until the last key goes).
      ? await deleteLegacy(store, keys.slice(0, legacyKeysPerCommit))
      : await foldPayer(store, payer, keys, currencies);
    if (committed) {
      conflicts = 0;
      if (keys.length <= legacyKeysPerCommit) upgraded++;
    } else if (++conflicts > conflictsMax) {
      throw new Error("Ledger layout upgrade keeps losing to another writer; try again");
    }
  }
  return upgraded;
}

async function listAll<T>(store: Store, prefix: StoreKey, limit?: number) {
  const out: StoreEntry<T>[] = [];
  for await (const entry of store.list<T>({ prefix }, limit ? { limit } : {})) out.push(entry);
  return out;
}

/** The log counter: checked and rewritten by every upgrade commit (see the module comment). */
async function logCounter(store: Store): Promise<{ check: StoreCheck; set: StoreMutation[] }> {
  const entry = await store.get<number>(chainKeys.logNext);
  return {
    check: { key: chainKeys.logNext, versionstamp: entry?.versionstamp ?? null },
    set: entry ? [{ type: "set", key: chainKeys.logNext, value: entry.value }] : [],
  };
}

async function deleteLegacy(store: Store, keys: StoreEntry<number>[]): Promise<boolean> {
  const counter = await logCounter(store);
  const checks = [
    counter.check,
    ...keys.map((k) => ({ key: k.key, versionstamp: k.versionstamp })),
  ];
  const mutations: StoreMutation[] = [
    ...counter.set,
    ...keys.map((k) => ({ type: "delete" as const, key: k.key })),
  ];
  return (await store.commit(checks, mutations)) !== null;
}

async function foldPayer(
  store: Store,
  payer: string,
  keys: StoreEntry<number>[],
  currencies: readonly string[],
): Promise<boolean> {
  const counter = await logCounter(store);
  const checks: StoreCheck[] = [
    counter.check,
    ...keys.map((k) => ({ key: k.key, versionstamp: k.versionstamp })),
  ];
  const mutations: StoreMutation[] = [
    ...counter.set,
    ...keys.map((k) => ({ type: "delete" as const, key: k.key })),
  ];
  const pendings = await listAll<PendingRecord>(
    store,
    [...ledgerKeys.pendingPrefix, payer],
  );
  for (const currency of currencies) {
    const key = ledgerKeys.account(currency, payer);
    const account = await store.get<Account>(key);
    const velocity = latestOutgoing(
      await latestTransfers(store, currency, payer),
      pendings.filter((p) => p.value.from === payer && p.value.currency === currency)
        .map((p) => Math.floor(p.value.ts / hourMs)),
    );
    // Layout 2 wrote no account for a payer whose only envelopes in a currency were pendings;
    // layout 3 counts them in the account, so a fresh fold has one: write it.
    if (!account && !velocity) continue;
    checks.push({ key, versionstamp: account?.versionstamp ?? null });
    const { velocityHour: _, velocityCount: __, ...rest } = account?.value ?? emptyAccount;
    mutations.push({
      type: "set",
      key,
      value: velocity
        ? { ...rest, velocityHour: velocity.hour, velocityCount: velocity.count }
        : rest,
    });
  }
  return (await store.commit(checks, mutations)) !== null;
}

/**
 * Hours of the payer's latest transfers it signed in `currency` (history lines
 * on its side without `pending`): all those in the latest such hour. The
 * payer's own lines follow its chain, whose timestamps never go back, so the
 * reverse scan stops at the first earlier hour.
 */
async function latestTransfers(store: Store, currency: string, payer: string): Promise<number[]> {
  const hours: number[] = [];
  for await (
    const entry of store.list<HistoryEntry>(
      { prefix: ledgerKeys.legacyHistoryPrefix(currency, payer) },
      { reverse: true },
    )
  ) {
    const line = entry.value;
    if (line.from !== payer || line.pending !== undefined) continue;
    const hour = Math.floor(line.ts / hourMs);
    if (hours.length > 0 && hour !== hours[0]) break;
    hours.push(hour);
  }
  return hours;
}

/** The latest hour among outgoing envelopes' hours, and how many fall in it. */
function latestOutgoing(
  transfers: readonly number[],
  pendings: readonly number[],
): { hour: number; count: number } | undefined {
  const all = [...transfers, ...pendings];
  if (all.length === 0) return undefined;
  const hour = Math.max(...all);
  return { hour, count: all.filter((h) => h === hour).length };
}
