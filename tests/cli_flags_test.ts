/**
 * Environment and flags, the same way for every command: a flag beats the
 * environment, a single-value option given twice is a usage error, an
 * impossible date is refused, the scrypt range is one icn can open, and
 * `icn` alone prints its help without an error line.
 */
import * as age from "age-encryption";
import { parseDate } from "../cli/dates.ts";
import { decryptSecrets } from "../cli/keystore.ts";
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-flags-" });
const home = `${dir}/home`;
await icnExpect(0, ["--data-dir", home, "id", "init"]);
const did = "did:icn:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";

function assertNoStack(stderr: string): void {
  if (/\n\s+at /.test(stderr)) throw new Error(`stack trace on stderr:\n${stderr}`);
}

Deno.test("--passphrase-file beats ICN_PASSPHRASE, even an empty one", async () => {
  const file = `${dir}/passphrase.txt`;
  await Deno.writeTextFile(file, "correct horse\n");
  const sig = `${dir}/signed.minisig`;
  for (const env of [{ ICN_PASSPHRASE: "" }, { ICN_PASSPHRASE: "wrong passphrase" }]) {
    await icnExpect(0, [
      "--data-dir",
      home,
      "--passphrase-file",
      file,
      "id",
      "sign",
      file,
      "--out",
      sig,
    ], { env });
  }
  const wrong = `${dir}/wrong.txt`;
  await Deno.writeTextFile(wrong, "wrong passphrase\n");
  const run = await icnExpect(1, [
    "--data-dir",
    home,
    "--passphrase-file",
    wrong,
    "id",
    "sign",
    file,
    "--out",
    sig,
  ]);
  assertMatch(run.stderr, /wrong passphrase/);
});

Deno.test("--new-passphrase-file beats ICN_NEW_PASSPHRASE in id change-passphrase", async () => {
  const other = `${dir}/newpass`;
  await icnExpect(0, ["--data-dir", other, "id", "init"]);
  const file = `${dir}/new-passphrase.txt`;
  await Deno.writeTextFile(file, "from the file\n");
  await icnExpect(0, [
    "--data-dir",
    other,
    "id",
    "change-passphrase",
    "--new-passphrase-file",
    file,
  ], { env: { ICN_NEW_PASSPHRASE: "from the environment" } });
  const doc = `${dir}/doc.txt`;
  await Deno.writeTextFile(doc, "x");
  await icnExpect(0, ["--data-dir", other, "id", "sign", doc], {
    env: { ICN_PASSPHRASE: "from the file" },
  });
  await icnExpect(1, ["--data-dir", other, "id", "sign", doc], {
    env: { ICN_PASSPHRASE: "from the environment" },
  });
});

Deno.test("a single-value option given twice is a usage error in every command", async () => {
  const cases: string[][] = [
    ["ledger", "transfer", "--to", did, "--to", did, "--amount", "1"],
    ["ledger", "transfer", "--to", did, "--amount", "1", "--amount", "2"],
    ["id", "sign", "x", "--out", "a", "--out", "b"],
    ["governance", "vote", "abc", "for", "--reason", "a", "--reason", "b"],
    ["--data-dir", "a", "--data-dir", "b", "id", "show"],
    ["id", "show", "--passphrase-file", "a", "--passphrase-file", "b"],
  ];
  const before = await snapshotDir(home);
  for (const args of cases) {
    const run = await icn([...args.includes("--data-dir") ? [] : ["--data-dir", home], ...args]);
    if (run.code !== 2) {
      throw new Error(`icn ${args.join(" ")} exited ${run.code}, expected 2\n${run.stderr}`);
    }
    assertMatch(run.stderr, /option '--[a-z-]+ <[a-z.-]+>' was given more than once/);
    assertNoStack(run.stderr);
  }
  if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("data dir changed");
});

Deno.test("repeatable options still take several values", async () => {
  const run = await icn([
    "--data-dir",
    `${dir}/genesis`,
    "governance",
    "genesis",
    "create",
    "--name",
    "x",
    "--member",
    did,
    "--member",
    did,
    "--name",
    "y",
  ]);
  assertEquals(run.code, 2, "--name twice");
  if (/--member/.test(run.stderr)) throw new Error(`--member refused:\n${run.stderr}`);
});

