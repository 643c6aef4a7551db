/**
 * Damaged local files and endless inputs at the file boundary: each is an
 * expected failure (exit 1) naming the file, with no stack trace and no state
 * changed, never exit 3 ("a bug in icn") or a hang.
 */
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-local-" });
const home = `${dir}/home`;
await icnExpect(0, ["--data-dir", home, "id", "init"]);
const good = await Deno.readTextFile(`${home}/identity.json`);

function refusedCleanly(run: { code: number; stderr: string }, pattern: RegExp, what: string) {
  assertEquals(run.code, 1, `${what}: exit ${run.code}\n${run.stderr}`);
  assertMatch(run.stderr, pattern);
  if (/\bat .*\.ts:\d+|bug in icn/.test(run.stderr)) {
    throw new Error(`${what}: trace\n${run.stderr}`);
  }
}

Deno.test("a damaged identity.json (null, [], {}, wrong types, not JSON) is reported with its path and the fix", async () => {
  const damaged = [
    "null",
    "[]",
    "{}",
    '{"did": 5, "created": 0, "keys": {}, "pq": false, "kelSeq": 0}',
    good.replace('"pq": false', '"pq": "no"'),
    good.slice(0, 40),
    "\u0000\u0001binary",
  ];
  try {
    for (const text of damaged) {
      await Deno.writeTextFile(`${home}/identity.json`, text);
      const before = await snapshotDir(home);
      for (const args of [["id", "show"], ["id", "export"]]) {
        const run = await icn(["--data-dir", home, ...args]);
        refusedCleanly(run, /identity\.json/, `${args.join(" ")} with identity.json ${text}`);
        assertMatch(run.stderr, /icn id restore|icn doctor/);
      }
      if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("data dir changed");
    }
  } finally {
    await Deno.writeTextFile(`${home}/identity.json`, good);
  }
  await icnExpect(0, ["--data-dir", home, "id", "show"]);
});

Deno.test("endless inputs are refused at their limit instead of hanging: passphrase file, file to sign, signature", async () => {
  const before = await snapshotDir(home);
  const passphrase = await icn([
    "--data-dir",
    home,
    "--passphrase-file",
    "/dev/zero",
    "id",
    "change-passphrase",
  ]);
  refusedCleanly(passphrase, /passphrase file \/dev\/zero/, "passphrase file /dev/zero");
  const sign = await icn(["--data-dir", home, "id", "sign", "/dev/zero"]);
  refusedCleanly(sign, /\/dev\/zero: it is not a regular file/, "id sign /dev/zero");
  await Deno.writeTextFile(`${dir}/file.txt`, "x");
  const verify = await icn([
    "--data-dir",
    home,
    "id",
    "verify",
    `${dir}/file.txt`,
    "--sig",
    "/dev/zero",
  ]);
  refusedCleanly(verify, /signature \/dev\/zero/, "id verify --sig /dev/zero");
  if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("data dir changed");
});

Deno.test("a damaged node.json (null, [], no URL) is reported with its path and the fix, not a crash", async () => {
  try {
    await Deno.writeTextFile(`${home}/node.token`, "0".repeat(64) + "\n");
    for (const text of ["null", "[]", "{}", '{"url": 5}', "not json"]) {
      await Deno.writeTextFile(`${home}/node.json`, text);
      const run = await icn(["--data-dir", home, "node", "status"]);
      refusedCleanly(run, /node\.json/, `node status with node.json ${text}`);
      assertMatch(run.stderr, /remove it/);
    }
  } finally {
    await Deno.remove(`${home}/node.json`).catch(() => {});
    await Deno.remove(`${home}/node.token`).catch(() => {});
  }
});
