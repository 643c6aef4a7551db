/**
 * `ledger check`: re-verify every envelope (decode, signatures, chain links)
 * by folding the whole log from scratch through the same ingest path into a
 * fresh in-memory store, then compare the ledger's derived state with the
 * stored one and check the invariants. Also the ledger's state hash.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { bytesEqual, toHex } from "../bytes.ts";
import { ingest, type KindRegistry } from "../chain/ingest.ts";
import { chainKeys } from "../chain/keys.ts";
import { readHeads, readLog } from "../chain/read.ts";
import { decodeEnvelope, type SealedEnvelope } from "../envelope/envelope.ts";
import type { Genesis } from "../governance/genesis.ts";
import { sha256 } from "../identity/keys.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { compareKeys, type Store, type StoreEntry, type StoreKey } from "../store/store.ts";
import { formatAmount } from "./amount.ts";
import { joinEntry, listHistoryRefs, listLines } from "./history.ts";
import { resolversOf } from "./pending.ts";
import {
  type Account,
  ledgerKeys,
  type LineRecord,
  type PendingRecord,
  type RequestRecord,
  type Reservation,
} from "./keys.ts";

/** Envelopes re-validated per ingest call; bounds memory on large stores. */
const refoldChunkEnvelopes = 1000;
/** Findings listed before the rest are summarized; a broken store should not flood the terminal. */
const findingsMax = 200;

/**
 * Hash of the ledger state that any node holding the same envelopes must
 * share, whatever order it received them in: every account's balance and
 * received total and velocity counter, the idempotency index, each pending
 * transfer's amount, expiry and resolution state (posted or voided; its
 * expiry is derived on read) and each request's answer. History order, the
 * limit recorded at acceptance, which of several equal resolutions is kept as
 * the winner and the open-pending index (cleaned as a payer's envelopes are
 * judged) depend on arrival order and are left out.
 */
export async function ledgerStateHash(store: Pick<Store, "list">): Promise<string> {
  const rows: unknown[] = [];
  for await (const entry of store.list<unknown>({ prefix: ledgerKeys.prefix })) {
    const section = entry.key[1];
    if (section === "acct") {
      const account = entry.value as Account;
      // The velocity counter (folded into the account in layout 3) follows from the member's own
      // chain alone, so it is order-independent: hashed when the member has paid in this currency.
      rows.push([
        entry.key,
        account.velocityHour === undefined ? [BigInt(account.balance), BigInt(account.received)] : [
          BigInt(account.balance),
          BigInt(account.received),
          account.velocityHour,
          account.velocityCount ?? 0,
        ],
      ]);
    } else if (section === "id") {
      rows.push([entry.key, entry.value]);
    } else if (section === "pend") {
      const p = entry.value as PendingRecord;
      rows.push([entry.key, [BigInt(p.amount), p.expires, p.resolution?.state ?? null]]);
    } else if (section === "req") {
      const r = entry.value as RequestRecord;
      rows.push([entry.key, [BigInt(r.amount), r.expires, r.answer?.state ?? null]]);
    }
  }
  return toHex(await sha256(dagCbor.encode(rows)));
}

export interface CheckOptions {
  kinds: KindRegistry;
}

function describeKey(key: StoreKey): string {
  return key.map(String).join("/");
}

function encodeValue(value: unknown): Uint8Array {
  return dagCbor.encode(value as never);
}

