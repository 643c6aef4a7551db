/**
 * Clearing rules: rates and conversion, the fold's decisions, and (fast-check)
 * random interleavings of payments in both directions, answers, expiry,
 * settlements, duplicated and reordered deliveries across two cooperatives and
 * their federation. Each cooperative runs one agent over the federation
 * records it has received; its ledger is modelled (pending reservations, posts,
 * voids, credits citing the accept, settlement entries). After every step:
 * every ledger sums to zero, no position is over its limit in the fold of all
 * records, no member is credited for a commit that is not accepted, no
 * pending is posted unless accepted nor voided if accepted, no member is
 * below its credit limit; once every record is delivered everywhere and every
 * agent has caught up, the federation position equals both cooperatives'
 * clearing accounts at the agreed rates and no reservation is left; and any
 * delivery order (with duplicates) of the records gives the same state.
 * The stored positions (clearing_state.ts), updated record by record in any
 * causal delivery order, with the agreements learnt late and a store upgraded
 * part way, always read back as the fold of the same records.
 *
 * Assumption the model makes, as the design does: a payer's side sees an
 * accept within `pendingGraceMs` after the commit's expiry (a partition
 * shorter than that); see docs/clearing.md.
 */
import fc from "fast-check";
import {
  type AgreementVersion,
  type AnswerRecord,
  checkAccept,
  clearingDigest,
  type ClearingState,
  type CommitRecord,
  convertPayment,
  foldClearing,
  fromFederation,
  owedBy,
  pairOf,
  parseRate,
  pendingGraceMs,
  reservedByNotes,
  type SettlementNote,
  toFederation,
} from "./clearing.ts";
import { StateOverlay } from "../chain/state.ts";
import { MemoryStore } from "../store/memory_store.ts";
import {
  type ClearingRecords,
  clearingStateDigest,
  compareStored,
  ensureStored,
  openByPair,
  readStored,
  storeAnswer,
  storeCommit,
  storeNote,
} from "./clearing_state.ts";

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
  const e = JSON.stringify(expected, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
  if (a !== e) throw new Error(`${message} expected ${e}, got ${a}`);
}
function assertThrows(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (error) {
    if (!pattern.test((error as Error).message)) {
      throw new Error(`wrong error: ${(error as Error).message}`);
    }
    return;
  }
  throw new Error("expected an error");
}

const A = "bafyaaaaaaaaaaaa";
const B = "bafybbbbbbbbbbbb";

function agreement(over: Partial<AgreementVersion> = {}): AgreementVersion {
  return {
    id: "bafyagreement1",
    coopA: A,
    coopB: B,
    limit: 1000n,
    rateA: parseRate("1"),
    rateB: parseRate("1"),
    settlementInterval: 30 * 86_400_000,
    end: false,
    effective: 0,
    ...over,
  };
}

function commit(over: Partial<CommitRecord> = {}): CommitRecord {
  return {
    cid: "c1",
    id: "p1",
    from: A,
    to: B,
    payer: "a1",
    payee: "b1",
    amount: 100n,
    amountFrom: 100n,
    amountTo: 100n,
    expires: 1000,
    ts: 10,
    author: "da",
    ...over,
  };
}

Deno.test("parseRate() takes positive canonical decimals and refuses the rest", () => {
  assertEquals(parseRate("1").scaled, 1_000_000n);
  assertEquals(parseRate("0.25").scaled, 250_000n);
  assertEquals(parseRate("2.000001").scaled, 2_000_001n);
  assertThrows(() => parseRate("0"), /greater than zero/);
  assertThrows(() => parseRate("-1"), /decimal/);
  assertThrows(() => parseRate("1.0000001"), /at most 6 decimals/);
  assertThrows(() => parseRate("1.50"), /write it as "1.5"/);
  assertThrows(() => parseRate("1e3"), /decimal/);
  assertThrows(() => parseRate("2000000"), /maximum/);
});

