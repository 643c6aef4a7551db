/**
 * A small bounded memo for pure, deterministic computations keyed by their
 * whole input (a DID string, a public key's bytes). One rule for every cache
 * of parsed or imported values: the key is the complete input, never a prefix
 * or a truncated digest, so two inputs share an entry only when they are equal.
 * Past its bound the oldest entry goes first (insertion order), so a flood of
 * new inputs costs recomputation, never memory.
 */

/** A memo from a string key to a value. */
export interface Memo<V> {
  /** The value for `key`, computing and keeping it when absent. */
  get(key: string, compute: () => V): V;
  readonly size: number;
}

/** Creates a memo holding at most `entriesMax` values. */
export function createMemo<V>(entriesMax: number): Memo<V> {
  if (!Number.isInteger(entriesMax) || entriesMax < 1) {
    throw new RangeError(`Cannot create a memo of ${entriesMax} entries: expected at least 1`);
  }
  const entries = new Map<string, V>();
  return {
    get(key: string, compute: () => V): V {
      if (entries.has(key)) return entries.get(key) as V;
      const value = compute();
      if (entries.size >= entriesMax) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      entries.set(key, value);
      return value;
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * The memo key of a byte string: every byte, one UTF-16 code unit each, so
 * equal keys mean equal bytes (no hashing, no collisions).
 */
export function bytesMemoKey(bytes: Uint8Array): string {
  let key = "";
  const chunk = 4096;
  for (let i = 0; i < bytes.length; i += chunk) {
    key += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return key;
}
