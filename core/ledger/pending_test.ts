import assert from "node:assert/strict";
import { checkLedger, ledgerStateHash } from "./audit.ts";
import { append, holdBody, type Ledger, makeLedger, pay } from "./_testing.ts";
import { ledgerKeys, type PendingRecord } from "./keys.ts";
import { readAccount } from "./view.ts";
import { pendingKind, pendingStatus, postKind, voidKind } from "./pending.ts";

const noTrust = { "credit.trustMultiplier": 0, "credit.historyRate": 0 };

async function balanceOf(ledger: Ledger, index: number): Promise<bigint> {
  const reader = {
    get: async (key: readonly unknown[]) => (await ledger.store.get(key as never))?.value as never,
  };
  return BigInt((await readAccount(reader, "hours", ledger.members[index].did)).balance);
}

async function record(ledger: Ledger, payer: number, id: string): Promise<PendingRecord> {
  return (await ledger.store.get<PendingRecord>(ledgerKeys.pending(ledger.members[payer].did, id)))!
    .value;
}

Deno.test("a pending reserves credit, moves nothing until posted, and posts once", async () => {
  const ledger = await makeLedger({ founders: 3, params: noTrust });
  const [a, b] = ledger.members;
  const now = ledger.clock.now();
  const held = await append(ledger, a, pendingKind, holdBody(b, 6_000, { id: "p1" }, now));
  assert.equal(held.status, "accepted");
  assert.equal(await balanceOf(ledger, 0), 0n);
  assert.equal(await balanceOf(ledger, 1), 0n);
  // 10,000 limit, 6,000 reserved: 5,000 more is refused, 4,000 accepted.
  const over = await pay(ledger, a, b, 5_000);
  assert.equal(over.status, "rejected");
  assert.equal(over.status === "rejected" && over.reason, "credit_limit");
  assert.equal((await pay(ledger, a, b, 4_000)).status, "accepted");
  const post = await append(ledger, a, postKind, { payer: a.did, id: "p1" });
  assert.equal(post.status, "accepted");
  assert.equal(await balanceOf(ledger, 0), -10_000n);
  assert.equal(await balanceOf(ledger, 1), 10_000n);
  assert.equal(pendingStatus(await record(ledger, 0, "p1"), now), "posted");
  const again = await append(ledger, a, postKind, { payer: a.did, id: "p1" });
  assert.equal(again.status === "rejected" && again.reason, "already_posted");
  const voided = await append(ledger, a, voidKind, { payer: a.did, id: "p1" });
  assert.equal(voided.status === "rejected" && voided.reason, "already_posted");
  assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
});

Deno.test("void releases the reservation; expiry releases it on read; a late post is refused", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const [a, b] = ledger.members;
  const now = ledger.clock.now();
  await append(ledger, a, pendingKind, holdBody(b, 9_000, { id: "v" }, now));
  await append(ledger, a, pendingKind, holdBody(b, 1_000, { id: "e", timeout: 60_000 }, now));
  assert.equal((await pay(ledger, a, b, 1)).status, "rejected");
  assert.equal((await append(ledger, a, voidKind, { payer: a.did, id: "v" })).status, "accepted");
  const twice = await append(ledger, a, voidKind, { payer: a.did, id: "v" });
  assert.equal(twice.status === "rejected" && twice.reason, "already_voided");
  assert.equal((await pay(ledger, a, b, 9_000)).status, "accepted");
  assert.equal((await pay(ledger, a, b, 1)).status, "rejected");
  ledger.clock.advance(60_001);
  assert.equal(pendingStatus(await record(ledger, 0, "e"), ledger.clock.now()), "expired");
  const late = await append(ledger, a, postKind, { payer: a.did, id: "e" });
  assert.equal(late.status === "rejected" && late.reason, "expired");
  assert.equal((await pay(ledger, a, b, 1_000)).status, "accepted");
  assert.equal(await balanceOf(ledger, 0), -10_000n);
  assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
  assert.match(await ledgerStateHash(ledger.store), /^[0-9a-f]{64}$/);
});

Deno.test("only named posters resolve a pending that names them; someone else's pending is refused", async () => {
  const ledger = await makeLedger({ founders: 4, params: noTrust });
  const [a, b, c, d] = ledger.members;
  const now = ledger.clock.now();
  await append(ledger, a, pendingKind, holdBody(b, 100, { id: "x", posters: [c.did] }, now));
  for (const who of [a, b, d]) {
    const out = await append(ledger, who, postKind, { payer: a.did, id: "x" });
    assert.equal(out.status === "rejected" && out.reason, "not_poster");
  }
  const unknown = await append(ledger, c, postKind, { payer: a.did, id: "nope" });
  assert.equal(unknown.status === "rejected" && unknown.reason, "unknown_pending");
  assert.equal((await append(ledger, c, postKind, { payer: a.did, id: "x" })).status, "accepted");
  assert.equal(await balanceOf(ledger, 1), 100n);
});

Deno.test("the maximum balance refuses a credit above it where the transfer is signed", async () => {
  const ledger = await makeLedger({
    founders: 3,
    params: { ...noTrust, "ledger.maxBalance": 1_000 },
  });
  const [a, b, c] = ledger.members;
  assert.equal((await pay(ledger, a, b, 900)).status, "accepted");
  const over = await pay(ledger, c, b, 101);
  assert.equal(over.status === "rejected" && over.reason, "max_balance");
  assert.equal((await pay(ledger, c, b, 100)).status, "accepted");
});
