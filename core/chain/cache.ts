/**
 * A read cache in front of the store for the ingest path. Every writer of a
 * store commits the log counter `["meta","logNext"]` (ingest on every commit,
 * `genesis join` once), so its versionstamp marks "the store changed". The
 * cache is trusted only while that marker is the one it last saw: after its
 * own commit it folds the written values in and adopts the new versionstamp;
 * when another writer (another process, or another ingest in this one) has
 * committed, the marker differs and everything cached is dropped.
 *
 * Reads through the cache are as consistent as direct reads: ingest checks the
 * marker's versionstamp in the same atomic commit, so an attempt that read
 * anything stale fails its commit and retries with a cleared cache.
 */
import {
  keyHasPrefix,
  type ListOptions,
  type ListSelector,
  type Store,
  type StoreEntry,
  type StoreKey,
  type StoreMutation,
} from "../store/store.ts";
import { keyId } from "./state.ts";

/** What a state overlay reads from. */
export type StoreReader = Pick<Store, "get" | "getMany" | "list">;

/** Cached entries kept at most; past it the cache starts over (a bound, not a policy). */
const entriesMax = 200_000;
/** Deno KV reads at most 10 keys per getMany; this many such reads run at once. */
const prefetchGroupKeys = 10;

type Cached = StoreEntry<unknown> | null;

export class ReadCache {
  #marker: string | null | undefined = undefined;
  #entries = new Map<string, Cached>();
  #lists = new Map<string, StoreEntry<unknown>[]>();
  /** Bumped whenever cached data changes wholesale, so reads that started before do not land after. */
  #generation = 0;

  /** Keeps the cache when `marker` (the log counter's versionstamp, null when absent) is unchanged. */
  validate(marker: string | null): void {
    if (marker === this.#marker) return;
    this.clear();
    this.#marker = marker;
  }

  clear(): void {
    this.#entries.clear();
    this.#lists.clear();
    this.#generation++;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Our own commit at `versionstamp` wrote `mutations` (including the marker):
   * keys already cached take their new values; lists that could hold a
   * written key are dropped. Large byte values are not kept.
   */
  committed(versionstamp: string, mutations: readonly StoreMutation[]): void {
    this.#generation++;
    for (const mutation of mutations) {
      const id = keyId(mutation.key);
      if (this.#entries.has(id)) {
        if (mutation.type === "delete") this.#entries.set(id, null);
        else if (mutation.value instanceof Uint8Array) this.#entries.delete(id);
        else this.#entries.set(id, { key: mutation.key, value: mutation.value, versionstamp });
      }
      if (this.#lists.size > 0) {
        for (let i = 1; i < mutation.key.length; i++) {
          this.#lists.delete(listId(mutation.key.slice(0, i), false));
          this.#lists.delete(listId(mutation.key.slice(0, i), true));
        }
      }
    }
    this.#marker = versionstamp;
  }

  #remember(id: string, entry: Cached, generation: number): void {
    if (generation !== this.#generation) return;
    if (this.#entries.size >= entriesMax) this.clear();
    this.#entries.set(id, entry);
  }

  /** A reader that answers from the cache and fills it from `store`. */
  reader(store: Store): CachedReader {
    return new CachedReader(store, this);
  }

  /** @internal */ lookup(id: string): Cached | undefined {
    return this.#entries.get(id);
  }
  /** @internal */ fill(id: string, entry: Cached, generation: number): void {
    this.#remember(id, entry, generation);
  }
  /** @internal */ listLookup(id: string): StoreEntry<unknown>[] | undefined {
    return this.#lists.get(id);
  }
  /** @internal */ listFill(id: string, entries: StoreEntry<unknown>[], generation: number): void {
    if (generation !== this.#generation) return;
    this.#lists.set(id, entries);
  }
  /** @internal */ get generation(): number {
    return this.#generation;
  }
}

function listId(prefix: StoreKey, reverse: boolean): string {
  return (reverse ? "r" : "f") + keyId(prefix);
}

export class CachedReader implements StoreReader {
  readonly #store: Store;
  readonly #cache: ReadCache;

  constructor(store: Store, cache: ReadCache) {
    this.#store = store;
    this.#cache = cache;
  }

  async get<T>(key: StoreKey): Promise<StoreEntry<T> | null> {
    const id = keyId(key);
    const cached = this.#cache.lookup(id);
    if (cached !== undefined) return cached as StoreEntry<T> | null;
    const generation = this.#cache.generation;
    const entry = await this.#store.get<T>(key);
    this.#cache.fill(id, entry, generation);
    return entry;
  }

  async getMany<T>(keys: readonly StoreKey[]): Promise<(StoreEntry<T> | null)[]> {
    await this.prefetch(keys);
    return Promise.all(keys.map((key) => this.get<T>(key)));
  }

  /** Loads the keys not cached yet, several getMany reads at once. */
  async prefetch(keys: readonly StoreKey[]): Promise<void> {
    const missing = new Map<string, StoreKey>();
    for (const key of keys) {
      const id = keyId(key);
      if (this.#cache.lookup(id) === undefined) missing.set(id, key);
    }
    if (missing.size === 0) return;
    const generation = this.#cache.generation;
    const ids = [...missing.keys()];
    const wanted = [...missing.values()];
    const groups: Promise<void>[] = [];
    for (let i = 0; i < wanted.length; i += prefetchGroupKeys) {
      const group = wanted.slice(i, i + prefetchGroupKeys);
      groups.push(
        this.#store.getMany(group).then((entries) => {
          entries.forEach((entry, j) => this.#cache.fill(ids[i + j], entry, generation));
        }),
      );
    }
    await Promise.all(groups);
  }

  async *list<T>(selector: ListSelector, options: ListOptions = {}): AsyncIterable<StoreEntry<T>> {
    const cacheable = options.limit === undefined && selector.start === undefined &&
      selector.end === undefined;
    if (!cacheable) {
      yield* this.#store.list<T>(selector, options);
      return;
    }
    const id = listId(selector.prefix, options.reverse === true);
    let entries = this.#cache.listLookup(id);
    if (!entries) {
      const generation = this.#cache.generation;
      entries = [];
      for await (const entry of this.#store.list<T>(selector, options)) {
        if (keyHasPrefix(entry.key, selector.prefix)) entries.push(entry);
      }
      this.#cache.listFill(id, entries, generation);
    }
    for (const entry of entries) yield entry as StoreEntry<T>;
  }
}
