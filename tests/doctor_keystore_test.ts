/**
 * `icn doctor` compares the keystore's keys with the key event log's current
 * keys, and says how to recover when they differ.
 */
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

interface Finding {
  check: string;
  status: string;
  message: string;
  fix?: string;
}

async function keystoreFinding(home: string, env: Record<string, string> = {}) {
  const run = await icn(
    ["--json", "--data-dir", home, "doctor", "--p2p-port", "0", "--http-port", "0"],
    { env },
  );
  const report = run.json<{ findings: Finding[] }>();
  return { code: run.code, finding: report.findings.find((f) => f.check === "keystore-keys") };
}

Deno.test("icn doctor finds a keystore that missed a key change and says how to recover", async () => {
  const home = await Deno.makeTempDir({ prefix: "icn-doctor-ks-" });
  await icnExpect(0, ["--data-dir", home, "id", "init"]);
  const fresh = await keystoreFinding(home);
  assertEquals(fresh.finding?.status, "ok", JSON.stringify(fresh.finding));
  assertMatch(fresh.finding!.message, /holds the current keys of did:icn:z\w+ \(key event seq 0\)/);

  // An old copy of the keystore put back after a rotation: its keys are superseded.
  await Deno.copyFile(`${home}/identity.age`, `${home}/old.age`);
  await icnExpect(0, ["--data-dir", home, "id", "rotate"]);
  assertEquals((await keystoreFinding(home)).finding?.status, "ok", "after rotation");
  await Deno.copyFile(`${home}/old.age`, `${home}/identity.age`);
  const before = await snapshotDir(home);
  const stale = await keystoreFinding(home);
  assertEquals(stale.code, 1, "doctor exit code");
  assertEquals(stale.finding?.status, "error");
  assertMatch(
    stale.finding!.message,
    /superseded keys .* installed at key event seq 0, while the log is at seq 1/,
  );
  assertMatch(stale.finding!.fix!, /icn id restore FILE.*icn id recovery request --did did:icn:/);
  if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("doctor wrote something");

  const wrong = await keystoreFinding(home, { ICN_PASSPHRASE: "not it" });
  assertEquals(wrong.finding?.status, "error");
  assertMatch(wrong.finding!.message, /wrong passphrase/);

  const none = await keystoreFinding(home, { ICN_PASSPHRASE: "" });
  assertEquals(none.finding?.status, "skip");
  assertMatch(none.finding!.fix!, /--passphrase-file/);
});
