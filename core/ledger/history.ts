/**
 * The ledger's history (layout 4): every line that moved an amount is kept once, under
 * `["ledger","line",n]` with n its number in acceptance order (appended in key order, the
 * store's fast path), and each account keeps its side of its lines (`HistoryRef`: the line
 * number, its balance after, the limit relied on) in pages of 64 under
 * `["ledger","hp",currency,did,page]`, only the last page rewritten on append. Layout 3 wrote a
 * full `HistoryEntry` per side under a new scattered key; this writes one appended line and two
 * rewrites of small, hot pages per transfer. Readers join the two back into `HistoryEntry`s.
 */
import type { StateView } from "../chain/state.ts";
import { ConflictError } from "../errors.ts";
import type { Store, StoreMutation } from "../store/store.ts";
import {
  type Account,
  type HistoryEntry,
  historyPageEntries,
  type HistoryRef,
  ledgerKeys,
  type LineRecord,
} from "./keys.ts";

/** The page holding entry `index` of an account. */
export function pageOf(index: number): number {
  return Math.floor(index / historyPageEntries);
}

function refOf(line: number, balance: bigint, limit?: bigint): HistoryRef {
  return limit === undefined ? [line, balance] : [line, balance, limit];
}

/**
 * Writes `line` as the next line of the ledger and appends each side's ref to its account's
 * last page. `payer`/`payee` are the accounts before the move (their `count` is the index the
 * new entry takes); `payerAfter`/`payeeAfter` their balances after it.
 */
export async function appendLine(
  state: Pick<StateView, "get" | "set" | "delete">,
  line: LineRecord,
  sides: {
    payer: Account;
    payee: Account;
    payerAfter: bigint;
    payeeAfter: bigint;
    payerLimit?: bigint;
  },
): Promise<void> {
  const n = (await state.get<number>(ledgerKeys.lineNext)) ?? 0;
  state.set(ledgerKeys.line(n), line);
  state.set(ledgerKeys.lineNext, n + 1);
  await appendRef(state, line.currency, line.from, sides.payer.count, {
    line: n,
    balance: sides.payerAfter,
    limit: sides.payerLimit,
  });
  await appendRef(state, line.currency, line.to, sides.payee.count, {
    line: n,
    balance: sides.payeeAfter,
  });
}

async function appendRef(
  state: Pick<StateView, "get" | "set" | "delete">,
  currency: string,
  did: string,
  index: number,
  ref: { line: number; balance: bigint; limit?: bigint },
): Promise<void> {
  const tailKey = ledgerKeys.historyTail(currency, did);
  const offset = index % historyPageEntries;
  const tail = offset === 0 ? [] : (await state.get<HistoryRef[]>(tailKey)) ?? [];
  if (tail.length !== offset) {
    // The account and its page disagree only when another writer committed between the two
    // reads (the account came from a read cache): that commit fails its log-counter check, and
    // the write is redone on fresh reads.
    throw new ConflictError(
      `History page ${
        pageOf(index)
      } of "${did}" in ${currency} holds ${tail.length} entries, expected ${offset}; retry`,
    );
  }
  // A new array: the page read may be a cached value shared with other readers.
  const page = [...tail, refOf(ref.line, ref.balance, ref.limit)];
  for (const m of pageMutations(currency, did, pageOf(index), page)) {
    if (m.type === "set") state.set(m.key, m.value);
    else state.delete(m.key);
  }
}

/**
 * The writes that store an account's page `page` holding `refs`: a full page under its number,
 * with the tail gone; a partial one as the tail. The one rule for where a page lives.
 */
export function pageMutations(
  currency: string,
  did: string,
  page: number,
  refs: readonly HistoryRef[],
): StoreMutation[] {
  const tail = ledgerKeys.historyTail(currency, did);
  if (refs.length < historyPageEntries) return [{ type: "set", key: tail, value: refs }];
  return [
    { type: "set", key: ledgerKeys.historyPage(currency, did, page), value: refs },
    { type: "delete", key: tail },
  ];
}

/** `line` joined with one account's side of it. */
export function joinEntry(line: LineRecord, ref: HistoryRef): HistoryEntry {
  return {
    ...line,
    balance: BigInt(ref[1]),
    ...(ref.length > 2 ? { limit: BigInt(ref[2] as bigint) } : {}),
  };
}

/**
 * Entries `oldest..newest` (inclusive, acceptance order, 0-based) of an account's history,
 * newest first: the pages they sit in, then their lines in one batch.
 */
export async function readHistoryRange(
  store: Pick<Store, "getMany">,
  currency: string,
  did: string,
  oldest: number,
  newest: number,
): Promise<HistoryEntry[]> {
  if (newest < oldest || newest < 0) return [];
  const first = pageOf(Math.max(0, oldest));
  const last = pageOf(newest);
  const pageKeys = [];
  for (let p = first; p <= last; p++) pageKeys.push(ledgerKeys.historyPage(currency, did, p));
  const [tail, ...pages] = await store.getMany<HistoryRef[]>([
    ledgerKeys.historyTail(currency, did),
    ...pageKeys,
  ]);
  // A page not written yet as a full page is the tail (only the last one can be).
  const pageAt = (p: number) => pages[p - first]?.value ?? (p === last ? tail?.value : undefined);
  const refs: HistoryRef[] = [];
  for (let index = newest; index >= Math.max(0, oldest); index--) {
    const ref = pageAt(pageOf(index))?.[index % historyPageEntries];
    if (!ref) {
      throw new Error(`History entry ${index} of "${did}" in ${currency} is missing from its page`);
    }
    refs.push(ref);
  }
  const lines = await store.getMany<LineRecord>(refs.map((r) => ledgerKeys.line(r[0])));
  return refs.map((ref, i) => {
    const line = lines[i]?.value;
    if (!line) throw new Error(`Ledger line ${ref[0]} of "${did}" is missing`);
    return joinEntry(line, ref);
  });
}

/** Every line, in acceptance order (each transfer once). */
export async function* listLines(
  store: Pick<Store, "list">,
): AsyncIterable<{ n: number; line: LineRecord }> {
  for await (const entry of store.list<LineRecord>({ prefix: ledgerKeys.linePrefix })) {
    yield { n: entry.key[2] as number, line: entry.value };
  }
}

/**
 * Every account's refs: the full pages in key order, then the tails (an entry's index in a tail
 * follows from the account's count).
 */
export async function* listHistoryRefs(
  store: Pick<Store, "list" | "get">,
): AsyncIterable<{ currency: string; did: string; index: number; ref: HistoryRef }> {
  for await (const entry of store.list<HistoryRef[]>({ prefix: ledgerKeys.historyPagesPrefix })) {
    const [, , currency, did, page] = entry.key as [string, string, string, string, number];
    for (let i = 0; i < entry.value.length; i++) {
      yield { currency, did, index: page * historyPageEntries + i, ref: entry.value[i] };
    }
  }
  for await (const entry of store.list<HistoryRef[]>({ prefix: ledgerKeys.historyTailsPrefix })) {
    const [, , currency, did] = entry.key as [string, string, string, string];
    const count = (await store.get<Account>(ledgerKeys.account(currency, did)))?.value.count ?? 0;
    const first = count - entry.value.length;
    for (let i = 0; i < entry.value.length; i++) {
      yield { currency, did, index: first + i, ref: entry.value[i] };
    }
  }
}
