/**
 * Protocol upgrades take effect when the network is ready (docs/governance.md, "Protocol
 * upgrades"): five `icn node run` processes of one cooperative, an accepted upgrade to 1.1.0
 * whose deadline has passed, `upgrade.readiness` 80 %. With 3 of 5 member nodes announcing
 * 1.1.0 (`ICN_TEST_PROTOCOL_VERSION`, honoured under `--profile test` only) the upgrade is not
 * in force: the old nodes stay connected and status, metrics and doctor warn. Once a fourth
 * node restarts on 1.1.0 it is in force: the last old node is cut off.
 *
 * One cluster for the whole test; the governance steps run offline in the past
 * (`ICN_TEST_CLOCK_OFFSET_MS`) so nothing waits for a voting period; every wait is bounded.
 */
import { icn as icnRun } from "./_cli.ts";
import { assert, assertEquals, waitFor } from "./_node_fixture.ts";
import { killAll, nodeInfo, spawnNodeWithEnv, stopWithin } from "./_node_process.ts";

const minutes = 60_000;
/** Setup runs 20 minutes in the past: the proposal closes and its deadline passes before the nodes run. */
const past = { ICN_TEST_CLOCK_OFFSET_MS: String(-20 * minutes) };
const newVersion = { ICN_TEST_PROTOCOL_VERSION: "1.1.0" };

async function ok(dir: string, env: Record<string, string>, ...args: string[]): Promise<string> {
  const run = await icnRun(["--data-dir", dir, ...args], { env });
  if (run.code !== 0) throw new Error(`icn ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

interface UpgradeRow {
  net: string;
  minVersion: string;
  active: number;
  ready: number;
  ratio: number;
  state: string;
  warning?: string;
}

interface Running {
  child: Deno.ChildProcess;
  url: string;
  token: string;
  listen: string[];
}

async function start(dir: string, env: Record<string, string>, bootstrap: string[]) {
  const child = spawnNodeWithEnv(dir, env, ...bootstrap.flatMap((a) => ["--bootstrap", a]));
  const info = await nodeInfo(dir);
  const token = (await Deno.readTextFile(`${dir}/node.token`)).trim();
  return { child, url: info.url, token, listen: info.listen } satisfies Running;
}

async function nodeStatus(node: Running): Promise<{
  version: string;
  peers: { did: string | null; version: string | null }[];
  upgrades: UpgradeRow[];
}> {
  const response = await fetch(`${node.url}/control/status`, {
    headers: { authorization: `Bearer ${node.token}` },
  });
  return await response.json();
}

async function gauge(node: Running, name: string): Promise<number | null> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{net="`));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(" ") + 1));
}

