/**
 * Export of accepted transfers as an hledger journal, CSV or JSON. Pure
 * formatting over the ledger's lines (each transfer once), so the export
 * agrees with `ledger balances` by construction.
 */
import type { Currency } from "../governance/genesis.ts";
import { terminalSafe } from "../safe_text.ts";
import type { Store } from "../store/store.ts";
import { formatAmount } from "./amount.ts";
import { listLines } from "./history.ts";
import { ledgerKeys, type LineRecord, type PendingRecord } from "./keys.ts";
import { isNonMemberAccount, pendingStatus } from "./pending.ts";

export type ExportFormat = "hledger" | "csv" | "json";
export const exportFormats: readonly ExportFormat[] = ["hledger", "csv", "json"];

/** Every accepted transfer, oldest first (by timestamp, then content id). */
export async function listTransfers(store: Pick<Store, "list">): Promise<LineRecord[]> {
  const out: LineRecord[] = [];
  for await (const { line } of listLines(store)) out.push(line);
  return out.sort((a, b) => a.ts - b.ts || (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0));
}

/**
 * hledger account of a member: `members:` + the DID's key part (hledger splits account names on
 * `:`). A non-member account (`clearing:<networkId>`) is its own name.
 */
export function hledgerAccount(did: string): string {
  if (isNonMemberAccount(did)) return did;
  return `members:${did.slice(did.lastIndexOf(":") + 1)}`;
}

/** The key part of an account id, for the `pending:` accounts. */
function accountTail(did: string): string {
  return hledgerAccount(did).replace(/^members:/, "");
}

/** Pending transfers open at `now` (unresolved, not expired), oldest first. */
export async function listOpenPendings(
  store: Pick<Store, "list">,
  now: number,
): Promise<PendingRecord[]> {
  const out: PendingRecord[] = [];
  for await (const entry of store.list<PendingRecord>({ prefix: ledgerKeys.pendingPrefix })) {
    if (pendingStatus(entry.value, now) === "open") out.push(entry.value);
  }
  return out.sort((a, b) => a.ts - b.ts || (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0));
}

/** A currency code as hledger's commodity syntax takes it (quoted unless letters only). */
export function hledgerCommodity(code: string): string {
  return /^[A-Za-z]+$/.test(code) ? code : `"${code}"`;
}

/** A memo in a journal comment: one line, nothing a terminal acts on (journals are read in pagers). */
function commentText(text: string): string {
  return terminalSafe(text.replace(/[\r\n\t]+/g, " "));
}

/**
 * An hledger journal: commodity and account declarations, then one transaction per transfer,
 * in time order. Open pending transfers (`pendings`) are pending transactions (`!`) between
 * `pending:out:<payer>` and `pending:in:<payee>`: the reservation shows without moving a
 * member's balance, so `hledger balance members` still equals `icn ledger balances`, and
 * `hledger balance pending` shows what is reserved.
 */
