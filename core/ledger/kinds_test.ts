import { readHistoryRange } from "./history.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ingest } from "../chain/ingest.ts";
import { readLog } from "../chain/read.ts";
import type { SealedEnvelope } from "../envelope/envelope.ts";
import type { Store } from "../store/store.ts";
import { listAll } from "../store/store.ts";
import { type Ledger, makeLedger, pay, t0 } from "./_testing.ts";
import { checkLedger, ledgerStateHash } from "./audit.ts";
import { type Account, hourMs, ledgerKeys, setCreditOverride, setMemberSince } from "./keys.ts";
import { readAccount } from "./view.ts";

const noTrust = { "credit.trustMultiplier": 0, "credit.historyRate": 0 };

async function balanceOf(ledger: Ledger, index: number, currency = "hours"): Promise<bigint> {
  const account = await readAccount(
    { get: async (key) => (await ledger.store.get(key))?.value as never },
    currency,
    ledger.members[index].did,
  );
  return account.balance;
}

/** Per currency the balances sum to zero, and the store equals a fresh fold. */
async function assertInvariants(store: Store): Promise<void> {
  const sums = new Map<string, bigint>();
  for (const entry of await listAll<Account>(store, { prefix: ["ledger", "acct"] })) {
    const c = entry.key[2] as string;
    sums.set(c, (sums.get(c) ?? 0n) + entry.value.balance);
  }
  for (const [c, sum] of sums) assert.equal(sum, 0n, `sum of ${c}`);
}

async function snapshot(store: Store): Promise<string> {
  const rows = await listAll(store, { prefix: [] });
  return JSON.stringify(
    rows.map((r) => [r.key, r.value]),
    (_k, v) => typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
  );
}

Deno.test("ledger.transfer moves the amount from payer to payee and records history", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const outcome = await pay(ledger, ledger.members[0], ledger.members[1], 1250, { memo: "bread" });
  assert.equal(outcome.status, "accepted");
  assert.equal(await balanceOf(ledger, 0), -1250n);
  assert.equal(await balanceOf(ledger, 1), 1250n);
  const history = await readHistoryRange(ledger.store, "hours", ledger.members[1].did, 0, 0);
  assert.equal(history.length, 1);
  assert.equal(history[0].memo, "bread");
  assert.equal(history[0].balance, 1250n);
  const payerSide = await readHistoryRange(ledger.store, "hours", ledger.members[0].did, 0, 0);
  assert.equal(payerSide[0].balance, -1250n);
  assert.equal(payerSide[0].cid, history[0].cid);
  // One line for both sides, appended in acceptance order.
  assert.equal((await listAll(ledger.store, { prefix: ledgerKeys.linePrefix })).length, 1);
  await assertInvariants(ledger.store);
  assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
});

Deno.test("ledger.transfer rejects passing the limit and changes no state", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  assert.equal((await pay(ledger, ledger.members[0], ledger.members[1], 9_000)).status, "accepted");
  const before = await snapshot(ledger.store);
  const outcome = await pay(ledger, ledger.members[0], ledger.members[1], 1_001);
  assert.equal(outcome.status, "rejected");
  assert.equal(outcome.status === "rejected" && outcome.reason, "credit_limit");
  assert.equal(await snapshot(ledger.store), before);
  assert.equal((await pay(ledger, ledger.members[0], ledger.members[1], 1_000)).status, "accepted");
  assert.equal(await balanceOf(ledger, 0), -10_000n);
});

Deno.test("ledger.transfer rejects payees and payers that are not members", async () => {
  const ledger = await makeLedger({ founders: 2, outsiders: 1, params: noTrust });
  const [a, , outsider] = ledger.members;
  const toOutsider = await pay(ledger, a, outsider, 100);
  assert.equal(toOutsider.status === "rejected" && toOutsider.reason, "not_member");
  const fromOutsider = await pay(ledger, outsider, a, 100);
  assert.equal(fromOutsider.status === "rejected" && fromOutsider.reason, "not_member");
  await assertInvariants(ledger.store);
});

