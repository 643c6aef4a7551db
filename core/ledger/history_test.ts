import assert from "node:assert/strict";
import fc from "fast-check";
import { listAll } from "../store/store.ts";
import { makeLedger, pay } from "./_testing.ts";
import { checkLedger } from "./audit.ts";
import { readHistoryRange } from "./history.ts";
import { type HistoryRef, ledgerKeys } from "./keys.ts";

const noTrust = { "credit.baseline": 1_000_000, "policy.isolated.velocity": 10_000 };

Deno.test("history pages: entries past one page read back across the boundary, newest first", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const [a, b] = ledger.members;
  for (let i = 1; i <= 70; i++) {
    ledger.clock.advance(1_000);
    const outcome = await pay(ledger, a, b, i, { memo: `m${i}` });
    assert.equal(outcome.status, "accepted");
  }
  const pages = await listAll<HistoryRef[]>(ledger.store, {
    prefix: ledgerKeys.historyPagePrefix("hours", b.did),
  });
  assert.deepEqual(pages.map((p) => p.value.length), [64]);
  const tail = await ledger.store.get<HistoryRef[]>(ledgerKeys.historyTail("hours", b.did));
  assert.equal(tail?.value.length, 6, "the last, partial page is the tail");
  const range = await readHistoryRange(ledger.store, "hours", b.did, 60, 68);
  assert.deepEqual(
    range.map((e) => e.memo),
    [69, 68, 67, 66, 65, 64, 63, 62, 61].map((n) => `m${n}`),
  );
  // Balance after transfer i is 1 + 2 + ... + i.
  assert.deepEqual(
    range.map((e) => e.balance),
    [69, 68, 67, 66, 65, 64, 63, 62, 61].map((i) => BigInt(i * (i + 1) / 2)),
  );
  const payer = await readHistoryRange(ledger.store, "hours", a.did, 69, 69);
  assert.equal(payer[0].balance, -BigInt(70 * 71 / 2));
  assert.equal(typeof payer[0].limit, "bigint", "the payer's side keeps the limit relied on");
  assert.deepEqual(await readHistoryRange(ledger.store, "hours", b.did, 5, 4), []);
  await assert.rejects(
    () => readHistoryRange(ledger.store, "hours", b.did, 69, 70),
    /History entry 70 .* is missing/,
  );
  assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
});

Deno.test("property: every account's history read from pages equals the transfers it took part in, in order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({ from: fc.nat(2), to: fc.nat(2), amount: fc.integer({ min: 1, max: 500 }) }),
        { minLength: 1, maxLength: 90 },
      ),
      async (ops) => {
        const ledger = await makeLedger({ founders: 3, params: noTrust });
        const m = ledger.members;
        const model = new Map<string, { cid: string; balance: bigint }[]>();
        const balances = new Map<string, bigint>();
        for (const op of ops) {
          ledger.clock.advance(500);
          const to = op.from === op.to ? (op.to + 1) % 3 : op.to;
          const outcome = await pay(ledger, m[op.from], m[to], op.amount);
          if (outcome.status !== "accepted") continue;
          for (
            const [did, delta] of [[m[op.from].did, -op.amount], [m[to].did, op.amount]] as const
          ) {
            const balance = (balances.get(did) ?? 0n) + BigInt(delta);
            balances.set(did, balance);
            model.set(did, [...(model.get(did) ?? []), { cid: outcome.cid, balance }]);
          }
        }
        for (const member of m) {
          const expected = (model.get(member.did) ?? []).slice().reverse();
          const read = await readHistoryRange(
            ledger.store,
            "hours",
            member.did,
            0,
            expected.length - 1,
          );
          assert.deepEqual(read.map((e) => ({ cid: e.cid, balance: e.balance })), expected);
        }
        assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
      },
    ),
    { numRuns: 12 },
  );
});

Deno.test("ledger check names a payer's line left below the limit it relied on", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const [a, b] = ledger.members;
  assert.equal((await pay(ledger, a, b, 10)).status, "accepted");
  const key = ledgerKeys.historyTail("hours", a.did);
  const [ref] = (await ledger.store.get<HistoryRef[]>(key))!.value;
  // A stored ref whose balance is past the limit it records (a corrupted store).
  await ledger.store.commit([], [{ type: "set", key, value: [[ref[0], -5n, 4n]] }]);
  const findings = await checkLedger(ledger.store, { kinds: ledger.deps.kinds });
  assert.ok(findings.some((f) => /left ".*" at .* below the limit/.test(f)), findings.join("\n"));
});
