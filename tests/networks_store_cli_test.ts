/**
 * The stores of several networks in one data dir, through the CLI as a process (docs/design.md,
 * "One store per network"): an old single-network data dir is upgraded in place, a remote store
 * holds one network, a join cut short leaves nothing, and the identity's key events reach every
 * network store, even across a crash. Isolation and `--net`: networks_cli_test.ts.
 */
import { checkGenesisFile } from "../core/governance/genesis.ts";
import { joinNetwork } from "../core/governance/join.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { networkEntryKey } from "../cli/networks.ts";
import { assertEquals, assertMatch, icn, sameSnapshot, snapshotDir } from "./_cli.ts";
import { cli, json, kelHeads, twoNetworks } from "./_networks.ts";

Deno.test({
  name:
    "a data dir from before several networks gets its network's entry when first opened; nothing moves",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-networks-old-" });
    const home = `${dir}/old`;
    await cli(0, ["--data-dir", home, "id", "init"]);
    const file = `${dir}/genesis.json`;
    await cli(0, [
      "--data-dir",
      home,
      "governance",
      "genesis",
      "create",
      "--name",
      "Old",
      "--out",
      file,
    ]);
    await cli(0, ["--data-dir", home, "governance", "genesis", "sign", file]);
    // Joined as every data dir was before: the network's keys in icn.kv, no entry.
    const { check, file: genesisFile } = await checkGenesisFile(await Deno.readTextFile(file));
    let store = await KvStore.open(`${home}/icn.kv`);
    await joinNetwork(store, { id: check.id, genesis: genesisFile.genesis });
    assertEquals(await store.get(networkEntryKey(check.id)), null);
    store.close();

    await cli(0, ["--data-dir", home, "ledger", "balance"]);
    store = await KvStore.open(`${home}/icn.kv`);
    const entry = await store.get(networkEntryKey(check.id));
    store.close();
    assertEquals(entry?.value, { name: "Old", kind: "cooperative", file: "icn.kv" });
    const listed = await json<{ id: string; file: string; role: string }[]>(
      home,
      "governance",
      "networks",
    );
    assertEquals(listed.map((n) => [n.id, n.file, n.role]), [[check.id, "icn.kv", "founder"]]);
    let networksDir = true;
    await Deno.stat(`${home}/networks`).catch(() => networksDir = false);
    assertEquals(networksDir, false, "no networks/ dir for one network:");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "joining a second network with a remote store (ICN_KV_URL) is refused and changes nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-networks-remote-" });
    const home = `${dir}/r`;
    // A path stands in for the remote KV's URL: the CLI treats whatever ICN_KV_URL names as remote.
    const env = { ICN_KV_URL: `${dir}/remote.kv` };
    await cli(0, ["--data-dir", home, "id", "init"], env);
    const files = [];
    for (const name of ["One", "Two"]) {
      const file = `${dir}/${name}.json`;
      await cli(0, [
        "--data-dir",
        home,
        "governance",
        "genesis",
        "create",
        "--name",
        name,
        "--out",
        file,
      ], env);
      await cli(0, ["--data-dir", home, "governance", "genesis", "sign", file], env);
      files.push(file);
    }
    await cli(0, ["--data-dir", home, "governance", "join", files[0]], env);
    const before = await snapshotDir(dir);
    const refused = await cli(1, ["--data-dir", home, "governance", "join", files[1]], env);
    assertMatch(refused.stderr, /remote store \(ICN_KV_URL\) holds one network/);
    if (!sameSnapshot(before, await snapshotDir(dir))) throw new Error("the refusal changed files");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "a key rotation reaches every network store, one a crash kept it from catches up when next opened, and a key-log bundle reaches them all",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const t = await twoNetworks();
    const { a, didA, didB } = t;
    assertEquals(await kelHeads(a, didA), [0, 0]);
    await cli(0, ["--data-dir", a, "id", "rotate"]);
    assertEquals(await kelHeads(a, didA), [1, 1]);
    // Signed with the new key, accepted in the second network: its store knows the rotation.
    await cli(0, [
      "--data-dir",
      a,
      "ledger",
      "transfer",
      "--net",
      "Brewers",
      "--to",
      didB,
      "--amount",
      "1",
    ]);

    const crashed = await icn(["--data-dir", a, "id", "rotate"], {
      env: { ICN_TEST_CRASH_AT: "kel:before-networks" },
    });
    assertEquals(crashed.code, 137);
    assertEquals(await kelHeads(a, didA), [2, 1]);
    await cli(0, ["--data-dir", a, "ledger", "balance", "--net", "Brewers"]);
    assertEquals(await kelHeads(a, didA), [2, 2]);
    await cli(0, [
      "--data-dir",
      a,
      "ledger",
      "transfer",
      "--net",
      "Brewers",
      "--to",
      didB,
      "--amount",
      "1",
    ]);
    await cli(0, [
      "--data-dir",
      a,
      "ledger",
      "transfer",
      "--net",
      "Bakers",
      "--to",
      didB,
      "--amount",
      "1",
    ]);

    // Cut after the keystore holds the event pending: the next write in the second network
    // settles it in the home store and that network's store has it before it is signed with.
    const pending = await icn(["--data-dir", a, "id", "rotate"], {
      env: { ICN_TEST_CRASH_AT: "rotate:after-pending" },
    });
    assertEquals(pending.code, 137);
    await cli(0, [
      "--data-dir",
      a,
      "ledger",
      "transfer",
      "--net",
      "Brewers",
      "--to",
      didB,
      "--amount",
      "1",
    ]);
    const [home, brewers] = await kelHeads(a, didA);
    assertEquals(brewers, home, "the settled key event reached the second store:");

    // A bundle of key logs only (a newcomer's) goes to every network store without --net.
    const c = `${t.dir}/c`;
    const didC = (await json<{ did: string }>(c, "id", "init")).did;
    await cli(0, ["--data-dir", c, "node", "export", "--out", `${t.dir}/c.car`]);
    await cli(0, ["--data-dir", a, "node", "import", `${t.dir}/c.car`]);
    assertEquals(await kelHeads(a, didC), [0, 0]);
    await Deno.remove(t.dir, { recursive: true });
  },
});

