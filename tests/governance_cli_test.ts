/**
 * Governance end to end through the CLI: five founders in separate data dirs
 * exchange CAR bundles, admit a sixth member, raise the credit baseline
 * behind a timelock, and accept a protocol upgrade.
 *
 * Voting periods and timelocks are an hour, and the test steps every data
 * dir's clock past them (`ICN_TEST_CLOCK_OFFSET_MS`) instead of sleeping: a
 * real-time period of seconds closed early on a busy machine.
 */
import { StateOverlay } from "../core/chain/state.ts";
import { chainKeys } from "../core/chain/keys.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { paramsAt } from "../core/governance/membership.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const votingPeriodS = 3600;
const configTimelockS = 3600;

/** How far the cooperative's clock is ahead of the real one; it only moves forward. */
let clockOffsetMs = 0;
const now = () => Date.now() + clockOffsetMs;
const clock = () => ({ env: { ICN_TEST_CLOCK_OFFSET_MS: String(clockOffsetMs) } });
/** Moves every later command's clock to a second past `ms`. */
function stepClockPast(ms: number): void {
  clockOffsetMs = Math.max(clockOffsetMs, ms + 1000 - Date.now());
}
const cli = (code: number, args: string[]) => icnExpect(code, args, clock());

interface Shown {
  id: string;
  state: string;
  closes: number;
  effective: number;
  tally: { cast: number; for: number; delegated: number; outcome: string };
  votes: { did: string; choice: string; via?: string }[];
}

async function json<T>(home: string, ...args: string[]): Promise<T> {
  return (await cli(0, ["--json", "--data-dir", home, ...args])).json<T>();
}

async function exchange(dir: string, from: string, to: string[]): Promise<void> {
  const file = `${dir}/${from.split("/").pop()}-${crypto.randomUUID()}.car`;
  await cli(0, ["--data-dir", from, "node", "export", "--out", file]);
  for (const home of to) await cli(0, ["--data-dir", home, "node", "import", file]);
}

async function paramsNow(home: string, ts: number) {
  const store = await KvStore.open(`${home}/icn.kv`);
  try {
    const net = (await store.get<string>(chainKeys.network))!.value;
    const genesis = (await store.get<Genesis>(chainKeys.genesis(net)))!.value;
    return await paramsAt(new StateOverlay(store), genesis, ts);
  } finally {
    store.close();
  }
}

