/**
 * The restore guard through the CLI: an identity restored from a backup (key
 * event log only) must learn its own chain head in the network before it
 * writes there, or its first write forks its chain (issue 14: "Restore, then
 * publish"). The write is refused until a peer's bundle is imported (or a node
 * has synced, or the user overrides), and then continues the chain at the
 * right seq, which peers accept.
 */
import {
  assertEquals,
  assertMatch,
  icnExpect,
  netHead,
  sameSnapshot,
  snapshotDir,
} from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-restore-guard-" });

function member(name: string) {
  const home = `${dir}/${name}`;
  return {
    home,
    run: (code: number, ...args: string[]) => icnExpect(code, ["--data-dir", home, ...args]),
    json: async <T = Record<string, unknown>>(...args: string[]) =>
      (await icnExpect(0, ["--json", "--data-dir", home, ...args])).json<T>(),
  };
}

async function exchange(from: string, to: string, name: string, code = 0) {
  const file = `${dir}/${name}.car`;
  await icnExpect(0, ["--data-dir", from, "node", "export", "--out", file]);
  return await icnExpect(code, ["--json", "--data-dir", to, "node", "import", file]);
}

Deno.test("a restored identity cannot write before catching up; after a peer's bundle it continues its chain with no fork", async () => {
  const alice = member("alice");
  const bob = member("bob");
  const aliceDid = (await alice.json<{ did: string }>("id", "init")).did;
  const bobDid = (await bob.json<{ did: string }>("id", "init")).did;
  const genesis = `${dir}/genesis.json`;
  await alice.run(
    0,
    "governance",
    "genesis",
    "create",
    "--name",
    "Guard Co-op",
    "--member",
    bobDid,
    "--out",
    genesis,
  );
  for (const who of [alice, bob]) await who.run(0, "governance", "genesis", "sign", genesis);
  for (const who of [alice, bob]) await who.run(0, "governance", "join", genesis);
  // Alice writes once (seq 0 of her chain in the network), bob has it; then she backs up.
  await alice.run(0, "trust", "add", bobDid, "0.5");
  await exchange(alice.home, bob.home, "a1");
  const backup = `${dir}/alice.backup.age`;
  await alice.run(0, "id", "backup", "--out", backup);

  // A new machine: restore (the key log only), join, and try to write at once.
  const restored = member("alice-restored");
  await restored.run(0, "id", "restore", backup);
  await restored.run(0, "governance", "join", genesis);
  const before = await snapshotDir(restored.home);
  const refused = await restored.run(1, "trust", "add", bobDid, "0.9");
  assertMatch(refused.stderr, /Cannot write/);
  assertMatch(refused.stderr, /icn node import/);
  assertMatch(refused.stderr, /icn node run/);
  assertMatch(refused.stderr, /icn id caught-up --i-know/);
  if (!sameSnapshot(before, await snapshotDir(restored.home))) {
    throw new Error("a refused write changed the data dir");
  }
  assertEquals(await netHead(restored.home, aliceDid), -1);

  // A full bundle from a peer teaches the chain head and lifts the guard.
  const caughtUp = await exchange(bob.home, restored.home, "b1");
  assertEquals(caughtUp.json<{ caughtUp: boolean }>().caughtUp, true);
  assertEquals(await netHead(restored.home, aliceDid), 0);
  await restored.run(0, "trust", "add", bobDid, "0.9");
  assertEquals(await netHead(restored.home, aliceDid), 1);
  // The peer takes the new envelope: it continues the chain, no fork.
  const taken = await exchange(restored.home, bob.home, "r1");
  assertEquals(taken.json<{ accepted: number }>().accepted, 1);
  assertEquals(await netHead(bob.home, aliceDid), 1);
  const edges = await bob.json<unknown>("trust", "list", "--from", aliceDid);
  assertMatch(JSON.stringify(edges), /0\.9/);

  // The override: refused without --i-know (usage), then the write goes through, and shows the
  // risk it names: without the peer's chain, the write forks and the peer refuses it.
  const careless = member("alice-careless");
  await careless.run(0, "id", "restore", backup);
  await careless.run(0, "governance", "join", genesis);
  const unsure = await careless.run(2, "id", "caught-up");
  assertMatch(unsure.stderr, /--i-know/);
  assertMatch(unsure.stderr, /fork/);
  await careless.run(1, "trust", "add", bobDid, "0.1");
  await careless.run(0, "id", "caught-up", "--i-know");
  await careless.run(0, "trust", "add", bobDid, "0.1");
  const forked = await exchange(careless.home, bob.home, "c1", 1);
  assertMatch(forked.stderr, /Fork by/);
});

Deno.test({
  name: "restore guard tests clean up",
  async fn() {
    await Deno.remove(dir, { recursive: true });
  },
});
