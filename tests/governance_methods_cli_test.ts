/**
 * Decision methods and secret ballots end to end through the CLI: two
 * members in separate data dirs vote on one proposal of each method and on a
 * secret poll, exchange bundles, and read the exact outcomes after the close
 * (the clock is stepped with ICN_TEST_CLOCK_OFFSET_MS, never slept through).
 */
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const hourS = 3600;
let clockOffsetMs = 0;
const clock = () => ({ env: { ICN_TEST_CLOCK_OFFSET_MS: String(clockOffsetMs) } });
const cli = (code: number, args: string[]) => icnExpect(code, args, clock());
async function json<T>(home: string, ...args: string[]): Promise<T> {
  return (await cli(0, ["--json", "--data-dir", home, ...args])).json<T>();
}

Deno.test({
  name:
    "every method's outcome after close, and a secret ballot committed, revealed and audited across two data dirs",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-methods-" });
    const [a, b] = [`${dir}/a`, `${dir}/b`];
    const [didA, didB] = await Promise.all(
      [a, b].map(async (home) => (await json<{ did: string }>(home, "id", "init")).did),
    );
    const genesisFile = `${dir}/genesis.json`;
    await cli(0, [
      "--data-dir",
      a,
      "governance",
      "genesis",
      "create",
      "--name",
      "Choosers",
      "--member",
      didB,
      "--set",
      `governance.text.votingPeriod=${hourS}s`,
      "--set",
      `governance.text.revealWindow=${hourS}s`,
      "--out",
      genesisFile,
    ]);
    for (const home of [a, b]) {
      await cli(0, ["--data-dir", home, "governance", "genesis", "sign", genesisFile]);
    }
    for (const home of [a, b]) {
      await cli(0, ["--data-dir", home, "governance", "join", genesisFile]);
    }

    const propose = async (
      ...args: string[]
    ) => (await json<{ id: string; closes: number }>(
      a,
      "governance",
      "propose",
      "--title",
      "T",
      ...args,
    ));
    const opts = (...names: string[]) => names.flatMap((n) => ["--option", n]);
    const sense = await propose("--method", "sense-check");
    const poll = await propose("--method", "poll", ...opts("Tea", "Coffee", "Water"));
    const score = await propose("--method", "score", "--max-score", "5", ...opts("Red", "Blue"));
    const dot = await propose("--method", "dot", "--points", "10", ...opts("Roof", "Oven", "Van"));
    const ranked = await propose("--method", "ranked", ...opts("Ann", "Bo", "Cy"));
    const meeting = await propose(
      "--method",
      "meeting",
      ...opts("Mon 10:00", "Tue 10:00", "Wed 10:00"),
    );
    const secret = await propose("--method", "poll", "--secret", ...opts("Keep", "Change"));

    const bundle = async (from: string, to: string) => {
      const file = `${dir}/${crypto.randomUUID()}.car`;
      await cli(0, ["--data-dir", from, "node", "export", "--out", file]);
      await cli(0, ["--data-dir", to, "node", "import", file]);
    };
    await bundle(a, b);

    // b has everything to do; todo lists it soonest first.
    const todo = await json<{ count: number; items: { id: string; action: string }[] }>(
      b,
      "governance",
      "todo",
    );
    assertEquals(todo.count, 7);
    assertEquals(todo.items.every((i) => i.action === "vote"), true);

    // Bad ballots are refused with a clear error, and nothing changes.
    const before = await snapshotDir(b);
    const refused = [
      [["vote", score.id, "--score", "Red=6"], /Score 6 for "Red" \(1\) is out of range: 0 to 5/],
      [
        ["vote", dot.id, "--points", "Roof=6", "--points", "Oven=5"],
        /allocates 11 points, more than the 10 allowed/,
      ],
      [["vote", ranked.id, "--rank", "Ann,Bo,Ann"], /"Ann" \(1\) is ranked twice/],
      [["vote", poll.id, "Juice"], /No option "Juice"/],
    ] as const;
    for (const [args, message] of refused) {
      const run = await icn(["--data-dir", b, "governance", ...args], clock());
      assertEquals(run.code !== 0, true, run.stdout);
      assertMatch(run.stderr, message);
    }
    sameSnapshot(before, await snapshotDir(b));

    const vote = (home: string, id: string, ...args: string[]) =>
      cli(0, ["--data-dir", home, "governance", "vote", id, ...args]);
    // b votes, then replaces its poll vote: the replaced one counts once.
    await vote(b, sense.id, "good");
    await vote(b, poll.id, "Tea");
    await vote(b, poll.id, "--choice", "2");
    await vote(b, score.id, "--score", "Red=4", "--score", "Blue=1");
    await vote(b, dot.id, "--points", "Roof=7", "--points", "Van=3");
    await vote(b, ranked.id, "--rank", "Bo,Ann");
    await vote(b, meeting.id, "--can", "Tue 10:00", "--if-need-be", "Mon 10:00");
    await vote(b, secret.id, "Change");
    await vote(a, sense.id, "concerned");
    await vote(a, poll.id, "Coffee");
    await vote(a, score.id, "--score", "Red=1", "--score", "Blue=5");
    await vote(a, dot.id, "--points", "Oven=10");
    await vote(a, ranked.id, "--rank", "Cy", "--rank", "Bo", "--rank", "Ann");
    await vote(a, meeting.id, "--can", "Mon 10:00", "--can", "Tue 10:00");
    await vote(a, secret.id, "Change");
    await bundle(b, a);

    // While voting is open the secret ballot shows who committed, not what.
    const open = await json<{ state: string; outcome: unknown; votes: { choice: string }[] }>(
      a,
      "governance",
      "show",
      secret.id,
    );
    assertEquals([open.state, open.outcome, open.votes.map((v) => v.choice)], ["Open", null, [
      "secret",
      "secret",
    ]]);
    // Revealing before the close is refused.
    const early = await icn(["--data-dir", a, "governance", "reveal", secret.id], clock());
    assertEquals(early.code, 1);
    assertMatch(early.stderr, /Cannot reveal yet/);

    clockOffsetMs = secret.closes + 1000 - Date.now();
    const revealing = await json<{ state: string }>(a, "governance", "show", secret.id);
    assertEquals(revealing.state, "Revealing");
    await cli(0, ["--data-dir", a, "governance", "reveal", secret.id]);
    // b revealed nothing: it counts as not voting.
    const todoB = await json<{ items: { id: string; action: string }[] }>(b, "governance", "todo");
    assertEquals(todoB.items.map((i) => [i.id, i.action]), [[secret.id, "reveal"]]);
    clockOffsetMs = secret.closes + hourS * 1000 + 1000 - Date.now();

    type Shown = { state: string; tally: { cast: number }; result: Record<string, unknown> };
    const show = (id: string) => json<Shown>(a, "governance", "show", id);
    const s = await show(sense.id);
    assertEquals([s.state, s.result.counts], ["Closed", { good: 1, unsure: 0, concerned: 1 }]);
    const p = await show(poll.id);
    assertEquals([p.tally.cast, p.result.votes, p.result.winners], [2, [0, 2, 0], [1]]);
    const sc = await show(score.id);
    assertEquals([sc.result.means, sc.result.winners], [[2.5, 3], [1]]);
    const d = await show(dot.id);
    assertEquals([d.result.points, d.result.winners], [[7, 10, 3], [1]]);
    // b ranks Bo > Ann, a ranks Cy > Bo > Ann. Instant-runoff: Ann has no first preference and
    // goes; Bo and Cy then have one each: a tie. Schulze: both prefer Bo to Ann (2-0), Bo and
    // Cy split 1-1, Cy and Ann split 1-1: nobody beats Bo or Cy, so the one seat is tied too.
    type Ranked = {
      instantRunoff: { winners: number[] };
      schulze: { winners: number[]; pairwise: number[][] };
      elected: number[];
      tiedForLastSeat: number[];
    };
    const r = (await show(ranked.id)).result as unknown as Ranked;
    assertEquals(
      [r.instantRunoff.winners, r.schulze.winners, r.elected, r.tiedForLastSeat],
      [[1, 2], [1, 2], [], [1, 2]],
    );
    assertEquals(r.schulze.pairwise, [[0, 0, 1], [2, 0, 1], [1, 1, 0]]);
    const m = await show(meeting.id);
    assertEquals([m.result.available, m.result.winners], [[2, 2, 0], [1]]);
    const secretShown = await show(secret.id);
    assertEquals([secretShown.state, secretShown.tally.cast, secretShown.result.votes], [
      "Closed",
      1,
      [0, 1],
    ]);
    const explained = await cli(0, ["--data-dir", a, "governance", "show", "--explain", ranked.id]);
    assertMatch(
      explained.stdout,
      /result: +tie for 1 seat\(s\) between Bo, Cy \(Schulze, 1 seat\(s\)\)/,
    );
    assertMatch(
      explained.stdout,
      /instant-runoff rounds:\n {4}round 1: Ann 0, Bo 1, Cy 1; exhausted 0; eliminated Ann/,
    );
    assertMatch(explained.stdout, /Schulze pairwise/);

    // The audit re-checks each vote against its signed envelope and commitment.
    const audit = await json<
      { ok: boolean; counted: number; unrevealed: number; votes: { did: string; status: string }[] }
    >(
      a,
      "governance",
      "audit",
      secret.id,
    );
    assertEquals([audit.ok, audit.counted, audit.unrevealed], [true, 1, 1]);
    assertEquals(audit.votes.find((v) => v.did === didA)!.status, "counted");
    assertEquals(audit.votes.find((v) => v.did === didB)!.status, "unrevealed");
    await Deno.remove(dir, { recursive: true });
  },
});