Deno.test("convertPayment() converts exactly at the agreed rates or says why not", () => {
  const terms = agreement({ rateA: parseRate("0.5"), rateB: parseRate("2") });
  assertEquals(convertPayment(terms, A, B, 100n), { amount: 50n, amountTo: 25n });
  assert("error" in convertPayment(terms, A, B, 3n), "3 × 0.5 is not whole");
  assert("error" in convertPayment(terms, A, B, 2n), "1 / 2 is not whole");
  assertEquals(convertPayment(terms, B, A, 10n), { amount: 20n, amountTo: 40n });
  assert("error" in convertPayment(terms, A, A, 10n), "same cooperative");
  assertEquals(toFederation(7n, parseRate("1")), 7n);
  assertEquals(fromFederation(7n, parseRate("0.5")), 14n);
});

Deno.test("foldClearing() accepts within the limit and refuses an accept that passes it", () => {
  const state = foldClearing({
    agreements: [agreement({ limit: 150n })],
    commits: [commit(), commit({ cid: "c2", id: "p2", ts: 11 })],
    answers: [
      { cid: "r1", commit: "c1", choice: "accept", ts: 20, author: "db" },
      { cid: "r2", commit: "c2", choice: "accept", ts: 21, author: "db" },
    ],
    settlements: [],
    now: 30,
  });
  assertEquals(state.commits.get("c1")?.status, "accepted");
  assertEquals(state.commits.get("c2"), {
    status: "refused",
    reason: "over_limit",
    answer: "r2",
    decidedAt: 21,
  });
  assertEquals(owedBy(state, A, B), 100n);
  assertEquals(owedBy(state, B, A), -100n);
});

Deno.test("foldClearing() counts the first commit of a payment id, the first answer, and expires the rest", () => {
  const state = foldClearing({
    agreements: [agreement()],
    commits: [commit(), commit({ cid: "c0", ts: 12 }), commit({ cid: "c3", id: "p3" })],
    answers: [
      { cid: "r2", commit: "c1", choice: "refuse", ts: 21, author: "db" },
      { cid: "r1", commit: "c1", choice: "accept", ts: 20, author: "db" },
      { cid: "r9", commit: "c0", choice: "accept", ts: 20, author: "db" },
    ],
    settlements: [],
    now: 2000,
  });
  assertEquals(state.commits.get("c1")?.status, "accepted");
  assertEquals(state.commits.get("c0")?.status, "duplicate");
  assertEquals(state.commits.get("c3")?.status, "expired");
  assertEquals(owedBy(state, A, B), 100n);
});

Deno.test("foldClearing() ignores an accept after the expiry and refuses one without an agreement", () => {
  const late = foldClearing({
    agreements: [agreement()],
    commits: [commit()],
    answers: [{ cid: "r1", commit: "c1", choice: "accept", ts: 1001, author: "db" }],
    settlements: [],
    now: 2000,
  });
  assertEquals(late.commits.get("c1")?.status, "expired");
  const ended = foldClearing({
    agreements: [agreement(), agreement({ id: "bafyend", end: true, limit: 0n, effective: 15 })],
    commits: [commit()],
    answers: [{ cid: "r1", commit: "c1", choice: "accept", ts: 20, author: "db" }],
    settlements: [],
    now: 30,
  });
  assertEquals(ended.commits.get("c1")?.reason, "no_agreement");
  const changed = foldClearing({
    agreements: [agreement(), agreement({ id: "bafyv2", rateA: parseRate("2"), effective: 15 })],
    commits: [commit()],
    answers: [{ cid: "r1", commit: "c1", choice: "accept", ts: 20, author: "db" }],
    settlements: [],
    now: 30,
  });
  assertEquals(changed.commits.get("c1")?.reason, "terms_changed");
});

