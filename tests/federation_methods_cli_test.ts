/**
 * Decision methods and secret ballots in a federation through the CLI: two one-member
 * cooperatives federate; a poll is voted by each cooperative's delegate (a later vote
 * replaces the earlier, a ballot that names no option is refused and changes nothing) and its
 * exact result shows after the close; a secret poll is committed, refused a reveal before the
 * close, revealed by both across data dirs, hidden until the reveal window ends, then shown.
 * Clocks are stepped past closes (`ICN_TEST_CLOCK_OFFSET_MS`) instead of sleeping.
 */
import { assertEquals, assertMatch, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

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

interface Shown {
  state: string;
  outcome: string | null;
  tally: {
    cast: number;
    method?: { result: { method: string; votes: number[]; winners: number[] } };
    unrevealed?: string[];
  };
}

interface Todo {
  id: string;
  action: string;
  coopName: string;
  deadline: number;
}
interface Audit {
  ok: boolean;
  counted: number;
  unrevealed: number;
  problems: number;
  votes: { status: string; ballot?: unknown }[];
}

Deno.test({
  name: "federation poll and secret poll through the CLI, cooperatives voting by their delegates",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-federation-methods-" });
    const home = { a1: `${dir}/a1`, b1: `${dir}/b1` };
    const did = {
      a1: (await json<{ did: string }>(home.a1, "id", "init")).did,
      b1: (await json<{ did: string }>(home.b1, "id", "init")).did,
    };
    const coop = async (name: string, n: "a1" | "b1") => {
      const file = `${dir}/${name}.json`;
      await cli(0, [
        "--data-dir",
        home[n],
        "governance",
        "genesis",
        "create",
        "--name",
        name,
        "--out",
        file,
      ]);
      await cli(0, ["--data-dir", home[n], "governance", "genesis", "sign", file]);
      await cli(0, ["--data-dir", home[n], "governance", "join", file]);
      return file;
    };
    const alpha = await coop("Alpha", "a1");
    const beta = await coop("Beta", "b1");
    const fedFile = `${dir}/federation.json`;
    await cli(0, [
      "--data-dir",
      home.a1,
      "federation",
      "create",
      "--name",
      "Bread federation",
      "--coop",
      alpha,
      "--coop",
      beta,
      "--delegate",
      `Beta=${did.b1}`,
      "--set",
      "federation.text.votingPeriod=1h",
      "--set",
      "federation.text.revealWindow=1h",
      "--out",
      fedFile,
    ]);
    await cli(0, ["--data-dir", home.a1, "federation", "sign", fedFile]);
    await cli(0, ["--data-dir", home.b1, "federation", "sign", fedFile]);
    const fed = (await json<{ id: string }>(home.a1, "federation", "join", fedFile)).id;
    await cli(0, ["--data-dir", home.b1, "federation", "join", fedFile]);
    const exchange = async (from: "a1" | "b1", to: "a1" | "b1") => {
      const bundle = `${dir}/${from}-${crypto.randomUUID()}.car`;
      await cli(0, ["--data-dir", home[from], "node", "export", "--net", fed, "--out", bundle]);
      await cli(0, ["--data-dir", home[to], "node", "import", bundle, "--net", fed]);
    };

    // A method is for text proposals only; refused before anything is signed.
    await refused(1, home.a1, [
      "federation",
      "propose",
      "--kind",
      "config",
      "--title",
      "Weights",
      "--set",
      "federation.voteWeight=members",
      "--method",
      "poll",
      "--option",
      "x",
      "--option",
      "y",
    ], /--method poll is for text proposals/);

    const poll = await json<{ id: string; closes: number }>(
      home.a1,
      "federation",
      "propose",
      "--kind",
      "text",
      "--title",
      "Where do we meet?",
      "--method",
      "poll",
      "--option",
      "Lyon",
      "--option",
      "Turin",
    );
    await exchange("a1", "b1");
    // todo: the poll needs Beta's vote, closing in the voting period.
    const needs = await json<{ count: number; items: Todo[] }>(home.b1, "federation", "todo");
    assertEquals(needs.items.map((i) => [i.id, i.action, i.coopName]), [[poll.id, "vote", "Beta"]]);
    assertEquals(needs.items[0].deadline, poll.closes);
    await refused(1, home.b1, ["federation", "vote", poll.id, "Ghent"], /No option "Ghent"/);
    await refused(
      1,
      home.b1,
      ["federation", "vote", poll.id, "--rank", "Lyon"],
      /does not take --rank/,
    );
    // The first vote (quorum: one of two cooperatives) comes two minutes before the close.
    stepClockPast(poll.closes - 121_000);
    await cli(0, ["--data-dir", home.a1, "federation", "vote", poll.id, "Lyon"]);
    await cli(0, ["--data-dir", home.b1, "federation", "vote", poll.id, "Turin"]);
    await cli(0, ["--data-dir", home.b1, "federation", "vote", poll.id, "--choice", "lyon"]);
    await exchange("b1", "a1");
    stepClockPast(poll.closes);
    const shown = await json<Shown>(home.a1, "federation", "show", poll.id);
    assertEquals(shown.state, "Closed");
    assertEquals(shown.tally.cast, 2);
    assertEquals(shown.tally.method?.result.votes, [2, 0]);
    assertEquals(shown.tally.method?.result.winners, [0]);
    const text = (await cli(0, ["--data-dir", home.a1, "federation", "show", poll.id])).stdout;
    assertMatch(text, /result:\s+Lyon/);
    // b1's second vote replaced its first (one record per delegate): Beta counts Lyon, once.
    assertMatch(text, /Beta: Lyon\n/);
    assertMatch(
      text,
      /late:\s+quorum first reached \S+, only \S+ before the close \(no extension rule: federation\.text\.extendOnLateQuorum\)/,
    );
    const pollAudit = await json<Audit>(home.a1, "federation", "audit", poll.id);
    assertEquals([pollAudit.ok, pollAudit.counted, pollAudit.problems], [true, 2, 0]);
    assertEquals(pollAudit.votes.map((v) => [v.status, v.ballot]), [["counted", 0], [
      "counted",
      0,
    ]]);
    assertEquals((await json<{ count: number }>(home.b1, "federation", "todo")).count, 0);
    await refused(1, home.a1, ["federation", "audit", "ffffffffff"], /No federation proposal/);

    // A secret poll: commitments while open, reveals after the close, result after the window.
    const secret = await json<{ id: string; closes: number }>(
      home.b1,
      "federation",
      "propose",
      "--kind",
      "text",
      "--title",
      "Which bakery first?",
      "--method",
      "poll",
      "--option",
      "North",
      "--option",
      "South",
      "--secret",
    );
    await exchange("b1", "a1");
    await cli(0, ["--data-dir", home.a1, "federation", "vote", secret.id, "South"]);
    await cli(0, ["--data-dir", home.b1, "federation", "vote", secret.id, "South"]);
    await refused(1, home.a1, ["federation", "reveal", secret.id], /Cannot reveal yet/);
    await exchange("a1", "b1");
    await exchange("b1", "a1");
    const open = await json<Shown>(home.a1, "federation", "show", secret.id);
    assertEquals([open.state, open.outcome], ["Open", null]);
    stepClockPast(secret.closes);
    const toReveal = await json<{ items: Todo[] }>(home.a1, "federation", "todo");
    assertEquals(toReveal.items.map((i) => [i.id, i.action]), [[secret.id, "reveal"]]);
    assertEquals(toReveal.items[0].deadline, secret.closes + 3_600_000);
    await cli(0, ["--data-dir", home.a1, "federation", "reveal", secret.id]);
    await cli(0, ["--data-dir", home.b1, "federation", "reveal", secret.id]);
    await exchange("a1", "b1");
    await exchange("b1", "a1");
    const revealing = await cli(0, ["--data-dir", home.a1, "federation", "show", secret.id]);
    assertMatch(revealing.stdout, /state:\s+Revealing/);
    assertMatch(revealing.stdout, /hidden until the reveal window ends/);
    stepClockPast(secret.closes + 3_600_000);
    for (const n of ["a1", "b1"] as const) {
      const done = await json<Shown>(home[n], "federation", "show", secret.id);
      assertEquals(done.state, "Closed");
      assertEquals(done.tally.method?.result.votes, [0, 2]);
      assertEquals(done.tally.unrevealed, []);
      // Each counted ballot re-read from its envelopes opens its commitment, in the window.
      const audited = await json<Audit>(home[n], "federation", "audit", secret.id);
      assertEquals([audited.ok, audited.counted, audited.unrevealed], [true, 2, 0]);
      assertEquals(audited.votes.map((v) => v.ballot), [1, 1]);
    }
    assertMatch(
      (await cli(0, ["--data-dir", home.a1, "federation", "audit", secret.id])).stdout,
      /Audit passed: 2 cooperative ballot\(s\) counted \(each opens its signed commitment\)/,
    );
    // A stored reveal altered behind the rules' back (its envelope says South): the audit fails.
    const kv = await Deno.openKv(`${home.a1}/networks/${fed}.kv`);
    try {
      const stored = (await Array.fromAsync(kv.list<{ ballot: number }>({
        prefix: ["fed", "r", secret.id],
      })))[0];
      await kv.set(stored.key, { ...stored.value, ballot: 0 });
    } finally {
      kv.close();
    }
    const failed =
      (await cli(1, ["--json", "--data-dir", home.a1, "federation", "audit", secret.id]))
        .json<Audit>();
    assertEquals([failed.ok, failed.problems], [false, 1]);
    assertEquals(failed.votes.filter((v) => v.status === "mismatch").length, 1);

    // extendOnLateQuorum: a bad value in a config proposal is refused, nothing changed.
    for (
      const [value, why] of [["40d", /must be at most 2592000000/], [
        "soon",
        /Cannot parse duration "soon"/,
      ]]
    ) {
      await refused(1, home.a1, [
        "federation",
        "propose",
        "--kind",
        "config",
        "--title",
        "Late quorum",
        "--set",
        `federation.text.extendOnLateQuorum=${value}`,
      ], why as RegExp);
    }
    // Alpha alone accepts it (quorum one of two, all cast for); in force after its timelock.
    const config = await json<{ id: string; closes: number }>(
      home.a1,
      "federation",
      "propose",
      "--kind",
      "config",
      "--title",
      "Late quorum",
      "--set",
      "federation.text.extendOnLateQuorum=30m",
    );
    await cli(0, ["--data-dir", home.a1, "federation", "vote", config.id, "for"]);
    await exchange("a1", "b1");
    stepClockPast(config.closes + 2 * 86_400_000);
    // Quorum first reached 5 minutes before the close: voting stays open 25 minutes more.
    const late = await json<{ id: string; closes: number }>(
      home.a1,
      "federation",
      "propose",
      "--kind",
      "text",
      "--title",
      "Open on Sundays?",
    );
    stepClockPast(late.closes - 301_000);
    await cli(0, ["--data-dir", home.a1, "federation", "vote", late.id, "for"]);
    await exchange("a1", "b1");
    stepClockPast(late.closes + 60_000);
    const lateTodo = await json<{ items: Todo[] }>(home.b1, "federation", "todo");
    assertEquals(lateTodo.items.map((i) => [i.id, i.action]), [[late.id, "vote"]]);
    const extendedClose = lateTodo.items[0].deadline;
    assertEquals(extendedClose > late.closes + 24 * 60_000, true);
    await cli(0, ["--data-dir", home.b1, "federation", "vote", late.id, "against"]);
    await exchange("b1", "a1");
    const extended = (await cli(0, ["--data-dir", home.a1, "federation", "show", late.id])).stdout;
    assertMatch(extended, /state:\s+Open/);
    assertMatch(
      extended,
      new RegExp(
        `closes:\\s+${new Date(extendedClose).toISOString()} — extended from ${
          new Date(late.closes).toISOString()
        } by a late quorum`,
      ),
    );
    assertMatch(
      extended,
      /late:\s+quorum first reached \S+, \S+ before the close: voting extended by \S+ \(30m rule\)/,
    );
    const listed = await json<{ proposals: { id: string; closes: number }[] }>(
      home.a1,
      "federation",
      "list",
    );
    assertEquals(listed.proposals.find((p) => p.id === late.id)?.closes, extendedClose);
    stepClockPast(extendedClose);
    const decided = await json<Shown & { timing: { closes: number; extended: boolean } }>(
      home.a1,
      "federation",
      "show",
      late.id,
    );
    // Beta's vote inside the extension counts: one for, one against is not a majority.
    assertEquals([decided.state, decided.tally.cast, decided.timing], ["Rejected", 2, {
      closes: extendedClose,
      revealEnds: extendedClose,
      effective: extendedClose,
      extended: true,
      quorumAt: extendedClose - 30 * 60_000,
    }]);
  },
});
