// Pure formatting and parsing for the dashboard (no DOM): amounts, times. Tested under Deno in
// tests/dashboard_format_test.ts.

/** Minor units of `text` ("12.5") in a currency with `decimals`, or an Error that says why not. */
export function toMinor(text, decimals) {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`Cannot pay "${text}": write an amount like 12.50`);
  const fraction = match[2] ?? "";
  if (fraction.length > decimals) {
    throw new Error(`Cannot pay "${text}": this currency has ${decimals} decimals`);
  }
  const minor = BigInt(match[1] + fraction.padEnd(decimals, "0"));
  if (minor <= 0n) throw new Error("Cannot pay nothing: the amount must be above 0");
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`Cannot pay "${text}": too large`);
  return Number(minor);
}

/** Decimals of a currency, from how the node formats an amount in it ("-12.50" → 2). */
export function decimalsOf(formatted) {
  return (formatted.split(".")[1] ?? "").length;
}

/** "3 d 4 h left", "12 min left", "closed". */
export function timeLeft(closes, now = Date.now()) {
  const ms = closes - now;
  if (!(ms > 0)) return "closed";
  const minutes = Math.floor(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days > 0) return `${days} d ${hours} h left`;
  if (hours > 0) return `${hours} h ${minutes % 60} min left`;
  return minutes > 0 ? `${minutes} min left` : "less than a minute left";
}

/** A time as "2026-12-02 13:28:25 UTC". */
export function when(ts) {
  if (typeof ts !== "number") return "—";
  return new Date(ts).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/**
 * The points of a balance-over-time chart from history rows (any order, `balance` after each and
 * the signed `amount`): the balance before the oldest row, each balance after, and the balance
 * held until `now`, oldest first.
 */
export function balancePoints(entries, now = Date.now()) {
  const rows = entries
    .filter((e) => typeof e.ts === "number" && e.balance !== undefined)
    .map((e) => ({ t: e.ts, y: Number(e.balance), amount: Number(e.amount) }))
    .sort((a, b) => a.t - b.t);
  if (rows.length === 0) return [];
  const first = rows[0];
  const before = Math.round((first.y - first.amount) * 1e8) / 1e8;
  const last = rows[rows.length - 1];
  return [
    { t: first.t - 1, y: before },
    ...rows.map(({ t, y }) => ({ t, y })),
    ...(now > last.t ? [{ t: now, y: last.y }] : []),
  ];
}