Deno.test("foldClearing() applies a settlement once both sides noted the same one", () => {
  const notes: SettlementNote[] = [
    { cid: "s1", id: "q1", payer: A, payee: B, amount: 60n, by: A, ts: 40 },
  ];
  const base = {
    agreements: [agreement()],
    commits: [commit()],
    answers: [{ cid: "r1", commit: "c1", choice: "accept" as const, ts: 20, author: "db" }],
    now: 50,
  };
  const half = foldClearing({ ...base, settlements: notes });
  assertEquals(owedBy(half, A, B), 100n);
  assertEquals(half.settlements[0].status, "noted");
  assertEquals(reservedByNotes(half, notes, A, B), 60n);
  const both = foldClearing({
    ...base,
    settlements: [...notes, {
      cid: "s2",
      id: "q1",
      payer: A,
      payee: B,
      amount: 60n,
      by: B,
      ts: 45,
    }],
  });
  assertEquals(owedBy(both, A, B), 40n);
  assertEquals(both.settlements[0].status, "applied");
  const mismatch = foldClearing({
    ...base,
    settlements: [...notes, {
      cid: "s2",
      id: "q1",
      payer: A,
      payee: B,
      amount: 61n,
      by: B,
      ts: 45,
    }],
  });
  assertEquals(mismatch.settlements[0].status, "mismatch");
  assertEquals(owedBy(mismatch, A, B), 100n);
});

Deno.test("checkAccept() counts the payee's own unapplied settlement notes against the limit", () => {
  // B owes A 100; B noted paying 100 (A has not yet); A→B 150 would be 50 on B's view alone,
  // but 150 over a limit of 100 once the note is completed.
  const agreements = [agreement({ limit: 100n })];
  const owed = commit({ cid: "c0", id: "p0", from: B, to: A, payer: "b1", payee: "a1" });
  const notes: SettlementNote[] = [
    { cid: "s1", id: "q1", payer: B, payee: A, amount: 100n, by: B, ts: 30 },
  ];
  const state = foldClearing({
    agreements,
    commits: [owed],
    answers: [{ cid: "r0", commit: "c0", choice: "accept", ts: 20, author: "da" }],
    settlements: notes,
    now: 40,
  });
  assertEquals(owedBy(state, B, A), 100n);
  const next = commit({ cid: "c1", amount: 150n, amountFrom: 150n, amountTo: 150n, ts: 35 });
  assertEquals(checkAccept(state, agreements, notes, next, 40), "over_limit");
  assertEquals(checkAccept(state, agreements, [], next, 40), undefined);
});

// ---------------------------------------------------------------------------------------------
// The model: two cooperatives, their ledgers and agents, and the federation's records.

const members: Record<string, string[]> = { [A]: ["a1", "a2"], [B]: ["b1", "b2"] };
const memberLimit = 500n;
const lifetimeMs = 1000;

type FedRecord =
  | { type: "commit"; record: CommitRecord }
  | { type: "answer"; record: AnswerRecord }
  | { type: "note"; record: SettlementNote };

interface Pending {
  payer: string;
  partner: string;
  amount: bigint;
  fed: bigint;
  commit: string;
  state: "open" | "posted" | "voided";
}

function authorOf(r: FedRecord): string {
  if (r.type === "commit") return r.record.from;
  if (r.type === "note") return r.record.by;
  return r.record.author;
}

class Ledger {
  readonly balances = new Map<string, bigint>();
  readonly reserved = new Map<string, bigint>();
  readonly pendings = new Map<string, Pending>();
  readonly credits = new Map<string, { payee: string; amount: bigint }>();
  readonly settled = new Set<string>();
  /** Federation value of each clearing account, from the commits each entry cites. */
  readonly clearingFed = new Map<string, bigint>();
  constructor(readonly coop: string) {}
  add(account: string, delta: bigint) {
    this.balances.set(account, (this.balances.get(account) ?? 0n) + delta);
  }
  addFed(partner: string, delta: bigint) {
    this.clearingFed.set(partner, (this.clearingFed.get(partner) ?? 0n) + delta);
  }
  available(member: string): bigint {
    return (this.balances.get(member) ?? 0n) - (this.reserved.get(member) ?? 0n) + memberLimit;
  }
  sum(): bigint {
    let total = 0n;
    for (const v of this.balances.values()) total += v;
    return total;
  }
}

class Model {
  now = 100;
  readonly log: FedRecord[] = [];
  readonly seen = new Map<string, FedRecord[]>([[A, []], [B, []]]);
  readonly ledgers = new Map<string, Ledger>([[A, new Ledger(A)], [B, new Ledger(B)]]);
  #n = 0;
  constructor(readonly agreements: AgreementVersion[]) {}

