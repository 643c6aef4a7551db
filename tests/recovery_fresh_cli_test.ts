/**
 * Social recovery as docs/identity.md describes it, in a fresh data dir, for a
 * member of a cooperative (issue 14: "Recovery in a fresh data dir"): the
 * fresh data dir has joined nothing, so a trustee's bundle carries network
 * envelopes it cannot take yet; the import takes the key logs and reports the
 * rest, and a tampered bundle is still refused whole. After the recovery, the
 * identity must catch up with its own chain before it writes in the network.
 */
import { decodeBundle, encodeBundle } from "../core/chain/bundle.ts";
import { decodeEnvelope } from "../core/envelope/envelope.ts";
import {
  assertEquals,
  assertMatch,
  icnExpect,
  netHead,
  sameSnapshot,
  snapshotDir,
} from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-recovery-fresh-" });
/** The recovery delay is stepped over by moving every data dir's clock forward. */
let clockOffsetMs = 0;
const env = () => ({ env: { ICN_TEST_CLOCK_OFFSET_MS: String(clockOffsetMs) } });

function member(name: string) {
  const home = `${dir}/${name}`;
  return {
    home,
    run: (code: number, ...args: string[]) => icnExpect(code, ["--data-dir", home, ...args], env()),
    json: async <T = Record<string, unknown>>(...args: string[]) =>
      (await icnExpect(0, ["--json", "--data-dir", home, ...args], env())).json<T>(),
  };
}

async function exportBundle(home: string, name: string): Promise<string> {
  const file = `${dir}/${name}.car`;
  await icnExpect(0, ["--data-dir", home, "node", "export", "--out", file], env());
  return file;
}

Deno.test("recovery in a fresh data dir: a trustee's bundle brings the key logs, the rest waits for a join, and the recovered member catches up before writing", async () => {
  const owner = member("owner");
  const trustees = [member("b"), member("c")];
  const ownerDid = (await owner.json<{ did: string }>("id", "init")).did;
  const trusteeDids: string[] = [];
  for (const t of trustees) trusteeDids.push((await t.json<{ did: string }>("id", "init")).did);
  const genesis = `${dir}/genesis.json`;
  await owner.run(
    0,
    "governance",
    "genesis",
    "create",
    "--name",
    "Recovery Co-op",
    ...trusteeDids.flatMap((did) => ["--member", did]),
    "--out",
    genesis,
  );
  for (const who of [owner, ...trustees]) {
    await who.run(0, "governance", "genesis", "sign", genesis);
  }
  for (const who of [owner, ...trustees]) await who.run(0, "governance", "join", genesis);
  // Everyone holds everyone's key log; the owner names trustees and writes in the network.
  for (const [i, t] of trustees.entries()) {
    await owner.run(0, "node", "import", await exportBundle(t.home, `t${i}`));
  }
  await owner.run(
    0,
    "id",
    "recovery",
    "setup",
    ...trusteeDids.flatMap((did) => ["--trustee", did]),
    "--threshold",
    "2",
    "--delay",
    "1h",
  );
  await owner.run(0, "trust", "add", trusteeDids[0], "0.5");
  const ownerBundle = await exportBundle(owner.home, "o1");
  for (const t of trustees) await t.run(0, "node", "import", ownerBundle);

  // The owner loses the machine. In a fresh data dir: new keys and a request, attested.
  const rescue = member("rescue");
  const request = `${dir}/request.cbor`;
  await rescue.run(0, "id", "recovery", "request", "--did", ownerDid, "--out", request);
  for (const [i, t] of trustees.entries()) {
    await t.run(0, "id", "recovery", "attest", request, "--out", `${dir}/att-${i}`);
  }
  const attestations = trustees.map((_, i) => `${dir}/att-${i}`);
  // Without the owner's key log, start says where to get it.
  const unknown = await rescue.run(1, "id", "recovery", "start", ...attestations);
  assertMatch(unknown.stderr, /icn node import/);

  // A trustee's bundle: its key logs are taken, its network envelopes are reported, not applied.
  const trusteeBundle = await exportBundle(trustees[0].home, "b1");
  // A tampered bundle (one key event left out) is still refused whole, changing nothing.
  const { manifest, envelopes } = await decodeBundle(await Deno.readFile(trusteeBundle));
  const kept: Uint8Array[] = [];
  let dropped = false;
  for (const bytes of envelopes) {
    const { envelope } = await decodeEnvelope(bytes);
    if (!dropped && envelope.net === "kel" && envelope.author === ownerDid) {
      dropped = true; // the owner's inception: every later event of theirs has a gap
      continue;
    }
    kept.push(bytes);
  }
  const tampered = `${dir}/tampered.car`;
  await Deno.writeFile(
    tampered,
    await encodeBundle({ ...manifest, count: kept.length }, kept),
  );
  const before = await snapshotDir(rescue.home);
  const refused = await rescue.run(1, "node", "import", tampered);
  assertMatch(refused.stderr, /Rejected envelope/);
  if (!sameSnapshot(before, await snapshotDir(rescue.home))) {
    throw new Error("a tampered bundle changed the data dir");
  }
  const imported = await rescue.json<{
    accepted: number;
    notJoined: { net: string; count: number }[];
  }>("node", "import", trusteeBundle);
  if (imported.accepted < 4) throw new Error(`only ${imported.accepted} key events taken`);
  assertEquals(imported.notJoined.length, 1);
  if (imported.notJoined[0].count < 1) throw new Error("no network envelope reported");
  const text = await rescue.run(0, "node", "import", trusteeBundle);
  assertMatch(text.stdout + text.stderr, /icn governance join/);

  // Now the documented path runs: start, the delay, finalize.
  await rescue.run(0, "id", "recovery", "start", ...attestations);
  clockOffsetMs += 3_600_000 + 1000;
  await rescue.run(0, "id", "recovery", "finalize");

  // Writing in the network: join, then the guard stands until the chain head is known.
  await rescue.run(0, "governance", "join", genesis);
  const guarded = await rescue.run(1, "trust", "add", trusteeDids[1], "0.7");
  assertMatch(guarded.stderr, /icn node import/);
  // The same bundle, now that the data dir has joined: everything is taken, the guard lifts.
  const caughtUp = await rescue.json<{ caughtUp: boolean }>("node", "import", trusteeBundle);
  assertEquals(caughtUp.caughtUp, true);
  await rescue.run(0, "trust", "add", trusteeDids[1], "0.7");
  assertEquals(await netHead(rescue.home, ownerDid), 1);
  // The trustees follow: the recovery events and the new write, no fork.
  const rescueBundle = await exportBundle(rescue.home, "r1");
  for (const t of trustees) await t.run(0, "node", "import", rescueBundle);
  assertEquals(await netHead(trustees[1].home, ownerDid), 1);
  const history = await trustees[1].json<{ verified: boolean; events: { kind: string }[] }>(
    "id",
    "history",
    "--did",
    ownerDid,
  );
  assertEquals(history.verified, true);
  assertEquals(history.events.map((e) => e.kind).slice(-2), ["id.recovery-start", "id.recovery"]);
});

Deno.test({
  name: "recovery fresh tests clean up",
  async fn() {
    await Deno.remove(dir, { recursive: true });
  },
});
