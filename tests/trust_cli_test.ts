/** `icn trust` end to end: three founders, edges exchanged as bundles, scores, bad input. */
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-trust-" });
const homes = ["a", "b", "c"].map((n) => `${dir}/${n}`);
const dids: string[] = [];
for (const home of homes) {
  dids.push(
    (await icnExpect(0, ["--json", "--data-dir", home, "id", "init"])).json<{ did: string }>().did,
  );
}
const [a, b] = homes;
const [didA, didB, didC] = dids;
const genesisFile = `${dir}/genesis.json`;
await icnExpect(0, [
  "--data-dir",
  a,
  "governance",
  "genesis",
  "create",
  "--name",
  "Trust Co-op",
  ...dids.flatMap((did) => ["--member", did]),
  "--out",
  genesisFile,
]);
for (const home of homes) {
  await icnExpect(0, ["--data-dir", home, "governance", "genesis", "sign", genesisFile]);
}
for (const home of [a, b]) {
  await icnExpect(0, ["--data-dir", home, "governance", "join", genesisFile]);
}

const close = (actual: number, expected: number, what: string) => {
  if (Math.abs(actual - expected) > 1e-9) throw new Error(`${what}: ${actual} ≠ ${expected}`);
};

Deno.test("trust add rejects bad scores, self-edges and malformed DIDs with exit 1, storing nothing", async () => {
  const before = await snapshotDir(a);
  const bad = [
    ["trust", "add", didB, "1.5"],
    ["trust", "add", didB, "NaN"],
    ["trust", "add", didB, "-0.1"],
    ["trust", "add", didB, "0.1234"],
    ["trust", "add", didA, "0.5"],
    ["trust", "add", "did:icn:notadid", "0.5"],
    ["trust", "add", didB, "0.5", "--graph", "romantic"],
    ["trust", "add", didB, "0.5", "--expires", "soon"],
  ];
  for (const args of bad) {
    const run = await icn(["--data-dir", a, ...args]);
    assertEquals(run.code, 1, args.join(" "));
    assertMatch(run.stderr, /^error: /);
  }
  if (!sameSnapshot(before, await snapshotDir(a))) {
    throw new Error("bad input changed the data dir");
  }
});

Deno.test("edges exchanged by bundle give the same scores on both sides, with --explain and --json", async () => {
  const added = await icnExpect(0, ["--json", "--data-dir", a, "trust", "add", didB, "0.8"]);
  assertEquals(added.json<{ score: number; graph: string }>().score, 0.8);
  await icnExpect(0, [
    "--data-dir",
    a,
    "trust",
    "add",
    didC,
    "0.5",
    "--graph",
    "economic",
    "--label",
    "bakery",
    "--expires",
    "30d",
  ]);
  await icnExpect(0, ["--data-dir", b, "trust", "add", didC, "0.9"]);
  await icnExpect(0, ["--data-dir", a, "node", "export", "--out", `${dir}/a.car`]);
  await icnExpect(0, ["--data-dir", b, "node", "export", "--out", `${dir}/b.car`]);
  await icnExpect(0, ["--data-dir", a, "node", "import", `${dir}/b.car`]);
  await icnExpect(0, ["--data-dir", b, "node", "import", `${dir}/a.car`]);
  type Score = {
    score: number;
    class: string;
    explanation: {
      direct: number;
      directTerm: number;
      intermediaries: { via: string; contribution: number }[];
    };
  };
  const expected = 0.5 * 0.7 + 0.8 * 0.9 * 0.3;
  for (const home of [a, b]) {
    const run = await icnExpect(0, [
      "--json",
      "--data-dir",
      home,
      "trust",
      "score",
      didC,
      "--from",
      didA,
      "--explain",
    ]);
    const result = run.json<Score>();
    close(result.score, expected, `score on ${home}`);
    assertEquals(result.class, "partner");
    assertEquals(result.explanation.direct, 0.5);
    assertEquals(result.explanation.intermediaries.map((i) => i.via), [didB]);
  }
  const social = (await icnExpect(0, [
    "--json",
    "--data-dir",
    b,
    "trust",
    "score",
    didC,
    "--from",
    didA,
    "--graph",
    "social",
  ])).json<Score>();
  close(social.score, 0.8 * 0.9 * 0.4, "social score");
  const vouchers = (await icnExpect(0, ["--json", "--data-dir", b, "trust", "list", "--to", didC]))
    .json<{ total: number; edges: { from: string; label?: string; expiresAt?: string }[] }>();
  assertEquals(vouchers.total, 2);
  const fromA = vouchers.edges.find((e) => e.from === didA)!;
  assertEquals(fromA.label, "bakery");
  assertMatch(fromA.expiresAt ?? "", /^\d{4}-\d\d-\d\dT/);
  const mine = (await icnExpect(0, ["--json", "--data-dir", a, "trust", "list", "--limit", "1"]))
    .json<{ total: number; edges: unknown[] }>();
  assertEquals(mine.total, 2);
  assertEquals(mine.edges.length, 1);
});

Deno.test("trust history and anomalies report in --json; remove revokes", async () => {
  const history = (await icnExpect(0, ["--json", "--data-dir", b, "trust", "history", didC]))
    .json<{ view: string; points: { score: number; class: string }[] }>();
  assertEquals(history.view, "cooperative");
  assertEquals(history.points.length >= 1, true);
  // b vouches back for a: a ↔ b with mean score 0.85 is circular vouching.
  await icnExpect(0, ["--data-dir", b, "trust", "add", didA, "0.9"]);
  const anomalies = (await icnExpect(0, ["--json", "--data-dir", b, "trust", "anomalies"]))
    .json<{
      rings: { members: string[]; meanScore: number; edges: unknown[] }[];
      sybils: unknown[];
      growth: unknown[];
      members: number;
    }>();
  assertEquals(anomalies.members, 3);
  assertEquals(anomalies.rings.length, 1);
  assertEquals(anomalies.rings[0].members, [didA, didB].sort());
  assertEquals(anomalies.rings[0].edges.length, 2);
  assertEquals(Math.abs(anomalies.rings[0].meanScore - 0.85) < 1e-9, true);
  assertEquals(Array.isArray(anomalies.sybils) && Array.isArray(anomalies.growth), true);
  await icnExpect(0, ["--data-dir", a, "trust", "remove", didB]);
  const again = await icnExpect(1, ["--data-dir", a, "trust", "remove", didB]);
  assertMatch(again.stderr, /no social edge/);
  const after = (await icnExpect(0, ["--json", "--data-dir", a, "trust", "score", didB]))
    .json<{ score: number; class: string }>();
  assertEquals(after.score, 0);
  assertEquals(after.class, "isolated");
});
