/**
 * `icn id` end to end: a real subprocess against temporary data dirs, checked
 * against independent tools (minisign, age) where they are installed.
 */
import {
  assertEquals,
  assertMatch,
  icn,
  icnExpect,
  ignoreWithout,
  sameSnapshot,
  snapshotDir,
} from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-id-" });
const home = `${dir}/home`;
const file = `${dir}/hello.txt`;
await Deno.writeTextFile(file, "hello cooperative\n");
const init = await icnExpect(0, ["--json", "--data-dir", home, "id", "init"]);
const did = init.json<{ did: string }>().did;

Deno.test("icn id init creates a DID, a 0600 age keystore and a public identity", async () => {
  assertMatch(did, /^did:icn:z[1-9A-HJ-NP-Za-km-z]{43,44}$/);
  const mode = (await Deno.stat(`${home}/identity.age`)).mode! & 0o777;
  assertEquals(mode, 0o600, "keystore mode");
  const show = await icnExpect(0, ["--json", "--data-dir", home, "id", "show"], {
    env: { ICN_PASSPHRASE: "" },
  });
  assertEquals(show.json<{ did: string }>().did, did);
  assertEquals(show.json<{ pq: boolean }>().pq, false);
});

Deno.test("icn id init refuses a second identity without --force and changes nothing", async () => {
  const before = await snapshotDir(home);
  const run = await icnExpect(1, ["--data-dir", home, "id", "init"]);
  assertMatch(run.stderr, /already exists.*--force/);
  if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("data dir changed");
});

Deno.test("icn id init --force replaces the identity and keeps the old keystore as a backup", async () => {
  const other = `${dir}/force`;
  const first =
    (await icnExpect(0, ["--json", "--data-dir", other, "id", "init"])).json<{ did: string }>().did;
  const second = await icnExpect(0, ["--json", "--data-dir", other, "id", "init", "--force"]);
  const data = second.json<{ did: string; backup: string }>();
  if (data.did === first) throw new Error("same DID after --force");
  assertEquals((await Deno.stat(data.backup)).mode! & 0o777, 0o600, "backup mode");
});

Deno.test("icn id sign output verifies with icn id verify and is rejected when tampered", async () => {
  await icnExpect(0, ["--data-dir", home, "id", "sign", file]);
  const ok = await icnExpect(0, ["--json", "--data-dir", home, "id", "verify", file]);
  assertEquals(ok.json<{ did: string }>().did, did);
  const tampered = `${dir}/tampered.txt`;
  await Deno.writeTextFile(tampered, "hello cooperative!\n");
  const bad = await icnExpect(1, [
    "--data-dir",
    home,
    "id",
    "verify",
    tampered,
    "--sig",
    `${file}.minisig`,
  ]);
  assertMatch(bad.stderr, /does not match the file/);
  const sig = await Deno.readTextFile(`${file}.minisig`);
  const lines = sig.split("\n");
  await Deno.writeTextFile(
    `${dir}/comment.minisig`,
    [lines[0], lines[1], lines[2].replace("timestamp:1", "timestamp:2"), lines[3], ""].join("\n"),
  );
  const comment = await icnExpect(1, [
    "--data-dir",
    home,
    "id",
    "verify",
    file,
    "--sig",
    `${dir}/comment.minisig`,
  ]);
  assertMatch(comment.stderr, /Trusted comment was changed/);
  await Deno.writeTextFile(`${dir}/garbage.minisig`, "not a signature\n");
  const garbage = await icnExpect(1, [
    "--data-dir",
    home,
    "id",
    "verify",
    file,
    "--sig",
    `${dir}/garbage.minisig`,
  ]);
  assertMatch(garbage.stderr, /Malformed signature file/);
  const otherHome = `${dir}/other`;
  const otherDid =
    (await icnExpect(0, ["--json", "--data-dir", otherHome, "id", "init"])).json<{ did: string }>()
      .did;
  const wrong = await icnExpect(1, ["--data-dir", home, "id", "verify", file, "--did", otherDid]);
  assertMatch(wrong.stderr, new RegExp(`not "${otherDid}"`));
});