export function toHledger(
  transfers: readonly LineRecord[],
  currencies: readonly Currency[],
  members: readonly string[],
  pendings: readonly PendingRecord[] = [],
): string {
  const decimals = new Map(currencies.map((c) => [c.code, c.decimals]));
  const lines: string[] = ["; icn ledger export", ""];
  for (const c of currencies) {
    lines.push(
      `commodity ${formatAmount(1000n * 10n ** BigInt(c.decimals), c.decimals)} ${
        hledgerCommodity(c.code)
      }`,
    );
  }
  const accounts = new Set<string>(members);
  for (const t of transfers) {
    accounts.add(t.from);
    accounts.add(t.to);
  }
  const pendingAccounts = new Set<string>();
  for (const p of pendings) {
    accounts.add(p.from);
    accounts.add(p.to);
    pendingAccounts.add(`pending:out:${accountTail(p.from)}`);
    pendingAccounts.add(`pending:in:${accountTail(p.to)}`);
  }
  lines.push("");
  for (const did of [...accounts].sort()) {
    lines.push(`account ${hledgerAccount(did)}  ; did: ${did}`);
  }
  for (const name of [...pendingAccounts].sort()) lines.push(`account ${name}`);
  type Item = { ts: number; cid: string; lines: string[] };
  const items: Item[] = [];
  for (const t of transfers) {
    const d = decimals.get(t.currency) ?? 0;
    const amount = formatAmount(BigInt(t.amount), d);
    const commodity = hledgerCommodity(t.currency);
    const date = new Date(t.ts).toISOString().slice(0, 10);
    const out = [`${date} transfer ${t.id}  ; cid: ${t.cid}`];
    if (t.pending !== undefined) out.push(`    ; posted pending: ${t.pending}`);
    if (t.memo.length > 0) out.push(`    ; memo: ${commentText(t.memo)}`);
    out.push(`    ${hledgerAccount(t.from)}  -${amount} ${commodity}`);
    out.push(`    ${hledgerAccount(t.to)}  ${amount} ${commodity}`);
    items.push({ ts: t.ts, cid: t.cid, lines: out });
  }
  for (const p of pendings) {
    const d = decimals.get(p.currency) ?? 0;
    const amount = formatAmount(BigInt(p.amount), d);
    const commodity = hledgerCommodity(p.currency);
    const date = new Date(p.ts).toISOString().slice(0, 10);
    const out = [`${date} ! pending ${p.id}  ; cid: ${p.cid}`];
    out.push(`    ; expires: ${new Date(p.expires).toISOString()}`);
    if (p.memo.length > 0) out.push(`    ; memo: ${commentText(p.memo)}`);
    out.push(`    pending:out:${accountTail(p.from)}  -${amount} ${commodity}`);
    out.push(`    pending:in:${accountTail(p.to)}  ${amount} ${commodity}`);
    items.push({ ts: p.ts, cid: p.cid, lines: out });
  }
  items.sort((a, b) => a.ts - b.ts || (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0));
  for (const item of items) lines.push("", ...item.lines);
  return lines.join("\n") + "\n";
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * A text cell a spreadsheet will not run: one that starts with `=`, `+`, `-`,
 * `@`, tab or CR is a formula to Excel, LibreOffice and Sheets (`=HYPERLINK(...)`,
 * `@SUM(...)`, `-2+3`), so it gets a leading `'` (OWASP's CSV injection advice).
 * Only text cells: the amount column is a number icn formats itself
 * (`-12.50` must stay a number a spreadsheet adds up), and the time is ISO 8601.
 */
export function csvText(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/**
 * CSV (RFC 4180) with a header row; amounts as decimal strings. Text cells
 * (id, cid, DIDs, currency, memo) are neutralised against formula injection
 * (`csvText()`); `--format json` keeps every value exact.
 */
export function toCsv(transfers: readonly LineRecord[], currencies: readonly Currency[]): string {
  const decimals = new Map(currencies.map((c) => [c.code, c.decimals]));
  const rows = ["time,id,cid,from,to,amount,currency,memo"];
  for (const t of transfers) {
    rows.push(
      [
        new Date(t.ts).toISOString(),
        csvText(t.id),
        csvText(t.cid),
        csvText(t.from),
        csvText(t.to),
        formatAmount(BigInt(t.amount), decimals.get(t.currency) ?? 0),
        csvText(t.currency),
        csvText(t.memo),
      ].map(csvField).join(","),
    );
  }
  return rows.join("\r\n") + "\r\n";
}

/** JSON rows: the same fields as CSV plus `ts` and `amountMinor` (a string, bigint-safe). */
export function toJsonRows(
  transfers: readonly LineRecord[],
  currencies: readonly Currency[],
): Record<string, unknown>[] {
  const decimals = new Map(currencies.map((c) => [c.code, c.decimals]));
  return transfers.map((t) => ({
    time: new Date(t.ts).toISOString(),
    ts: t.ts,
    id: t.id,
    cid: t.cid,
    from: t.from,
    to: t.to,
    amount: formatAmount(BigInt(t.amount), decimals.get(t.currency) ?? 0),
    amountMinor: BigInt(t.amount).toString(),
    currency: t.currency,
    memo: t.memo,
  }));
}
