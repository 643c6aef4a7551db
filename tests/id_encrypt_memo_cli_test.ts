/**
 * Private memos through the CLI: `icn ledger transfer --private-memo` is read
 * by the payer and the payee only; a third member validates the transfer, sees
 * `(private)` in history and exports no plaintext.
 */
import assert from "node:assert/strict";
import { icn as run, icnExpect } from "./_cli.ts";

const icn = (dir: string, ...args: string[]) => run(["--data-dir", dir, ...args]);
const icnOk = async (dir: string, ...args: string[]) =>
  (await icnExpect(0, ["--data-dir", dir, ...args])).stdout;

/** Every dir exports everything it has; every dir imports every other's bundle. */
async function exchange(dirs: string[]): Promise<void> {
  const bundles: string[] = [];
  for (const [i, dir] of dirs.entries()) {
    bundles.push(`${dir}/../bundle-${i}.car`);
    await icnOk(dir, "node", "export", "--out", bundles[i]);
  }
  for (const [i, dir] of dirs.entries()) {
    for (const [j, bundle] of bundles.entries()) {
      if (j !== i) await icnOk(dir, "node", "import", bundle);
    }
  }
}

/** `n` identities founding one cooperative with `sets` parameters, each knowing every KEL. */
async function setupCoop(n: number, sets: string[]) {
  const root = await Deno.makeTempDir({ prefix: "icn-memo-" });
  const dirs = Array.from({ length: n }, (_, i) => `${root}/m${i}`);
  const dids: string[] = [];
  for (const dir of dirs) {
    await icnOk(dir, "id", "init");
    dids.push(JSON.parse(await icnOk(dir, "--json", "id", "show")).did);
  }
  const genesis = `${root}/genesis.json`;
  await icnOk(
    dirs[0],
    "governance",
    "genesis",
    "create",
    "--name",
    "Memo coop",
    ...dids.flatMap((did) => ["--member", did]),
    ...sets.flatMap((s) => ["--set", s]),
    "--out",
    genesis,
  );
  for (const dir of dirs) await icnOk(dir, "governance", "genesis", "sign", genesis);
  for (const dir of dirs) await icnOk(dir, "governance", "join", genesis);
  await exchange(dirs);
  return { root, dirs, dids };
}

const fastVelocity = ["isolated", "known", "partner", "federated"].map((c) =>
  `policy.${c}.velocity=100000`
);
const sets = [...fastVelocity, "credit.trustMultiplier=0", "credit.historyRate=0"];
const secret = "invoice 2026-117: the new key code is 4417";

interface HistoryRow {
  id: string;
  memo: string;
}

async function historyOf(dir: string, member?: string): Promise<HistoryRow[]> {
  const out = await icnOk(dir, "--json", "ledger", "history", ...(member ? [member] : []));
  return (JSON.parse(out) as { entries: HistoryRow[] }).entries;
}

Deno.test("a private memo is read by payer and payee only; a third member sees (private) and exports no plaintext", async () => {
  const coop = await setupCoop(3, sets);
  try {
    const [a, b, c] = coop.dirs;
    const [alice, bob] = coop.dids;
    // Refusals change nothing.
    const both = await icn(
      a,
      "ledger",
      "transfer",
      "--to",
      bob,
      "--amount",
      "1",
      "--memo",
      "x",
      "--private-memo",
      "y",
    );
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--memo and --private-memo together/);
    const long = await icn(
      a,
      "ledger",
      "transfer",
      "--to",
      bob,
      "--amount",
      "1",
      "--private-memo",
      "z".repeat(900),
    );
    assert.equal(long.code, 1);
    assert.match(long.stderr, /a private memo holds about \d+ bytes/);
    assert.equal((await historyOf(a)).length, 0);

    const sent = JSON.parse(
      await icnOk(
        a,
        "--json",
        "ledger",
        "transfer",
        "--to",
        bob,
        "--amount",
        "2",
        "--private-memo",
        secret,
        "--id",
        "inv-117",
      ),
    );
    assert.equal(sent.status, "accepted");
    // The same command again is the same transfer (idempotent), not an id conflict.
    const again = JSON.parse(
      await icnOk(
        a,
        "--json",
        "ledger",
        "transfer",
        "--to",
        bob,
        "--amount",
        "2",
        "--private-memo",
        secret,
        "--id",
        "inv-117",
      ),
    );
    assert.equal(again.status, "already_exists");
    await exchange(coop.dirs);

    // Payer and payee read it.
    assert.equal((await historyOf(a)).find((r) => r.id === "inv-117")?.memo, secret);
    assert.equal((await historyOf(b)).find((r) => r.id === "inv-117")?.memo, secret);
    const text = await icnOk(b, "ledger", "history");
    assert.ok(text.includes(secret));
    // The third member holds and validated the transfer, but reads (private).
    assert.equal((await historyOf(c, alice)).find((r) => r.id === "inv-117")?.memo, "(private)");
    await icnOk(c, "ledger", "check"); // exits non-zero on any finding
    for (const format of ["hledger", "csv", "json"]) {
      const exported = await icnOk(c, "ledger", "export", "--format", format);
      assert.ok(!exported.includes(secret), `${format} export carries the plaintext`);
      assert.ok(!exported.includes("4417"));
      assert.ok(exported.includes("(private)"), `${format} export marks the memo private`);
    }
    // The raw envelope stores only ciphertext.
    const bundle = `${coop.root}/c.car`;
    await icnOk(c, "node", "export", "--out", bundle);
    const raw = new TextDecoder("latin1").decode(await Deno.readFile(bundle));
    assert.ok(!raw.includes("4417"), "the bundle carries the plaintext");
    assert.ok(raw.includes("icn-private-memo:v1:"));
  } finally {
    await Deno.remove(coop.root, { recursive: true });
  }
});
