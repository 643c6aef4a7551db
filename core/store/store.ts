/**
 * The storage interface: an ordered key-value store with atomic, version-checked
 * commits, shaped after Deno KV so the real implementation is thin. Domain
 * code never sees Deno KV directly; tests use the in-memory twin, and one
 * conformance suite runs against both.
 */

export type KeyPart = Uint8Array | string | number | bigint | boolean;
export type StoreKey = readonly KeyPart[];

export interface StoreEntry<T> {
  readonly key: StoreKey;
  readonly value: T;
  /** Opaque, increases with every commit that wrote the key. */
  readonly versionstamp: string;
}

/** Commit only if `key` still has `versionstamp` (null: the key must not exist). */
export interface StoreCheck {
  readonly key: StoreKey;
  readonly versionstamp: string | null;
}

export type StoreMutation =
  | { readonly type: "set"; readonly key: StoreKey; readonly value: unknown }
  | { readonly type: "delete"; readonly key: StoreKey };

export interface ListSelector {
  readonly prefix: StoreKey;
  /** Inclusive lower bound (a full key that starts with prefix). */
  readonly start?: StoreKey;
  /** Exclusive upper bound. */
  readonly end?: StoreKey;
}

export interface ListOptions {
  readonly limit?: number;
  readonly reverse?: boolean;
}

export interface Store {
  get<T>(key: StoreKey): Promise<StoreEntry<T> | null>;
  getMany<T>(keys: readonly StoreKey[]): Promise<(StoreEntry<T> | null)[]>;
  list<T>(selector: ListSelector, options?: ListOptions): AsyncIterable<StoreEntry<T>>;
  /**
   * Applies all mutations atomically when every check holds and returns the
   * commit's versionstamp (what `get` then reports for the written keys);
   * returns null (and writes nothing) when a check fails.
   */
  commit(
    checks: readonly StoreCheck[],
    mutations: readonly StoreMutation[],
  ): Promise<string | null>;
  close(): void;
}

const typeRank = (part: KeyPart): number => {
  if (part instanceof Uint8Array) return 0;
  switch (typeof part) {
    case "string":
      return 1;
    case "bigint":
      return 2;
    case "number":
      return 3;
    case "boolean":
      return 4;
  }
  throw new TypeError(`Cannot use ${typeof part} in a store key`);
};

/** Orders keys the way Deno KV does: part by part, by type (bytes < string < bigint < number < boolean) then value. */
export function compareKeys(a: StoreKey, b: StoreKey): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i];
    const y = b[i];
    const rankDiff = typeRank(x) - typeRank(y);
    if (rankDiff !== 0) return rankDiff;
    let diff = 0;
    if (x instanceof Uint8Array && y instanceof Uint8Array) {
      const n = Math.min(x.length, y.length);
      for (let j = 0; j < n && diff === 0; j++) diff = x[j] - y[j];
      if (diff === 0) diff = x.length - y.length;
    } else if (typeof x === "string" && typeof y === "string") {
      // Deno KV compares UTF-8 bytes; for strings this equals code point order.
      diff = x < y ? -1 : x > y ? 1 : 0;
      if (diff !== 0 && (hasAstral(x) || hasAstral(y))) diff = compareCodePoints(x, y);
    } else if (typeof x === "boolean" && typeof y === "boolean") {
      diff = Number(x) - Number(y);
    } else {
      const nx = x as number | bigint;
      const ny = y as number | bigint;
      diff = nx < ny ? -1 : nx > ny ? 1 : 0;
    }
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  return a.length - b.length;
}

function hasAstral(text: string): boolean {
  return /[\uD800-\uDFFF]/.test(text);
}

function compareCodePoints(a: string, b: string): number {
  const xs = Array.from(a);
  const ys = Array.from(b);
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    const diff = xs[i].codePointAt(0)! - ys[i].codePointAt(0)!;
    if (diff !== 0) return diff;
  }
  return xs.length - ys.length;
}

/** True when `key` starts with every part of `prefix`. */
export function keyHasPrefix(key: StoreKey, prefix: StoreKey): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (!partsEqual(key[i], prefix[i])) return false;
  }
  return true;
}

function partsEqual(a: KeyPart, b: KeyPart): boolean {
  if (a === b) return true;
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) {
    // Different strings, numbers, bigints, booleans, or parts of different types.
    return typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b);
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads all entries under a prefix into an array (bounded by `limit`). */
export async function listAll<T>(
  store: Store,
  selector: ListSelector,
  options?: ListOptions,
): Promise<StoreEntry<T>[]> {
  const out: StoreEntry<T>[] = [];
  for await (const entry of store.list<T>(selector, options)) out.push(entry);
  return out;
}
