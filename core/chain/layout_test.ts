import { Buffer } from "node:buffer";
import { sealEnvelope } from "../envelope/envelope.ts";
import { KvStore } from "../store/kv_store.ts";
import { listAll, type Store, type StoreMutation } from "../store/store.ts";
import { testNetwork } from "../testing.ts";
import { ingest, type KindHandler } from "./ingest.ts";
import { chainKeys, type StoredEnvelope } from "./keys.ts";
import { hasLegacyLayout, upgradeStoreLayout } from "./layout.ts";
import { readChain, readLog } from "./read.ts";

function expectEqual(actual: unknown, expected: unknown, what = ""): void {
  const a = JSON.stringify(actual, (_, v) => typeof v === "bigint" ? `${v}n` : v);
  const e = JSON.stringify(expected, (_, v) => typeof v === "bigint" ? `${v}n` : v);
  if (a !== e) throw new Error(`${what}: expected ${e.slice(0, 300)}, got ${a.slice(0, 300)}`);
}

const blobKind: KindHandler = { apply() {} };

/** A store with 40 envelopes by two members, one of them large enough to be split into parts. */
async function fixture() {
  const network = await testNetwork(2);
  const kinds = new Map(network.deps.kinds);
  kinds.set("test.blob", blobKind);
  const prev = new Map<string, string | null>();
  const envelopes = [];
  for (let i = 0; i < 40; i++) {
    const who = network.members[i % 2];
    const sealed = await sealEnvelope({
      net: network.net,
      kind: "test.blob",
      seq: Math.floor(i / 2),
      prev: prev.get(who.did) ?? null,
      ts: 1_700_000_000_000 - 900 + i,
      body: { text: i === 7 ? "x".repeat(62_000) : `blob ${i}` },
    }, who.signer);
    prev.set(who.did, sealed.cid);
    envelopes.push(sealed);
  }
  const outcomes = await ingest({ ...network.deps, kinds }, envelopes, { source: "import" });
  if (outcomes.some((o) => o.status !== "accepted")) throw new Error("fixture not accepted");
  return { network, store: network.deps.store };
}

/** Every entry's key and value, without versionstamps. */
async function snapshot(store: Store) {
  return (await listAll(store, { prefix: [] })).map((e) => [e.key, e.value] as const);
}

/** Rewrites the store the way icn before the layout change kept envelopes. */
async function toLegacy(store: Store): Promise<number> {
  const mutations: StoreMutation[] = [];
  let positions = 0;
  for (const entry of await listAll<StoredEnvelope>(store, { prefix: ["chain"] })) {
    const [, net, author, seq] = entry.key as [string, string, string, number];
    const stored = entry.value;
    positions++;
    mutations.push({ type: "set", key: entry.key, value: stored.cid });
    if ("bytes" in stored) {
      mutations.push({ type: "set", key: ["env", stored.cid], value: stored.bytes });
      continue;
    }
    mutations.push({ type: "set", key: ["env", stored.cid], value: { parts: stored.parts } });
    for (let i = 0; i < stored.parts; i++) {
      const key = chainKeys.part(net, author, seq, i);
      const part = (await store.get(key))!.value;
      mutations.push({ type: "delete", key }, {
        type: "set",
        key: ["envpart", stored.cid, i],
        value: part,
      });
    }
  }
  await store.commit([], mutations);
  return positions;
}

Deno.test("layout upgrade moves legacy envelope entries into chain positions, losslessly", async () => {
  const { network, store } = await fixture();
  const before = await snapshot(store);
  if (!before.some(([key]) => key[0] === "chainpart")) {
    throw new Error("fixture has no split envelope");
  }
  expectEqual(await hasLegacyLayout(store), false, "fresh store");
  expectEqual(await upgradeStoreLayout(store), 0, "nothing to upgrade");

  const positions = await toLegacy(store);
  expectEqual(await hasLegacyLayout(store), true, "legacy store");
  expectEqual(await upgradeStoreLayout(store), positions, "upgraded positions");
  expectEqual(await snapshot(store), before, "store after upgrade");
  expectEqual(await hasLegacyLayout(store), false, "after upgrade");
  const chain = await readChain(store, network.net, network.members[0].did);
  expectEqual(chain.length, 20, "chain length");
  let logged = 0;
  for await (const _ of readLog(store)) logged++;
  expectEqual(logged, 42, "log entries (2 inceptions + 40)");
});

Deno.test("layout upgrade from two writers at once upgrades each position once", async () => {
  const { store } = await fixture();
  const before = await snapshot(store);
  const positions = await toLegacy(store);
  const counts = await Promise.all([upgradeStoreLayout(store), upgradeStoreLayout(store)]);
  expectEqual(counts[0] + counts[1], positions, "positions upgraded in total");
  expectEqual(await snapshot(store), before, "store after upgrade");
});

Deno.test("layout upgrade of a damaged legacy store fails naming the missing envelope", async () => {
  const { store } = await fixture();
  await toLegacy(store);
  const [first] = await listAll<string>(store, { prefix: ["chain"] }, { limit: 1 });
  await store.commit([], [{ type: "delete", key: ["env", first.value] }]);
  const before = await snapshot(store);
  let message = "";
  try {
    await upgradeStoreLayout(store);
  } catch (error) {
    message = (error as Error).message;
  }
  if (!message.includes(first.value)) throw new Error(`unexpected error: ${message}`);
  expectEqual(await snapshot(store), before, "a failed batch writes nothing");
});

Deno.test("layout upgrade works on Deno KV and keeps within its commit limits", async () => {
  const { store: memory } = await fixture();
  const dir = await Deno.makeTempDir();
  const kv = await KvStore.open(`${dir}/icn.kv`);
  try {
    const all = await listAll(memory, { prefix: [] });
    await kv.commit([], all.map((e) => ({ type: "set" as const, key: e.key, value: e.value })));
    const before = await snapshot(kv);
    const positions = await toLegacy(kv);
    expectEqual(await upgradeStoreLayout(kv), positions, "upgraded positions");
    expectEqual(await snapshot(kv), before, "store after upgrade");
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an envelope received as a view into a larger buffer is stored alone", async () => {
  const network = await testNetwork(1);
  const kinds = new Map(network.deps.kinds);
  kinds.set("test.blob", blobKind);
  const sealed = await sealEnvelope({
    net: network.net,
    kind: "test.blob",
    seq: 0,
    prev: null,
    ts: 1_700_000_000_000 - 900,
    body: { text: "inside a big message" },
  }, network.members[0].signer);
  // As gossip hands it over: a Node Buffer viewing the middle of a 100 KB frame (whose `slice`
  // is a view too).
  const frame = Buffer.alloc(100_000);
  frame.set(sealed.bytes, 50_000);
  const view = frame.subarray(50_000, 50_000 + sealed.bytes.length);
  const dir = await Deno.makeTempDir();
  const kv = await KvStore.open(`${dir}/icn.kv`);
  try {
    const all = await listAll(network.deps.store, { prefix: [] });
    await kv.commit([], all.map((e) => ({ type: "set" as const, key: e.key, value: e.value })));
    const [outcome] = await ingest({ ...network.deps, store: kv, kinds }, [view], {
      source: "sync",
    });
    expectEqual(outcome.status, "accepted", "outcome");
    const key = chainKeys.position(network.net, network.members[0].did, 0);
    const stored = (await kv.get<StoredEnvelope>(key))!.value as { bytes: Uint8Array };
    expectEqual(stored.bytes.buffer.byteLength, sealed.bytes.length, "stored buffer size");
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
