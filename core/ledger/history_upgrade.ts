/**
 * Ledger layout upgrade to layout 4 history (see `history.ts`): a store whose history is one
 * full `HistoryEntry` per side under `["ledger","hist",currency,did,n]` gets one line per
 * transfer under `["ledger","line",n]` and pages of refs per account, in place, when opened.
 *
 * Lines are numbered exactly as a fresh fold numbers them, in acceptance order, so `ledger
 * check` compares the upgraded store with a fresh fold key by key. The order comes from the
 * acceptance log: each account's old entries are already in acceptance order, so walking the
 * log and taking, at each envelope, the accounts whose next unconverted entry is that
 * envelope's line merges them without holding the history in memory (only one entry per
 * account: the head of what is left).
 *
 * Safe with two processes at once: every commit checks the versionstamps of the line counter
 * and of the log counter, so a competing upgrader or an ingest in between makes it start over
 * from what is left; it rewrites the log counter so running ingests drop their read caches.
 * Safe to interrupt: each commit converts whole lines (the line, both refs and the deletion of
 * both old entries together), and the old entries left say what remains.
 */
import { chainKeys, type LogEntry } from "../chain/keys.ts";
import type { Store, StoreCheck, StoreMutation } from "../store/store.ts";
import { pageMutations, pageOf } from "./history.ts";
import {
  type HistoryEntry,
  historyPageEntries,
  type HistoryRef,
  ledgerKeys,
  type LineRecord,
} from "./keys.ts";

/** Lines converted per commit: each is a line, up to two deletions and two page rewrites. */
const linesPerCommitDefault = 120;
/** Commit attempts lost to another writer in a row before giving up. */
const conflictsMax = 20;

/** True when the store still holds layout-3 history entries. */
export async function hasLegacyHistory(store: Pick<Store, "list">): Promise<boolean> {
  for await (const _ of store.list({ prefix: ledgerKeys.legacyHistoryAllPrefix }, { limit: 1 })) {
    return true;
  }
  return false;
}

interface Head {
  currency: string;
  did: string;
  index: number;
  entry: HistoryEntry;
}

/** Moves layout-3 history to lines and pages; returns how many lines this call wrote. */
export async function upgradeLedgerHistory(
  store: Store,
  options: { linesPerCommit?: number } = {},
): Promise<number> {
  const linesPerCommit = options.linesPerCommit ?? linesPerCommitDefault;
  let written = 0;
  let conflicts = 0;
  let linesSeen = -1;
  while (await hasLegacyHistory(store)) {
    const result = await upgradePass(store, linesPerCommit);
    written += result.written;
    if (result.complete) break;
    // Losing to another upgrader that converts lines is progress: wait it out (each round means
    // more lines converted, so this ends). Losing without any line converted is not.
    const lines = (await store.get<number>(ledgerKeys.lineNext))?.value ?? 0;
    if (lines !== linesSeen) {
      linesSeen = lines;
      conflicts = 0;
    } else if (++conflicts > conflictsMax) {
      throw new Error("Ledger history upgrade keeps losing to another writer; try again");
    }
  }
  return written;
}

