/**
 * Opaque page cursors: the position after the last item of a page, for one list only. Apps pass
 * them back untouched; a cursor of another list, or one edited by hand, is refused
 * (`invalid_cursor`), never read as some other position.
 */
import { GatewayError } from "./errors.ts";

type After = string | number;

function encodeText(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function encodeCursor(list: string, after: After): string {
  return encodeText(JSON.stringify([list, after]));
}

export function decodeCursor<T extends "string" | "number">(
  list: string,
  cursor: string | undefined,
  type: T,
): (T extends "string" ? string : number) | undefined {
  if (cursor === undefined) return undefined;
  const refuse = (): never => {
    throw new GatewayError(400, "invalid_cursor", "The cursor is not one this list gave out");
  };
  let value: unknown;
  try {
    const standard = cursor.replaceAll("-", "+").replaceAll("_", "/");
    value = JSON.parse(atob(standard + "=".repeat((4 - standard.length % 4) % 4)));
  } catch {
    refuse();
  }
  if (!Array.isArray(value) || value.length !== 2 || value[0] !== list) refuse();
  const after = (value as unknown[])[1];
  const found: string = typeof after;
  if (found !== type) refuse();
  if (typeof after === "number" && !(Number.isSafeInteger(after) && after >= 0)) refuse();
  return after as never;
}

/** One page of `items` (already in list order) after `after`, by `keyOf`, and the next cursor. */
export function pageOf<T>(
  list: string,
  items: readonly T[],
  keyOf: (item: T) => string,
  options: { cursor?: string; limit: number },
): { items: T[]; next: string | null } {
  const after = decodeCursor(list, options.cursor, "string");
  let start = 0;
  if (after !== undefined) {
    // Keys are sorted in list order: the first key past `after` starts the page, so an item
    // removed since the last page does not make the next one skip or repeat.
    start = items.findIndex((item) => keyOf(item) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + options.limit);
  const more = start + page.length < items.length;
  return { items: page, next: more ? encodeCursor(list, keyOf(page[page.length - 1])) : null };
}
