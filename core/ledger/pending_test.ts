import assert from "node:assert/strict";
import { checkLedger, ledgerStateHash } from "./audit.ts";
import { append, holdBody, type Ledger, makeLedger, pay, transferBody } from "./_testing.ts";
import { ledgerKeys, type PendingRecord, type RequestRecord } from "./keys.ts";
import { readAccount } from "./view.ts";
import {
  decideResolution,
  declineKind,
  isNearMaxBalance,
  maxBalanceOf,
  parsePending,
  pendingKind,
  pendingStatus,
  postKind,
  requestKind,
  requestStatus,
  reservedAt,
  voidKind,
} from "./pending.ts";
import { transferKind } from "./rules.ts";

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

function rec(overrides: Partial<PendingRecord> = {}): PendingRecord {
  return {
    cid: "bafyp",
    from: "did:icn:payer",
    to: "did:icn:payee",
    amount: 100n,
    currency: "hours",
    memo: "",
    id: "p",
    ts: 1000,
    expires: 2000,
    posters: [],
    ...overrides,
  };
}

Deno.test("decideResolution: who may resolve, the expiry, and post beating another poster's void", () => {
  const action = (kind: "post" | "void", by: string, ts = 1500, local = false) => ({
    kind,
    by,
    ts,
    cid: `bafy${by}${ts}`,
    local,
  });
  assert.equal(decideResolution(rec(), action("post", "did:icn:payer")), "apply");
  assert.throws(() => decideResolution(rec(), action("post", "did:icn:payee")), /only its payer/);
  assert.throws(() => decideResolution(rec(), action("void", "did:icn:payer", 2001)), /expired/);
  assert.equal(decideResolution(rec(), action("post", "did:icn:payer", 2000)), "apply");
  const two = rec({ posters: ["did:icn:c", "did:icn:d"] });
  assert.throws(() => decideResolution(two, action("post", "did:icn:payer")), /only its posters/);
  const voided = {
    ...two,
    resolution: { state: "voided" as const, by: "did:icn:c", ts: 1400, cid: "bafyv" },
  };
  assert.equal(decideResolution(voided, action("post", "did:icn:d")), "switch");
  assert.throws(() => decideResolution(voided, action("post", "did:icn:c")), /already voided/);
  assert.throws(() => decideResolution(voided, action("post", "did:icn:d", 1500, true)), /already/);
  const posted = {
    ...two,
    resolution: { state: "posted" as const, by: "did:icn:c", ts: 1400, cid: "bafyq" },
  };
  assert.equal(decideResolution(posted, action("void", "did:icn:d")), "none");
  assert.equal(decideResolution(posted, action("post", "did:icn:d", 1300)), "replace");
  assert.equal(decideResolution(posted, action("post", "did:icn:d", 1500)), "none");
  assert.equal(pendingStatus(rec(), 2000), "open");
  assert.equal(pendingStatus(rec(), 2001), "expired");
  assert.equal(reservedAt([{ expires: 10, amount: 5n }, { expires: 20, amount: 7n }], 15), 7n);
});

Deno.test("parsePending refuses bad timeouts, posters and amounts", () => {
  const currencies = [{ code: "hours", decimals: 2 }];
  const payer = "did:icn:z8KyYfaUKSWKhz9UJgbohi6HcDB9bgWQ27aW44BeRWsLM";
  const to = "did:icn:z4tR3evYPh3dcNrSMHvm5ac5pFU54g62zxLr1s9RrZeaD";
  const body = (o: Record<string, unknown> = {}) => ({
    to,
    amount: 5,
    currency: "hours",
    memo: "",
    id: "x",
    expires: 1000 + 3_600_000,
    posters: [],
    ...o,
  });
  assert.equal(parsePending(payer, 1000, body(), currencies).amount, 5n);
  assert.throws(() => parsePending(payer, 1000, body({ expires: 1500 }), currencies), /timeout/);
  assert.throws(
    () => parsePending(payer, 1000, body({ expires: 1000 + 8 * 86_400_000 }), currencies),
    /timeout/,
  );
  assert.throws(
    () => parsePending(payer, 1000, body({ posters: [payer, to] }), currencies),
    /sorted/,
  );
  assert.throws(() => parsePending(payer, 1000, body({ posters: ["x"] }), currencies), /not a DID/);
  assert.throws(() => parsePending(payer, 1000, body({ amount: -5 }), currencies), /negative/);
  assert.throws(() => parsePending(payer, 1000, body({ extra: 1 }), currencies), /fields/);
  const { posters: _, ...noPosters } = body();
  assert.throws(() => parsePending(payer, 1000, noPosters, currencies), /fields/);
});

