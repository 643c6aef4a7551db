/**
 * Clearing between two cooperatives through the CLI, data dirs exchanging envelopes as bundles
 * (`node export/import --net`), no nodes: Alpha (a1 its delegate, a2 a member) and Beta (b1 its
 * delegate, b2 a member) federate and agree clearing (limit 100, rates 1); a2 pays b2 30 hours
 * (`ledger transfer --coop Beta`), the delegates do their steps (`federation clear step`), b2 is
 * credited, a2's pending posted, the position is 30 and both sides' clearing accounts agree
 * (`federation check`, `ledger check`, hledger). A payment over the limit is refused by Beta and
 * a2's reservation released; one to a member Alpha has but Beta has not, refused the same way.
 * A settlement noted by both sides resets the position and both clearing accounts. Bad input (an
 * unknown cooperative, no agreement in force, a negative or over-precise amount) is refused
 * with exit 1 and changes nothing.
 *
 * Voting periods are an hour and the clock is stepped past them (`ICN_TEST_CLOCK_OFFSET_MS`).
 */
import {
  assertEquals,
  assertMatch,
  hasCommand,
  icnExpect,
  sameSnapshot,
  snapshotDir,
} from "./_cli.ts";
import {
  createFederationWorld,
  proposeAgreement,
  quickDelegatesSets,
  transferArgs,
} from "./_federation_world.ts";

let clockOffsetMs = 0;
function stepClockPast(ms: number): void {
  clockOffsetMs = Math.max(clockOffsetMs, ms + 1000 - Date.now());
}
const cli = (code: number, args: string[]) =>
  icnExpect(code, args, { env: { ICN_TEST_CLOCK_OFFSET_MS: String(clockOffsetMs) } });
async function json<T>(home: string, ...args: string[]): Promise<T> {
  return (await cli(0, ["--json", "--data-dir", home, ...args])).json<T>();
}
async function refused(code: number, home: string, args: string[], pattern: RegExp) {
  const before = await snapshotDir(home);
  const run = await cli(code, ["--data-dir", home, ...args]);
  assertMatch(run.stderr, pattern);
  if (!sameSnapshot(before, await snapshotDir(home))) {
    throw new Error(`icn ${args.join(" ")} changed ${home}`);
  }
}

interface Balance {
  balance: string;
  reserved?: string;
}
interface Positions {
  positions: { names: string[]; owed: string; debtor: string | null; limit: string | null }[];
}

