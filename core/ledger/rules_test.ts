import assert from "node:assert/strict";
import { InsufficientCreditError, RejectedError } from "../errors.ts";
import type { Currency } from "../governance/genesis.ts";
import { defaultParams } from "../params.ts";
import { amountMinorMax } from "./amount.ts";
import {
  creditLimit,
  decideTransfer,
  isNearLimit,
  isTransferId,
  type LimitFacts,
  parseTransfer,
  type Transfer,
  type TransferFacts,
  transferIdLengthMax,
} from "./rules.ts";

const alice = "did:icn:zHmaNXqt3G4ANdjGSkmDcAAgVCoDZwEgqEFZRwxsqHMyr";
const hours: Currency = { code: "hours", decimals: 2 };

function rejectsWith(fn: () => unknown, reason: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RejectedError, `expected RejectedError, got ${error}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

function body(overrides: Record<string, unknown> = {}) {
  return { to: alice, amount: 500, currency: "hours", memo: "", id: "x1", ...overrides };
}

const payer = "did:icn:z8mwaSFVAs7ARfBxvPdTSP8SSBGvLNpyP6MyrzT7GR5pN";

Deno.test("parseTransfer() accepts a well-formed body", () => {
  const t = parseTransfer(payer, body({ memo: "lunch" }), [hours]);
  assert.equal(t.amount, 500n);
  assert.equal(t.currency.code, "hours");
  assert.equal(t.memo, "lunch");
});

Deno.test("parseTransfer() rejects each malformed body with a stable reason", () => {
  rejectsWith(() => parseTransfer(payer, null, [hours]), "invalid_body");
  rejectsWith(() => parseTransfer(payer, [1], [hours]), "invalid_body");
  rejectsWith(() => parseTransfer(payer, { ...body(), extra: 1 }, [hours]), "invalid_body");
  rejectsWith(() => parseTransfer(payer, body({ to: "did:icn:nope" }), [hours]), "invalid_body");
  rejectsWith(() => parseTransfer(payer, body({ amount: 1.5 }), [hours]), "invalid_body");
  rejectsWith(() => parseTransfer(payer, body({ amount: "5" }), [hours]), "invalid_body");
  rejectsWith(
    () => parseTransfer(payer, body({ memo: "x".repeat(1025) }), [hours]),
    "invalid_body",
  );
  rejectsWith(() => parseTransfer(payer, body({ id: "" }), [hours]), "invalid_body");
  rejectsWith(() => parseTransfer(payer, body({ id: "a b" }), [hours]), "invalid_body");
  rejectsWith(() => parseTransfer(payer, body({ currency: "euro" }), [hours]), "unknown_currency");
  rejectsWith(() => parseTransfer(payer, body({ amount: 0 }), [hours]), "amount");
  rejectsWith(() => parseTransfer(payer, body({ amount: -5 }), [hours]), "amount");
  rejectsWith(() => parseTransfer(payer, body({ amount: amountMinorMax + 1n }), [hours]), "amount");
  rejectsWith(() => parseTransfer(payer, body({ to: payer }), [hours]), "self_transfer");
});

Deno.test("parseTransfer() accepts a memo of exactly 1 KiB", () => {
  assert.equal(parseTransfer(payer, body({ memo: "é".repeat(512) }), [hours]).memo.length, 512);
});

const transfer: Transfer = {
  from: payer,
  to: alice,
  amount: 500n,
  currency: hours,
  memo: "",
  id: "x1",
};

function facts(overrides: Partial<TransferFacts> = {}): TransferFacts {
  return {
    payerIsMember: true,
    payeeIsMember: true,
    payerBalance: 0n,
    limit: 10_000n,
    velocityCount: 0,
    velocityMax: 10,
    transferMax: amountMinorMax,
    softLimitPercent: 10,
    ...overrides,
  };
}

Deno.test("decideTransfer() lowers the payer's balance by the amount", () => {
  assert.deepEqual(decideTransfer(transfer, facts()), { balanceAfter: -500n, nearLimit: false });
});

Deno.test("decideTransfer() accepts a transfer that lands exactly on the limit", () => {
  const d = decideTransfer(transfer, facts({ payerBalance: -9_500n }));
  assert.equal(d.balanceAfter, -10_000n);
  assert.equal(d.nearLimit, true);
});

Deno.test("decideTransfer() rejects a transfer that passes the credit limit", () => {
  assert.throws(
    () => decideTransfer(transfer, facts({ payerBalance: -9_501n })),
    (error: unknown) => {
      assert.ok(error instanceof InsufficientCreditError);
      assert.match(
        (error as Error).message,
        /^Cannot transfer 5\.00 hours to ".*": balance would be -100\.01, limit is -100\.00$/,
      );
      return true;
    },
  );
});

Deno.test("decideTransfer() with a zero limit (no policy) rejects any debit", () => {
  assert.throws(() => decideTransfer(transfer, facts({ limit: 0n })), InsufficientCreditError);
  assert.equal(decideTransfer(transfer, facts({ limit: 0n, payerBalance: 500n })).balanceAfter, 0n);
});

Deno.test("decideTransfer() rejects non-members on either side", () => {
  rejectsWith(() => decideTransfer(transfer, facts({ payerIsMember: false })), "not_member");
  rejectsWith(() => decideTransfer(transfer, facts({ payeeIsMember: false })), "not_member");
});

Deno.test("decideTransfer() enforces the hourly velocity cap", () => {
  decideTransfer(transfer, facts({ velocityCount: 9 }));
  rejectsWith(() => decideTransfer(transfer, facts({ velocityCount: 10 })), "velocity");
});

Deno.test("decideTransfer() enforces the cooperative's largest transfer", () => {
  decideTransfer(transfer, facts({ transferMax: 500n }));
  rejectsWith(() => decideTransfer(transfer, facts({ transferMax: 499n })), "amount");
});

Deno.test("decideTransfer() tells a repeated id from a conflicting one", () => {
  const record = { cid: "bafy", to: alice, amount: 500n, currency: "hours", memo: "" };
  rejectsWith(() => decideTransfer(transfer, facts({ existing: record })), "already_exists");
  rejectsWith(
    () => decideTransfer(transfer, facts({ existing: { ...record, amount: 501n } })),
    "id_conflict",
  );
  rejectsWith(
    () => decideTransfer(transfer, facts({ existing: { ...record, memo: "other" } })),
    "id_conflict",
  );
});

function limitFacts(overrides: Partial<LimitFacts> = {}): LimitFacts {
  return {
    params: defaultParams(),
    trust: 0,
    clearedVolume: 0n,
    founder: true,
    ts: 1_000_000,
    ...overrides,
  };
}

Deno.test("creditLimit() is baseline + baseline·trust·multiplier + volume·rate", () => {
  const b = creditLimit(limitFacts({ trust: 0.5, clearedVolume: 20_000n }));
  assert.equal(b.baseline, 10_000n);
  assert.equal(b.trustTerm, 1_500n);
  assert.equal(b.historyTerm, 1_000n);
  assert.equal(b.limit, 12_500n);
});

Deno.test("creditLimit() is zero without a credit policy, never unlimited", () => {
  assert.equal(
    creditLimit(limitFacts({ params: {}, trust: 1, clearedVolume: 10n ** 9n })).limit,
    0n,
  );
});

Deno.test("creditLimit() ramps new members up from the ramp start to the full limit", () => {
  const params = { ...defaultParams(), "credit.rampDuration": 100_000, "credit.rampStart": 25 };
  const at = (ts: number) =>
    creditLimit(limitFacts({ params, founder: false, memberSince: 0, ts })).limit;
  assert.equal(at(0), 2_500n);
  assert.equal(at(50_000), 6_250n);
  assert.equal(at(100_000), 10_000n);
  assert.equal(at(1e9), 10_000n);
  // Without a known admission time a non-founder stays at the ramp's start (conservative).
  assert.equal(creditLimit(limitFacts({ params, founder: false, ts: 1e9 })).limit, 2_500n);
  // Founders are exempt.
  assert.equal(creditLimit(limitFacts({ params, founder: true, ts: 0 })).limit, 10_000n);
});

Deno.test("creditLimit() uses a governance override instead of the formula", () => {
  const b = creditLimit(limitFacts({ trust: 1, override: 777n, founder: false, memberSince: 0 }));
  assert.equal(b.limit, 777n);
  assert.equal(b.override, 777n);
  assert.equal(creditLimit(limitFacts({ override: 0n })).limit, 0n);
});

Deno.test("isNearLimit() warns within the soft-limit share only", () => {
  assert.equal(isNearLimit(-8_999n, 10_000n, 10), false);
  assert.equal(isNearLimit(-9_001n, 10_000n, 10), true);
  assert.equal(isNearLimit(-9_999n, 10_000n, 0), false);
});

Deno.test("creditLimit() scales the trust term by the trust class's credit multiplier", () => {
  const b = creditLimit(limitFacts({ trust: 0.5, classMultiplier: 2 }));
  assert.equal(b.trustTerm, 3_000n);
  assert.equal(b.limit, 13_000n);
});

Deno.test("isTransferId() takes 1 to transferIdLengthMax printable id characters and nothing else", () => {
  for (const id of ["t-1", "a", "x".repeat(transferIdLengthMax), "A.z_0:9@-"]) {
    assert.equal(isTransferId(id), true, id);
  }
  for (const id of ["", "x".repeat(transferIdLengthMax + 1), "a b", "a/b", "é", 7, null]) {
    assert.equal(isTransferId(id), false, String(id));
  }
});