Deno.test("ledger.transfer treats a repeated id as already existing and never pays twice", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const [a, b] = ledger.members;
  assert.equal((await pay(ledger, a, b, 100, { id: "k" })).status, "accepted");
  const again = await pay(ledger, a, b, 100, { id: "k" });
  assert.equal(again.status === "rejected" && again.reason, "already_exists");
  const different = await pay(ledger, a, b, 200, { id: "k" });
  assert.equal(different.status === "rejected" && different.reason, "id_conflict");
  assert.equal(await balanceOf(ledger, 0), -100n);
  // Another payer may use the same key for its own transfer.
  assert.equal((await pay(ledger, b, a, 50, { id: "k" })).status, "accepted");
});

Deno.test("ledger.transfer caps outgoing transfers per hour by trust class", async () => {
  const ledger = await makeLedger({
    founders: 2,
    params: {
      ...noTrust,
      "policy.isolated.velocity": 3,
      "policy.known.velocity": 3,
      "policy.partner.velocity": 3,
      "policy.federated.velocity": 3,
    },
  });
  const [a, b] = ledger.members;
  for (let i = 0; i < 3; i++) assert.equal((await pay(ledger, a, b, 1)).status, "accepted");
  const fourth = await pay(ledger, a, b, 1);
  assert.equal(fourth.status === "rejected" && fourth.reason, "velocity");
  ledger.clock.advance(hourMs);
  assert.equal((await pay(ledger, a, b, 1)).status, "accepted");
});

Deno.test("ledger.transfer uses governance overrides and the new-member ramp", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const [a, b] = ledger.members;
  await ledger.store.commit([], [{
    type: "set",
    key: ledgerKeys.override(a.did, "hours"),
    value: 300n,
  }]);
  const over = await pay(ledger, a, b, 301);
  assert.equal(over.status === "rejected" && over.reason, "credit_limit");
  assert.equal((await pay(ledger, a, b, 300)).status, "accepted");
  // The setters write the same keys governance's execution uses.
  const writes: unknown[] = [];
  setCreditOverride(
    { set: (k, v) => writes.push([k, v]), delete: (k) => writes.push([k]) },
    a.did,
    "hours",
    null,
  );
  setMemberSince({ set: (k, v) => writes.push([k, v]) }, a.did, t0);
  assert.deepEqual(writes, [[ledgerKeys.override(a.did, "hours")], [
    ledgerKeys.memberSince(a.did),
    t0,
  ]]);
});

Deno.test("ledger.transfer rejects envelopes for an unknown currency and bad bodies", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const [a, b] = ledger.members;
  const euro = await pay(ledger, a, b, 100, { currency: "euro" });
  assert.equal(euro.status === "rejected" && euro.reason, "unknown_currency");
  await assertInvariants(ledger.store);
});

Deno.test("ledger check finds tampered derived state", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  await pay(ledger, ledger.members[0], ledger.members[1], 100);
  await ledger.store.commit([], [{
    type: "set",
    key: ledgerKeys.account("hours", ledger.members[1].did),
    value: { balance: 1000n, received: 100n, count: 1 },
  }]);
  const findings = await checkLedger(ledger.store, { kinds: ledger.deps.kinds });
  assert.ok(findings.some((f) => f.includes("a fresh fold gives 100")), findings.join("\n"));
  assert.ok(findings.some((f) => f.includes("sum to 9.00")), findings.join("\n"));
});

// --- Properties -----------------------------------------------------------

const propertyMembers = 4;

const opsArbitrary = fc.array(
  fc.record({
    from: fc.nat(propertyMembers - 1),
    to: fc.nat(propertyMembers - 1),
    amount: fc.integer({ min: 1, max: 6_000 }),
    advance: fc.integer({ min: 0, max: 2 * hourMs }),
  }),
  { minLength: 1, maxLength: 25 },
);

