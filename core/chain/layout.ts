/**
 * Store layout upgrades. Layout 1 (icn before 0.2) kept each envelope's
 * encoding under `["env", cid]` and its CID under the chain position; layout 2
 * keeps the encoding in the position entry itself (`StoredEnvelope`), which
 * turns one random write per envelope into an append next to the chain's
 * previous envelope. Stores are upgraded in place when opened.
 */
import type { Store, StoreCheck, StoreEntry, StoreKey, StoreMutation } from "../store/store.ts";
import { chainKeys, type StoredEnvelope } from "./keys.ts";
import { assertBatchFitsCommit, exceedsCommitLimits, keySize } from "./state.ts";

const legacyEnvelope = (cid: string) => ["env", cid] as const;
const legacyPart = (cid: string, index: number) => ["envpart", cid, index] as const;
const legacyPrefixes: readonly StoreKey[] = [["env"], ["envpart"]];

/** Chain positions upgraded per commit (each reads and writes a few keys). */
const positionsPerCommit = 100;
/** Commit attempts lost to another writer before giving up. */
const conflictsMax = 20;
/** Leftover layout-1 entries deleted per commit: one mutation each, well within `commitLimits`. */
const leftoversPerCommit = 500;
/** Estimated size of a split envelope's position value (`{ cid, parts }`). */
const partsRecordBytes = 64;

/** True when the store still holds layout-1 envelope entries. */
export async function hasLegacyLayout(store: Pick<Store, "list">): Promise<boolean> {
  for (const prefix of legacyPrefixes) {
    for await (const _ of store.list({ prefix }, { limit: 1 })) return true;
  }
  return false;
}

/**
 * Moves layout-1 envelope encodings into their chain positions and removes the
 * old entries; returns how many positions were upgraded. Safe to run from two
 * processes at once (every commit checks the positions it rewrites) and to
 * interrupt (each commit is complete on its own; the rest is done next time).
 */
export async function upgradeStoreLayout(store: Store): Promise<number> {
  if (!(await hasLegacyLayout(store))) return 0;
  let upgraded = 0;
  let conflicts = 0;
  /** Positions before this key are upgraded (it is inclusive, and upgraded ones are skipped). */
  let cursor: StoreKey | undefined;
  for (;;) {
    const pending: StoreEntry<string>[] = [];
    const selector = { prefix: ["chain"], ...(cursor ? { start: cursor } : {}) };
    for await (const entry of store.list<StoredEnvelope | string>(selector)) {
      if (typeof entry.value === "string") pending.push(entry as StoreEntry<string>);
      if (pending.length === positionsPerCommit) break;
    }
    if (pending.length === 0) break;
    const done = await upgradeBatch(store, pending);
    if (done === null) {
      if (++conflicts > conflictsMax) {
        throw new Error("Store layout upgrade keeps losing to another writer; try again");
      }
      continue;
    }
    upgraded += done;
    cursor = pending[done - 1].key;
  }
  await removeLegacyLeftovers(store);
  return upgraded;
}

async function upgradeBatch(store: Store, pending: StoreEntry<string>[]): Promise<number | null> {
  const mutations: StoreMutation[] = [];
  let keyBytes = 0;
  let bytes = 0;
  const set = (key: StoreKey, value: unknown, size: number) => {
    mutations.push({ type: "set", key, value });
    keyBytes += keySize(key);
    bytes += size;
  };
  const remove = (key: StoreKey) => {
    mutations.push({ type: "delete", key });
    keyBytes += keySize(key);
  };
  const checks: StoreCheck[] = [];
  // Checks count against Deno KV's mutation limit too.
  const footprint = () => ({ mutations: mutations.length + checks.length, keyBytes, bytes });
  for (const entry of pending) {
    const [, net, author, seq] = entry.key as [string, string, string, number];
    const cid = entry.value;
    const legacy = (await store.get<Uint8Array | { parts: number }>(legacyEnvelope(cid)))?.value;
    if (legacy === undefined) {
      // Another process upgraded this position since it was listed: lose, and list again.
      if (await movedSince(store, entry)) return null;
      throw new Error(`Store is missing envelope ${cid} named by chain position ${seq}`);
    }
    const before = { mutations: mutations.length, keyBytes, bytes };
    checks.push({ key: entry.key, versionstamp: entry.versionstamp });
    if (legacy instanceof Uint8Array) {
      set(entry.key, { cid, bytes: legacy } satisfies StoredEnvelope, legacy.length);
    } else {
      set(entry.key, { cid, parts: legacy.parts } satisfies StoredEnvelope, partsRecordBytes);
      for (let i = 0; i < legacy.parts; i++) {
        const part = (await store.get<Uint8Array>(legacyPart(cid, i)))?.value;
        if (!part) {
          if (await movedSince(store, entry)) return null;
          throw new Error(`Store is missing part ${i} of envelope ${cid}`);
        }
        set(chainKeys.part(net, author, seq, i), part, part.length);
        remove(legacyPart(cid, i));
      }
    }
    remove(legacyEnvelope(cid));
    if (checks.length > 1 && exceedsCommitLimits(footprint())) {
      // This position does not fit: leave it for the next commit.
      mutations.length = before.mutations;
      keyBytes = before.keyBytes;
      bytes = before.bytes;
      checks.pop();
      break;
    }
  }
  const upgradedCount = checks.length;
  assertBatchFitsCommit(footprint(), upgradedCount);
  // Every writer rewrites the log counter, so read caches of running ingests notice this commit.
  const logNext = await store.get<number>(chainKeys.logNext);
  checks.push({ key: chainKeys.logNext, versionstamp: logNext?.versionstamp ?? null });
  if (logNext) mutations.push({ type: "set", key: chainKeys.logNext, value: logNext.value });
  const committed = await store.commit(checks, mutations);
  return committed === null ? null : upgradedCount;
}

/** Whether a listed chain position was rewritten (by another upgrader) after it was listed. */
async function movedSince(store: Store, entry: StoreEntry<string>): Promise<boolean> {
  return (await store.get(entry.key))?.versionstamp !== entry.versionstamp;
}

/** Layout-1 entries no chain position names (none are expected) are dropped once every position is upgraded. */
async function removeLegacyLeftovers(store: Store): Promise<void> {
  for (const prefix of legacyPrefixes) {
    for (;;) {
      const keys: StoreKey[] = [];
      for await (const entry of store.list({ prefix }, { limit: leftoversPerCommit })) {
        keys.push(entry.key);
      }
      if (keys.length === 0) break;
      await store.commit([], keys.map((key) => ({ type: "delete", key })));
    }
  }
}
