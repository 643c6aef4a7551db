/**
 * Text that came from someone else (memos, labels, titles, reasons, names,
 * signed files' comments, values quoted in errors), made safe to print on a
 * terminal: every character a terminal acts on instead of showing becomes a
 * visible escape (`\x1b`, `\u202e`, `\n`), so nobody can clear a member's
 * screen, retitle their terminal, reorder a line with bidi overrides or forge
 * rows of a listing. `--json` output never goes through this: it stays exact.
 *
 * Escaped: C0 controls (ESC, BEL, tab, CR, LF, ...; with `keepNewlines`, LF and CR LF stay), DEL, C1
 * controls (U+0080–U+009F, where 8-bit CSI/OSC live), the bidi controls
 * U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069 and the line and paragraph
 * separators U+2028/U+2029. A backslash is left alone: a literal `\x1b` typed
 * by someone is as harmless as an escaped one.
 */

/** What a terminal acts on, besides line feed and carriage return, as regex class ranges. */
const controls = [
  "\\u0000-\\u0009\\u000b\\u000c\\u000e-\\u001f", // C0 but LF and CR: ESC, BEL, BS, tab, ...
  "\\u007f-\\u009f", // DEL and C1 (8-bit CSI, OSC, NEL)
  "\\u061c\\u200e\\u200f", // Arabic letter mark, left-to-right and right-to-left marks
  "\\u2028\\u2029", // line and paragraph separators
  "\\u202a-\\u202e\\u2066-\\u2069", // bidi embeddings, overrides and isolates
].join("");
const unsafeWithNewline = new RegExp(`[\\n\\r${controls}]`, "g");
// A line break is LF or CR LF (CSV's); a CR alone would move the cursor back over the line.
const unsafeKeepNewline = new RegExp(`\\r(?!\\n)|[${controls}]`, "g");

const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escaped(char: string): string {
  const known = named[char];
  if (known !== undefined) return known;
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

export interface TerminalSafeOptions {
  /**
   * Leave `\n` (and `\r\n`) as a line break. Only for text whose line breaks icn itself
   * put there (a command's whole output); a value from someone else is
   * escaped whole, so it stays on its own line.
   */
  keepNewlines?: boolean;
}

/** `text` with every character a terminal would act on replaced by a visible escape. */
export function terminalSafe(text: string, options: TerminalSafeOptions = {}): string {
  const pattern = options.keepNewlines === true ? unsafeKeepNewline : unsafeWithNewline;
  return text.replace(pattern, escaped);
}
