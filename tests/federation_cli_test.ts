/**
 * A federation of cooperatives through the CLI: two cooperatives of three members form a
 * federation (create, a delegate of each signs, the delegates join), admit a third cooperative
 * by a federation vote (both cooperatives for, a delegate of each casting) and remove it by
 * another; a delegate change decided in a cooperative's governance is recorded in the
 * federation, after which the removed delegate's vote is refused. Data dirs exchange the
 * federation's envelopes as bundles (`node export/import --net`), and their federation stores
 * agree. Bad input (a delegate who is not a member, an under-signed or tampered file, a vote by
 * a non-delegate, a vouch for a cooperative outside the federation, an unknown `--net`) is
 * refused with exit 1 or 2 and changes nothing.
 *
 * Voting periods are an hour and every command's clock is stepped past them
 * (`ICN_TEST_CLOCK_OFFSET_MS`), as in governance_cli_test.ts, instead of sleeping.
 */
import { chainKeys } from "../core/chain/keys.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { assertEquals, assertMatch, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";
import { createGenesis, createIdentities } from "./_federation_world.ts";
import { stateDigest } from "./_node_fixture.ts";

let clockOffsetMs = 0;
/** Moves every later command's clock to a second past `ms`. */
function stepClockPast(ms: number): void {
  clockOffsetMs = Math.max(clockOffsetMs, ms + 1000 - Date.now());
}
const cli = (code: number, args: string[]) =>
  icnExpect(code, args, { env: { ICN_TEST_CLOCK_OFFSET_MS: String(clockOffsetMs) } });
async function json<T>(home: string, ...args: string[]): Promise<T> {
  return (await cli(0, ["--json", "--data-dir", home, ...args])).json<T>();
}

/** Runs a refused command and checks that it changed nothing in `home`. */
async function refused(code: number, home: string, args: string[], pattern: RegExp) {
  const before = await snapshotDir(home);
  const run = await cli(code, ["--data-dir", home, ...args]);
  assertMatch(run.stderr, pattern);
  if (!sameSnapshot(before, await snapshotDir(home))) {
    throw new Error(`icn ${args.join(" ")} changed ${home}`);
  }
  return run;
}

interface Members {
  coops: { net: string; name: string; delegates: string[]; members: number; weight: number }[];
}

