import assert from "node:assert/strict";
import { isPrivateMemo, privateMemoPrefix, publicMemo, withPublicMemo } from "./private_memo.ts";

const sealed = `${privateMemoPrefix}YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOQ==`;

Deno.test("publicMemo() shows (private) for a sealed memo and any other memo as it is", () => {
  assert.deepEqual(isPrivateMemo(sealed), true);
  assert.deepEqual(publicMemo(sealed), "(private)");
  assert.deepEqual(publicMemo("rent for May"), "rent for May");
  assert.deepEqual(publicMemo(""), "");
  // Only the prefix at the start marks a private memo.
  assert.deepEqual(publicMemo(`note: ${sealed}`), `note: ${sealed}`);
});

Deno.test("withPublicMemo() replaces a body's private memo in a copy and leaves others alone", () => {
  const body = { to: "did:icn:z6Mk", amount: 5n, memo: sealed };
  const shown = withPublicMemo(body);
  assert.deepEqual(shown, { body: { ...body, memo: "(private)" }, memoPrivate: true });
  assert.deepEqual(body.memo, sealed, "the envelope's body is not changed");
  for (const other of [{ memo: "plain" }, { amount: 1 }, null, "text", [sealed], { memo: 7 }]) {
    const result = withPublicMemo(other);
    assert.strictEqual(result.body, other);
    assert.deepEqual(result.memoPrivate, false);
  }
});
