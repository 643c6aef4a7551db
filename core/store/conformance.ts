/**
 * One conformance suite for every `Store` implementation: the in-memory
 * store and Deno KV must behave the same.
 */
import type { Store } from "./store.ts";
import { listAll } from "./store.ts";
import { AssertionError } from "../errors.ts";

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

function same(a: unknown, b: unknown, message: string): void {
  const show = (v: unknown) =>
    JSON.stringify(
      v,
      (_k, x) => typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? [...x] : x,
    );
  check(show(a) === show(b), `${message}: ${show(a)} !== ${show(b)}`);
}

export interface ConformanceCase {
  name: string;
  fn: (store: Store) => Promise<void>;
}

export const storeConformanceCases: ConformanceCase[] = [
  {
    name: "get returns null for a missing key and the value after a commit",
    async fn(store) {
      check(await store.get(["a"]) === null, "missing key should be null");
      check(
        await store.commit([], [{
          type: "set",
          key: ["a"],
          value: { n: 1, b: new Uint8Array([1, 2]) },
        }]),
        "commit",
      );
      const entry = await store.get<{ n: number; b: Uint8Array }>(["a"]);
      check(entry !== null, "entry exists");
      same(entry.value, { n: 1, b: new Uint8Array([1, 2]) }, "value round trip");
      check(entry.value.b instanceof Uint8Array, "bytes stay bytes");
    },
  },
  {
    name: "commit fails and writes nothing when a check does not hold",
    async fn(store) {
      await store.commit([], [{ type: "set", key: ["k"], value: 1 }]);
      const entry = await store.get(["k"]);
      const ok = await store.commit([{ key: ["k"], versionstamp: null }], [
        { type: "set", key: ["k"], value: 2 },
        { type: "set", key: ["other"], value: 3 },
      ]);
      check(!ok, "check on existing key with null versionstamp must fail");
      same((await store.get(["k"]))?.value, 1, "value unchanged");
      check(await store.get(["other"]) === null, "no partial write");
      check(
        await store.commit([{ key: ["k"], versionstamp: entry!.versionstamp }], [{
          type: "set",
          key: ["k"],
          value: 4,
        }]),
        "matching versionstamp commits",
      );
      const stale = await store.commit([{ key: ["k"], versionstamp: entry!.versionstamp }], [{
        type: "set",
        key: ["k"],
        value: 5,
      }]);
      check(!stale, "stale versionstamp must fail");
      same((await store.get(["k"]))?.value, 4, "value after stale commit");
    },
  },
  {
    name: "versionstamps increase with each commit",
    async fn(store) {
      const first = await store.commit([], [{ type: "set", key: ["v"], value: 1 }]);
      const a = (await store.get(["v"]))!.versionstamp;
      check(first === a, "commit returns the versionstamp get reports");
      const second = await store.commit([], [{ type: "set", key: ["v"], value: 2 }]);
      const b = (await store.get(["v"]))!.versionstamp;
      check(b > a, "versionstamp grows");
      check(second === b, "commit returns the new versionstamp");
    },
  },
  {
    name: "list returns entries under a prefix in key order, with limit, reverse and start",
    async fn(store) {
      const keys = [["p", 3], ["p", 1], ["p", 2], ["p", 10], ["q", 1], ["p", "x"], ["p", 2n]];
      await store.commit([], keys.map((key, i) => ({ type: "set" as const, key, value: i })));
      const all = await listAll(store, { prefix: ["p"] });
      same(all.map((e) => e.key[1]), ["x", 2n, 1, 2, 3, 10], "order: strings < bigints < numbers");
      const limited = await listAll(store, { prefix: ["p"] }, { limit: 2 });
      same(limited.map((e) => e.key[1]), ["x", 2n], "limit");
      const reversed = await listAll(store, { prefix: ["p"] }, { reverse: true, limit: 2 });
      same(reversed.map((e) => e.key[1]), [10, 3], "reverse");
      const from = await listAll(store, { prefix: ["p"], start: ["p", 3] });
      same(from.map((e) => e.key[1]), [3, 10], "start is inclusive");
    },
  },
  {
    name: "delete removes a key",
    async fn(store) {
      await store.commit([], [{ type: "set", key: ["d"], value: 1 }]);
      await store.commit([], [{ type: "delete", key: ["d"] }]);
      check(await store.get(["d"]) === null, "deleted");
    },
  },
  {
    name: "getMany returns entries in the order asked, null for missing",
    async fn(store) {
      await store.commit(
        [],
        Array.from(
          { length: 25 },
          (_, i) => ({ type: "set" as const, key: ["m", i], value: i * 2 }),
        ),
      );
      const keys = [["m", 3], ["m", 99], ...Array.from({ length: 20 }, (_, i) => ["m", i])];
      const entries = await store.getMany<number>(keys);
      same(entries.map((e) => e?.value ?? null), [
        6,
        null,
        ...Array.from({ length: 20 }, (_, i) => i * 2),
      ], "getMany");
    },
  },
  {
    name: "values are copies: mutating a read value does not change the store",
    async fn(store) {
      await store.commit([], [{ type: "set", key: ["c"], value: { list: [1] } }]);
      const entry = await store.get<{ list: number[] }>(["c"]);
      entry!.value.list.push(2);
      same((await store.get(["c"]))?.value, { list: [1] }, "stored value unchanged");
    },
  },
  {
    name: "bigint values and large byte arrays round trip",
    async fn(store) {
      await store.commit([], [{ type: "set", key: ["big"], value: 2n ** 80n }, {
        type: "set",
        key: ["bytes"],
        value: new Uint8Array(60_000).fill(7),
      }]);
      same((await store.get(["big"]))?.value, 2n ** 80n, "bigint");
      check(((await store.get<Uint8Array>(["bytes"]))?.value.length) === 60_000, "bytes length");
    },
  },
];
