import assert from "node:assert/strict";
import { AssertionError } from "../errors.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { chainKeys, type LogEntry } from "./keys.ts";
import { readChainBytes, readLog } from "./read.ts";

const author = "did:icn:test";

Deno.test("readLog() treats a log entry without its envelope as a bug", async () => {
  const store = new MemoryStore();
  const entry: LogEntry = { cid: "cid", net: "n", author, seq: 0 };
  await store.commit([], [{ type: "set", key: chainKeys.log(0), value: entry }]);
  await assert.rejects(async () => {
    for await (const _ of readLog(store)) { /* reading is the test */ }
  }, AssertionError);
});

Deno.test("readChainBytes() treats a split envelope with a missing part as a bug", async () => {
  const store = new MemoryStore();
  await store.commit([], [{
    type: "set",
    key: chainKeys.position("n", author, 0),
    value: { cid: "cid", parts: 2 },
  }]);
  await assert.rejects(() => readChainBytes(store, "n", author), AssertionError);
});
