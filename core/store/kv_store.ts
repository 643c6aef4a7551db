/**
 * The Deno KV implementation of `Store`. This is the one file under `core/`
 * that touches `Deno.*` (docs/design.md, Layout, puts the KV repository in core/store); it
 * is a thin adapter, and the same conformance suite as the in-memory store
 * runs against it.
 */
import { commitBackoffMsMax, commitRetriesMax } from "../constants.ts";
import { ConflictError, StoreUnavailableError } from "../errors.ts";
import type {
  ListOptions,
  ListSelector,
  Store,
  StoreCheck,
  StoreEntry,
  StoreKey,
  StoreMutation,
} from "./store.ts";

/** Deno KV allows at most 10 keys in one getMany call. */
const getManyKeysMax = 10;
/** First backoff after a lock error; doubled per attempt (before jitter) up to `commitBackoffMsMax`. */
const lockBackoffMsBase = 5;
/** Doublings of the lock backoff: past them it stays at the cap, so the exponent stays small. */
const lockBackoffDoublingsMax = 6;
/** Entries per round trip of a list: Deno KV's maximum batch size (larger values are clamped). */
const listBatchSizeMax = 500;

/** True for SQLite's "database is locked" / busy errors that a retry can resolve. */
export function isLockError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /database is locked|SQLITE_BUSY|database is busy/i.test(message);
}

/** SQLite failures that no retry fixes and the user can: a full disk, a read-only file system. */
const unavailableCauses: [RegExp, string][] = [
  [/database or disk is full|SQLITE_FULL/i, "the disk is full (free some space and retry)"],
  [
    /attempt to write a readonly database|SQLITE_READONLY/i,
    "the store or its directory is read-only",
  ],
  [/disk I\/O error|SQLITE_IOERR/i, "the disk reported an I/O error"],
];

/** The store failure a user can act on, or null for anything else (which stays a bug). */
export function storeUnavailable(error: unknown): StoreUnavailableError | null {
  const message = error instanceof Error ? error.message : String(error);
  for (const [pattern, cause] of unavailableCauses) {
    if (pattern.test(message)) {
      return new StoreUnavailableError(`Cannot write to the store: ${cause}`, { cause: error });
    }
  }
  return null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `operation`, retrying with bounded backoff while it fails with a lock error. */
export async function retryOnLock<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isLockError(error) || attempt >= commitRetriesMax) {
        if (isLockError(error)) {
          throw new ConflictError(
            `Cannot write to the store: still locked by another process after ${
              attempt + 1
            } attempts`,
            { cause: error },
          );
        }
        throw storeUnavailable(error) ?? error;
      }
      await sleep(
        Math.min(
          commitBackoffMsMax,
          lockBackoffMsBase * 2 ** Math.min(attempt, lockBackoffDoublingsMax),
        ) * (0.5 + Math.random()),
      );
    }
  }
}

export class KvStore implements Store {
  readonly #kv: Deno.Kv;

  private constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Opens (creating if needed) a KV database at `path`, or a KV Connect URL. */
  static async open(path?: string): Promise<KvStore> {
    try {
      return new KvStore(await retryOnLock(() => Deno.openKv(path)));
    } catch (error) {
      if (error instanceof ConflictError || error instanceof StoreUnavailableError) throw error;
      if (/unable to open database file|SQLITE_CANTOPEN/i.test(String(error))) {
        throw new StoreUnavailableError(
          `Cannot open the store at "${path}": unable to open the database file (does its directory exist and can icn write to it?)`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async get<T>(key: StoreKey): Promise<StoreEntry<T> | null> {
    const entry = await retryOnLock(() => this.#kv.get<T>(key as Deno.KvKey));
    if (entry.versionstamp === null) return null;
    return { key: entry.key as StoreKey, value: entry.value, versionstamp: entry.versionstamp };
  }

  async getMany<T>(keys: readonly StoreKey[]): Promise<(StoreEntry<T> | null)[]> {
    const out: (StoreEntry<T> | null)[] = [];
    for (let i = 0; i < keys.length; i += getManyKeysMax) {
      const chunk = keys.slice(i, i + getManyKeysMax) as Deno.KvKey[];
      const entries = await retryOnLock(() => this.#kv.getMany<T[]>(chunk));
      for (const entry of entries) {
        out.push(
          entry.versionstamp === null ? null : {
            key: entry.key as StoreKey,
            value: entry.value as T,
            versionstamp: entry.versionstamp,
          },
        );
      }
    }
    return out;
  }

  async *list<T>(selector: ListSelector, options: ListOptions = {}): AsyncIterable<StoreEntry<T>> {
    const kvSelector = (selector.start !== undefined || selector.end !== undefined)
      ? selector.start !== undefined && selector.end !== undefined
        ? { start: selector.start as Deno.KvKey, end: selector.end as Deno.KvKey }
        : selector.start !== undefined
        ? { prefix: selector.prefix as Deno.KvKey, start: selector.start as Deno.KvKey }
        : { prefix: selector.prefix as Deno.KvKey, end: selector.end as Deno.KvKey }
      : { prefix: selector.prefix as Deno.KvKey };
    const iterator = this.#kv.list<T>(kvSelector as Deno.KvListSelector, {
      limit: options.limit,
      reverse: options.reverse,
      batchSize: Math.min(listBatchSizeMax, options.limit ?? listBatchSizeMax),
    });
    for await (const entry of iterator) {
      yield { key: entry.key as StoreKey, value: entry.value, versionstamp: entry.versionstamp };
    }
  }

  async commit(
    checks: readonly StoreCheck[],
    mutations: readonly StoreMutation[],
  ): Promise<string | null> {
    const result = await retryOnLock(() => {
      const op = this.#kv.atomic();
      for (const check of checks) {
        op.check({ key: check.key as Deno.KvKey, versionstamp: check.versionstamp });
      }
      for (const mutation of mutations) {
        if (mutation.type === "set") op.set(mutation.key as Deno.KvKey, mutation.value);
        else op.delete(mutation.key as Deno.KvKey);
      }
      return op.commit();
    });
    return result.ok ? result.versionstamp : null;
  }

  close(): void {
    this.#kv.close();
  }
}
