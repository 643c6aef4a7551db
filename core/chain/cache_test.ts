import { type SealedEnvelope, sealEnvelope } from "../envelope/envelope.ts";
import { KvStore } from "../store/kv_store.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { listAll, type Store, type StoreMutation } from "../store/store.ts";
import { testNetwork } from "../testing.ts";
import { ReadCache } from "./cache.ts";
import { ingest, type KindHandler } from "./ingest.ts";
import { chainKeys } from "./keys.ts";
import { StateOverlay } from "./state.ts";

function expectEqual(actual: unknown, expected: unknown): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`expected ${e}, got ${a}`);
}

/** A store that counts reads and commits and can refuse the next commits. */
class CountingStore implements Store {
  reads = 0;
  commits = 0;
  refuse = 0;
  constructor(readonly inner: Store) {}
  get: Store["get"] = (key) => {
    this.reads++;
    return this.inner.get(key);
  };
  getMany: Store["getMany"] = (keys) => {
    this.reads++;
    return this.inner.getMany(keys);
  };
  list: Store["list"] = (selector, options) => {
    this.reads++;
    return this.inner.list(selector, options);
  };
  commit: Store["commit"] = (checks, mutations) => {
    this.commits++;
    if (this.refuse > 0) {
      this.refuse--;
      return Promise.resolve(null);
    }
    return this.inner.commit(checks, mutations);
  };
  close(): void {
    this.inner.close();
  }
}

Deno.test("ReadCache answers repeated reads from memory and takes its own commits in", async () => {
  const store = new CountingStore(new MemoryStore());
  await store.commit([], [{ type: "set", key: ["a"], value: 1 }]);
  const cache = new ReadCache();
  const marker = await store.commit([], [{ type: "set", key: chainKeys.logNext, value: 0 }]);
  cache.validate(marker);
  const reader = cache.reader(store);
  const before = store.reads;
  expectEqual((await reader.get(["a"]))?.value, 1);
  expectEqual((await reader.get(["a"]))?.value, 1);
  expectEqual(await reader.get(["missing"]), null);
  expectEqual(await reader.get(["missing"]), null);
  expectEqual(store.reads - before, 2);
  const mutations: StoreMutation[] = [
    { type: "set", key: ["a"], value: 2 },
    { type: "set", key: ["missing"], value: "now" },
    { type: "set", key: chainKeys.logNext, value: 1 },
  ];
  const stamp = await store.commit([], mutations);
  cache.committed(stamp!, mutations);
  cache.validate(stamp);
  expectEqual((await reader.get(["a"]))?.value, 2);
  expectEqual((await reader.get(["missing"]))?.value, "now");
  expectEqual(store.reads - before, 2);
});

Deno.test("ReadCache drops everything when another writer moved the log counter", async () => {
  const store = new MemoryStore();
  const first = await store.commit([], [
    { type: "set", key: ["a"], value: 1 },
    { type: "set", key: chainKeys.logNext, value: 0 },
  ]);
  const cache = new ReadCache();
  cache.validate(first);
  const reader = cache.reader(store);
  await reader.get(["a"]);
  // Another writer: not folded into the cache.
  const other = await store.commit([], [
    { type: "set", key: ["a"], value: 5 },
    { type: "set", key: chainKeys.logNext, value: 1 },
  ]);
  expectEqual((await reader.get(["a"]))?.value, 1); // stale until validated
  cache.validate(other);
  expectEqual(cache.size, 0);
  expectEqual((await reader.get(["a"]))?.value, 5);
});

Deno.test("ReadCache keeps whole-prefix lists until a key under the prefix is written", async () => {
  const store = new CountingStore(new MemoryStore());
  await store.commit([], [{ type: "set", key: ["p", 1], value: "x" }]);
  const cache = new ReadCache();
  cache.validate(null);
  const state = () => new StateOverlay(cache.reader(store));
  expectEqual((await state().list(["p"])).length, 1);
  const before = store.reads;
  expectEqual((await state().list(["p"])).length, 1);
  expectEqual(store.reads, before);
  const mutations: StoreMutation[] = [{ type: "set", key: ["p", 2], value: "y" }];
  cache.committed((await store.commit([], mutations))!, mutations);
  expectEqual((await state().list(["p"])).map((e) => e.value), ["x", "y"]);
  // A limited list is never served from the cache.
  expectEqual((await state().list(["p"], { limit: 1 })).length, 1);
});

