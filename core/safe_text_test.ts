import fc from "fast-check";
import { shown } from "./errors.ts";
import { terminalSafe } from "./safe_text.ts";

function assertEquals(actual: unknown, expected: unknown): void {
  if (actual !== expected) {
    throw new Error(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

// Everything a terminal acts on instead of printing, by code point (an oracle apart from the regex).
function actsOn(text: string, keepNewlines = false): boolean {
  const chars = [...text];
  for (const [i, char] of chars.entries()) {
    const c = char.codePointAt(0)!;
    if (c === 0x0a && keepNewlines) continue;
    if (c === 0x0d && keepNewlines && chars[i + 1] === "\n") continue;
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || c === 0x061c || c === 0x200e || c === 0x200f) {
      return true;
    }
    if ((c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return true;
  }
  return false;
}

Deno.test("terminalSafe() shows escape sequences, bidi controls and newlines as visible escapes", () => {
  assertEquals(terminalSafe("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
  assertEquals(terminalSafe("abc\u202edef"), "abc\\u202edef");
  assertEquals(terminalSafe("a\nfake row\r\tb"), "a\\nfake row\\r\\tb");
  assertEquals(
    terminalSafe("\x7f\x9b2J\u2028\u2066\u200f\u061c"),
    "\\x7f\\x9b2J\\u2028\\u2066\\u200f\\u061c",
  );
  assertEquals(terminalSafe("a\nb\x1b", { keepNewlines: true }), "a\nb\\x1b");
  assertEquals(terminalSafe("a\r\nb\rc", { keepNewlines: true }), "a\r\nb\\rc");
});

Deno.test("terminalSafe() leaves ordinary text alone, non-Latin scripts and emoji included", () => {
  for (
    const text of ["Café co-op: 12.50 hours", "Кооператив", "協同組合 🌱", "a\\x1b stays", "ﺕ"]
  ) {
    assertEquals(terminalSafe(text), text);
  }
});

Deno.test("terminalSafe() output never holds a character a terminal acts on", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (text) => {
      return !actsOn(terminalSafe(text)) &&
        !actsOn(terminalSafe(text, { keepNewlines: true }), true);
    }),
  );
});

Deno.test("shown() escapes what a terminal acts on and cuts long values before escaping", () => {
  assertEquals(shown("did:icn:z\x1b[2J\n"), "did:icn:z\\x1b[2J\\n");
  assertEquals(shown("ab\u202ecd", 3), "ab\\u202e...");
  assertEquals(shown(`${"x".repeat(63)}😀`), `${"x".repeat(63)}...`);
});