Deno.test({
  name: "a member of one cooperative pays a member of another through clearing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-clearing-" });
    const names = ["a1", "a2", "b1", "b2"];
    const home = Object.fromEntries(names.map((n) => [n, `${dir}/${n}`]));
    // Two cooperatives, their federation, and each one's delegate to it (chosen in its own
    // governance); no agreement yet.
    const runner = <T>(n: string, args: string[]) => json<T>(home[n], ...args);
    const world = await createFederationWorld(runner, {
      root: dir,
      names,
      coops: [
        { name: "Alpha", founders: ["a1", "a2"] },
        { name: "Beta", founders: ["b1", "b2"] },
      ],
      sets: quickDelegatesSets,
      federation: {
        name: "Bread federation",
        sets: ["federation.clearing.votingPeriod=1h"],
        joiners: ["a1", "b1", "a2"],
      },
    });
    const { did, federation: fed } = world;
    stepClockPast(world.decidedAt + 1000);

    const carry = async (net: string, from: string, ...to: string[]) => {
      const bundle = `${dir}/${from}-${crypto.randomUUID()}.car`;
      await cli(0, ["--data-dir", home[from], "node", "export", "--net", net, "--out", bundle]);
      for (const n of to) {
        await cli(0, ["--data-dir", home[n], "node", "import", bundle, "--net", net]);
      }
    };
    await carry("Alpha", "a1", "a2");

    // No agreement yet: refused before anything is signed.
    const pay = (amount: string, to = did.b2, coop = "Beta") =>
      transferArgs({ net: "Alpha", to, coop, amount });
    await refused(1, home.a2, pay("5"), /no clearing agreement in force/);

    // The agreement: proposed by Alpha's delegate, both cooperatives vote for it.
    const agreement = await proposeAgreement(runner, "a1", {
      with: "Beta",
      limit: "100",
      rate: "1",
      partnerRate: "1",
    });
    await carry(fed, "a1", "b1");
    await cli(0, ["--data-dir", home.a1, "federation", "vote", agreement.id, "for"]);
    await cli(0, ["--data-dir", home.b1, "federation", "vote", agreement.id, "for"]);
    await carry(fed, "b1", "a1", "a2");
    await carry(fed, "a1", "b1", "a2");
    stepClockPast(agreement.closes + 1000);
    const agreed = await json<Positions>(home.b1, "federation", "positions");
    assertEquals(agreed.positions.map((p) => [p.owed, p.limit]), [["0.00", "100.00"]]);

    // Bad input: nothing changed.
    await refused(1, home.a2, pay("5", did.b2, "Gamma"), /no federation this data dir holds/);
    await refused(1, home.a2, pay("-5"), /must be positive/);
    await refused(1, home.a2, pay("1.234"), /2 decimals/);
    await refused(1, home.a2, pay("5", "did:icn:nonsense"), /Cannot parse DID/);

    // a2 pays b2 30: reserved in Alpha, committed, accepted and credited in Beta, posted.
    const paid = await json<{ id: string; status: string }>(home.a2, ...pay("30"));
    assertEquals(paid.status, "pending");
    const reservedNow = await json<Balance>(home.a2, "ledger", "balance", "--net", "Alpha");
    assertEquals(reservedNow.balance, "0.00");
    const rounds = async () => {
      await carry("Alpha", "a2", "a1");
      await cli(0, ["--data-dir", home.a1, "federation", "clear", "step", "--coop-net", "Alpha"]);
      await carry(fed, "a1", "b1");
      await cli(0, ["--data-dir", home.b1, "federation", "clear", "step", "--coop-net", "Beta"]);
      await carry(fed, "b1", "a1");
      await cli(0, ["--data-dir", home.a1, "federation", "clear", "step", "--coop-net", "Alpha"]);
      await carry("Alpha", "a1", "a2");
    };
    await rounds();
    const balance = async (n: string, net: string, of = did[n]) =>
      (await json<Balance>(home[n], "ledger", "balance", of, "--net", net)).balance;
    assertEquals(await balance("a2", "Alpha"), "-30.00");
    assertEquals(await balance("b1", "Beta", did.b2), "30.00");
    const after = await json<Positions>(home.a1, "federation", "positions");
    assertEquals(after.positions[0].owed, "30.00");
    for (const [n, net] of [["a1", "Alpha"], ["b1", "Beta"]]) {
      const checked = await json<{ ok: boolean }>(
        home[n],
        "federation",
        "check",
        "--coop-net",
        net,
      );
      assertEquals(checked.ok, true, `federation check on ${n}`);
      await cli(0, ["--data-dir", home[n], "ledger", "check", "--net", net]);
    }

    // Over the limit (30 + 80 > 100): Beta refuses, a2's reservation is released.
    await json(home.a2, ...pay("80"));
    await rounds();
    assertEquals(await balance("a2", "Alpha"), "-30.00");
    const released = await json<Balance>(home.a1, "ledger", "balance", did.a2, "--net", "Alpha");
    assertEquals(released.reserved ?? "0.00", "0.00");
    // To someone who is not a member of Beta: refused by Beta, released.
    await json(home.a2, ...pay("10", did.a1));
    await rounds();
    assertEquals(await balance("a2", "Alpha"), "-30.00");
    const list = await json<{ commits: { status: string; reason?: string }[] }>(
      home.a1,
      "federation",
      "clear",
      "list",
    );
    assertEquals(
      list.commits.map((c) => c.status + (c.reason ? `:${c.reason}` : "")),
      ["accepted", "refused:refused", "refused:refused"],
    );
    assertEquals(
      (await json<Positions>(home.b1, "federation", "positions")).positions[0].owed,
      "30.00",
    );

    // Settlement: Alpha paid Beta 30 outside; both note it, both book it.
    await cli(0, [
      "--data-dir",
      home.a1,
      "federation",
      "settle",
      "--with",
      "Beta",
      "--amount",
      "30",
      "--id",
      "s1",
    ]);
    await carry(fed, "a1", "b1");
    await cli(0, [
      "--data-dir",
      home.b1,
      "federation",
      "settle",
      "--with",
      "Alpha",
      "--amount",
      "30",
      "--id",
      "s1",
      "--received",
    ]);
    await carry(fed, "b1", "a1");
    await rounds();
    assertEquals(
      (await json<Positions>(home.a1, "federation", "positions")).positions[0].owed,
      "0.00",
    );
    for (const [n, net] of [["a1", "Alpha"], ["b1", "Beta"]]) {
      const checked = await json<{ ok: boolean }>(
        home[n],
        "federation",
        "check",
        "--coop-net",
        net,
      );
      assertEquals(checked.ok, true, `federation check after settlement on ${n}`);
    }

    // hledger accepts each cooperative's export.
    if (hasCommand("hledger")) {
      for (const [n, net] of [["a1", "Alpha"], ["b1", "Beta"]]) {
        const journal = `${dir}/${n}.journal`;
        await cli(0, ["--data-dir", home[n], "ledger", "export", "--net", net, "--out", journal]);
        const run = await new Deno.Command("hledger", { args: ["-f", journal, "check"] }).output();
        assertEquals(
          run.code,
          0,
          `hledger check of ${net}: ${new TextDecoder().decode(run.stderr)}`,
        );
      }
    }
  },
});
