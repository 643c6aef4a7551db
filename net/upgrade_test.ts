import { TopicValidatorResult } from "@libp2p/gossipsub";
import { decode, encode } from "@ipld/dag-cbor";
import { appendLocal } from "../core/chain/append.ts";
import { rulesFor } from "../core/governance/view.ts";
import { assert, assertEquals } from "../tests/_node_fixture.ts";
import { requireTool } from "../tests/_tools.ts";
import { type AdmissionHook, Hello } from "./hello.ts";
import { exposition, lintFamily, parseExposition } from "./metrics.ts";
import { signHello } from "./protocol.ts";
import { metricValue, testComponents, testNow } from "./_testing.ts";
import { announceTableMax, testUpgradeOptions, UpgradeTracker } from "./upgrade.ts";
import { announceTopicOf, decodeAnnounce, encodeAnnounce } from "./upgrade_announce.ts";

const day = 86_400_000;

/** Member 0's node on 1.1.0 over a 3-member test network, with an accepted upgrade to 1.1.0. */
async function tracker(options: { upgrade?: boolean } = {}) {
  const components = await testComponents();
  const { network, peers, base, metrics } = components;
  const enforced: (string | null)[] = [];
  const published: { topic: string; data: Uint8Array }[] = [];
  let recipients = 0;
  const clock = network.deps.clock as typeof network.deps.clock & { advance(ms: number): void };
  if (options.upgrade !== false) {
    const deadline = testNow + 20 * day;
    const proposal = await appendLocal(network.deps, network.members[0].signer, {
      net: network.net,
      kind: "gov.proposal",
      body: {
        kind: "upgrade",
        title: "Protocol 1.1",
        body: "",
        action: { version: "1.1.0", deadline, minVersion: "1.1.0" },
        rules: rulesFor(network.genesis.params, "upgrade"),
      },
    });
    assertEquals(proposal.outcome.status, "accepted", JSON.stringify(proposal.outcome));
    for (const member of network.members.slice(0, 2)) {
      clock.advance(1000);
      const vote = await appendLocal(network.deps, member.signer, {
        net: network.net,
        kind: "gov.vote",
        body: { proposal: proposal.sealed.cid, choice: "for" },
      });
      assertEquals(vote.outcome.status, "accepted", JSON.stringify(vote.outcome));
    }
  }
  const upgrades = new UpgradeTracker({
    clock,
    logger: base.logger,
    metrics,
    signal: base.signal,
    identity: network.members[0],
    self: () => "12D3KooWSeLf",
    networks:
      () => [{ net: network.net, store: network.deps.store, genesis: network.genesis, peers }],
    publish: (topic, data) => {
      published.push({ topic, data });
      return Promise.resolve(recipients);
    },
    enforce: (minVersion) => enforced.push(minVersion),
  }, { version: "1.1.0", announceIntervalMs: 1000 });
  return {
    ...components,
    clock,
    upgrades,
    enforced,
    published,
    setRecipients: (n: number) => recipients = n,
  };
}

/** A signed announce of member `i`'s node. */
function announce(
  t: Awaited<ReturnType<typeof tracker>>,
  i: number,
  version: string,
  extra: { ts?: number; net?: string; signedBy?: number } = {},
) {
  const member = t.network.members[i];
  return encodeAnnounce({
    did: member.did,
    net: extra.net ?? t.network.net,
    version,
    peer: `12D3KooWPeer${i}`,
    ts: extra.ts ?? t.clock.now(),
  }, t.network.members[extra.signedBy ?? i].ed25519);
}

Deno.test("UpgradeTracker: before the deadline the upgrade is scheduled, nothing is enforced", async () => {
  const t = await tracker();
  // Closed and accepted (14 days of voting), its 2-day timelock and 20-day deadline ahead.
  t.clock.advance(15 * day);
  await t.upgrades.round();
  const [row] = t.upgrades.status();
  assertEquals([row.state, row.minVersion, row.active, row.ready], ["scheduled", "1.1.0", 1, 1]);
  assertEquals(row.warning, undefined, "this node runs 1.1.0 already");
  assertEquals(t.enforced.at(-1), null);
  assertEquals(
    await metricValue(t.metrics, "icn_upgrade_deadline_seconds", { net: t.network.net }),
    (testNow + 20 * day) / 1000,
  );
});