Deno.test("parseDate() refuses impossible dates and reads valid ones as Date.parse does", () => {
  for (
    const bad of [
      "2027-02-30",
      "2027-02-29",
      "2026-13-01",
      "2026-00-10",
      "2026-04-31",
      "2026-12-31T24:00",
      "2026-12-31T23:60Z",
      "2026-12-31T23:59:60Z",
      "2026-12-31T10:00+25:00",
      "March 2, 2027",
      "2027-2-3",
      "",
    ]
  ) {
    let threw = false;
    try {
      parseDate(bad, "--deadline");
    } catch (error) {
      threw = true;
      assertMatch((error as Error).message, /^Cannot use --deadline ".*": /);
    }
    if (!threw) throw new Error(`parseDate accepted "${bad}"`);
  }
  for (
    const good of [
      "2028-02-29",
      "2027-02-28",
      "2026-12-31T18:00Z",
      "2026-12-31T18:00:30.5+02:00",
      "2026-06-01T12:00",
      "2026-06-01 12:00:15",
    ]
  ) {
    assertEquals(parseDate(good, "--deadline"), Date.parse(good), good);
  }
});

Deno.test("--deadline 2027-02-30 is refused before anything is written", async () => {
  const before = await snapshotDir(home);
  for (
    const args of [
      [
        "governance",
        "propose",
        "--kind",
        "upgrade",
        "--title",
        "t",
        "--upgrade-version",
        "9.0.0",
        "--deadline",
        "2027-02-30",
        "--min-version",
        "9.0.0",
      ],
      ["governance", "delegate", did, "--expires", "2027-02-30"],
    ]
  ) {
    const run = await icnExpect(1, ["--data-dir", home, ...args]);
    assertMatch(run.stderr, /Cannot use --(deadline|expires) "2027-02-30": 2027-02 has no day 30/);
    assertNoStack(run.stderr);
  }
  if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("data dir changed");
});

Deno.test("ICN_SCRYPT_LOG_N accepts 10 to 20 and refuses the rest before writing", async () => {
  for (const value of ["21", "22", "9", "18.5", "x", ""]) {
    const target = `${dir}/scrypt-${value || "empty"}`;
    const run = await icnExpect(1, ["--data-dir", target, "id", "init"], {
      env: { ICN_SCRYPT_LOG_N: value },
    });
    assertMatch(run.stderr, /ICN_SCRYPT_LOG_N.*whole number from 10 to 20/);
    assertNoStack(run.stderr);
    const left = await Deno.stat(target).then(() => true, () => false);
    if (left) throw new Error(`ICN_SCRYPT_LOG_N=${value} created ${target}`);
  }
  const top = `${dir}/scrypt-20`;
  await icnExpect(0, ["--data-dir", top, "id", "init"], { env: { ICN_SCRYPT_LOG_N: "20" } });
  const doc = `${dir}/doc20.txt`;
  await Deno.writeTextFile(doc, "x");
  await icnExpect(0, ["--data-dir", top, "id", "sign", doc]);
});

Deno.test("a keystore above the work factor icn opens is named as such, not as corrupted", async () => {
  const encrypter = new age.Encrypter();
  encrypter.setPassphrase("x");
  encrypter.setScryptWorkFactor(10);
  const header = new TextDecoder("latin1").decode(await encrypter.encrypt("{}"));
  // The decrypter refuses the stanza's work factor before it runs scrypt: no 2 GiB needed.
  const forged = new TextEncoder().encode(header.replace(/(-> scrypt \S+) 10\n/, "$1 21\n"));
  let message = "";
  try {
    await decryptSecrets(forged, "x");
  } catch (error) {
    message = (error as Error).message;
  }
  assertMatch(message, /scrypt work factor above 20, which icn cannot open/);
});

Deno.test("icn and icn id alone print their help on stderr without an error line, exit 2", async () => {
  for (const args of [[], ["id"], ["ledger"]]) {
    const run = await icn(args);
    assertEquals(run.code, 2, `icn ${args.join(" ")}`);
    assertMatch(run.stderr, /^Usage: icn/);
    if (/error|outputHelp/.test(run.stderr)) throw new Error(`error line:\n${run.stderr}`);
    assertEquals(run.stdout, "", "stdout");
  }
  const help = await icnExpect(0, ["--help"]);
  assertMatch(help.stdout, /^Usage: icn/);
});
