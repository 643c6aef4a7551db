import { deepStrictEqual as assertEquals } from "node:assert";
import { toJson } from "./json.ts";

Deno.test("toJson() writes bigints as decimal strings and bytes as base64", () => {
  assertEquals(
    JSON.parse(toJson({ amount: 10n ** 18n, key: new Uint8Array([1, 2, 3]), n: 1 })),
    { amount: "1000000000000000000", key: "AQID", n: 1 },
  );
});