  cid(prefix: string): string {
    return `${prefix}${String(this.#n++).padStart(4, "0")}`;
  }
  publish(by: string, record: FedRecord) {
    this.log.push(record);
    this.seen.get(by)!.push(record);
  }
  foldOf(records: readonly FedRecord[]): ClearingState {
    return foldClearing({
      agreements: this.agreements,
      commits: records.flatMap((r) => (r.type === "commit" ? [r.record] : [])),
      answers: records.flatMap((r) => (r.type === "answer" ? [r.record] : [])),
      settlements: records.flatMap((r) => (r.type === "note" ? [r.record] : [])),
      now: this.now,
    });
  }
  view(coop: string) {
    return this.foldOf(this.seen.get(coop)!);
  }
  notesSeen(coop: string): SettlementNote[] {
    return this.seen.get(coop)!.flatMap((r) => (r.type === "note" ? [r.record] : []));
  }

  pay(from: string, payer: number, payee: number, amountFrom: bigint, id: string) {
    const to = from === A ? B : A;
    const ledger = this.ledgers.get(from)!;
    const payerDid = members[from][payer];
    const terms = this.agreements[0];
    const converted = convertPayment(terms, from, to, amountFrom);
    if ("error" in converted) return; // refused before anything is written
    if (ledger.available(payerDid) < amountFrom) return;
    if (ledger.pendings.has(id)) return; // the member's retry: nothing new
    const record: CommitRecord = {
      cid: this.cid("c"),
      id,
      from,
      to,
      payer: payerDid,
      payee: members[to][payee],
      amount: converted.amount,
      amountFrom,
      amountTo: converted.amountTo,
      expires: this.now + lifetimeMs,
      ts: this.now,
      author: `delegate-${from}`,
    };
    ledger.reserved.set(payerDid, (ledger.reserved.get(payerDid) ?? 0n) + amountFrom);
    ledger.pendings.set(id, {
      payer: payerDid,
      partner: to,
      amount: amountFrom,
      fed: converted.amount,
      commit: record.cid,
      state: "open",
    });
    this.publish(from, { type: "commit", record });
  }

  /**
   * A delegate of `coop` resubmits a commit it made (it crashed before it saw it stored): the
   * same envelope again, so the same CID; its node refuses a new commit of a payment id it
   * holds (the `fed.clear.commit` handler), so a retry can only be this.
   */
  recommit(coop: string, index: number) {
    const mine = this.seen.get(coop)!.filter((r) => r.type === "commit" && r.record.from === coop);
    if (mine.length === 0) return;
    this.publish(coop, mine[index % mine.length]);
  }

  answer(coop: string, index: number, wantAccept: boolean) {
    const view = this.view(coop);
    const open = this.seen.get(coop)!.flatMap((r) =>
      r.type === "commit" && r.record.to === coop &&
        view.commits.get(r.record.cid)?.status === "open"
        ? [r.record]
        : []
    );
    if (open.length === 0) return;
    const target = open[index % open.length];
    const refusal = checkAccept(view, this.agreements, this.notesSeen(coop), target, this.now);
    if (refusal === "decided" || refusal === "expired") return;
    const choice = wantAccept && refusal === undefined ? "accept" : "refuse";
    if (wantAccept && refusal) coverage[`agent refused ${refusal}`] = 1;
    this.publish(coop, {
      type: "answer",
      record: { cid: this.cid("r"), commit: target.cid, choice, ts: this.now, author: coop },
    });
  }

  /** The payer's treasurer notes paying part of what it owes; the other side confirms later. */
  settle(payer: string, percent: number) {
    const payee = payer === A ? B : A;
    const view = this.view(payer);
    const owed = owedBy(view, payer, payee) -
      reservedByNotes(view, this.notesSeen(payer), payer, payee);
    const amount = owed * BigInt(percent) / 100n;
    if (amount <= 0n) return;
    this.publish(payer, {
      type: "note",
      record: {
        cid: this.cid("s"),
        id: `q${this.#n}`,
        payer,
        payee,
        amount,
        by: payer,
        ts: this.now,
      },
    });
  }

