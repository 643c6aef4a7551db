import { storeConformanceCases } from "./conformance.ts";
import { KvStore } from "./kv_store.ts";
import { MemoryStore } from "./memory_store.ts";
import { compareKeys } from "./store.ts";

for (const testCase of storeConformanceCases) {
  Deno.test(`MemoryStore: ${testCase.name}`, async () => {
    const store = new MemoryStore();
    try {
      await testCase.fn(store);
    } finally {
      store.close();
    }
  });
  Deno.test(`KvStore: ${testCase.name}`, async () => {
    const dir = await Deno.makeTempDir();
    const store = await KvStore.open(`${dir}/test.kv`);
    try {
      await testCase.fn(store);
    } finally {
      store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("compareKeys() orders bytes < strings < bigints < numbers < booleans like Deno KV", () => {
  const keys = [[true], [1n], [2], ["a"], [new Uint8Array([1])], [false]];
  const sorted = [...keys].sort(compareKeys);
  const kinds = sorted.map((k) => k[0] instanceof Uint8Array ? "bytes" : typeof k[0]);
  if (kinds.join() !== "bytes,string,bigint,number,boolean,boolean") throw new Error(kinds.join());
});

Deno.test("KvStore: two processes committing to one file both succeed (lock retries)", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/shared.kv`;
  const script = `
    import { KvStore } from "${new URL("./kv_store.ts", import.meta.url).href}";
    const store = await KvStore.open(Deno.args[0]);
    for (let i = 0; i < 200; i++) {
      for (;;) {
        const e = await store.get(["n"]);
        const ok = await store.commit([{ key: ["n"], versionstamp: e?.versionstamp ?? null }], [{ type: "set", key: ["n"], value: (e?.value ?? 0) + 1 }]);
        if (ok) break;
      }
    }
    store.close();
  `;
  const file = `${dir}/writer.ts`;
  await Deno.writeTextFile(file, script);
  const run = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", file, path],
      stderr: "piped",
    }).output();
  const results = await Promise.all([run(), run()]);
  for (const r of results) if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
  const store = await KvStore.open(path);
  const value = (await store.get<number>(["n"]))?.value;
  store.close();
  await Deno.remove(dir, { recursive: true });
  if (value !== 400) throw new Error(`expected 400 increments, got ${value}`);
});