Deno.test("UpgradeTracker: past the deadline it waits for readiness, then takes effect and stays", async () => {
  const t = await tracker();
  t.clock.advance(21 * day);
  await t.upgrades.round();
  // Only this node is known: ready, but it has no peer yet, so it does not decide.
  let [row] = t.upgrades.status();
  assertEquals([row.state, row.ratio], ["waiting", 1]);
  assert(row.warning?.includes("this node decides once") ?? false, String(row.warning));
  // Member 1's node connects on 1.0.0: 1 of 2.
  t.peers.verify("peer1", {
    did: t.network.members[1].did,
    version: "1.0.0",
    trustClass: "known",
  });
  await t.upgrades.round();
  [row] = t.upgrades.status();
  assertEquals([row.state, row.active, row.ready], ["waiting", 2, 1]);
  assert(row.warning?.includes("below the 80% required") ?? false, String(row.warning));
  assertEquals(
    await metricValue(t.metrics, "icn_upgrade_adoption_ratio", { net: t.network.net }),
    0.5,
  );
  // Member 2's node announces 1.1.0 through member 1's: 2 of 3, still short of 80 %.
  assertEquals(
    await t.upgrades.validate(t.network.net, "peer1", await announce(t, 2, "1.1.0")),
    TopicValidatorResult.Accept,
  );
  t.clock.advance(5000);
  await t.upgrades.round();
  [row] = t.upgrades.status();
  assertEquals([row.state, row.active, row.ready], ["waiting", 3, 2]);
  assertEquals(t.enforced.at(-1), null);
  // Member 1's node restarts on 1.1.0 (a newer hello): 3 of 3.
  t.clock.advance(1000);
  t.upgrades.heard([t.network.net], t.network.members[1].did, "1.1.0", t.clock.now());
  t.peers.verify("peer1", {
    did: t.network.members[1].did,
    version: "1.1.0",
    trustClass: "known",
  });
  await t.upgrades.round();
  [row] = t.upgrades.status();
  assertEquals([row.state, row.ready], ["in_force", 3]);
  assertEquals(t.enforced.at(-1), "1.1.0");
  assertEquals(
    await metricValue(t.metrics, "icn_upgrade_in_force", { net: t.network.net }),
    1,
  );
  // Not undone while the node runs, even when the share drops again.
  t.clock.advance(2000);
  t.upgrades.heard([t.network.net], t.network.members[2].did, "1.0.0", t.clock.now());
  await t.upgrades.round();
  assertEquals(t.upgrades.status()[0].state, "in_force");
  assertEquals(t.enforced.at(-1), "1.1.0");
});

Deno.test("UpgradeTracker: a restarted node keeps the upgrade in force and the versions it heard", async () => {
  const t = await tracker();
  t.clock.advance(21 * day);
  t.peers.verify("peer1", {
    did: t.network.members[1].did,
    version: "1.1.0",
    trustClass: "known",
  });
  await t.upgrades.round();
  assertEquals(
    await t.upgrades.validate(t.network.net, "peer1", await announce(t, 2, "1.1.0")),
    TopicValidatorResult.Accept,
  );
  t.clock.advance(5000);
  await t.upgrades.round();
  assertEquals(t.upgrades.status()[0].state, "in_force");
  // The node stops; member 1's node goes with it. A new tracker over the same store (the node
  // started again), with no peer yet: still in force at once, no warm-up, and the versions of
  // members 1 and 2 are known again.
  t.peers.forget("peer1");
  const enforced: (string | null)[] = [];
  const restarted = new UpgradeTracker({
    clock: t.clock,
    logger: t.base.logger,
    metrics: t.metrics,
    signal: t.base.signal,
    identity: t.network.members[0],
    self: () => "12D3KooWSeLf",
    networks: () => [{
      net: t.network.net,
      store: t.network.deps.store,
      genesis: t.network.genesis,
      peers: t.peers,
    }],
    publish: () => Promise.resolve(0),
    enforce: (minVersion) => enforced.push(minVersion),
  }, { version: "1.1.0", announceIntervalMs: 1000 });
  t.clock.advance(1000);
  await restarted.round();
  const [row] = restarted.status();
  assertEquals([row.state, row.active, row.ready], ["in_force", 3, 3]);
  assertEquals(enforced.at(-1), "1.1.0");
  assertEquals(restarted.table(t.network.net).size, 3);
});

