import assert from "node:assert/strict";
import { InvalidInputError } from "../errors.ts";
import { amountMinorMax, amountMinorMaxNumber, formatAmount, parseAmount } from "./amount.ts";

Deno.test("parseAmount() reads decimals exactly into minor units", () => {
  assert.equal(parseAmount("12.5", 2), 1250n);
  assert.equal(parseAmount("12.50", 2), 1250n);
  assert.equal(parseAmount("0.01", 2), 1n);
  assert.equal(parseAmount("7", 0), 7n);
  assert.equal(parseAmount("10000000000000.00", 2), amountMinorMax);
});

Deno.test("parseAmount() rejects zero, negative, junk, exponents, excess decimals and too much", () => {
  for (
    const bad of [
      "0",
      "0.00",
      "-1",
      "-0.5",
      "abc",
      "",
      "1e3",
      "1E3",
      "1.",
      ".5",
      "1.234",
      "1,5",
      "0x10",
      "Infinity",
      "NaN",
      "10000000000000.01",
      "1 2",
    ]
  ) {
    assert.throws(() => parseAmount(bad, 2, "hours"), InvalidInputError, bad);
  }
  assert.throws(() => parseAmount("1.5", 0, "pieces"), /no decimals/);
});

Deno.test("formatAmount() prints exactly the currency's decimals", () => {
  assert.equal(formatAmount(1250n, 2), "12.50");
  assert.equal(formatAmount(-5n, 2), "-0.05");
  assert.equal(formatAmount(0n, 2), "0.00");
  assert.equal(formatAmount(42n, 0), "42");
  assert.equal(formatAmount(-1234567n, 3), "-1234.567");
});

Deno.test("parseAmount() and formatAmount() round-trip", () => {
  for (const text of ["0.01", "1.00", "12.34", "99999.99"]) {
    assert.equal(formatAmount(parseAmount(text, 2), 2), text);
  }
});

Deno.test("amountMinorMax fits a JSON number exactly, as parameter bounds use it", () => {
  assert.ok(Number.isSafeInteger(amountMinorMaxNumber));
  assert.equal(BigInt(amountMinorMaxNumber), amountMinorMax);
});
