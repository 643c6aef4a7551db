/**
 * The dashboard's pure browser modules under Deno: amounts typed by a member become exact minor
 * units (or a clear refusal), times read as people read them, the balance chart's points, and
 * the key a member imports signs exactly as icn's own Ed25519 code verifies.
 */
import assert from "node:assert/strict";
import { toBase64 } from "../core/bytes.ts";
import { testIdentity } from "../core/testing.ts";
import { verifyEd25519 } from "../core/identity/keys.ts";
import { balancePoints, decimalsOf, timeLeft, toMinor, when } from "../web/static/format.js";
import {
  bytesToBase64,
  forgetKey,
  heldKey,
  importKey,
  parseKeyText,
  sign,
} from "../web/static/keys.js";

Deno.test("toMinor() turns a typed amount into exact minor units and refuses what is not one", () => {
  assert.equal(toMinor("12.5", 2), 1250);
  assert.equal(toMinor(" 0.01 ", 2), 1);
  assert.equal(toMinor("7", 0), 7);
  assert.equal(toMinor("0.1", 2), 10); // no float drift: 0.1 is 10 cents exactly
  assert.throws(() => toMinor("1.234", 2), /2 decimals/);
  assert.throws(() => toMinor("0", 2), /above 0/);
  assert.throws(() => toMinor("-1", 2), /like 12.50/);
  assert.throws(() => toMinor("1e3", 2), /like 12.50/);
  assert.throws(() => toMinor("99999999999999999", 2), /too large/);
  assert.equal(decimalsOf("-12.50"), 2);
  assert.equal(decimalsOf("3"), 0);
});

Deno.test("timeLeft() and when() read as people read them", () => {
  const now = Date.UTC(2026, 11, 2, 12, 0, 0);
  assert.equal(timeLeft(now + 3 * 86_400_000 + 4 * 3_600_000 + 5, now), "3 d 4 h left");
  assert.equal(timeLeft(now + 2 * 3_600_000 + 5 * 60_000, now), "2 h 5 min left");
  assert.equal(timeLeft(now + 12 * 60_000, now), "12 min left");
  assert.equal(timeLeft(now + 30_000, now), "less than a minute left");
  assert.equal(timeLeft(now, now), "closed");
  assert.equal(when(now), "2026-12-02 12:00:00 UTC");
  assert.equal(when(undefined), "—");
});

Deno.test("balancePoints() starts before the oldest transfer shown and holds the balance until now", () => {
  const rows = [
    { ts: 3000, amount: "1.50", balance: "-1.00" },
    { ts: 1000, amount: "-2.50", balance: "-2.50" },
  ];
  assert.deepEqual(balancePoints(rows, 5000), [
    { t: 999, y: 0 },
    { t: 1000, y: -2.5 },
    { t: 3000, y: -1 },
    { t: 5000, y: -1 },
  ]);
  assert.deepEqual(balancePoints([], 5000), []);
});

Deno.test("a key imported in the page signs what icn verifies, and bad key text is refused", async () => {
  const member = await testIdentity(7);
  const seed = toBase64(member.ed25519.seed);
  const parsed = parseKeyText(JSON.stringify({ did: member.did, ed25519: seed }), "");
  assert.equal(parsed.did, member.did);
  const held = await importKey(parsed.did, parsed.seed);
  assert.equal(held.key.extractable, false, "the page keeps only a non-extractable key");
  assert.equal(parsed.seed.every((b: number) => b === 0), true, "the seed bytes are wiped");
  const message = new TextEncoder().encode("icn gateway sign-in v1\nnonce: abc");
  const signature = await sign(message);
  const bytes = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
  assert.ok(await verifyEd25519(member.ed25519.publicKey, message, bytes));
  forgetKey();
  assert.equal(heldKey(), null);
  await assert.rejects(() => sign(message), /No key is imported/);

  assert.throws(() => parseKeyText("", ""), /Paste your key/);
  assert.throws(() => parseKeyText("{nope", ""), /not valid JSON/);
  assert.throws(() => parseKeyText(JSON.stringify({ did: member.did }), ""), /no "ed25519"/);
  assert.throws(
    () => parseKeyText(JSON.stringify({ did: member.did, ed25519: seed, mlDsa65: "x" }), ""),
    /hybrid/,
  );
  assert.throws(() => parseKeyText(bytesToBase64(new Uint8Array(31)), member.did), /32 bytes/);
  assert.throws(() => parseKeyText(seed, ""), /Give the DID/);
  assert.throws(
    () => parseKeyText(JSON.stringify({ did: member.did, ed25519: seed }), "did:icn:zOther"),
    /belongs to/,
  );
  assert.equal(parseKeyText(seed, member.did).did, member.did);
});