  confirm(coop: string, index: number) {
    const view = this.view(coop);
    const mine = new Set(this.notesSeen(coop).filter((n) => n.by === coop).map((n) => n.id));
    const waiting = this.notesSeen(coop).filter((n) =>
      n.payee === coop && n.by !== coop && !mine.has(n.id)
    );
    if (waiting.length === 0) return;
    const note = waiting[index % waiting.length];
    if (note.amount > owedBy(view, note.payer, coop)) return; // the payee checks it was owed
    this.publish(coop, {
      type: "note",
      record: { ...note, cid: this.cid("s"), by: coop, ts: this.now },
    });
  }

  /** One record reaches `to`: one it lacks, or (duplicate) any. */
  deliver(to: string, index: number, duplicate: boolean) {
    const seen = new Set(this.seen.get(to)!.map((r) => r.record.cid));
    // Each cooperative's agent writes one chain, and a chain arrives in order (sync and
    // ingest refuse a gap): a record can arrive once every earlier one of its author has.
    const blocked = new Set<string>();
    const pool = duplicate ? [...this.seen.get(to)!] : this.log.filter((r) => {
      const author = authorOf(r);
      if (blocked.has(author)) return false;
      if (seen.has(r.record.cid)) return false;
      blocked.add(author);
      return true;
    });
    if (pool.length === 0) return;
    this.seen.get(to)!.push(pool[index % pool.length]);
  }

  deliverAll(to: string) {
    this.seen.get(to)!.push(...this.log);
  }

  /** The agent of `coop` posts, voids, credits and books settlements from what it has seen. */
  agent(coop: string) {
    const view = this.view(coop);
    const ledger = this.ledgers.get(coop)!;
    for (const pending of ledger.pendings.values()) {
      if (pending.state !== "open") continue;
      const outcome = view.commits.get(pending.commit);
      if (!outcome) continue;
      const commitRecord = this.seen.get(coop)!.find((r) =>
        r.type === "commit" && r.record.cid === pending.commit
      )!.record as CommitRecord;
      if (outcome.status === "accepted") {
        pending.state = "posted";
        ledger.add(pending.payer, -pending.amount);
        ledger.add(`clearing:${pending.partner}`, pending.amount);
        ledger.addFed(pending.partner, pending.fed);
      } else if (outcome.status === "open") {
        continue;
      } else if (
        outcome.status === "expired" && this.now <= commitRecord.expires + pendingGraceMs
      ) {
        continue; // an accept dated before the expiry may still come
      } else {
        pending.state = "voided";
      }
      ledger.reserved.set(pending.payer, ledger.reserved.get(pending.payer)! - pending.amount);
    }
    for (const r of this.seen.get(coop)!) {
      if (r.type !== "commit" || r.record.to !== coop) continue;
      const c = r.record;
      if (ledger.credits.has(c.cid) || view.commits.get(c.cid)?.status !== "accepted") continue;
      ledger.credits.set(c.cid, { payee: c.payee, amount: c.amountTo });
      ledger.add(`clearing:${c.from}`, -c.amountTo);
      ledger.add(c.payee, c.amountTo);
      ledger.addFed(c.from, -c.amount);
    }
    for (const s of view.settlements) {
      if (s.status !== "applied" || ledger.settled.has(s.id)) continue;
      ledger.settled.add(s.id);
      const partner = s.payer === coop ? s.payee : s.payer;
      const sign = s.payer === coop ? -1n : 1n;
      ledger.add(`clearing:${partner}`, sign * s.amount); // rate 1 in the model's settlements
      ledger.add(`settlement:${partner}`, -sign * s.amount);
      ledger.addFed(partner, sign * s.amount);
    }
  }

  /** Time passes; a partition never outlasts the grace: answers reach the payer side first. */
  tick(ms: number) {
    const next = this.now + ms;
    for (const r of this.log) {
      if (r.type !== "commit") continue;
      if (next > r.record.expires + pendingGraceMs) {
        for (const a of this.log) {
          if (a.type === "answer" && a.record.commit === r.record.cid) {
            this.seen.get(r.record.from)!.push(a);
          }
        }
        this.seen.get(r.record.from)!.push(r);
      }
    }
    for (const coop of [A, B]) this.agent(coop);
    this.now = next;
  }