Deno.test("property: random transfer sequences keep every invariant", async () => {
  await fc.assert(
    fc.asyncProperty(opsArbitrary, async (ops) => {
      const ledger = await makeLedger({
        founders: propertyMembers,
        params: { "credit.historyRate": 0.05, "policy.isolated.velocity": 5 },
      });
      for (const op of ops) {
        ledger.clock.advance(op.advance);
        const before = await snapshot(ledger.store);
        const outcome = await pay(
          ledger,
          ledger.members[op.from],
          ledger.members[op.to],
          op.amount,
        );
        if (outcome.status === "rejected") assert.equal(await snapshot(ledger.store), before);
        await assertInvariants(ledger.store);
      }
      assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
    }),
    { numRuns: 15 },
  );
});

/** Ingests `envelopes` in the given order, retrying rejected ones until no progress (credits may arrive late). */
async function foldInOrder(ledger: Ledger, envelopes: SealedEnvelope[]): Promise<Store> {
  const fresh = await makeLedger({
    founders: propertyMembers,
    params: { "credit.historyRate": 0.05, "policy.isolated.velocity": 1000 },
  });
  fresh.clock.set(ledger.clock.now());
  let pending = envelopes;
  for (let round = 0; round < envelopes.length + 1 && pending.length > 0; round++) {
    const outcomes = await ingest(fresh.deps, pending, { source: "sync" });
    pending = pending.filter((_, i) => outcomes[i].status === "rejected");
  }
  assert.equal(pending.length, 0);
  return fresh.store;
}

Deno.test("property: folding the same chains in any interleaving gives the same state hash", async () => {
  await fc.assert(
    fc.asyncProperty(opsArbitrary, fc.integer(), async (ops, seed) => {
      const ledger = await makeLedger({
        founders: propertyMembers,
        params: { "credit.historyRate": 0.05, "policy.isolated.velocity": 1000 },
      });
      for (const op of ops) {
        ledger.clock.advance(op.advance);
        await pay(ledger, ledger.members[op.from], ledger.members[op.to], op.amount);
      }
      const envelopes: SealedEnvelope[] = [];
      const { decodeEnvelope } = await import("../envelope/envelope.ts");
      for await (const item of readLog(ledger.store)) {
        if (item.entry.net !== "kel") envelopes.push(await decodeEnvelope(item.bytes));
      }
      // A random interleaving that keeps each chain's own order.
      const byAuthor = new Map<string, SealedEnvelope[]>();
      for (const e of envelopes) {
        byAuthor.set(e.envelope.author, [...(byAuthor.get(e.envelope.author) ?? []), e]);
      }
      const queues = [...byAuthor.values()];
      const shuffled: SealedEnvelope[] = [];
      let state = seed >>> 0 || 1;
      while (queues.some((q) => q.length > 0)) {
        state = (state * 1103515245 + 12345) >>> 0;
        const live = queues.filter((q) => q.length > 0);
        shuffled.push(live[state % live.length].shift()!);
      }
      const refolded = await foldInOrder(ledger, shuffled);
      assert.equal(await ledgerStateHash(refolded), await ledgerStateHash(ledger.store));
      await assertInvariants(refolded);
    }),
    { numRuns: 10 },
  );
});

Deno.test("ledger check re-verifies signatures of stored envelopes", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const outcome = await pay(ledger, ledger.members[0], ledger.members[1], 100);
  assert.equal(outcome.status, "accepted");
  if (outcome.status !== "accepted") return;
  const { encodeEnvelope } = await import("../envelope/envelope.ts");
  const { chainKeys } = await import("../chain/keys.ts");
  const forged = structuredClone(outcome.envelope);
  forged.sigs[0].sig[0] ^= 1;
  await ledger.store.commit([], [{
    type: "set",
    key: chainKeys.position(forged.net, forged.author, forged.seq),
    value: { cid: outcome.cid, bytes: encodeEnvelope(forged) },
  }]);
  const findings = await checkLedger(ledger.store, { kinds: ledger.deps.kinds });
  assert.ok(findings.some((f) => f.includes("fails re-validation")), findings.join("\n"));
  assert.ok(findings.some((f) => f.includes("as logged")), findings.join("\n"));
});
