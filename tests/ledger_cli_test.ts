/** `icn ledger` end to end through the CLI: transfers, reads, idempotency, bad input, hledger, bundles. */
import assert from "node:assert/strict";
import { exchange, icn, icnOk, setupCoop } from "./ledger_support.ts";
import { needsTools } from "./_tools.ts";

const fastVelocity = ["isolated", "known", "partner", "federated"].map((c) =>
  `policy.${c}.velocity=100000`
);
const sets = [...fastVelocity, "credit.trustMultiplier=0", "credit.historyRate=0"];

async function balancesOf(dir: string): Promise<Record<string, string>> {
  const rows = JSON.parse(await icnOk(dir, "--json", "ledger", "balances")) as {
    did: string;
    balance: string;
  }[];
  return Object.fromEntries(rows.map((r) => [r.did, r.balance]));
}

Deno.test("icn ledger: transfer, balance, history, limit, check and export agree", async () => {
  const coop = await setupCoop(2, sets);
  const [a] = coop.dirs;
  const [alice, bob] = coop.dids;
  const out = JSON.parse(
    await icnOk(
      a,
      "--json",
      "ledger",
      "transfer",
      "--to",
      bob,
      "--amount",
      "12.5",
      "--memo",
      "soup",
    ),
  );
  assert.equal(out.status, "accepted");
  assert.equal(out.amount, "12.50");
  assert.equal(out.balance, "-12.50");
  assert.match(out.id, /^t-[0-9a-f]{24}$/);
  assert.match(out.cid, /^bafy/);
  const balance = JSON.parse(await icnOk(a, "--json", "ledger", "balance"));
  assert.deepEqual(
    [balance.did, balance.balance, balance.limit, balance.available],
    [alice, "-12.50", "100.00", "87.50"],
  );
  const bobBalance = JSON.parse(await icnOk(a, "--json", "ledger", "balance", bob));
  assert.equal(bobBalance.balance, "12.50");
  const history = JSON.parse(await icnOk(a, "--json", "ledger", "history"));
  assert.equal(history.total, 1);
  assert.equal(history.entries[0].amount, "-12.50");
  assert.equal(history.entries[0].memo, "soup");
  const limit = JSON.parse(await icnOk(a, "--json", "ledger", "limit"));
  assert.equal(limit.baseline, "100.00");
  assert.equal(limit.limit, "100.00");
  const check = await icn(a, "ledger", "check");
  assert.deepEqual([check.code, check.stdout], [0, ""]);
  const csv = await icnOk(a, "ledger", "export", "--format", "csv");
  assert.match(csv, /^time,id,cid,from,to,amount,currency,memo\r\n/);
  assert.match(csv, /,12\.50,hours,soup\r\n$/);
  const json = JSON.parse(await icnOk(a, "ledger", "export", "--format", "json"));
  assert.equal(json[0].amountMinor, "1250");
});

Deno.test("icn ledger transfer: bad input fails clearly and changes nothing", async () => {
  const coop = await setupCoop(2, sets);
  const [a] = coop.dirs;
  const [alice, bob] = coop.dids;
  await icnOk(a, "ledger", "transfer", "--to", bob, "--amount", "1", "--id", "first");
  const before = await icnOk(a, "ledger", "export", "--format", "json");
  const cases: [string[], RegExp][] = [
    [["--to", bob, "--amount", "0"], /greater than zero/],
    [["--to", bob, "--amount", "-3"], /positive/],
    [["--to", bob, "--amount", "abc"], /decimal number/],
    [["--to", bob, "--amount", "1e2"], /exponent/],
    [["--to", bob, "--amount", "1.234"], /2 decimals/],
    [["--to", bob, "--amount", "99999999999999999"], /maximum/],
    [["--to", "did:icn:bogus", "--amount", "1"], /Cannot parse DID/],
    [["--to", alice, "--amount", "1"], /yourself/],
    [["--to", bob, "--amount", "1", "--currency", "euro"], /Unknown currency/],
    [["--to", bob, "--amount", "1", "--memo", "x".repeat(1025)], /1024 bytes/],
    [["--to", bob, "--amount", "1", "--id", "has space"], /transfer id/],
    [["--to", bob, "--amount", "2", "--id", "first"], /Cannot reuse transfer id "first"/],
    [["--to", bob, "--amount", "100.01"], /balance would be -101\.01, limit is -100\.00/],
  ];
  for (const [args, pattern] of cases) {
    const result = await icn(a, "ledger", "transfer", ...args);
    assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, pattern, args.join(" "));
    assert.equal(result.stdout, "");
  }
  assert.equal(await icnOk(a, "ledger", "export", "--format", "json"), before);
  const badLimit = await icn(a, "ledger", "history", "--limit", "0");
  assert.equal(badLimit.code, 1);
  const badFormat = await icn(a, "ledger", "export", "--format", "xml");
  assert.equal(badFormat.code, 1);
  assert.equal((await icn(a, "ledger", "check")).code, 0);
});