Deno.test("a post by a second poster beats the first poster's void in either arrival order", async () => {
  const ledger = await makeLedger({ founders: 4, params: noTrust });
  const [a, b, c, d] = ledger.members;
  const now = ledger.clock.now();
  await append(ledger, a, pendingKind, holdBody(b, 300, { id: "x", posters: [c.did, d.did] }, now));
  assert.equal((await append(ledger, c, voidKind, { payer: a.did, id: "x" })).status, "accepted");
  // Signed here, d's post is refused (the pending is already voided as this node sees it) ...
  const local = await append(ledger, d, postKind, { payer: a.did, id: "x" });
  assert.equal(local.status === "rejected" && local.reason, "already_voided");
  // ... and the void keeps the reservation: another poster's post may still arrive.
  assert.equal((await pay(ledger, a, b, 9_800)).status, "rejected");
  assert.equal(pendingStatus(await record(ledger, 0, "x"), now), "voided");
});

Deno.test("requests: paid once by the payer with the asked amount, declined, expired", async () => {
  const ledger = await makeLedger({ founders: 3, params: noTrust });
  const [a, b, c] = ledger.members;
  const now = ledger.clock.now();
  const ask = (id: string, amount = 250, expires = now + 60_000) =>
    append(ledger, b, requestKind, {
      from: a.did,
      amount,
      currency: "hours",
      memo: "rent",
      id,
      expires,
    });
  assert.equal((await ask("r1")).status, "accepted");
  assert.equal((await ask("r1")).status, "rejected");
  assert.equal((await ask("r2")).status, "accepted");
  assert.equal((await ask("r3", 10, now + 1000)).status, "accepted");
  const payBody = (id: string, amount: number) => ({
    ...transferBody(b.did, amount, { id: `pay-${id}-${amount}` }),
    request: id,
  });
  const wrong = await append(ledger, a, transferKind, payBody("r1", 249));
  assert.equal(wrong.status === "rejected" && wrong.reason, "request_mismatch");
  const byOther = await append(ledger, c, transferKind, payBody("r1", 250));
  assert.equal(byOther.status === "rejected" && byOther.reason, "not_payer");
  assert.equal((await append(ledger, a, transferKind, payBody("r1", 250))).status, "accepted");
  const twice = await append(ledger, a, transferKind, {
    ...payBody("r1", 250),
    id: "again",
  });
  assert.equal(twice.status === "rejected" && twice.reason, "already_paid");
  const declined = await append(ledger, a, declineKind, { requester: b.did, id: "r2" });
  assert.equal(declined.status, "accepted");
  const afterDecline = await append(ledger, a, transferKind, payBody("r2", 250));
  assert.equal(afterDecline.status === "rejected" && afterDecline.reason, "already_declined");
  ledger.clock.advance(2000);
  const late = await append(ledger, a, transferKind, payBody("r3", 10));
  assert.equal(late.status === "rejected" && late.reason, "expired");
  assert.equal(await balanceOf(ledger, 1), 250n);
  const r = (await ledger.store.get<RequestRecord>(ledgerKeys.request(b.did, "r1")))!.value;
  assert.equal(requestStatus(r, ledger.clock.now()), "paid");
  assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
});

Deno.test("maxBalanceOf: the member's governance override wins over the cooperative's, 0 is none", () => {
  const did = "did:icn:x";
  assert.equal(maxBalanceOf({}, did), 0n);
  assert.equal(maxBalanceOf({ "ledger.maxBalance": 500 }, did), 500n);
  assert.equal(
    maxBalanceOf({ "ledger.maxBalance": 500, [`ledger.maxBalance.${did}`]: 900 }, did),
    900n,
  );
  assert.equal(
    maxBalanceOf({ "ledger.maxBalance": 500, [`ledger.maxBalance.${did}`]: 0 }, did),
    0n,
  );
  assert.equal(isNearMaxBalance(451n, 500n, 10), true);
  assert.equal(isNearMaxBalance(450n, 500n, 10), false);
  assert.equal(isNearMaxBalance(10_000n, 0n, 10), false);
});

Deno.test("ledger check finds a reservation or a pending that does not match the envelopes", async () => {
  const ledger = await makeLedger({ founders: 2, params: noTrust });
  const [a, b] = ledger.members;
  await append(ledger, a, pendingKind, holdBody(b, 700, { id: "k" }, ledger.clock.now()));
  assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
  await ledger.store.commit([], [{
    type: "set",
    key: ledgerKeys.reserved("hours", a.did),
    value: { amount: 1n, count: 1 },
  }]);
  const findings = await checkLedger(ledger.store, { kinds: ledger.deps.kinds });
  assert.ok(findings.some((f) => f.includes("Reservation of")), findings.join("\n"));
  assert.ok(findings.some((f) => f.includes("differs from a fresh fold")), findings.join("\n"));
});
