/**
 * A data dir whose ledger history is in the old layout (3) upgrades when a command opens it:
 * the command says so on stderr, history and balances read as before, `ledger check` passes,
 * and the next command opens it silently.
 */
import assert from "node:assert/strict";
import { legacyHistoryMutations } from "../core/ledger/_testing.ts";
import { hasLegacyHistory } from "../core/ledger/history_upgrade.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { icn, icnOk, setupCoop } from "./ledger_support.ts";

Deno.test("an old ledger history layout is upgraded when a command opens the data dir", async () => {
  const coop = await setupCoop(2, ["policy.isolated.velocity=1000"]);
  const [dir] = coop.dirs;
  for (let i = 1; i <= 3; i++) {
    await icnOk(
      dir,
      "ledger",
      "transfer",
      "--to",
      coop.dids[1],
      "--amount",
      `${i}`,
      "--memo",
      `m${i}`,
    );
  }
  const history = async () => JSON.parse(await icnOk(dir, "--json", "ledger", "history")).entries;
  const before = await history();
  const balance = await icnOk(dir, "--json", "ledger", "balance");

  const store = await KvStore.open(`${dir}/icn.kv`);
  try {
    await store.commit([], await legacyHistoryMutations(store));
    assert.equal(await hasLegacyHistory(store), true, "old layout made");
  } finally {
    store.close();
  }

  const upgraded = await icn(dir, "--json", "ledger", "history");
  assert.equal(upgraded.code, 0, upgraded.stderr);
  assert.match(upgraded.stderr, /upgrading this store.s ledger history to layout 4, once/);
  assert.deepEqual(JSON.parse(upgraded.stdout).entries, before);
  assert.deepEqual(before.map((e: { memo: string }) => e.memo), ["m3", "m2", "m1"]);

  const again = await icn(dir, "--json", "ledger", "balance");
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr, "", "the second open is silent");
  assert.equal(again.stdout, balance);
  const check = await icn(dir, "ledger", "check");
  assert.equal(check.code, 0, check.stdout + check.stderr);
});