  checkSafety(where: string) {
    const truth = this.foldOf(this.log);
    for (const pair of truth.pairs.values()) {
      const limit = this.agreements[0].limit;
      const abs = pair.position < 0n ? -pair.position : pair.position;
      assert(abs <= limit, `${where}: position ${pair.position} over limit ${limit}`);
    }
    for (const ledger of this.ledgers.values()) {
      assert(ledger.sum() === 0n, `${where}: ledger of ${ledger.coop} sums to ${ledger.sum()}`);
      for (const [cid, credit] of ledger.credits) {
        assert(
          truth.commits.get(cid)?.status === "accepted",
          `${where}: ${credit.payee} credited for ${cid}, which is ${
            truth.commits.get(cid)?.status
          }`,
        );
      }
      for (const pending of ledger.pendings.values()) {
        const status = truth.commits.get(pending.commit)?.status;
        if (pending.state === "posted") assert(status === "accepted", `${where}: posted ${status}`);
        if (pending.state === "voided") {
          assert(status !== "accepted", `${where}: voided an accepted commit`);
        }
      }
      for (const member of members[ledger.coop]) {
        assert(ledger.available(member) >= 0n, `${where}: ${member} below its credit limit`);
      }
    }
  }

  quiesce() {
    for (const coop of [A, B]) this.deliverAll(coop);
    this.tick(lifetimeMs + pendingGraceMs + 1);
    for (const coop of [A, B]) this.agent(coop);
  }

  checkSettled() {
    const truth = this.foldOf(this.log);
    const owed = owedBy(truth, A, B);
    const a = this.ledgers.get(A)!, b = this.ledgers.get(B)!;
    assertEquals(a.clearingFed.get(B) ?? 0n, owed, "A's clearing account vs the position:");
    assertEquals(b.clearingFed.get(A) ?? 0n, -owed, "B's clearing account vs the position:");
    // At rate 1 the accounts themselves carry the same figures.
    if (this.agreements[0].rateA.text === "1" && this.agreements[0].rateB.text === "1") {
      assertEquals(a.balances.get(`clearing:${B}`) ?? 0n, owed, "A's clearing balance:");
      assertEquals(b.balances.get(`clearing:${A}`) ?? 0n, -owed, "B's clearing balance:");
    }
    for (const ledger of this.ledgers.values()) {
      for (const p of ledger.pendings.values()) {
        assert(p.state !== "open", "a pending is left open");
      }
      for (const v of ledger.reserved.values()) assertEquals(v, 0n, "reservation left:");
    }
  }
}