/** One attempt over everything left; `complete: false` when a commit lost to another writer. */
async function upgradePass(
  store: Store,
  linesPerCommit: number,
): Promise<{ written: number; complete: boolean }> {
  const heads = new Map<string, Head>();
  const byCid = new Map<string, Set<string>>();
  const place = (head: Head) => {
    const id = `${head.currency}\u0000${head.did}`;
    heads.set(id, head);
    const ids = byCid.get(head.entry.cid) ?? new Set<string>();
    ids.add(id);
    byCid.set(head.entry.cid, ids);
  };
  for await (const head of firstEntries(store)) place(head);
  /** Pages this pass wrote, by account and page number (the store's copy after each commit). */
  const pages = new Map<string, HistoryRef[]>();
  const pageId = (head: Head) => `${head.currency}\u0000${head.did}\u0000${pageOf(head.index)}`;
  let written = 0;
  let next = (await store.get<number>(ledgerKeys.lineNext))?.value ?? 0;
  let batch: { line: LineRecord; heads: Head[] }[] = [];

  const flush = async (): Promise<boolean> => {
    if (batch.length === 0) return true;
    const lineCounter = await store.get<number>(ledgerKeys.lineNext);
    const logCounter = await store.get<number>(chainKeys.logNext);
    if ((lineCounter?.value ?? 0) !== next) return false;
    const checks: StoreCheck[] = [
      { key: ledgerKeys.lineNext, versionstamp: lineCounter?.versionstamp ?? null },
      { key: chainKeys.logNext, versionstamp: logCounter?.versionstamp ?? null },
    ];
    const mutations: StoreMutation[] = [];
    const touched = new Map<string, { head: Head; refs: HistoryRef[] }>();
    for (const { line, heads: sides } of batch) {
      mutations.push({ type: "set", key: ledgerKeys.line(next), value: line });
      for (const head of sides) {
        const id = pageId(head);
        let refs = touched.get(id)?.refs ?? pages.get(id);
        if (refs === undefined) {
          // A partial page is the account's tail (history.ts).
          refs = head.index % historyPageEntries === 0
            ? []
            : (await store.get<HistoryRef[]>(ledgerKeys.historyTail(head.currency, head.did)))
              ?.value ?? [];
        }
        if (refs.length !== head.index % historyPageEntries) {
          throw new Error(
            `Ledger history upgrade: page ${
              pageOf(head.index)
            } of "${head.did}" in ${head.currency} ` +
              `holds ${refs.length} entries before entry ${head.index}`,
          );
        }
        const { balance, limit } = head.entry;
        const ref: HistoryRef = limit === undefined
          ? [next, BigInt(balance)]
          : [next, BigInt(balance), BigInt(limit)];
        touched.set(id, { head, refs: [...refs, ref] });
        mutations.push({
          type: "delete",
          key: ledgerKeys.legacyHistory(head.currency, head.did, head.index),
        });
      }
      next++;
    }
    // One write per key: a tail a later page of the same account sets wins over its deletion.
    const pageWrites = new Map<string, StoreMutation>();
    for (const { head, refs } of touched.values()) {
      for (const m of pageMutations(head.currency, head.did, pageOf(head.index), refs)) {
        const id = JSON.stringify(m.key);
        if (m.type === "delete" && pageWrites.has(id)) continue;
        pageWrites.set(id, m);
      }
    }
    mutations.push(...pageWrites.values());
    mutations.push({ type: "set", key: ledgerKeys.lineNext, value: next });
    if (logCounter) {
      mutations.push({ type: "set", key: chainKeys.logNext, value: logCounter.value });
    }
    if ((await store.commit(checks, mutations)) === null) return false;
    for (const [id, { refs }] of touched) pages.set(id, refs);
    written += batch.length;
    batch = [];
    return true;
  };

  /** Converts the line whose old entries are `sides` (the heads naming it) and advances them. */
  const take = async (cid: string, ids: Set<string>) => {
    byCid.delete(cid);
    const sides = [...ids].map((id) => heads.get(id)!);
    const { balance: _, limit: __, ...line } = sides[0].entry;
    batch.push({ line, heads: sides });
    for (const head of sides) {
      const id = `${head.currency}\u0000${head.did}`;
      heads.delete(id);
      const after = await store.get<HistoryEntry>(
        ledgerKeys.legacyHistory(head.currency, head.did, head.index + 1),
      );
      if (after) place({ ...head, index: head.index + 1, entry: after.value });
    }
  };

  // 1. In acceptance order, as a fresh fold numbers the lines.
  for await (const entry of store.list<LogEntry>({ prefix: chainKeys.logPrefix })) {
    if (byCid.size === 0) break;
    const ids = byCid.get(entry.value.cid);
    if (!ids) continue;
    await take(entry.value.cid, ids);
    if (batch.length >= linesPerCommit && !(await flush())) return { written, complete: false };
  }
  // 2. Entries whose envelope is not in the log (not written by icn; kept, after the rest).
  while (byCid.size > 0) {
    const [cid, ids] = byCid.entries().next().value!;
    await take(cid, ids);
    if (batch.length >= linesPerCommit && !(await flush())) return { written, complete: false };
  }
  const complete = await flush();
  return { written, complete };
}

/** The first old entry left of every account that has any, with its index. */
async function* firstEntries(store: Store): AsyncIterable<Head> {
  let after: readonly unknown[] | undefined;
  for (;;) {
    let found: { key: readonly unknown[]; value: HistoryEntry } | undefined;
    for await (
      const entry of store.list<HistoryEntry>(
        after === undefined
          ? { prefix: ledgerKeys.legacyHistoryAllPrefix }
          : { prefix: ledgerKeys.legacyHistoryAllPrefix, start: after as never },
        { limit: 1 },
      )
    ) found = entry;
    if (!found) return;
    const [, , currency, did, index] = found.key as [string, string, string, string, number];
    yield { currency, did, index, entry: found.value };
    // Past every numbered entry of this account: `true` sorts after every number in a key.
    after = [...ledgerKeys.legacyHistoryPrefix(currency, did), true];
  }
}