/** Re-verifies the whole store; returns the findings (empty when everything holds). */
export async function checkLedger(store: Store, options: CheckOptions): Promise<string[]> {
  const findings: string[] = [];
  const add = (finding: string) => {
    if (findings.length < findingsMax) findings.push(finding);
    else if (findings.length === findingsMax) findings.push("... more findings left out");
  };
  const net = (await store.get<string>(chainKeys.network))?.value;
  if (!net) return ["This data dir has not joined a cooperative"];
  const genesis = (await store.get<Genesis>(chainKeys.genesis(net)))?.value;
  if (!genesis) return [`Genesis of network ${net} is missing`];

  // 1. Re-fold every envelope through the one validation path into a fresh store.
  const fresh = new MemoryStore();
  await fresh.commit([], [
    { type: "set", key: chainKeys.network, value: net },
    { type: "set", key: chainKeys.genesis(net), value: genesis },
  ]);
  let latest = genesis.created;
  for (const head of (await readHeads(store, net)).values()) latest = Math.max(latest, head.ts);
  for await (const item of store.list<{ ts: number }>({ prefix: chainKeys.headPrefix("kel") })) {
    latest = Math.max(latest, item.value.ts);
  }
  const deps = { store: fresh, clock: { now: () => latest }, kinds: options.kinds };
  let batch: { position: number; cid: string; bytes: Uint8Array }[] = [];
  const flush = async () => {
    const inputs: { item: { position: number }; sealed: SealedEnvelope }[] = [];
    for (const item of batch) {
      try {
        const sealed = await decodeEnvelope(item.bytes);
        if (sealed.cid !== item.cid) {
          add(
            `Envelope at log position ${item.position} has content id ${sealed.cid}, not ${item.cid} as logged`,
          );
        }
        inputs.push({ item, sealed });
      } catch (error) {
        add(
          `Envelope at log position ${item.position} does not decode: ${(error as Error).message}`,
        );
      }
    }
    const outcomes = await ingest(deps, inputs.map((i) => i.sealed), {
      source: "import",
      atomicity: "each",
    });
    outcomes.forEach((outcome, i) => {
      if (outcome.status === "rejected") {
        add(
          `Envelope ${inputs[i].sealed.cid} at log position ${
            inputs[i].item.position
          } fails re-validation: ${outcome.message}`,
        );
      }
    });
    batch = [];
  };
  for await (const item of readLog(store)) {
    batch.push({ position: item.position, cid: item.entry.cid, bytes: item.bytes });
    if (batch.length >= refoldChunkEnvelopes) await flush();
  }
  if (batch.length > 0) await flush();

  // 2. Stored derived state must equal the fresh fold, entry by entry.
  await compareStates(store, fresh, add);

  // 3. Invariants of the stored state.
  const decimals = new Map(genesis.currencies.map((c) => [c.code, c.decimals]));
  const sums = new Map<string, bigint>();
  for await (const entry of store.list<Account>({ prefix: ["ledger", "acct"] })) {
    const currency = entry.key[2] as string;
    sums.set(currency, (sums.get(currency) ?? 0n) + BigInt(entry.value.balance));
  }
  for (const [currency, sum] of sums) {
    if (sum !== 0n) {
      add(
        `Balances in ${currency} sum to ${
          formatAmount(sum, decimals.get(currency) ?? 0)
        }, not zero`,
      );
    }
  }
  for await (const { did, ref } of listHistoryRefs(store)) {
    // Only the payer's side records a limit; the line is read only for a finding's message.
    if (ref.length < 3 || BigInt(ref[1]) >= -BigInt(ref[2] as bigint)) continue;
    const stored = await store.get<LineRecord>(ledgerKeys.line(ref[0]));
    if (!stored) {
      add(`History of "${did}" names line ${ref[0]}, which is missing`);
      continue;
    }
    const line = joinEntry(stored.value, ref);
    if (did !== line.from || line.limit === undefined) continue;
    if (BigInt(line.balance) < -BigInt(line.limit)) {
      const d = decimals.get(line.currency) ?? 0;
      add(
        `Transfer "${line.id}" (${line.cid}) left "${line.from}" at ${
          formatAmount(BigInt(line.balance), d)
        }, below the limit ${formatAmount(-BigInt(line.limit), d)} in force then`,
      );
    }
  }
  await checkPendings(store, add, decimals);
  return findings;
}

/**
 * Invariants of pending transfers: every open-index entry names an unresolved
 * pending with the same amount; each payer's reservation equals the sum and
 * count of its open-index entries; every posted pending left exactly one
 * history line on the payer's side (no credit without a post, none twice).
 */