const coopArb = fc.constantFrom(A, B);
const opArb = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("pay" as const),
      from: coopArb,
      payer: fc.nat(1),
      payee: fc.nat(1),
      amount: fc.bigInt(1n, 400n),
      id: fc.nat(30),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({ op: fc.constant("recommit" as const), coop: coopArb, index: fc.nat() }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("answer" as const),
      coop: coopArb,
      index: fc.nat(),
      accept: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(true), fc.constant(false)),
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("deliver" as const),
      to: coopArb,
      index: fc.nat(),
      duplicate: fc.boolean(),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ op: fc.constant("sync" as const), to: coopArb }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("agent" as const), coop: coopArb }), weight: 4 },
  {
    arbitrary: fc.record({
      op: fc.constant("tick" as const),
      ms: fc.integer({ min: 1, max: 300 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("settle" as const),
      payer: coopArb,
      percent: fc.integer({ min: 1, max: 100 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ op: fc.constant("confirm" as const), coop: coopArb, index: fc.nat() }),
    weight: 3,
  },
);

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

const rateArb = fc.constantFrom("1", "0.5", "2", "0.25");

function run(model: Model, ops: Op[]) {
  for (const [i, op] of ops.entries()) {
    switch (op.op) {
      case "pay":
        model.pay(op.from, op.payer, op.payee, op.amount, `${op.from.slice(4, 5)}${op.id}`);
        break;
      case "recommit":
        model.recommit(op.coop, op.index);
        break;
      case "answer":
        model.answer(op.coop, op.index, op.accept);
        break;
      case "deliver":
        model.deliver(op.to, op.index, op.duplicate);
        break;
      case "sync":
        model.deliverAll(op.to);
        break;
      case "agent":
        model.agent(op.coop);
        break;
      case "tick":
        model.tick(op.ms);
        break;
      case "settle":
        model.settle(op.payer, op.percent);
        break;
      case "confirm":
        model.confirm(op.coop, op.index);
        break;
    }
    model.checkSafety(`step ${i} (${op.op})`);
  }
  model.quiesce();
  model.checkSafety("after quiescence");
  model.checkSettled();
  const truth = model.foldOf(model.log);
  for (const o of truth.commits.values()) {
    coverage[o.reason ?? o.status] = (coverage[o.reason ?? o.status] ?? 0) + 1;
  }
  for (const s of truth.settlements) {
    coverage[`settle ${s.status}`] = (coverage[`settle ${s.status}`] ?? 0) + 1;
  }
}

/** What the random runs reached, so a generator that stops reaching a case fails the test. */
const coverage: Record<string, number> = {};

Deno.test("random interleavings across two cooperatives and their federation keep every invariant", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 20, maxLength: 120, size: "max" }),
      fc.bigInt(0n, 600n),
      rateArb,
      rateArb,
      (ops, limit, rateA, rateB) => {
        const model = new Model([
          agreement({ limit, rateA: parseRate(rateA), rateB: parseRate(rateB) }),
        ]);
        run(model, ops);
      },
    ),
    { numRuns: 600 },
  );
  for (
    const reached of [
      "accepted",
      "refused",
      "agent refused over_limit",
      "expired",
      "settle applied",
    ]
  ) {
    assert((coverage[reached] ?? 0) > 0, `no run reached ${reached}: ${JSON.stringify(coverage)}`);
  }
});

Deno.test("any delivery order of the federation's records, with duplicates, gives the same state", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 20, maxLength: 60, size: "max" }),
      fc.bigInt(0n, 600n),
      fc.infiniteStream(fc.nat()),
      (ops, limit, picks) => {
        const model = new Model([agreement({ limit })]);
        run(model, ops);
        const records = [...model.log];
        const expected = clearingDigest(model.foldOf(records));
        // A random permutation plus random duplicates.
        const shuffled = [...records];
        const it = picks[Symbol.iterator]();
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = it.next().value! % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        for (let k = 0; k < Math.min(10, records.length); k++) {
          shuffled.push(records[it.next().value! % records.length]);
        }
        assertEquals(clearingDigest(model.foldOf(shuffled)), expected);
      },
    ),
    { numRuns: 200 },
  );
});

/**
 * Delivers `records` one commit each into a store through the stored-state functions (what
 * the handlers call), in the given order but each answer after its commit: the first
 * `legacy` records only as raw records (a store written before positions were stored), then
 * the upgrade, then the rest; `early` agreements (none) until `learnt` records are in.
 */
