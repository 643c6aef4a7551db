import { csvText, toCsv, toHledger } from "./export.ts";
import type { HistoryEntry } from "./keys.ts";

function assertEquals(actual: unknown, expected: unknown): void {
  if (actual !== expected) {
    throw new Error(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

const alice = "did:icn:z6MkAlice";
const bob = "did:icn:z6MkBob";
const hours = [{ code: "hours", decimals: 2 }];

function entry(memo: string, id = "t-1"): HistoryEntry {
  return {
    cid: "bafyexample",
    id,
    from: alice,
    to: bob,
    amount: 1250n,
    currency: "hours",
    memo,
    ts: Date.UTC(2026, 0, 1),
    balance: -1250n,
  };
}

Deno.test("csvText() prefixes a cell a spreadsheet would run as a formula with '", () => {
  for (const cell of ["=1+1", "+1", "-12.50", "@SUM(A1)", "\t=1", "\r=1"]) {
    assertEquals(csvText(cell), `'${cell}`);
  }
  for (const cell of ["soup", "12.50", "did:icn:z6Mk", "a=b", " =1", ""]) {
    assertEquals(csvText(cell), cell);
  }
});

Deno.test("toCsv() neutralises formulas in text cells and leaves the amount a number", () => {
  const csv = toCsv([entry('=HYPERLINK("http://x","y")', "-id")], hours);
  const row = csv.split("\r\n")[1];
  assertEquals(
    row,
    `2026-01-01T00:00:00.000Z,'-id,bafyexample,${alice},${bob},12.50,hours,"'=HYPERLINK(""http://x"",""y"")"`,
  );
});

Deno.test("toHledger() writes a memo as one terminal-safe comment line", () => {
  const journal = toHledger([entry("a\x1b]0;t\x07\u202eb\nc")], hours, [alice, bob]);
  const memo = journal.split("\n").find((line) => line.includes("; memo:"));
  assertEquals(memo, "    ; memo: a\\x1b]0;t\\x07\\u202eb c");
});
