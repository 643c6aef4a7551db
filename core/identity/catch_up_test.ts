import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { MemoryStore } from "../store/memory_store.ts";
import { catchUpKey, catchUpRefusal, clearCatchUp, markCatchUp, readCatchUp } from "./catch_up.ts";

const marker = { did: "did:icn:zA", reason: "restore", since: 0 } as const;

Deno.test("readCatchUp() finds the marker of its own identity only", async () => {
  const store = new MemoryStore();
  assertEquals(await readCatchUp(store, marker.did), null);
  await markCatchUp(store, marker);
  assertEquals(await readCatchUp(store, marker.did), marker);
  assertEquals(await readCatchUp(store, "did:icn:zB"), null);
});

Deno.test("clearCatchUp() lifts a standing marker once and reports it", async () => {
  const store = new MemoryStore();
  assertEquals(await clearCatchUp(store), false);
  await markCatchUp(store, marker);
  assertEquals(await clearCatchUp(store), true);
  assertEquals(await store.get(catchUpKey), null);
  assertEquals(await clearCatchUp(store), false);
});

Deno.test("catchUpRefusal() names every way out", () => {
  for (const via of ["cli", "node"] as const) {
    const { message, reason } = catchUpRefusal(marker, "bafynet", via);
    assertEquals(reason, "catch_up_needed");
    for (const hint of [/icn node import/, /icn id caught-up --i-know/, /fork/, /bafynet/]) {
      assert(hint.test(message), message);
    }
    assert(/icn node (run|connect)/.test(message), message);
  }
});