Deno.test({
  name: "minisign -V verifies icn id sign output with icn id export --minisign",
  ignore: ignoreWithout(["minisign"], "minisign -V verifies icn id sign output"),
  async fn() {
    await icnExpect(0, ["--data-dir", home, "id", "sign", file, "--out", `${dir}/m.minisig`]);
    const pub = await icnExpect(0, ["--data-dir", home, "id", "export", "--minisign"]);
    await Deno.writeTextFile(`${dir}/icn.pub`, pub.stdout);
    const out = await new Deno.Command("minisign", {
      args: ["-V", "-p", `${dir}/icn.pub`, "-m", file, "-x", `${dir}/m.minisig`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
    assertMatch(new TextDecoder().decode(out.stdout), /verified/);
    await Deno.writeTextFile(`${dir}/hello2.txt`, "changed\n");
    const bad = await new Deno.Command("minisign", {
      args: ["-V", "-p", `${dir}/icn.pub`, "-m", `${dir}/hello2.txt`, "-x", `${dir}/m.minisig`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (bad.code === 0) throw new Error("minisign accepted a changed file");
  },
});

async function minisignTool(args: string[]): Promise<void> {
  const out = await new Deno.Command("minisign", { args, stdout: "piped", stderr: "piped" })
    .output();
  if (out.code !== 0) {
    throw new Error(`minisign ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test({
  name: "icn id verify --pubkey accepts signatures made by the real minisign (random key ids)",
  ignore: ignoreWithout(["minisign"], "icn id verify --pubkey with real minisign signatures"),
  async fn() {
    const keys = `${dir}/minisign-keys`;
    await Deno.mkdir(keys, { recursive: true });
    await minisignTool(["-G", "-W", "-p", `${keys}/a.pub`, "-s", `${keys}/a.key`]);
    await minisignTool(["-G", "-W", "-p", `${keys}/b.pub`, "-s", `${keys}/b.key`]);
    const verify = (code: number, sig: string, pub = `${keys}/a.pub`, target = file) =>
      icnExpect(code, [
        "--json",
        "--data-dir",
        home,
        "id",
        "verify",
        target,
        "--sig",
        sig,
        "--pubkey",
        pub,
      ]);
    // minisign 0.11 signs prehashed (ED) by default; -l makes the legacy Ed format.
    await minisignTool([
      "-S",
      "-s",
      `${keys}/a.key`,
      "-m",
      file,
      "-x",
      `${keys}/ed.minisig`,
      "-t",
      "release 1.2",
    ]);
    await minisignTool([
      "-S",
      "-l",
      "-s",
      `${keys}/a.key`,
      "-m",
      file,
      "-x",
      `${keys}/legacy.minisig`,
    ]);
    const good = await verify(0, `${keys}/ed.minisig`);
    assertEquals(
      good.json<{ valid: boolean; trustedComment: string }>().trustedComment,
      "release 1.2",
    );
    await verify(0, `${keys}/legacy.minisig`);
    const otherKey = await verify(1, `${keys}/ed.minisig`, `${keys}/b.pub`);
    assertMatch(otherKey.stderr, /different key/);
    await Deno.writeTextFile(`${keys}/changed.txt`, "hello cooperative?\n");
    for (const sig of ["ed", "legacy"]) {
      const changed = await verify(
        1,
        `${keys}/${sig}.minisig`,
        `${keys}/a.pub`,
        `${keys}/changed.txt`,
      );
      assertMatch(changed.stderr, /does not match the file/);
    }
    const sig = (await Deno.readTextFile(`${keys}/ed.minisig`)).split("\n");
    sig[2] = "trusted comment: release 9.9";
    await Deno.writeTextFile(`${keys}/comment.minisig`, sig.join("\n"));
    const comment = await verify(1, `${keys}/comment.minisig`);
    assertMatch(comment.stderr, /Trusted comment was changed/);
  },
});

Deno.test({
  name: "age -d decrypts identity.age with the passphrase",
  ignore: ignoreWithout(["age", "script"], "age -d decrypts identity.age"),
  async fn() {
    // age reads passphrases only from a terminal: give it one with script(1), and type the
    // passphrase once age has asked for it (not after a guessed delay).
    const out = new Deno.Command("script", {
      args: ["-qec", `age -d -o ${dir}/plain.json ${home}/identity.age`, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => out.kill("SIGKILL"), 120_000);
    const reader = out.stdout.getReader();
    let screen = "";
    while (!/passphrase/i.test(screen)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`age did not ask for the passphrase: ${screen}`);
      screen += new TextDecoder().decode(value);
    }
    const writer = out.stdin.getWriter();
    await writer.write(new TextEncoder().encode("correct horse\n"));
    await writer.close();
    while (!(await reader.read()).done) { /* drain the terminal */ }
    clearTimeout(timer);
    const status = await out.status;
    if (!status.success) throw new Error(`age exited ${status.code}`);
    const secrets = JSON.parse(await Deno.readTextFile(`${dir}/plain.json`));
    assertEquals(secrets.did, did);
  },
});

Deno.test("icn id commands fail clearly on a wrong passphrase and a corrupted or truncated keystore, changing nothing", async () => {
  const before = await snapshotDir(home);
  const wrong = await icnExpect(1, [
    "--data-dir",
    home,
    "id",
    "sign",
    file,
    "--out",
    `${dir}/x.minisig`,
  ], { env: { ICN_PASSPHRASE: "wrong" } });
  assertMatch(wrong.stderr, /wrong passphrase/);
  const empty = await icnExpect(1, ["--data-dir", home, "id", "sign", file], {
    env: { ICN_PASSPHRASE: "" },
  });
  assertMatch(empty.stderr, /empty passphrase/);
  if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("data dir changed");
  const broken = `${dir}/broken`;
  await icnExpect(0, ["--data-dir", broken, "id", "init"]);
  const bytes = await Deno.readFile(`${broken}/identity.age`);
  await Deno.writeFile(`${broken}/identity.age`, bytes.slice(0, bytes.length - 20));
  const truncated = await icnExpect(1, [
    "--data-dir",
    broken,
    "id",
    "sign",
    file,
    "--out",
    `${dir}/y.minisig`,
  ]);
  assertMatch(truncated.stderr, /Cannot unlock the keystore/);
  await Deno.writeFile(`${broken}/identity.age`, new TextEncoder().encode("garbage"));
  const garbage = await icnExpect(1, [
    "--data-dir",
    broken,
    "id",
    "sign",
    file,
    "--out",
    `${dir}/y.minisig`,
  ]);
  assertMatch(garbage.stderr, /Cannot unlock the keystore/);
  if (garbage.stderr.includes("    at ")) {
    throw new Error("stack trace shown for an expected error");
  }
});

Deno.test("icn id change-passphrase re-encrypts so only the new passphrase unlocks", async () => {
  const h = `${dir}/pass`;
  await icnExpect(0, ["--data-dir", h, "id", "init"]);
  await icnExpect(0, ["--data-dir", h, "id", "change-passphrase"], {
    env: { ICN_NEW_PASSPHRASE: "new pass" },
  });
  await icnExpect(1, ["--data-dir", h, "id", "sign", file, "--out", `${dir}/p.minisig`]);
  await icnExpect(0, ["--data-dir", h, "id", "sign", file, "--out", `${dir}/p.minisig`], {
    env: { ICN_PASSPHRASE: "new pass" },
  });
});

Deno.test("icn reports usage errors with exit 2 and JSON errors with a stable code", async () => {
  const unknown = await icn(["--data-dir", home, "id", "frobnicate"]);
  assertEquals(unknown.code, 2);
  assertMatch(unknown.stderr, /unknown command/);
  const flag = await icn(["--json", "--data-dir", home, "id", "show", "--nope"]);
  assertEquals(flag.code, 2);
  assertEquals(flag.json<{ error: { code: string } }>().error.code, "usage");
  const bad = await icn([
    "--json",
    "--data-dir",
    home,
    "id",
    "verify",
    file,
    "--did",
    "did:icn:zBAD0",
  ]);
  assertEquals(bad.code, 1);
  assertEquals(bad.json<{ error: { code: string } }>().error.code, "invalid_input");
  const noId = await icn(["--json", "--data-dir", `${dir}/nothing`, "id", "show"]);
  assertEquals(noId.code, 1);
  assertEquals(noId.json<{ error: { code: string } }>().error.code, "not_found");
});

Deno.test("icn id export prints a DID document without secrets", async () => {
  const doc = (await icnExpect(0, ["--json", "--data-dir", home, "id", "export"])).json<
    { id: string; verificationMethod: unknown[] }
  >();
  assertEquals(doc.id, did);
  const text = JSON.stringify(doc);
  if (/seed|secret|private/i.test(text)) throw new Error("secret material in DID document");
});

Deno.test({
  name: "icn id tests clean up",
  sanitizeResources: false,
  async fn() {
    await Deno.remove(dir, { recursive: true });
  },
});
