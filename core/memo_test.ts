import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert";
import { bytesMemoKey, createMemo } from "./memo.ts";

Deno.test("createMemo() computes once per whole key and drops the oldest entry past its bound", () => {
  const memo = createMemo<number>(2);
  let computed = 0;
  const square = (n: number) => () => (computed++, n * n);
  assertEquals(memo.get("3", square(3)), 9);
  assertEquals(memo.get("3", square(3)), 9);
  assertEquals(computed, 1);
  memo.get("4", square(4));
  memo.get("5", square(5));
  assertEquals(memo.size, 2);
  memo.get("3", square(3));
  assertEquals(computed, 4, "the oldest entry was dropped and recomputed");
});

Deno.test("createMemo() keeps nothing when the computation throws", () => {
  const memo = createMemo<number>(4);
  assertThrows(() =>
    memo.get("bad", () => {
      throw new TypeError("bad input");
    }), TypeError);
  assertEquals(memo.size, 0);
});

Deno.test("bytesMemoKey() differs whenever any byte differs, at any position and length", () => {
  const a = new Uint8Array(10_000).fill(1);
  const b = a.slice();
  b[9_999] = 2;
  assertEquals(bytesMemoKey(a) === bytesMemoKey(b), false);
  assertEquals(bytesMemoKey(a) === bytesMemoKey(a.slice()), true);
  assertEquals(bytesMemoKey(a.subarray(0, 64)) === bytesMemoKey(a), false);
});