Deno.test({
  name:
    "a join cut short before its entry is recorded leaves no network; joining again completes it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-networks-join-" });
    const home = `${dir}/j`;
    await cli(0, ["--data-dir", home, "id", "init"]);
    const files = [];
    for (const name of ["One", "Two"]) {
      const file = `${dir}/${name}.json`;
      await cli(0, [
        "--data-dir",
        home,
        "governance",
        "genesis",
        "create",
        "--name",
        name,
        "--out",
        file,
      ]);
      await cli(0, ["--data-dir", home, "governance", "genesis", "sign", file]);
      files.push(file);
    }
    await cli(0, ["--data-dir", home, "governance", "join", files[0]]);
    for (const point of ["join:before-move", "join:before-entry"]) {
      const cut = await icn(["--data-dir", home, "governance", "join", files[1]], {
        env: { ICN_TEST_CRASH_AT: point },
      });
      assertEquals(cut.code, 137, point);
      const listed = await json<{ name: string }[]>(home, "governance", "networks");
      assertEquals(listed.map((n) => n.name), ["One"], `after a cut at ${point}:`);
      if (point === "join:before-entry") {
        // The store moved into place without its entry: doctor names it, and the join replaces it.
        const doctor = await icn(["--data-dir", home, "doctor"]);
        assertMatch(doctor.stdout, /warn +networks: .*\.kv is no joined network's store/);
      }
    }
    await cli(0, ["--data-dir", home, "governance", "join", files[1]]);
    const again = await json<{ joined: boolean; already: boolean }>(
      home,
      "governance",
      "join",
      files[1],
    );
    assertEquals([again.joined, again.already], [false, true]);
    const listed = await json<{ name: string }[]>(home, "governance", "networks");
    assertEquals(listed.map((n) => n.name), ["One", "Two"]);
    const left = [];
    for await (const entry of Deno.readDir(`${home}/networks`)) left.push(entry.name);
    assertEquals(left.filter((name) => name.includes("joining")), [], "no temporary store left:");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "a network whose store file is gone is listed as store missing; commands on it fail with how to recover, the others work, nothing changes",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "icn-networks-missing-" });
    const home = `${dir}/m`;
    await cli(0, ["--data-dir", home, "id", "init"]);
    const ids: string[] = [];
    for (const name of ["One", "Two"]) {
      const file = `${dir}/${name}.json`;
      const created = await json<{ id: string }>(
        home,
        "governance",
        "genesis",
        "create",
        "--name",
        name,
        "--out",
        file,
      );
      await cli(0, ["--data-dir", home, "governance", "genesis", "sign", file]);
      await cli(0, ["--data-dir", home, "governance", "join", file]);
      ids.push(created.id);
    }
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(`${home}/networks/${ids[1]}.kv${suffix}`).catch(() => {});
    }
    const listed = await json<
      { name: string; members: number | null; role: string | null; state: string }[]
    >(home, "governance", "networks");
    assertEquals(listed.map((n) => [n.name, n.members, n.role, n.state]), [
      ["One", 1, "founder", "ok"],
      ["Two", null, null, "store missing"],
    ]);
    const text = await icn(["--data-dir", home, "governance", "networks"]);
    assertEquals(text.code, 0);
    assertMatch(text.stdout, /Two +cooperative +- +store missing/);
    assertMatch(text.stdout, /Store of "Two" missing: .*\.kv is gone; restore it from a backup/);

    const before = await snapshotDir(home);
    const refused = await icn(["--data-dir", home, "ledger", "balance", "--net", "Two"]);
    assertEquals(refused.code, 1, "a command on the missing network:");
    assertMatch(refused.stderr, /The store of network "Two" .* is missing/);
    assertEquals(sameSnapshot(before, await snapshotDir(home)), true, "nothing changed:");
    await cli(0, ["--data-dir", home, "ledger", "balance", "--net", "One"]);
    await Deno.remove(dir, { recursive: true });
  },
});