Deno.test({
  name: "two cooperatives federate, admit and remove a third by vote, and record a delegate change",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-federation-" });
    const names = ["a1", "a2", "a3", "b1", "b2", "b3", "g1"];
    const home = Object.fromEntries(names.map((n) => [n, `${dir}/${n}`]));
    const run = <T>(n: string, args: string[]) => json<T>(home[n], ...args);
    const did = await createIdentities(run, names);

    // Three cooperatives; Alpha decides on its delegates within an hour.
    const coop = (name: string, founders: string[], sets: string[] = []) =>
      createGenesis(run, { root: dir, did, name, founders, sets });
    const [alphaFile, betaFile, gammaFile] = await Promise.all([
      coop("Alpha", ["a1", "a2", "a3"], [
        "governance.delegates.votingPeriod=1h",
        "governance.delegates.timelock=1s",
      ]),
      coop("Beta", ["b1", "b2", "b3"]),
      coop("Gamma", ["g1"]),
    ]);
    await Promise.all([
      ...["a1", "a2"].map((n) => cli(0, ["--data-dir", home[n], "governance", "join", alphaFile])),
      cli(0, ["--data-dir", home.b1, "governance", "join", betaFile]),
    ]);

    // A delegate who is not a member of the cooperative named: refused, nothing written.
    const fedFile = `${dir}/federation.json`;
    const createArgs = (delegate: string) => [
      "federation",
      "create",
      "--name",
      "Bread federation",
      "--coop",
      alphaFile,
      "--coop",
      betaFile,
      "--delegate",
      delegate,
      "--set",
      "federation.admit.votingPeriod=1h",
      "--set",
      "federation.admit.timelock=1s",
      "--set",
      "federation.remove.votingPeriod=1h",
      "--set",
      "federation.remove.timelock=1s",
      "--out",
      fedFile,
    ];
    await refused(1, home.a1, createArgs(`Beta=${did.g1}`), /not a founder in its genesis/);
    assertEquals(await Deno.stat(fedFile).then(() => true, () => false), false, "no file");

    // a1 creates (the delegate of Alpha by default), a1 and b1 sign; joining needs both.
    await cli(0, ["--data-dir", home.a1, ...createArgs(`Beta=${did.b1}`)]);
    await cli(0, ["--data-dir", home.a1, "federation", "sign", fedFile]);
    await refused(1, home.a1, ["federation", "join", fedFile], /not signed for "Beta"/);
    await refused(1, home.a3, ["federation", "sign", fedFile], /not a delegate of any founder/);
    await cli(0, ["--data-dir", home.b1, "federation", "sign", fedFile]);
    const tampered = `${dir}/tampered.json`;
    const text = await Deno.readTextFile(fedFile);
    await Deno.writeTextFile(tampered, text.replace('"Bread federation"', '"Cake federation"'));
    await refused(1, home.a1, ["federation", "join", tampered], /does not match its content/);
    const joined = await Promise.all(
      ["a1", "b1", "a3"].map((n) => json<{ id: string }>(home[n], "federation", "join", fedFile)),
    );
    const fed = joined[0].id;
    const fedStore = (n: string) => `${home[n]}/networks/${fed}.kv`;

    /** Carries the federation's envelopes from `from` to each of `to`, as a bundle. */
    const exchange = async (from: string, ...to: string[]) => {
      const bundle = `${dir}/${from}-${crypto.randomUUID()}.car`;
      await cli(0, ["--data-dir", home[from], "node", "export", "--net", fed, "--out", bundle]);
      for (const n of to) {
        await cli(0, ["--data-dir", home[n], "node", "import", bundle, "--net", fed]);
      }
    };
    const digests = async (...homes: string[]) => {
      const out = [];
      for (const n of homes) {
        const store = await KvStore.open(fedStore(n));
        try {
          assertEquals((await store.get<string>(chainKeys.network))?.value, fed);
          out.push(await stateDigest(store, fed));
        } finally {
          store.close();
        }
      }
      return out;
    };
    const members = async (n: string) =>
      (await json<Members>(home[n], "federation", "members")).coops.map((c) => c.name).sort();
    assertEquals(await members("a1"), ["Alpha", "Beta"]);

    // Gamma is admitted: a1 proposes, the delegates of Alpha and Beta vote for.
    const admit = await json<{ id: string; closes: number }>(
      home.a1,
      "federation",
      "propose",
      "--kind",
      "admit",
      "--title",
      "Admit Gamma",
      "--admit",
      gammaFile,
      "--delegate",
      did.g1,
    );
    await exchange("a1", "b1", "a3");
    await refused(1, home.a3, ["federation", "vote", admit.id, "for"], /not a delegate/);
    await refused(1, home.a1, ["federation", "vouch", "Gamma", "--score", "0.5"], /no cooperative/);
    await refused(2, home.a1, ["federation", "members", "--net", "nosuchnet"], /nosuchnet/);
    await cli(0, ["--data-dir", home.a1, "federation", "vote", admit.id, "for"]);
    await cli(0, ["--data-dir", home.b1, "federation", "vote", admit.id.slice(0, 16), "for"]);
    await exchange("b1", "a1");
    await exchange("a1", "b1");
    const shown = await json<{ tally: { for: number; cast: number; outcome: string } }>(
      home.b1,
      "federation",
      "show",
      admit.id,
      "--explain",
    );
    assertEquals([shown.tally.for, shown.tally.cast, shown.tally.outcome], [2, 2, "Accepted"]);
    stepClockPast(admit.closes + 1000);
    assertEquals(await members("a1"), ["Alpha", "Beta", "Gamma"]);
    assertEquals(await members("b1"), ["Alpha", "Beta", "Gamma"]);
    const [a1Digest, b1Digest] = await digests("a1", "b1");
    assertEquals(a1Digest, b1Digest, "federation state after the admission");

    // And removed by another vote, proposed by Beta's delegate.
    const remove = await json<{ id: string; closes: number }>(
      home.b1,
      "federation",
      "propose",
      "--kind",
      "remove",
      "--title",
      "Remove Gamma",
      "--remove",
      "Gamma",
    );
    await exchange("b1", "a1");
    await cli(0, ["--data-dir", home.a1, "federation", "vote", remove.id, "for"]);
    await cli(0, ["--data-dir", home.b1, "federation", "vote", remove.id, "for"]);
    await exchange("a1", "b1");
    await exchange("b1", "a1");
    stepClockPast(remove.closes + 1000);
    assertEquals(await members("a1"), ["Alpha", "Beta"]);
    assertEquals(await members("b1"), ["Alpha", "Beta"]);
    const [a1After, b1After] = await digests("a1", "b1");
    assertEquals(a1After, b1After, "federation state after the removal");

    // Trust between cooperatives, from the caller's cooperative.
    await cli(0, ["--data-dir", home.a1, "federation", "vouch", "Beta", "--score", "0.8"]);
    const trust = await json<{ score: number; class: string }>(
      home.a1,
      "federation",
      "trust",
      "Beta",
      "--explain",
    );
    assertEquals([Math.round(trust.score * 1000), trust.class], [560, "partner"]);

    // Beta's delegate opens a text proposal; then Alpha replaces its delegate a1 by a2.
    const text2 = await json<{ id: string }>(
      home.b1,
      "federation",
      "propose",
      "--kind",
      "text",
      "--title",
      "Shared oven rota",
    );
    await exchange("b1", "a1");
    const change = await json<{ id: string; effective: number }>(
      home.a1,
      "governance",
      "propose",
      "--net",
      "Alpha",
      "--kind",
      "delegates",
      "--title",
      "Ann speaks for us",
      "--federation",
      fed,
      "--delegate",
      did.a2,
    );
    // Two of Alpha's three members vote for it, exchanging Alpha's envelopes as bundles.
    const alphaBundle = async (from: string, to: string) => {
      const bundle = `${dir}/alpha-${from}-${crypto.randomUUID()}.car`;
      await cli(0, ["--data-dir", home[from], "node", "export", "--net", "Alpha", "--out", bundle]);
      await cli(0, ["--data-dir", home[to], "node", "import", bundle, "--net", "Alpha"]);
    };
    await cli(0, ["--data-dir", home.a1, "governance", "vote", change.id, "for", "--net", "Alpha"]);
    await alphaBundle("a1", "a2");
    await cli(0, ["--data-dir", home.a2, "governance", "vote", change.id, "for"]);
    await alphaBundle("a2", "a1");
    const decided = await json<{ tally: { for: number; cast: number } }>(
      home.a1,
      "governance",
      "show",
      change.id,
      "--net",
      "Alpha",
    );
    assertEquals([decided.tally.for, decided.tally.cast], [2, 2]);
    // Not executed yet: the citation check refuses to record it.
    await refused(
      1,
      home.a1,
      ["federation", "delegates", "--coop-net", "Alpha"],
      /no delegates proposal|not Executed/,
    );
    stepClockPast(change.effective + 1000);
    await cli(0, ["--data-dir", home.a1, "federation", "delegates", "--coop-net", "Alpha"]);
    const alpha = (await json<Members>(home.a1, "federation", "members")).coops
      .find((c) => c.name === "Alpha")!;
    assertEquals(alpha.delegates, [did.a2]);
    await refused(1, home.a1, ["federation", "vote", text2.id, "for"], /not a delegate/);
    // The new delegate votes for Alpha once it holds the federation's record of the change.
    await cli(0, ["--data-dir", home.a2, "federation", "join", fedFile]);
    await exchange("a1", "a2");
    await exchange("b1", "a2");
    await cli(0, ["--data-dir", home.a2, "federation", "vote", text2.id, "for"]);
    await exchange("a2", "a1", "b1");
    const [d1, d2, d3] = await digests("a1", "a2", "b1");
    assertEquals([d1 === d2, d2 === d3], [true, true], "every federation store agrees");
  },
});
