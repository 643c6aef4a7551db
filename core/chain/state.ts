/**
 * A write overlay over the store: reads see pending writes, writes are held
 * until the whole batch commits in one atomic operation. `child()` gives a
 * savepoint: a rejected envelope's writes are dropped without touching the
 * parent's.
 */
import { toHex, utf8Length } from "../bytes.ts";
import { commitLimits } from "../constants.ts";
import { assert } from "../errors.ts";
import {
  compareKeys,
  keyHasPrefix,
  type Store,
  type StoreKey,
  type StoreMutation,
} from "../store/store.ts";

/** A string that identifies a key (for maps). */
export function keyId(key: StoreKey): string {
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

export interface Footprint {
  mutations: number;
  keyBytes: number;
  bytes: number;
}

/** True when `total` passes one of the commit limits (`commitLimits`). */
export function exceedsCommitLimits(total: Footprint): boolean {
  return total.mutations > commitLimits.mutations || total.keyBytes > commitLimits.keyBytes ||
    total.bytes > commitLimits.bytes;
}

/**
 * Asserts, before a commit, that a batch of `envelopes` with footprint `total` is within the
 * commit limits. Batching ends a commit before the next envelope would pass a limit, so only a
 * batch of one envelope (whose own writes are what they are) can be larger; anything else is a
 * bug in the batching.
 */
export function assertBatchFitsCommit(total: Footprint, envelopes: number): void {
  assert(
    envelopes <= 1 || !exceedsCommitLimits(total),
    `A batch of ${envelopes} envelopes passes the commit limits: ${JSON.stringify(total)}`,
  );
}

/** Encoded size of a key in Deno KV, rounded up: strings and bytes by length, numbers 9 bytes. */
export function keySize(key: StoreKey): number {
  let size = 0;
  for (const part of key) {
    if (typeof part === "string") size += utf8Length(part) + 2;
    else if (part instanceof Uint8Array) size += part.length + 2;
    else size += 10;
  }
  return size;
}

/** Serialized size of a value, an upper estimate (the exact V8 encoding is not visible here). */
function valueSize(value: unknown): number {
  if (value instanceof Uint8Array) return value.length + 8;
  switch (typeof value) {
    case "string":
      return value.length * 3 + 8;
    case "bigint":
      return 16 + Math.ceil(value.toString(16).length / 2);
    case "number":
    case "boolean":
    case "undefined":
      return 16;
  }
  if (value === null) return 8;
  let size = 8;
  if (Array.isArray(value)) {
    for (const item of value) size += valueSize(item);
    return size;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    size += k.length + 4 + valueSize(v);
  }
  return size;
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
  readonly #store: Pick<Store, "get" | "list">;
  #parent: StateOverlay | null;
  readonly #pending = new Map<string, Pending>();

  /** `store`: the store itself, or a cached reader in front of it. */
  constructor(store: Pick<Store, "get" | "list">, parent: StateOverlay | null = null) {
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

  /**
   * Stops reading through the parent: for an overlay built on top of a batch
   * that was being committed, once that commit has landed in the store.
   */
  detach(): void {
    this.#parent = null;
  }

  /** Moves this savepoint's writes into its parent. */
  mergeIntoParent(): void {
    assert(this.#parent, "StateOverlay has no parent");
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

  /** What this overlay's own writes add to a commit: mutations, key bytes and all bytes (an upper estimate). */
  footprint(): Footprint {
    let keyBytes = 0;
    let bytes = 0;
    for (const pending of this.#pending.values()) {
      const size = keySize(pending.key);
      keyBytes += size;
      bytes += size + valueSize(pending.value);
    }
    return { mutations: this.#pending.size, keyBytes, bytes };
  }
}
