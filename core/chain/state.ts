/**
 * A write overlay over the store: reads see pending writes, writes are held
 * until the whole batch commits in one atomic operation. `child()` gives a
 * savepoint: a rejected envelope's writes are dropped without touching the
 * parent's.
 */
import { toHex } from "../bytes.ts";
import {
  compareKeys,
  keyHasPrefix,
  type Store,
  type StoreKey,
  type StoreMutation,
} from "../store/store.ts";

function keyId(key: StoreKey): string {
  return key.map((part) => {
    if (part instanceof Uint8Array) return "u" + toHex(part);
    switch (typeof part) {
      case "string":
        return "s" + part;
      case "number":
        return "n" + part;
      case "bigint":
        return "b" + part;
      default:
        return "t" + part;
    }
  }).join("\u0000");
}

interface Pending {
  key: StoreKey;
  value: unknown;
  deleted: boolean;
}

/** Read/write view of derived state used by kind handlers. */
export interface StateView {
  get<T>(key: StoreKey): Promise<T | undefined>;
  /** Entries under `prefix` in key order, pending writes included. */
  list<T>(
    prefix: StoreKey,
    options?: { limit?: number; reverse?: boolean },
  ): Promise<{ key: StoreKey; value: T }[]>;
  set(key: StoreKey, value: unknown): void;
  delete(key: StoreKey): void;
}

export class StateOverlay implements StateView {
  readonly #store: Store;
  readonly #parent: StateOverlay | null;
  readonly #pending = new Map<string, Pending>();

  constructor(store: Store, parent: StateOverlay | null = null) {
    this.#store = store;
    this.#parent = parent;
  }

  child(): StateOverlay {
    return new StateOverlay(this.#store, this);
  }

  #lookup(id: string): Pending | undefined {
    const own = this.#pending.get(id);
    if (own) return own;
    return this.#parent ? this.#parent.#lookup(id) : undefined;
  }

  async get<T>(key: StoreKey): Promise<T | undefined> {
    const pending = this.#lookup(keyId(key));
    if (pending) return pending.deleted ? undefined : pending.value as T;
    const entry = await this.#store.get<T>(key);
    return entry ? entry.value : undefined;
  }

  #pendingUnder(prefix: StoreKey, into: Map<string, Pending>): void {
    if (this.#parent) this.#parent.#pendingUnder(prefix, into);
    for (const [id, pending] of this.#pending) {
      if (keyHasPrefix(pending.key, prefix) && pending.key.length > prefix.length) {
        into.set(id, pending);
      }
    }
  }

  async list<T>(
    prefix: StoreKey,
    options: { limit?: number; reverse?: boolean } = {},
  ): Promise<{ key: StoreKey; value: T }[]> {
    const pending = new Map<string, Pending>();
    this.#pendingUnder(prefix, pending);
    const storeLimit = options.limit === undefined ? undefined : options.limit + pending.size;
    const merged = new Map<string, { key: StoreKey; value: T }>();
    for await (
      const entry of this.#store.list<T>({ prefix }, {
        limit: storeLimit,
        reverse: options.reverse,
      })
    ) {
      merged.set(keyId(entry.key), { key: entry.key, value: entry.value });
    }
    for (const [id, p] of pending) {
      if (p.deleted) merged.delete(id);
      else merged.set(id, { key: p.key, value: p.value as T });
    }
    const out = [...merged.values()].sort((a, b) => compareKeys(a.key, b.key));
    if (options.reverse) out.reverse();
    return options.limit === undefined ? out : out.slice(0, options.limit);
  }

  set(key: StoreKey, value: unknown): void {
    this.#pending.set(keyId(key), { key: [...key], value, deleted: false });
  }

  delete(key: StoreKey): void {
    this.#pending.set(keyId(key), { key: [...key], value: undefined, deleted: true });
  }

  /** Moves this savepoint's writes into its parent. */
  mergeIntoParent(): void {
    if (!this.#parent) throw new Error("StateOverlay has no parent");
    for (const [id, pending] of this.#pending) this.#parent.#pending.set(id, pending);
    this.#pending.clear();
  }

  /** The pending writes as store mutations (only valid on a root overlay). */
  mutations(): StoreMutation[] {
    const out: StoreMutation[] = [];
    for (const pending of this.#pending.values()) {
      out.push(
        pending.deleted
          ? { type: "delete", key: pending.key }
          : { type: "set", key: pending.key, value: pending.value },
      );
    }
    return out;
  }

  get size(): number {
    return this.#pending.size;
  }
}