Deno.test({
  name:
    "upgrade readiness: 5 node processes, 3 then 4 announce 1.1.0; the upgrade takes effect at 4 of 5 (80 %), not at 3",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-upgrade-" });
    const dirs = [0, 1, 2, 3, 4].map((i) => `${root}/n${i}`);
    const running = new Map<number, Running>();
    try {
      // A cooperative of five, founded 20 minutes ago.
      const dids = await Promise.all(
        dirs.map(async (dir) =>
          JSON.parse(await ok(dir, past, "--json", "id", "init")).did as string
        ),
      );
      const genesis = `${root}/genesis.json`;
      await ok(
        dirs[0],
        past,
        "governance",
        "genesis",
        "create",
        "--name",
        "Upgrade coop",
        ...dids.flatMap((d) => ["--member", d]),
        // One member's vote carries an upgrade here: the test is about readiness, not voting.
        ...[
          "governance.upgrade.quorum=20",
          "governance.upgrade.approval=50",
          "governance.upgrade.votingPeriod=60s",
          "governance.upgrade.timelock=0s",
          "upgrade.readiness=80",
        ].flatMap((s) => ["--set", s]),
        "--out",
        genesis,
      );
      for (const dir of dirs) await ok(dir, past, "governance", "genesis", "sign", genesis);
      await Promise.all(dirs.map((dir) => ok(dir, past, "governance", "join", genesis)));
      // Upgrade to 1.1.0, voted 20 minutes ago, closed a minute later, deadline 10 minutes ago.
      const deadline = new Date(Date.now() - 10 * minutes).toISOString();
      const proposal = JSON.parse(
        await ok(
          dirs[0],
          past,
          "--json",
          "governance",
          "propose",
          "--kind",
          "upgrade",
          "--title",
          "Protocol 1.1",
          "--upgrade-version",
          "1.1.0",
          "--min-version",
          "1.1.0",
          "--deadline",
          deadline,
        ),
      ) as { id: string };
      const [, refused] = await Promise.all([
        ok(dirs[0], past, "governance", "vote", proposal.id, "for"),
        // A real node never claims another version: the override is refused outside the test
        // profile, before anything is unlocked or opened.
        icnRun(["--data-dir", dirs[4], "node", "run", "--profile", "lan"], { env: newVersion }),
      ]);
      assert(refused.code !== 0, `node run exited ${refused.code}`);
      assert(refused.stderr.includes("only by `icn node run --profile test`"), refused.stderr);

      // The two old nodes first, and the new ones dial only them, so that every new node's first
      // peer is an old one: no new node can decide on a view that holds only new nodes. The
      // new nodes hear each other through the old ones' gossip of their announces.
      const [n3, n4] = await Promise.all([start(dirs[3], {}, []), start(dirs[4], {}, [])]);
      running.set(3, n3);
      running.set(4, n4);
      const [n0, n1, n2] = await Promise.all(
        [0, 1, 2].map((i) => start(dirs[i], newVersion, [...n3.listen, ...n4.listen])),
      );
      running.set(0, n0);
      running.set(1, n1);
      running.set(2, n2);
      const observer = n0;

      // 3 of 5: every member's node is heard, the deadline passed, and still only a warning.
      let row: UpgradeRow | undefined;
      await waitFor("node 0 hears all five member nodes", async () => {
        row = (await nodeStatus(observer)).upgrades[0];
        return row?.active === 5 && row.ready === 3;
      }, 90_000).catch((error) => {
        throw new Error(`${error.message}: ${JSON.stringify(row)}`);
      });
      // The old node 4 holds the accepted upgrade too (synced), so it can be told to upgrade later.
      await waitFor("node 4 holds the upgrade", async () => {
        return (await nodeStatus(n4)).upgrades.length === 1;
      }, 60_000);
      // Decided by the rule, not held back by the warm-up: the warning says the share is short.
      const waiting = await nodeStatus(observer);
      assertEquals(waiting.version, "1.1.0");
      assertEquals(waiting.upgrades.length, 1, JSON.stringify(waiting.upgrades));
      row = waiting.upgrades[0];
      assertEquals([row.minVersion, row.state, row.ratio], ["1.1.0", "waiting", 0.6]);
      assert(row.warning?.includes("below the 80% required") ?? false, String(row.warning));
      const oldDids = [dids[3], dids[4]];
      for (const did of oldDids) {
        assert(waiting.peers.some((p) => p.did === did && p.version === "1.0.0"), `${did} kept`);
      }
      assertEquals(await gauge(observer, "icn_upgrade_adoption_ratio"), 0.6);
      assertEquals(await gauge(observer, "icn_upgrade_in_force"), 0);
      const deadlineSeconds = await gauge(observer, "icn_upgrade_deadline_seconds");
      assertEquals(deadlineSeconds, Date.parse(deadline) / 1000);
      // The operator sees it in `icn node status` and `icn doctor` too.
      const [text, doctor] = await Promise.all([
        icnRun(["--data-dir", dirs[0], "node", "status"]),
        icnRun(["--data-dir", dirs[0], "--json", "doctor"]),
      ]);
      assertEquals(text.code, 0, text.stderr);
      assert(/Upgrade .* min 1\.1\.0 waiting: 3\/5/.test(text.stdout), text.stdout);
      assert(text.stderr.includes("below the 80% required"), text.stderr);
      const findings = doctor.json<{ findings: { check: string; status: string }[] }>().findings;
      assert(
        findings.some((f) => f.check === "upgrade" && f.status === "warn"),
        JSON.stringify(findings),
      );

      // Node 3 is upgraded: 4 of 5, and the upgrade takes effect; node 4 is cut off.
      const { code } = await stopWithin(running.get(3)!.child, 10_000);
      assertEquals(code, 0);
      running.delete(3);
      running.set(
        3,
        await start(dirs[3], newVersion, [...n4.listen, ...observer.listen]),
      );
      await waitFor("the upgrade in force on node 0", async () => {
        row = (await nodeStatus(observer)).upgrades[0];
        return row?.state === "in_force";
      }, 60_000).catch((error) => {
        throw new Error(`${error.message}: ${JSON.stringify(row)}`);
      });
      assertEquals([row!.ready, row!.active], [4, 5]);
      await waitFor("node 0 without the old node 4", async () => {
        const peers = (await nodeStatus(observer)).peers;
        return !peers.some((p) => p.did === dids[4]);
      }, 30_000);
      assertEquals(await gauge(observer, "icn_upgrade_in_force"), 1);
      assertEquals(await gauge(observer, "icn_upgrade_adoption_ratio"), 0.8);
      // The old node itself is told to upgrade.
      const behind = (await nodeStatus(running.get(4)!)).upgrades[0];
      assert(behind?.warning?.includes("this node runs 1.0.0") ?? false, JSON.stringify(behind));
    } finally {
      await killAll([...running.values()].map((r) => r.child));
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "ICN_TEST_PROTOCOL_VERSION is refused outside --profile test, and when not a version",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { testUpgradeOptions } = await import("../net/upgrade.ts");
    let message = "";
    try {
      testUpgradeOptions("server", 30_000, "9.9.9");
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message.includes("only by `icn node run --profile test`"), message);
    message = "";
    try {
      testUpgradeOptions("test", 2000, "1.1");
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message.includes("must be a version x.y.z"), message);
    assertEquals(testUpgradeOptions("server", 30_000, undefined), {});
    assertEquals(testUpgradeOptions("test", 2000, "1.1.0"), {
      upgradeAnnounceIntervalMs: 2000,
      protocolVersion: "1.1.0",
    });
  },
});
