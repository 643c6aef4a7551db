/**
 * Several networks in one data dir, through the CLI as a process (docs/design.md, "One store
 * per network"): each network's state is its own, and `--net` chooses one. The stores
 * themselves (upgrade, remote store, key events, a join cut short): networks_store_cli_test.ts.
 */
import { assertEquals, assertMatch, icn, sameSnapshot, snapshotDir } from "./_cli.ts";
import { act, cli, json, stateOf, twoNetworks } from "./_networks.ts";

Deno.test({
  name:
    "the same envelopes in two networks of one data dir change only their own network's balances, trust, proposals and state hash",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const t = await twoNetworks();
    const { a, ids } = t;
    const listed = await json<
      { name: string; id: string; kind: string; members: number; role: string }[]
    >(
      a,
      "governance",
      "networks",
    );
    assertEquals(
      listed.map((n) => [n.name, n.id, n.kind, n.members, n.role]),
      [
        ["Bakers", ids.Bakers, "cooperative", 2, "founder"],
        ["Brewers", ids.Brewers, "cooperative", 2, "founder"],
      ],
    );

    const brewersBefore = await stateOf(a, "Brewers");
    await act(t, "Bakers", "10", "0.8");
    assertEquals(await stateOf(a, "Brewers"), brewersBefore, "Brewers untouched by Bakers:");
    const bakers = await stateOf(a, ids.Bakers);
    assertEquals(bakers.net, ids.Bakers);
    assertMatch(JSON.stringify(bakers.balances), /-10\.00/);

    await act(t, ids.Brewers.slice(0, 30), "3", "0.4");
    assertEquals(await stateOf(a, "Bakers"), bakers, "Bakers untouched by Brewers:");
    const brewers = await stateOf(a, "Brewers");
    assertMatch(JSON.stringify(brewers.balances), /-3\.00/);
    if (brewers.stateHash === bakers.stateHash) throw new Error("both networks hash the same");
    // b's copies agree with a's, network by network.
    assertEquals((await stateOf(t.b, "Bakers")).stateHash, bakers.stateHash);
    assertEquals((await stateOf(t.b, "Brewers")).stateHash, brewers.stateHash);
    await Deno.remove(t.dir, { recursive: true });
  },
});

Deno.test({
  name:
    "--net unknown, ambiguous or missing with two networks is a usage error listing them; nothing changes",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const t = await twoNetworks();
    const { a, didB, ids } = t;
    const before = await snapshotDir(a);
    const pay = ["--data-dir", a, "ledger", "transfer", "--to", didB, "--amount", "1"];
    const unknown = await cli(2, [...pay, "--net", "Millers"]);
    assertMatch(unknown.stderr, /Unknown network "Millers" \(--net\)/);
    assertMatch(unknown.stderr, /Bakers .*\n.*Brewers/);
    const ambiguous = await cli(2, [...pay, "--net", "bafy"]);
    assertMatch(ambiguous.stderr, /"bafy" names 2 joined networks/);
    const missing = await cli(2, pay);
    assertMatch(missing.stderr, /joined 2 networks: choose one with --net/);
    assertMatch(missing.stderr, new RegExp(ids.Bakers));
    const asJson = await icn(["--json", ...pay, "--net", "Millers"]);
    assertEquals(asJson.code, 2);
    await cli(1, [...pay, "--net", "Bak\u001bers"]);
    await cli(2, ["--data-dir", a, "governance", "list", "--net", "nope"]);
    await cli(2, ["--data-dir", a, "trust", "list"]);
    await cli(2, ["--data-dir", a, "node", "export", "--out", `${t.dir}/x.car`]);
    if (!sameSnapshot(before, await snapshotDir(a))) throw new Error("a refused --net changed a");

    // default_net chooses when --net is not given; a name that matches nothing is refused.
    await Deno.writeTextFile(`${a}/cli.toml`, 'default_net = "Brewers"\n');
    const chosen = await json<{ net: string }>(a, "ledger", "check");
    assertEquals(chosen.net, ids.Brewers);
    await Deno.writeTextFile(`${a}/cli.toml`, 'default_net = "Millers"\n');
    const badDefault = await cli(2, ["--data-dir", a, "ledger", "check"]);
    assertMatch(badDefault.stderr, /default_net in .*cli\.toml/);
    await Deno.remove(t.dir, { recursive: true });
  },
});