const noteKind: KindHandler = {
  apply(ctx) {
    ctx.state.set(["note", ctx.envelope.author, ctx.envelope.seq], "x".repeat(40));
  },
};

async function notes(count: number) {
  const network = await testNetwork(3);
  const kinds = new Map(network.deps.kinds);
  kinds.set("test.note", noteKind);
  const envelopes: SealedEnvelope[] = [];
  const prev = new Map<string, string | null>();
  for (let i = 0; i < count; i++) {
    const who = network.members[i % network.members.length];
    const seq = Math.floor(i / network.members.length);
    const sealed = await sealEnvelope({
      net: network.net,
      kind: "test.note",
      seq,
      prev: prev.get(who.did) ?? null,
      ts: 1_700_000_000_000 - 900 + i,
      body: { text: "n" },
    }, who.signer);
    prev.set(who.did, sealed.cid);
    envelopes.push(sealed);
  }
  return { network, kinds, envelopes };
}

Deno.test("ingest splits a large batch into commits within Deno KV's key-size limit", async () => {
  const { network, kinds, envelopes } = await notes(600);
  const dir = await Deno.makeTempDir();
  const kv = await KvStore.open(`${dir}/icn.kv`);
  try {
    // Copy the fixture's store (genesis, KELs) into the real KV store.
    const all = await listAll(network.deps.store, { prefix: [] });
    await kv.commit([], all.map((e) => ({ type: "set" as const, key: e.key, value: e.value })));
    const store = new CountingStore(kv);
    const outcomes = await ingest({ ...network.deps, store, kinds }, envelopes, {
      source: "import",
    });
    expectEqual(outcomes.filter((o) => o.status === "accepted").length, 600);
    if (store.commits < 2) throw new Error(`expected several commits, got ${store.commits}`);
    expectEqual((await kv.get(chainKeys.logNext))?.value, 603);
    const again = await ingest({ ...network.deps, store, kinds }, envelopes, { source: "sync" });
    expectEqual(again.filter((o) => o.status === "duplicate").length, 600);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ingest redoes a batch whose commit lost to another writer, and the one validated on top of it", async () => {
  const { network, kinds, envelopes } = await notes(300);
  const store = new CountingStore(network.deps.store);
  const cache = new ReadCache();
  const deps = { ...network.deps, store, kinds, cache };
  // Lose the first two commits: the first batch and the batch validated while it committed.
  store.refuse = 2;
  const outcomes = await ingest(deps, envelopes, { source: "sync" });
  expectEqual(outcomes.filter((o) => o.status === "accepted").length, 300);
  const log = await listAll(store.inner, { prefix: chainKeys.logPrefix });
  expectEqual(log.length, 303);
  expectEqual(new Set(log.map((e) => (e.value as { cid: string }).cid)).size, 303);
  for (const member of network.members) {
    const head = await store.inner.get<{ seq: number }>(chainKeys.head(network.net, member.did));
    expectEqual(head?.value.seq, 99);
  }
});

Deno.test("a shared cache stays correct when another ingest writes in between", async () => {
  const { network, kinds, envelopes } = await notes(120);
  const cache = new ReadCache();
  const cached = { ...network.deps, kinds, cache };
  const plain = { ...network.deps, kinds };
  await ingest(cached, envelopes.slice(0, 60), { source: "sync" });
  await ingest(plain, envelopes.slice(60, 90), { source: "sync" });
  const outcomes = await ingest(cached, envelopes.slice(60), { source: "sync" });
  expectEqual(
    outcomes.map((o) => o.status),
    [...Array(30).fill("duplicate"), ...Array(30).fill("accepted")],
  );
});