async function checkPendings(
  store: Store,
  add: (finding: string) => void,
  decimals: Map<string, number>,
): Promise<void> {
  const sums = new Map<string, Reservation>();
  for await (const entry of store.list<bigint>({ prefix: ["ledger", "open"] })) {
    const [, , currency, payer, , id] = entry.key as [
      string,
      string,
      string,
      string,
      number,
      string,
    ];
    const record = (await store.get<PendingRecord>(ledgerKeys.pending(payer, id)))?.value;
    // A void by one of several posters keeps the reservation until the expiry (post beats void).
    const held = !record?.resolution ||
      (record.resolution.state === "voided" && resolversOf(record).length > 1);
    if (!record || !held || BigInt(record.amount) !== BigInt(entry.value)) {
      add(`Open pending "${id}" of "${payer}" does not match an unresolved pending transfer`);
    }
    const key = `${currency}\u0000${payer}`;
    const sum = sums.get(key) ?? { amount: 0n, count: 0 };
    sums.set(key, { amount: sum.amount + BigInt(entry.value), count: sum.count + 1 });
  }
  for await (const entry of store.list<Reservation>({ prefix: ["ledger", "resv"] })) {
    const [, , currency, payer] = entry.key as [string, string, string, string];
    const key = `${currency}\u0000${payer}`;
    const sum = sums.get(key) ?? { amount: 0n, count: 0 };
    sums.delete(key);
    if (BigInt(entry.value.amount) !== sum.amount || entry.value.count !== sum.count) {
      add(
        `Reservation of "${payer}" in ${currency} is ${
          formatAmount(BigInt(entry.value.amount), decimals.get(currency) ?? 0)
        } (${entry.value.count}), its open pendings sum to ${
          formatAmount(sum.amount, decimals.get(currency) ?? 0)
        } (${sum.count})`,
      );
    }
  }
  for (const key of sums.keys()) {
    add(`Open pendings of "${key.split("\u0000")[1]}" have no reservation`);
  }
  const postedLines = new Map<string, number>();
  for await (const { line } of listLines(store)) {
    if (line.pending === undefined) continue;
    const key = `${line.from}\u0000${line.id}`;
    postedLines.set(key, (postedLines.get(key) ?? 0) + 1);
  }
  for await (const entry of store.list<PendingRecord>({ prefix: ledgerKeys.pendingPrefix })) {
    const p = entry.value;
    const lines = postedLines.get(`${p.from}\u0000${p.id}`) ?? 0;
    const expected = p.resolution?.state === "posted" ? 1 : 0;
    if (lines !== expected) {
      add(
        `Pending transfer "${p.id}" of "${p.from}" is ${
          p.resolution?.state ?? "unresolved"
        } but moved the amount ${lines} time(s)`,
      );
    }
  }
}

async function compareStates(
  stored: Store,
  fresh: Store,
  add: (finding: string) => void,
): Promise<void> {
  const a = stored.list<unknown>({ prefix: ledgerKeys.prefix })[Symbol.asyncIterator]();
  const b = fresh.list<unknown>({ prefix: ledgerKeys.prefix })[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    const cmp = x.done ? 1 : y.done ? -1 : compareKeys(x.value.key, y.value.key);
    if (cmp < 0) {
      add(`Stored ledger entry ${describeKey(x.value!.key)} is not produced by a fresh fold`);
      x = await a.next();
    } else if (cmp > 0) {
      add(`Ledger entry ${describeKey(y.value!.key)} from a fresh fold is missing from the store`);
      y = await b.next();
    } else {
      const s = x.value as StoreEntry<unknown>;
      const f = y.value as StoreEntry<unknown>;
      if (!bytesEqual(encodeValue(s.value), encodeValue(f.value))) {
        add(describeMismatch(s, f));
      }
      x = await a.next();
      y = await b.next();
    }
  }
}

function describeMismatch(stored: StoreEntry<unknown>, fresh: StoreEntry<unknown>): string {
  if (stored.key[1] === "acct") {
    const s = stored.value as Account;
    const f = fresh.value as Account;
    return `Stored balance of "${stored.key[3]}" in ${
      stored.key[2]
    } is ${s.balance} (received ${s.received}), a fresh fold gives ${f.balance} (received ${f.received}) minor units`;
  }
  return `Stored ledger entry ${describeKey(stored.key)} differs from a fresh fold`;
}
