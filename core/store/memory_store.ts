import {
  compareKeys,
  keyHasPrefix,
  type ListOptions,
  type ListSelector,
  type Store,
  type StoreCheck,
  type StoreEntry,
  type StoreKey,
  type StoreMutation,
} from "./store.ts";

interface Slot {
  key: StoreKey;
  value: unknown;
  versionstamp: string;
}

/** In-memory `Store` with the same semantics as the Deno KV one; values are structured-cloned like KV does. */
export class MemoryStore implements Store {
  #slots: Slot[] = [];
  #version = 0n;
  #closed = false;

  #find(key: StoreKey): { index: number; found: boolean } {
    let low = 0;
    let high = this.#slots.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const cmp = compareKeys(this.#slots[mid].key, key);
      if (cmp === 0) return { index: mid, found: true };
      if (cmp < 0) low = mid + 1;
      else high = mid;
    }
    return { index: low, found: false };
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("Store is closed");
  }

  get<T>(key: StoreKey): Promise<StoreEntry<T> | null> {
    this.#checkOpen();
    const { index, found } = this.#find(key);
    if (!found) return Promise.resolve(null);
    const slot = this.#slots[index];
    return Promise.resolve({
      key: slot.key,
      value: structuredClone(slot.value) as T,
      versionstamp: slot.versionstamp,
    });
  }

  async getMany<T>(keys: readonly StoreKey[]): Promise<(StoreEntry<T> | null)[]> {
    const out: (StoreEntry<T> | null)[] = [];
    for (const key of keys) out.push(await this.get<T>(key));
    return out;
  }

  async *list<T>(selector: ListSelector, options: ListOptions = {}): AsyncIterable<StoreEntry<T>> {
    this.#checkOpen();
    const limit = options.limit ?? Infinity;
    const matches = this.#slots.filter((slot) =>
      keyHasPrefix(slot.key, selector.prefix) && slot.key.length > selector.prefix.length &&
      (selector.start === undefined || compareKeys(slot.key, selector.start) >= 0) &&
      (selector.end === undefined || compareKeys(slot.key, selector.end) < 0)
    );
    if (options.reverse) matches.reverse();
    let count = 0;
    for (const slot of matches) {
      if (count++ >= limit) return;
      yield {
        key: slot.key,
        value: structuredClone(slot.value) as T,
        versionstamp: slot.versionstamp,
      };
    }
  }

  commit(
    checks: readonly StoreCheck[],
    mutations: readonly StoreMutation[],
  ): Promise<string | null> {
    this.#checkOpen();
    for (const check of checks) {
      const { index, found } = this.#find(check.key);
      const current = found ? this.#slots[index].versionstamp : null;
      if (current !== check.versionstamp) return Promise.resolve(null);
    }
    this.#version++;
    const versionstamp = this.#version.toString(16).padStart(20, "0");
    for (const mutation of mutations) {
      const { index, found } = this.#find(mutation.key);
      if (mutation.type === "set") {
        const slot = {
          key: [...mutation.key],
          value: structuredClone(mutation.value),
          versionstamp,
        };
        if (found) this.#slots[index] = slot;
        else this.#slots.splice(index, 0, slot);
      } else if (found) {
        this.#slots.splice(index, 1);
      }
    }
    return Promise.resolve(versionstamp);
  }

  close(): void {
    this.#closed = true;
  }
}