Deno.test("icn ledger transfer: the same id twice is 'already exists', exit 0, nothing written", async () => {
  const coop = await setupCoop(2, sets);
  const [a] = coop.dirs;
  const bob = coop.dids[1];
  const args = ["ledger", "transfer", "--to", bob, "--amount", "5", "--id", "inv-7", "--memo", "m"];
  const first = await icn(a, ...args);
  assert.equal(first.code, 0);
  const second = await icn(a, ...args);
  assert.equal(second.code, 0);
  assert.match(second.stdout, /already exists/);
  const history = JSON.parse(await icnOk(a, "--json", "ledger", "history"));
  assert.equal(history.total, 1);
  assert.equal((await balancesOf(a))[bob], "5.00");
});

Deno.test("icn ledger history pages newest first and says how to get more", async () => {
  const coop = await setupCoop(2, sets);
  const [a] = coop.dirs;
  const bob = coop.dids[1];
  for (let i = 1; i <= 41; i++) {
    await icnOk(a, "ledger", "transfer", "--to", bob, "--amount", "1", "--id", `n${i}`);
  }
  const page = await icnOk(a, "ledger", "history", "--offset", "20");
  assert.match(page, /Showing 21-40 of 41 \(use --offset 40 for more\)\n$/);
  const json = JSON.parse(await icnOk(a, "--json", "ledger", "history", "--limit", "3"));
  assert.deepEqual(json.entries.map((e: { id: string }) => e.id), ["n41", "n40", "n39"]);
  const last = await icnOk(a, "ledger", "history", "--offset", "40");
  assert.match(last, /Showing 41-41 of 41\n$/);
});

Deno.test(needsTools(["hledger"], {
  name: "icn ledger export --format hledger passes hledger check and agrees with balances",
  fn: async () => {
    const coop = await setupCoop(3, sets);
    const [a, b] = coop.dirs;
    const [, bob, carol] = coop.dids;
    await icnOk(
      a,
      "ledger",
      "transfer",
      "--to",
      bob,
      "--amount",
      "12.5",
      "--memo",
      "semi;colon\nline",
    );
    await icnOk(a, "ledger", "transfer", "--to", carol, "--amount", "0.75");
    await exchange(coop.dirs);
    await icnOk(b, "ledger", "transfer", "--to", carol, "--amount", "3");
    const file = `${coop.root}/ledger.journal`;
    await icnOk(b, "ledger", "export", "--format", "hledger", "--out", file);
    const check = await new Deno.Command("hledger", { args: ["-f", file, "check"] }).output();
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
    const strict = await new Deno.Command("hledger", { args: ["-f", file, "check", "-s"] })
      .output();
    assert.equal(strict.code, 0, new TextDecoder().decode(strict.stderr));
    const report = await new Deno.Command("hledger", {
      args: ["-f", file, "balance", "--flat", "--no-total"],
    }).output();
    const fromHledger: Record<string, string> = {};
    for (const line of new TextDecoder().decode(report.stdout).split("\n")) {
      const match = /^\s*(-?[\d.]+) hours\s+members:(\S+)$/.exec(line);
      if (match) fromHledger[`did:icn:${match[2]}`] = match[1];
    }
    const ours = Object.fromEntries(
      Object.entries(await balancesOf(b)).filter(([, v]) => v !== "0.00"),
    );
    assert.deepEqual(fromHledger, ours);
    assert.equal(Object.keys(ours).length, 3);
  },
}));

Deno.test("two data dirs exchanging CAR bundles reach identical balances", async () => {
  const coop = await setupCoop(2, sets);
  const [a, b] = coop.dirs;
  const [alice, bob] = coop.dids;
  await icnOk(a, "ledger", "transfer", "--to", bob, "--amount", "20");
  await icnOk(b, "ledger", "transfer", "--to", alice, "--amount", "7.25");
  await icnOk(b, "ledger", "transfer", "--to", alice, "--amount", "1");
  assert.notDeepEqual(await balancesOf(a), await balancesOf(b));
  await exchange(coop.dirs);
  const balances = await balancesOf(a);
  assert.deepEqual(balances, await balancesOf(b));
  assert.deepEqual(balances, { [alice]: "-11.75", [bob]: "11.75" });
  assert.equal((await icn(a, "ledger", "check")).code, 0);
  assert.equal((await icn(b, "ledger", "check")).code, 0);
});
