/**
 * `icn ledger` two-phase transfers, payment requests and the maximum balance,
 * end to end through the CLI. One cooperative for the whole file (setting one
 * up costs ~20 processes), steps in order.
 */
import assert from "node:assert/strict";
import { cliEnv, exchange, icnOk, setupCoop } from "./ledger_support.ts";
import { requireTool } from "./_tools.ts";
import { icn as runIcn } from "./_cli.ts";

const fastVelocity = ["isolated", "known", "partner", "federated"].map((c) =>
  `policy.${c}.velocity=100000`
);
// Limit 100.00 hours for everyone; maximum balance 100.00; warnings within 10 %.
const sets = [
  ...fastVelocity,
  "credit.trustMultiplier=0",
  "credit.historyRate=0",
  "ledger.maxBalance=10000",
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `icn` with the clock moved by `offsetMs` (the CLI's test hook), in-process (`./_cli.ts`). */
async function icnAt(offsetMs: number, dir: string, ...args: string[]): Promise<Run> {
  const { code, stdout, stderr } = await runIcn(["--data-dir", dir, ...args], {
    env: { ...cliEnv, ICN_TEST_CLOCK_OFFSET_MS: String(offsetMs) },
  });
  return { code, stdout, stderr };
}

const icn = (dir: string, ...args: string[]) => icnAt(0, dir, ...args);

async function json<T = Record<string, unknown>>(dir: string, ...args: string[]): Promise<T> {
  return JSON.parse(await icnOk(dir, "--json", ...args)) as T;
}

async function stateHash(dir: string): Promise<string> {
  return (await json<{ stateHash: string }>(dir, "ledger", "check")).stateHash;
}

/** Copies what `from` holds into `to` (one export, one import). */
async function send(from: string, to: string): Promise<void> {
  const path = `${from}/../send-${crypto.randomUUID()}.car`;
  await icnOk(from, "node", "export", "--out", path);
  await icnOk(to, "node", "import", path);
}

async function refused(run: Promise<Run>, pattern: RegExp): Promise<void> {
  const result = await run;
  assert.notEqual(result.code, 0, `expected a refusal, got: ${result.stdout}`);
  assert.match(result.stderr, pattern);
}

Deno.test("icn ledger: pending transfers, payment requests and the maximum balance", async (t) => {
  const coop = await setupCoop(3, sets);
  const [a, b, c] = coop.dirs;
  const [, bob, carol] = coop.dids;

  await t.step("a pending reserves credit and moves nothing until posted", async () => {
    const out = await json(
      a,
      "ledger",
      "transfer",
      "--pending",
      "--to",
      bob,
      "--amount",
      "60",
      "--id",
      "p1",
    );
    assert.equal(out.status, "pending");
    assert.equal(out.reserved, "60.00");
    assert.equal(out.available, "40.00");
    const balance = await json(a, "ledger", "balance");
    assert.deepEqual([balance.balance, balance.reserved, balance.available], [
      "0.00",
      "60.00",
      "40.00",
    ]);
    await refused(
      icn(a, "ledger", "transfer", "--to", bob, "--amount", "50"),
      /reserved by pending transfers/,
    );
    await icnOk(
      a,
      "ledger",
      "transfer",
      "--pending",
      "--to",
      bob,
      "--amount",
      "5",
      "--id",
      "p2",
      "--poster",
      carol,
      "--timeout",
      "10m",
    );
    const open = await json<{ id: string; canPost: boolean }[]>(a, "ledger", "pending");
    assert.deepEqual(open.map((p) => [p.id, p.canPost]), [["p2", false], ["p1", true]]);
    assert.equal((await icn(a, "ledger", "check")).code, 0);
  });

  await t.step("the hledger export shows open pendings and passes hledger check", async () => {
    if (!requireTool("hledger", "hledger check of an export with pending transfers")) return;
    const file = `${coop.root}/pending.journal`;
    await icnOk(a, "ledger", "export", "--format", "hledger", "--out", file);
    const text = await Deno.readTextFile(file);
    assert.match(text, /! pending p1/);
    const strict = await new Deno.Command("hledger", { args: ["-f", file, "check", "-s"] })
      .output();
    assert.equal(strict.code, 0, new TextDecoder().decode(strict.stderr));
    const report = await new Deno.Command("hledger", {
      args: ["-f", file, "balance", "pending", "--flat", "--no-total"],
    }).output();
    const lines = new TextDecoder().decode(report.stdout);
    assert.match(lines, /-65\.00 hours\s+pending:out:/);
    assert.match(lines, /65\.00 hours\s+pending:in:/);
  });

  await t.step("bad input is refused clearly and changes nothing", async () => {
    const before = await stateHash(a);
    const cases: [string[], RegExp][] = [
      [["transfer", "--pending", "--to", bob, "--amount", "-1"], /positive/],
      [["transfer", "--pending", "--to", bob, "--amount", "1.234"], /2 decimals/],
      [["transfer", "--to", bob, "--amount", "1", "--timeout", "1h"], /need --pending/],
      [["transfer", "--pending", "--to", bob, "--amount", "1", "--timeout", "30d"], /--timeout/],
      [["post", "p2"], /only its posters/],
      [["post", "nope"], /Unknown pending transfer "nope"/],
      [["void", "nope"], /Unknown pending transfer/],
      [["pay", "nope"], /No request "nope"/],
      [["request", "--from", bob, "--amount", "0"], /greater than zero/],
      [["request", "--from", bob, "--amount", "1", "--expires", "400d"], /--expires/],
    ];
    for (const [args, pattern] of cases) await refused(icn(a, "ledger", ...args), pattern);
    assert.equal(await stateHash(a), before);
  });

  await t.step("post moves the amount once; posting or voiding again is refused", async () => {
    const posted = await json(a, "ledger", "post", "p1");
    assert.equal(posted.status, "posted");
    await refused(icn(a, "ledger", "post", "p1"), /already posted/);
    await refused(icn(a, "ledger", "void", "p1"), /already posted/);
    await icnOk(a, "ledger", "transfer", "--pending", "--to", bob, "--amount", "1", "--id", "p4");
    assert.equal((await json(a, "ledger", "void", "p4")).status, "voided");
    await refused(icn(a, "ledger", "void", "p4"), /already voided/);
    const balance = await json(a, "ledger", "balance");
    assert.deepEqual([balance.balance, balance.reserved], ["-60.00", "5.00"]);
    const history = await json<{ entries: { id: string; pending: string | null }[] }>(
      a,
      "ledger",
      "history",
    );
    assert.deepEqual(history.entries.map((e) => [e.id, e.pending !== null]), [["p1", true]]);
    await exchange(coop.dirs);
    // Bob, the payee, cannot post Carol's pending; Carol, its poster, can.
    await refused(icn(b, "ledger", "post", "p2"), /only its posters/);
    await icnOk(c, "ledger", "post", "p2");
    assert.equal((await json(c, "ledger", "balance", bob)).balance, "65.00");
  });

  await t.step("a pending expires on every node: a later post is refused", async () => {
    await icnOk(
      a,
      "ledger",
      "transfer",
      "--pending",
      "--to",
      bob,
      "--amount",
      "10",
      "--id",
      "p3",
      "--timeout",
      "1m",
    );
    const later = 11 * 60_000; // past p3 (1 min) and p2 (10 min), whose post by Carol is not here
    await refused(icnAt(later, a, "ledger", "post", "p3"), /expired/);
    const rows = await JSON.parse(
      (await icnAt(later, a, "--json", "ledger", "pending", "--all")).stdout,
    ) as { id: string; status: string }[];
    assert.equal(rows.find((r) => r.id === "p3")?.status, "expired");
    const balance = JSON.parse((await icnAt(later, a, "--json", "ledger", "balance")).stdout);
    assert.deepEqual([balance.balance, balance.reserved], ["-60.00", "0.00"]);
  });

  await t.step("payment requests: pay once, decline, expiry", async () => {
    await icnOk(b, "ledger", "request", "--from", coop.dids[0], "--amount", "7", "--id", "rq1");
    await icnOk(b, "ledger", "request", "--from", coop.dids[0], "--amount", "3", "--id", "rq2");
    await icnOk(
      b,
      "ledger",
      "request",
      "--from",
      coop.dids[0],
      "--amount",
      "2",
      "--id",
      "rq3",
      "--expires",
      "1h",
    );
    await send(b, a);
    const asked = await json<{ id: string; direction: string }[]>(a, "ledger", "requests");
    assert.deepEqual(asked.map((r) => [r.id, r.direction]), [
      ["rq1", "to me"],
      ["rq2", "to me"],
      ["rq3", "to me"],
    ]);
    const paid = await json(a, "ledger", "pay", "rq1");
    assert.equal(paid.status, "paid");
    await refused(icn(a, "ledger", "pay", "rq1"), /already paid/);
    await icnOk(a, "ledger", "decline", "rq2");
    await refused(icn(a, "ledger", "pay", "rq2"), /already declined/);
    await refused(icnAt(2 * 3_600_000, a, "ledger", "pay", "rq3"), /expired/);
    assert.equal((await json(a, "ledger", "balance", bob)).balance, "67.00");
    await send(a, b);
    const mine = await json<{ id: string; status: string }[]>(b, "ledger", "requests", "--all");
    assert.deepEqual(mine.map((r) => [r.id, r.status]), [
      ["rq1", "paid"],
      ["rq2", "declined"],
      ["rq3", "open"],
    ]);
  });

  await t.step("the maximum balance refuses a credit above it and warns both sides", async () => {
    await send(b, c);
    await refused(
      icn(c, "ledger", "transfer", "--to", bob, "--amount", "30"),
      /above their maximum 100\.00/,
    );
    const near = await icn(c, "ledger", "transfer", "--to", bob, "--amount", "20");
    assert.equal(near.code, 0, near.stderr);
    assert.match(near.stderr, /payee's balance 92\.00 hours is within 10% of their maximum/);
    await send(c, b);
    const own = await icn(b, "ledger", "balance");
    assert.match(own.stderr, /within 10% of the maximum balance 100\.00/);
    for (const dir of coop.dirs) assert.equal((await icn(dir, "ledger", "check")).code, 0);
  });
});