Deno.test({
  name:
    "a 5-member cooperative admits a 6th member, raises the baseline after its timelock and accepts an upgrade",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-gov-" });
    const [a, b, c, d, e, f] = ["a", "b", "c", "d", "e", "f"].map((n) => `${dir}/${n}`);
    const dids = await Promise.all(
      [a, b, c, d, e, f].map(async (home) => (await json<{ did: string }>(home, "id", "init")).did),
    );
    const genesisFile = `${dir}/genesis.json`;
    await cli(0, [
      "--data-dir",
      a,
      "governance",
      "genesis",
      "create",
      "--name",
      "Bakery",
      ...dids.slice(1, 5).flatMap((did) => ["--member", did]),
      "--set",
      `governance.membership.votingPeriod=${votingPeriodS}s`,
      "--set",
      `governance.config.votingPeriod=${votingPeriodS}s`,
      "--set",
      `governance.config.timelock=${configTimelockS}s`,
      "--set",
      `governance.upgrade.votingPeriod=${votingPeriodS}s`,
      "--set",
      "governance.upgrade.timelock=1s",
      "--out",
      genesisFile,
    ]);
    for (const home of [a, b, c, d, e]) {
      await cli(0, ["--data-dir", home, "governance", "genesis", "sign", genesisFile]);
    }
    await Promise.all(
      [a, b, c, d, e, f].map((home) =>
        cli(0, ["--data-dir", home, "governance", "join", genesisFile])
      ),
    );

    // d lets c vote for it; the delegation travels to a with d's bundle.
    await cli(0, ["--data-dir", d, "governance", "delegate", dids[2]]);

    const admit = await json<{ id: string }>(
      a,
      "governance",
      "propose",
      "--kind",
      "membership",
      "--title",
      "Admit Fran",
      "--admit",
      dids[5],
    );
    const raise = await json<{ id: string; effective: number }>(
      a,
      "governance",
      "propose",
      "--kind",
      "config",
      "--title",
      "Raise the baseline",
      "--set",
      "credit.baseline=20000",
    );
    const upgrade = await json<{ id: string }>(
      a,
      "governance",
      "propose",
      "--kind",
      "upgrade",
      "--title",
      "Protocol 1.1",
      "--upgrade-version",
      "1.1.0",
      "--min-version",
      "1.0.0",
      "--deadline",
      `${votingPeriodS + 3}s`,
    );
    const ids = [admit.id, raise.id, upgrade.id];
    await exchange(dir, a, [b, c]);
    const voteAll = async (home: string) => {
      for (const id of ids) {
        await cli(0, ["--data-dir", home, "governance", "vote", id.slice(0, 20), "for"]);
      }
    };
    await Promise.all([voteAll(a), voteAll(b), voteAll(c)]);
    await exchange(dir, b, [a]);
    await exchange(dir, c, [a]);
    await exchange(dir, d, [a]);

    const open = await json<Shown>(a, "governance", "show", admit.id);
    assertEquals([open.state, open.tally.cast, open.tally.delegated], ["Open", 4, 1]);
    const viaC = open.votes.find((v) => v.did === dids[3]);
    assertEquals(viaC?.via, dids[2], "d votes through c");

    stepClockPast(open.closes);
    const admitted = await json<Shown>(a, "governance", "show", admit.id);
    assertEquals([admitted.state, admitted.tally.outcome], ["Executed", "Accepted"]);
    const members = await json<{ members: { did: string }[] }>(a, "governance", "members");
    assertEquals(members.members.some((m) => m.did === dids[5]), true, "f is a member");

    // The config change is accepted but waits for its timelock.
    const waiting = await json<Shown>(a, "governance", "show", raise.id);
    assertEquals(waiting.state, "Accepted");
    assertEquals((await paramsNow(a, now()))["credit.baseline"], 10_000);
    const limit = await json<{ baseline: string }>(a, "ledger", "limit");
    assertEquals(limit.baseline, "100.00", "limit before");
    assertEquals((await paramsNow(a, raise.effective - 1))["credit.baseline"], 10_000);

    // f receives everything and, as a member now, can pay.
    await exchange(dir, a, [f]);
    const fMembers = await json<{ members: { did: string }[] }>(f, "governance", "members");
    assertEquals(fMembers.members.length, 6);
    await cli(0, [
      "--data-dir",
      f,
      "ledger",
      "transfer",
      "--to",
      dids[0],
      "--amount",
      "1.5",
    ]);

    stepClockPast(raise.effective);
    const executed = await json<Shown>(a, "governance", "show", raise.id);
    assertEquals(executed.state, "Executed");
    assertEquals((await paramsNow(a, now()))["credit.baseline"], 20_000);
    assertEquals((await json<{ baseline: string }>(a, "ledger", "limit")).baseline, "200.00");

    const upgrades = await json<
      { upgrades: { id: string; state: string; version: string }[]; minVersionInForce: unknown }
    >(a, "governance", "upgrades");
    assertEquals(
      upgrades.upgrades.map((u) => [u.id, u.state, u.version]),
      [[upgrade.id, "Executed", "1.1.0"]],
    );
    const listed = await json<{ total: number; proposals: { id: string; state: string }[] }>(
      a,
      "governance",
      "list",
      "--state",
      "executed",
    );
    assertEquals(listed.total, 3);
    // Bad input exits non-zero and changes nothing.
    const before = await snapshotDir(a);
    for (
      const args of [
        ["vote", admit.id, "maybe"],
        ["vote", "bafynothere", "for"],
        ["vote", admit.id, "block"],
        ["propose", "--kind", "config", "--title", "x", "--set", "nope.key=1"],
        ["propose", "--kind", "membership", "--title", "x", "--admit", dids[1]],
        ["propose", "--kind", "text", "--title", "x".repeat(201)],
        ["cancel", "bafynothere"],
        ["list", "--state", "Pending"],
        ["delegate", dids[0]],
      ]
    ) {
      const run = await icn(["--data-dir", a, "governance", ...args], clock());
      if (run.code === 0) throw new Error(`governance ${args.join(" ")} succeeded`);
      assertMatch(run.stderr, /^error: /);
    }
    assertEquals(sameSnapshot(before, await snapshotDir(a)), true, "bad input changed state");

    await Deno.remove(dir, { recursive: true });
  },
});
