import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert";
import * as dagCbor from "@ipld/dag-cbor";
import { InvalidInputError, RejectedError } from "./errors.ts";
import {
  array,
  base64,
  bytes,
  checkShape,
  decodeCanonicalCbor,
  integer,
  literal,
  parseJsonStrict,
  record,
  string,
  tuple,
  variant,
} from "./strict.ts";

const point = record({ x: integer({ min: 0, max: 10 }), y: integer({ min: 0, max: 10 }) }, {
  label: string({ max: 8 }),
});

function refusedWith(run: () => unknown, pattern: RegExp): void {
  assertThrows(run, (error: unknown) => {
    assert(error instanceof InvalidInputError, `not an InvalidInputError: ${error}`);
    assert(pattern.test(error.message), error.message);
    return true;
  });
}

Deno.test("record() takes exactly its fields and refuses unknown, missing and mistyped ones", () => {
  const what = { what: "point" };
  assertEquals(checkShape(point, { x: 1, y: 2 }, what), { x: 1, y: 2 });
  assertEquals(checkShape(point, { x: 1, y: 2, label: "a" }, what), { x: 1, y: 2, label: "a" });
  refusedWith(() => checkShape(point, { x: 1, y: 2, z: 3 }, what), /unexpected field "z"/);
  refusedWith(() => checkShape(point, { x: 1 }, what), /missing the field "y"/);
  refusedWith(() => checkShape(point, { x: 1, y: 2.5 }, what), /\$\.y must be an integer/);
  refusedWith(() => checkShape(point, { x: 1, y: 11 }, what), /\$\.y must be from 0 to 10/);
  refusedWith(() => checkShape(point, [1, 2], what), /must be a map/);
  refusedWith(
    () => checkShape(point, JSON.parse('{"x":1,"y":2,"__proto__":{}}'), what),
    /__proto__/,
  );
  refusedWith(() => checkShape(point, new Uint8Array(2), what), /must be a map/);
});

Deno.test("array(), tuple(), variant() and literal() check every item and their bounds", () => {
  const what = { what: "list" };
  const list = array(tuple(string({ max: 4 }), bytes({ length: 2 })), { max: 2 });
  assertEquals(checkShape(list, [["ab", new Uint8Array(2)]], what).length, 1);
  refusedWith(() => checkShape(list, [["ab", new Uint8Array(3)]], what), /\$\[0\]\[1\] must be 2/);
  refusedWith(() => checkShape(list, [1, 2, 3], what), /0 to 2 items/);
  const message = variant("t", {
    a: record({ t: literal("a") }),
    b: record({ t: literal("b"), n: integer({ min: 0, max: 1 }) }),
  });
  assertEquals(checkShape(message, { t: "b", n: 1 }, what), { t: "b", n: 1 });
  refusedWith(() => checkShape(message, { t: "c" }, what), /\$\.t must be one of a, b/);
  refusedWith(() => checkShape(message, { t: "a", n: 1 }, what), /unexpected field "n"/);
});

Deno.test("base64() takes only canonical padded base64 of the right length", () => {
  const what = { what: "key" };
  const key = base64({ length: 2 });
  assertEquals(checkShape(key, "AAE=", what), new Uint8Array([0, 1]));
  refusedWith(() => checkShape(key, "AAF=", what), /not canonical/); // non-zero padding bits
  refusedWith(() => checkShape(key, "AAE", what), /not canonical/); // no padding
  refusedWith(() => checkShape(key, "AA E=", what), /not canonical|at most/);
  refusedWith(() => checkShape(key, "AAEC", what), /must be 2 bytes/);
});

Deno.test("decodeCanonicalCbor() checks the size first, then validity, canonical form and shape", () => {
  const options = { what: "point", bytesMax: 64 };
  const good = dagCbor.encode({ x: 1, y: 2 });
  assertEquals(decodeCanonicalCbor(good, point, options), { x: 1, y: 2 });
  refusedWith(() => decodeCanonicalCbor(new Uint8Array(65), point, options), /65 bytes, the limit/);
  refusedWith(() => decodeCanonicalCbor(good.subarray(1), point, options), /not valid DAG-CBOR/);
  // The same map with its keys in non-canonical order.
  const reordered = new Uint8Array([0xa2, 0x61, 0x79, 0x02, 0x61, 0x78, 0x01]);
  refusedWith(() => decodeCanonicalCbor(reordered, point, options), /not canonical/);
  refusedWith(() => decodeCanonicalCbor("text", point, options), /not bytes/);
  assertThrows(
    () =>
      decodeCanonicalCbor(good.subarray(1), point, {
        ...options,
        refuse: (message) => new RejectedError("malformed", message),
      }),
    RejectedError,
  );
});

Deno.test("parseJsonStrict() measures UTF-8 bytes before parsing and refuses bad UTF-8", () => {
  const options = { what: "point", bytesMax: 20 };
  assertEquals(parseJsonStrict('{"x":1,"y":2}', point, options), { x: 1, y: 2 });
  refusedWith(
    () => parseJsonStrict(`{"x":1,"y":2,"label":"${"é".repeat(6)}"}`, point, options),
    /the limit is 20/,
  );
  refusedWith(() => parseJsonStrict(new Uint8Array([0x7b, 0xff, 0x7d]), point, options), /UTF-8/);
  refusedWith(() => parseJsonStrict("{x:1}", point, options), /not valid JSON/);
});
