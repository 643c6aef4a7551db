/** Cooperative genesis and CAR bundle exchange through the CLI. */
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-genesis-" });
const homes = ["a", "b", "c"].map((n) => `${dir}/${n}`);
const dids: string[] = [];
for (const home of homes) {
  dids.push(
    (await icnExpect(0, ["--json", "--data-dir", home, "id", "init"])).json<{ did: string }>().did,
  );
}
const genesisFile = `${dir}/genesis.json`;

Deno.test("genesis create validates --set keys and values and writes nothing on bad input", async () => {
  const bad = [
    ["--set", "credit.baseline=-5"],
    ["--set", "nope.key=1"],
    ["--set", "governance.text.votingPeriod=soon"],
    ["--set", "governance.text.mode=dictator"],
    ["--set", "missing-equals"],
    ["--currency", "HOURS:2"],
    ["--member", "did:icn:notadid"],
  ];
  for (const extra of bad) {
    const run = await icn([
      "--data-dir",
      homes[0],
      "governance",
      "genesis",
      "create",
      "--name",
      "X",
      "--member",
      dids[1],
      "--out",
      `${dir}/bad.json`,
      ...extra,
    ]);
    assertEquals(run.code, 1, extra.join(" "));
    assertMatch(run.stderr, /^error: /);
  }
  const exists = await Deno.stat(`${dir}/bad.json`).then(() => true, () => false);
  assertEquals(exists, false, "no file written");
  const keys = await icnExpect(0, ["--json", "governance", "genesis", "keys"]);
  const names = keys.json<{ key: string }[]>().map((k) => k.key);
  for (
    const key of [
      "credit.baseline",
      "credit.trustMultiplier",
      "credit.historyRate",
      "governance.upgrade.quorum",
      "governance.config.timelock",
      "governance.text.mode",
      "network.clockSkew",
    ]
  ) {
    if (!names.includes(key)) throw new Error(`missing key ${key}`);
  }
});

Deno.test("founders create, sign and join a genesis; the network id is the genesis CID", async () => {
  const created = await icnExpect(0, [
    "--json",
    "--data-dir",
    homes[0],
    "governance",
    "genesis",
    "create",
    "--name",
    "Riverside Co-op",
    "--member",
    dids[1],
    "--member",
    dids[2],
    "--currency",
    "hours:2",
    "--set",
    "credit.baseline=5000",
    "--set",
    "governance.text.votingPeriod=1h",
    "--out",
    genesisFile,
  ]);
  const id = created.json<{ id: string }>().id;
  const early = await icnExpect(1, ["--data-dir", homes[1], "governance", "join", genesisFile]);
  assertMatch(early.stderr, /have not signed/);
  for (const home of homes) {
    await icnExpect(0, ["--data-dir", home, "governance", "genesis", "sign", genesisFile]);
  }
  const shown = (await icnExpect(0, ["--json", "governance", "genesis", "show", genesisFile])).json<
    { missing: string[]; genesis: { params: Record<string, unknown> } }
  >();
  assertEquals(shown.missing, []);
  assertEquals(shown.genesis.params["credit.baseline"], 5000);
  assertEquals(shown.genesis.params["governance.text.votingPeriod"], 3_600_000);
  for (const home of homes) {
    const joined = await icnExpect(0, [
      "--json",
      "--data-dir",
      home,
      "governance",
      "join",
      genesisFile,
    ]);
    assertEquals(joined.json<{ id: string }>().id, id);
  }
  const again = await icnExpect(0, [
    "--json",
    "--data-dir",
    homes[0],
    "governance",
    "join",
    genesisFile,
  ]);
  assertEquals(again.json<{ already: boolean }>().already, true);
});

Deno.test("join refuses a tampered genesis and a non-founder signature", async () => {
  const text = await Deno.readTextFile(genesisFile);
  await Deno.writeTextFile(
    `${dir}/tampered.json`,
    text.replace("Riverside Co-op", "Riverside Co-op!"),
  );
  const fresh = `${dir}/fresh`;
  await icnExpect(0, ["--data-dir", fresh, "id", "init"]);
  const run = await icnExpect(1, [
    "--data-dir",
    fresh,
    "governance",
    "join",
    `${dir}/tampered.json`,
  ]);
  assertMatch(run.stderr, /does not match its content/);
  const sign = await icnExpect(1, [
    "--data-dir",
    fresh,
    "governance",
    "genesis",
    "sign",
    genesisFile,
  ]);
  assertMatch(sign.stderr, /not (a|one of its) (founder|members)/);
});

Deno.test("bundles carry key event logs between data dirs; a tampered bundle is rejected whole", async () => {
  const bundle = `${dir}/a.car`;
  const exported = await icnExpect(0, [
    "--json",
    "--data-dir",
    homes[0],
    "node",
    "export",
    "--out",
    bundle,
  ]);
  assertEquals(exported.json<{ count: number }>().count, 1);
  const imported = await icnExpect(0, ["--json", "--data-dir", homes[1], "node", "import", bundle]);
  assertEquals(imported.json<{ accepted: number }>().accepted, 1);
  const again = await icnExpect(0, ["--json", "--data-dir", homes[1], "node", "import", bundle]);
  const repeat = again.json<{ accepted: number; duplicates: number }>();
  assertEquals([repeat.accepted, repeat.duplicates], [0, 1]);
  // Tamper with one byte of the envelope block: the CID check fails and nothing changes.
  const bytes = await Deno.readFile(bundle);
  const tampered = bytes.slice();
  tampered[tampered.length - 10] ^= 0x01;
  await Deno.writeFile(`${dir}/tampered.car`, tampered);
  const before = await snapshotDir(homes[2]);
  const bad = await icnExpect(1, ["--data-dir", homes[2], "node", "import", `${dir}/tampered.car`]);
  assertMatch(bad.stderr, /Cannot read bundle|Rejected envelope/);
  await Deno.writeFile(`${dir}/truncated.car`, bytes.slice(0, bytes.length - 30));
  const truncated = await icnExpect(1, [
    "--data-dir",
    homes[2],
    "node",
    "import",
    `${dir}/truncated.car`,
  ]);
  assertMatch(truncated.stderr, /Cannot read bundle/);
  await Deno.writeFile(`${dir}/random.car`, crypto.getRandomValues(new Uint8Array(500)));
  await icnExpect(1, ["--data-dir", homes[2], "node", "import", `${dir}/random.car`]);
  if (!sameSnapshot(before, await snapshotDir(homes[2]))) {
    throw new Error("a rejected bundle changed the data dir");
  }
});

Deno.test({
  name: "genesis tests clean up",
  async fn() {
    await Deno.remove(dir, { recursive: true });
  },
});
