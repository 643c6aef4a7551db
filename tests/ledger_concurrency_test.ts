/** Several `icn ledger transfer` processes on one data dir at once; and a small kill -9 crash run. */
import assert from "node:assert/strict";
import { runCrashTrials } from "../scripts/ledger_crash.ts";
import { icn, icnOk, icnProcess, setupCoop } from "./ledger_support.ts";

const velocity = ["isolated", "known", "partner", "federated"].map((c) =>
  `policy.${c}.velocity=100000`
);

Deno.test("parallel icn ledger transfer processes never fork or lose a transfer", async () => {
  const coop = await setupCoop(2, velocity);
  const [dir] = coop.dirs;
  const bob = coop.dids[1];
  const parallel = 8;
  const results = await Promise.all(
    Array.from(
      { length: parallel },
      (_, i) =>
        icnProcess(dir, "ledger", "transfer", "--to", bob, "--amount", "1", "--id", `p${i}`),
    ),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  // The same id sent by several processes at once is paid exactly once.
  const same = await Promise.all(
    Array.from(
      { length: 4 },
      () => icnProcess(dir, "ledger", "transfer", "--to", bob, "--amount", "2", "--id", "same"),
    ),
  );
  for (const r of same) assert.equal(r.code, 0, r.stderr);
  assert.equal(same.filter((r) => /already exists/.test(r.stdout)).length, 3);
  const history = JSON.parse(await icnOk(dir, "--json", "ledger", "history", "--limit", "100"));
  assert.equal(history.total, parallel + 1);
  const ids = history.entries.map((e: { id: string }) => e.id).sort();
  assert.deepEqual(ids, [...Array.from({ length: parallel }, (_, i) => `p${i}`), "same"].sort());
  const balance = JSON.parse(await icnOk(dir, "--json", "ledger", "balance"));
  assert.equal(balance.balance, "-10.00");
  const check = await icn(dir, "ledger", "check");
  assert.deepEqual([check.code, check.stdout], [0, ""]);
  await Deno.remove(coop.root, { recursive: true });
});

Deno.test("kill -9 during transfers: check passes and every reported transfer is there once", async () => {
  const report = await runCrashTrials(5);
  assert.deepEqual(report.failures, []);
  assert.equal(report.runs, 5);
});