async function deliverStored(
  records: readonly FedRecord[],
  agreements: readonly AgreementVersion[],
  options: { legacy: number; learnt: number },
): Promise<MemoryStore> {
  const store = new MemoryStore();
  const commits = new Map<string, CommitRecord>();
  const raw: ClearingRecords & {
    commits: CommitRecord[];
    answers: AnswerRecord[];
    notes: SettlementNote[];
  } = { agreements, commits: [], answers: [], notes: [] };
  const waiting = new Map<string, AnswerRecord[]>();
  let delivered = 0;
  const one = async (r: FedRecord) => {
    const known = agreements.slice(0, delivered >= options.learnt ? agreements.length : 0);
    const state = new StateOverlay(store);
    if (delivered === options.legacy) {
      await ensureStored(state, () => Promise.resolve({ ...raw, agreements: known }));
    }
    const stored = delivered >= options.legacy;
    if (r.type === "commit") {
      commits.set(r.record.cid, r.record);
      raw.commits.push(r.record);
      if (stored) storeCommit(state, r.record);
    } else if (r.type === "answer") {
      raw.answers.push(r.record);
      if (stored) await storeAnswer(state, known, r.record, commits.get(r.record.commit)!);
    } else {
      raw.notes.push(r.record);
      if (stored) await storeNote(state, known, r.record);
    }
    delivered++;
    await store.commit([], state.mutations());
    if (r.type === "commit") {
      for (const answer of waiting.get(r.record.cid) ?? []) {
        await one({ type: "answer", record: answer });
      }
      waiting.delete(r.record.cid);
    }
  };
  for (const r of records) {
    if (r.type === "answer" && !commits.has(r.record.commit)) {
      waiting.set(r.record.commit, [...waiting.get(r.record.commit) ?? [], r.record]);
      continue;
    }
    await one(r);
  }
  if (delivered <= options.legacy) {
    const state = new StateOverlay(store);
    await ensureStored(state, () => Promise.resolve(raw));
    await store.commit([], state.mutations());
  }
  return store;
}

Deno.test("stored positions read back as the fold of the same records, in any delivery order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArb, { minLength: 20, maxLength: 60, size: "max" }),
      fc.bigInt(0n, 600n),
      fc.infiniteStream(fc.nat()),
      fc.nat({ max: 80 }),
      fc.nat({ max: 80 }),
      fc.nat({ max: 12 }),
      async (ops, limit, picks, legacy, learnt, rogue) => {
        const agreements = [agreement({ limit })];
        const model = new Model(agreements);
        run(model, ops);
        // What handlers hold: each CID once, the first commit of a payment id (a later one is
        // refused at ingest), the answers to those.
        const unique = [...new Map(model.log.map((r) => [r.record.cid, r])).values()];
        const winners = model.foldOf(unique).commits;
        const records = unique.filter((r) =>
          r.type === "commit"
            ? winners.get(r.record.cid)?.status !== "duplicate"
            : r.type === "answer"
            ? winners.get(r.record.commit)?.status !== "duplicate"
            : true
        );
        const it = picks[Symbol.iterator]();
        // Answers no careful agent would give (a second delegate answering at once, a rogue
        // one): accepts past the limit and second answers, so the order of decisions matters.
        const commitsHeld = records.flatMap((r) => (r.type === "commit" ? [r.record] : []));
        for (let k = 0; k < rogue && commitsHeld.length > 0; k++) {
          const target = commitsHeld[it.next().value! % commitsHeld.length];
          const window = target.expires - target.ts + 1;
          records.push({
            type: "answer",
            record: {
              cid: `x${String(k).padStart(4, "0")}`,
              commit: target.cid,
              choice: it.next().value! % 4 === 0 ? "refuse" : "accept",
              ts: target.ts + (it.next().value! % window),
              author: "did:icn:zrogue",
            },
          });
        }
        const expected = model.foldOf(records);
        const shuffled = [...records];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = it.next().value! % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        const store = await deliverStored(shuffled, agreements, { legacy, learnt });
        const read = new StateOverlay(store);
        const stored = await readStored(read, agreements, model.now);
        assert(stored, "the store holds stored positions");
        assertEquals(compareStored(stored, expected), []);
        assertEquals(clearingStateDigest(stored), clearingStateDigest(expected));
        // Positions exactly, and the open commits per pair as the fold counts them.
        for (const [key, pair] of expected.pairs) {
          assertEquals(stored.pairs.get(key)?.position, pair.position, key);
        }
        const open = [...expected.commits.entries()].filter(([, o]) => o.status === "open").length;
        const counted = [...(await openByPair(read, model.now)).values()].reduce(
          (a, b) => a + b,
          0,
        );
        assertEquals(counted, open, "open commits");
        // In the store itself (not re-folded on read) once the agreements were known throughout.
        if (learnt === 0) assertEquals(stored.stale, []);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("pairOf() orders a pair the same whichever way it is named", () => {
  assertEquals(pairOf(B, A), pairOf(A, B));
});