Deno.test("UpgradeTracker.validate(): only fresh announces of members, signed by their key, from a verified peer", async () => {
  const t = await tracker({ upgrade: false });
  await t.upgrades.round();
  const net = t.network.net;
  const member1 = t.network.members[1].did;
  const good = await announce(t, 2, "1.1.0");
  // No hello from the sending peer: not heard.
  assertEquals(await t.upgrades.validate(net, "stranger", good), TopicValidatorResult.Ignore);
  t.peers.verify("peer1", { did: member1, version: "1.0.0", trustClass: "known" });
  assertEquals(await t.upgrades.validate(net, "peer1", good), TopicValidatorResult.Accept);
  // The same announce again, or an older one: ignored, the table keeps the newest.
  assertEquals(await t.upgrades.validate(net, "peer1", good), TopicValidatorResult.Ignore);
  const older = await announce(t, 2, "0.9.0", { ts: t.clock.now() - 10_000 });
  assertEquals(await t.upgrades.validate(net, "peer1", older), TopicValidatorResult.Ignore);
  assertEquals(t.upgrades.table(net).get(t.network.members[2].did)?.version, "1.1.0");
  // Member 2's announce signed by member 1's key: not taken (no offence: it may be a rotation).
  t.clock.advance(5000);
  const forged = await announce(t, 2, "2.0.0", { signedBy: 1 });
  assertEquals(await t.upgrades.validate(net, "peer1", forged), TopicValidatorResult.Ignore);
  assertEquals(t.upgrades.table(net).get(t.network.members[2].did)?.version, "1.1.0");
  // Stale (older than upgrade.activeWindow) or from the future beyond the hello skew: ignored.
  const stale = await announce(t, 2, "1.2.0", { ts: t.clock.now() - 8 * day });
  assertEquals(await t.upgrades.validate(net, "peer1", stale), TopicValidatorResult.Ignore);
  const future = await announce(t, 2, "1.2.0", { ts: t.clock.now() + day });
  assertEquals(await t.upgrades.validate(net, "peer1", future), TopicValidatorResult.Ignore);
  // Another network's announce, or bytes that are no announce: refused, the peer's offence.
  const elsewhere = await announce(t, 2, "1.2.0", { net: "bafyother" });
  assertEquals(await t.upgrades.validate(net, "peer1", elsewhere), TopicValidatorResult.Reject);
  const junk = encode({ did: member1, version: "x" });
  assertEquals(await t.upgrades.validate(net, "peer1", junk), TopicValidatorResult.Reject);
  // Member 1's own announce, older than what its connection told this node: still relayed (the
  // members behind this node have not heard it), and the table keeps the newer claim.
  await t.upgrades.round();
  const relayed = await announce(t, 1, "1.0.0", { ts: t.clock.now() - 500 });
  assertEquals(await t.upgrades.validate(net, "peer1", relayed), TopicValidatorResult.Accept);
  assertEquals(t.upgrades.table(net).get(member1)?.ts, t.clock.now());
  const offences = t.peers.misbehaviour.get("peer1")?.counts ?? {};
  assertEquals([offences.wrong_network, offences.malformed], [1, 1]);
  assertEquals(t.upgrades.table(net).size <= 3 && announceTableMax > 3, true);
});

