/** Delegation, consent blocks and cancellation through the CLI across three data dirs. */
import { assertEquals, assertMatch, icn, icnExpect } from "./_cli.ts";

async function json<T>(home: string, ...args: string[]): Promise<T> {
  return (await icnExpect(0, ["--json", "--data-dir", home, ...args])).json<T>();
}

async function exchange(dir: string, from: string, to: string[]): Promise<void> {
  const file = `${dir}/${crypto.randomUUID()}.car`;
  await icnExpect(0, ["--data-dir", from, "node", "export", "--out", file]);
  for (const home of to) await icnExpect(0, ["--data-dir", home, "node", "import", file]);
}

interface Shown {
  state: string;
  tally: { cast: number; for: number; block: number; delegated: number; outcome: string };
  votes: { did: string; choice: string; via?: string }[];
}

Deno.test("delegate, undelegate, block and cancel work through the CLI and refuse bad requests", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icn-gov-deleg-" });
  const [a, b, c] = ["a", "b", "c"].map((n) => `${dir}/${n}`);
  const dids = await Promise.all(
    [a, b, c].map(async (home) => (await json<{ did: string }>(home, "id", "init")).did),
  );
  const genesisFile = `${dir}/genesis.json`;
  await icnExpect(0, [
    "--data-dir",
    a,
    "governance",
    "genesis",
    "create",
    "--name",
    "Consensus",
    "--member",
    dids[1],
    "--member",
    dids[2],
    "--set",
    "governance.text.mode=consent",
    "--out",
    genesisFile,
  ]);
  for (const home of [a, b, c]) {
    await icnExpect(0, ["--data-dir", home, "governance", "genesis", "sign", genesisFile]);
  }
  await Promise.all(
    [a, b, c].map((home) => icnExpect(0, ["--data-dir", home, "governance", "join", genesisFile])),
  );

  // c → b for text proposals; b → c would close a cycle.
  await icnExpect(0, ["--data-dir", c, "governance", "delegate", dids[1], "--scope", "kind:text"]);
  await exchange(dir, c, [a, b]);
  const cycle = await icn(["--data-dir", b, "governance", "delegate", dids[2]]);
  assertEquals(cycle.code, 1, "cycle refused");
  assertMatch(cycle.stderr, /lead back to you/);
  const self = await icn(["--data-dir", b, "governance", "delegate", dids[1]]);
  assertEquals(self.code, 1, "self-delegation refused");
  const badScope = await icn(["--data-dir", b, "governance", "delegate", dids[0], "--scope", "x"]);
  assertEquals(badScope.code, 1, "bad scope refused");

  const text = await json<{ id: string }>(
    a,
    "governance",
    "propose",
    "--kind",
    "text",
    "--title",
    "Buy a new oven",
  );
  await exchange(dir, a, [b]);
  await icnExpect(0, ["--data-dir", b, "governance", "vote", text.id, "for", "--reason", "yes"]);
  await exchange(dir, b, [a]);
  let shown = await json<Shown>(a, "governance", "show", text.id.slice(0, 12));
  assertEquals([shown.tally.cast, shown.tally.for, shown.tally.delegated], [2, 2, 1]);
  assertEquals(shown.votes.find((v) => v.did === dids[2])?.via, dids[1]);

  // A block from a rejects in consent mode; a changing its vote lifts it.
  await icnExpect(0, ["--data-dir", a, "governance", "vote", text.id, "block"]);
  shown = await json<Shown>(a, "governance", "show", text.id);
  assertEquals([shown.tally.block, shown.tally.outcome], [1, "Rejected"]);
  await icnExpect(0, ["--data-dir", a, "governance", "vote", text.id, "for"]);
  shown = await json<Shown>(a, "governance", "show", text.id);
  assertEquals([shown.tally.block, shown.tally.for, shown.tally.outcome], [0, 3, "Accepted"]);

  // c votes directly: its own vote overrides the delegation.
  await exchange(dir, a, [c]);
  await icnExpect(0, ["--data-dir", c, "governance", "vote", text.id, "against"]);
  await icnExpect(0, ["--data-dir", c, "governance", "undelegate"]);
  const again = await icn(["--data-dir", c, "governance", "undelegate"]);
  assertEquals(again.code, 1, "nothing left to undelegate");
  await exchange(dir, c, [a]);
  shown = await json<Shown>(a, "governance", "show", text.id);
  assertEquals([shown.tally.for, shown.tally.delegated], [2, 0]);
  const members = await json<{ members: { did: string; delegations: unknown[] }[] }>(
    a,
    "governance",
    "members",
  );
  assertEquals(members.members.every((m) => m.delegations.length === 0), true);

  // Only the author cancels; afterwards no one can vote from this data dir.
  const notAuthor = await icn(["--data-dir", b, "governance", "cancel", text.id]);
  assertEquals(notAuthor.code, 1, "cancel by non-author refused");
  await icnExpect(0, ["--data-dir", a, "governance", "cancel", text.id]);
  const late = await icn(["--data-dir", a, "governance", "vote", text.id, "for"]);
  assertEquals(late.code, 1, "vote on a cancelled proposal refused");
  const cancelled = await json<{ proposals: { id: string }[] }>(
    a,
    "governance",
    "list",
    "--state",
    "cancelled",
  );
  assertEquals(cancelled.proposals.map((p) => p.id), [text.id]);
  await Deno.remove(dir, { recursive: true });
});