Deno.test("UpgradeTracker: a member node announces its version, again once an interval passed", async () => {
  const t = await tracker({ upgrade: false });
  await t.upgrades.round();
  // Nobody subscribed yet: tried again next round.
  assertEquals(t.published.length, 1);
  await t.upgrades.round();
  assertEquals(t.published.length, 2);
  t.setRecipients(2);
  await t.upgrades.round();
  assertEquals(t.published.length, 3);
  await t.upgrades.round();
  assertEquals(t.published.length, 3, "within the interval");
  t.clock.advance(1000);
  await t.upgrades.round();
  assertEquals(t.published.length, 4);
  const last = t.published.at(-1)!;
  assertEquals(last.topic, announceTopicOf(t.network.net));
  const said = decodeAnnounce(last.data);
  assertEquals([said.did, said.version, said.peer], [
    t.network.members[0].did,
    "1.1.0",
    "12D3KooWSeLf",
  ]);
});

Deno.test("testUpgradeOptions(): short announces and a version override under --profile test only", () => {
  assertEquals(testUpgradeOptions("lan", 30_000, ""), {});
  assertEquals(testUpgradeOptions("test", 2000, undefined), { upgradeAnnounceIntervalMs: 2000 });
  let refused = "";
  try {
    testUpgradeOptions("lan", 30_000, "1.2.3");
  } catch (error) {
    refused = (error as Error).message;
  }
  assert(refused.includes("--profile test"), refused);
});

Deno.test("icn_upgrade_* metrics pass promtool check metrics once an upgrade is accepted", async () => {
  const t = await tracker();
  t.clock.advance(21 * day);
  await t.upgrades.round();
  const text = await exposition(t.metrics);
  for (
    const name of [
      "icn_upgrade_adoption_ratio",
      "icn_upgrade_deadline_seconds",
      "icn_upgrade_in_force",
    ]
  ) assert(text.includes(`${name}{net="${t.network.net}"} `), name);
  for (const family of parseExposition(text)) assertEquals(lintFamily(family), [], family.name);
  if (requireTool("promtool", "promtool check metrics on icn_upgrade_*")) {
    const child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const out = await child.output();
    const decoder = new TextDecoder();
    assertEquals(out.code, 0, decoder.decode(out.stdout) + decoder.decode(out.stderr));
  }
});

Deno.test("Hello.enforce(): a minVersion in force hangs up older peers and refuses their hellos", async () => {
  const components = await testComponents();
  const { network, peers, connections, base } = components;
  const admission: AdmissionHook = {
    admit: () => Promise.resolve(true),
    owesWork: false,
    challengeAnswered: () => Promise.resolve(),
    noteHello: () => {},
  };
  const hello = new Hello({
    ...base,
    identity: network.members[0],
    lane: components.lane,
    peers,
    admission,
    sync: { soon: () => {} },
    self: () => "peerA",
  }, { net: network.net, helloTimeoutMs: 5000, version: "1.1.0" });
  const connection = (peer: string) =>
    ({ remotePeer: { toString: () => peer }, status: "open", direction: "inbound" }) as never;
  const helloOf = (member: number, from: string, version: string) =>
    signHello({
      did: network.members[member].did,
      net: network.net,
      version,
      from,
      to: "peerA",
      ts: base.clock.now(),
    }, network.members[member].ed25519);
  // Before: an old peer is heard, and this node says the version it was given.
  await hello.accept(connection("peerB"), await helloOf(1, "peerB", "1.0.0"));
  assertEquals(peers.get("peerB")?.version, "1.0.0");
  assertEquals((decode(await hello.own("peerB")) as { version: string }).version, "1.1.0");
  connections.open.add("peerB");
  hello.enforce("1.1.0");
  assertEquals(connections.hungUp, ["peerB"]);
  let refused = "";
  await hello.accept(connection("peerC"), await helloOf(2, "peerC", "1.0.5")).catch((error) =>
    refused = (error as Error).message
  );
  assertEquals(refused, "peer runs protocol 1.0.5, below the required 1.1.0");
  await hello.accept(connection("peerC"), await helloOf(2, "peerC", "1.1.0"));
  assertEquals(peers.get("peerC")?.version, "1.1.0");
  // null: nothing enforced any more (a node restarted before deciding again).
  hello.enforce(null);
  await hello.accept(connection("peerD"), await helloOf(1, "peerD", "1.0.0"));
  assert(peers.has("peerD"), "accepted again");
});
