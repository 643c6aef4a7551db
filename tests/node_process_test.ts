/**
 * Three `icn node run` processes on loopback: bootstrap, a CLI write routed
 * through the control API and seen by the others, status/peers, promtool on
 * /metrics, kill -9 and catch-up by sync, SIGTERM exiting 0 within 10 s.
 */
import { assert, assertEquals, waitFor } from "./_node_fixture.ts";
import {
  foundCooperative,
  icn,
  killAll,
  nodeInfo,
  ok,
  spawnNode,
  status,
  stopWithin,
} from "./_node_process.ts";
import { requireTool } from "./_tools.ts";

Deno.test({
  name:
    "icn node run: three processes share a CLI write, list peers, pass promtool, survive kill -9 and stop on SIGTERM",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-node-" });
    const dirs = [0, 1, 2].map((i) => `${root}/n${i}`);
    const children: Deno.ChildProcess[] = [];
    try {
      const dids = await foundCooperative(root, dirs);

      // Bad config is refused at start, naming the key.
      await Deno.writeTextFile(`${root}/bad.toml`, "[limits]\npeer_rate = -3\n");
      const bad = await icn(dirs[0], "node", "run", "--config", `${root}/bad.toml`);
      assertEquals(bad.code, 1);
      assert(bad.stderr.includes("limits.peer_rate"), bad.stderr);

      children.push(spawnNode(dirs[0]));
      const first = await nodeInfo(dirs[0]);
      const bootstrap = first.listen.find((a) => a.startsWith("/ip4/127.0.0.1/"))!;
      assert(bootstrap.includes("/p2p/"), bootstrap);
      children.push(spawnNode(dirs[1], "--bootstrap", bootstrap));
      children.push(spawnNode(dirs[2], "--bootstrap", bootstrap));
      await Promise.all([nodeInfo(dirs[1]), nodeInfo(dirs[2])]);
      await waitFor("peers and KELs", async () => {
        const all = await Promise.all(dirs.map(status));
        return all[0].peers.filter((p) => p.did).length === 2 &&
          all.every((s) => s.envelopes === 3);
      }, 30_000);

      // A CLI write on node 0 goes through its control API and reaches the others.
      const transfer = JSON.parse(
        await ok(
          dirs[0],
          "--json",
          "ledger",
          "transfer",
          "--to",
          dids[1],
          "--amount",
          "5",
          "--memo",
          "via node",
        ),
      );
      assert(JSON.stringify(transfer).length > 0, "transfer output");
      await waitFor("transfer on every node", async () => {
        const all = await Promise.all(dirs.map(status));
        return all.every((s) => s.envelopes === 4);
      }, 20_000);
      const peers = JSON.parse(await ok(dirs[1], "--json", "node", "peers")) as { did: string }[];
      assert(peers.some((p) => p.did === dids[0]), "node 1 lists node 0 as a peer");

      // promtool accepts /metrics.
      const metrics = await (await fetch(`${first.url}/metrics`)).text();
      assert(metrics.includes("icn_envelopes_accepted_total"), "metrics present");
      // libp2p's own metrics, and connection and gossipsub counts, alongside.
      for (const name of ["libp2p_data_transfer_bytes_total", "icn_gossipsub_mesh_peers"]) {
        assert(metrics.includes(name), `${name} in /metrics`);
      }
      if (requireTool("promtool", "promtool check metrics on a node's /metrics")) {
        const promtool = new Deno.Command("promtool", {
          args: ["check", "metrics"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const writer = promtool.stdin.getWriter();
        await writer.write(new TextEncoder().encode(metrics));
        await writer.close();
        const checked = await promtool.output();
        assertEquals(
          checked.code,
          0,
          new TextDecoder().decode(checked.stderr) + new TextDecoder().decode(checked.stdout),
        );
      }
      assertEquals((await fetch(`${first.url}/ready`)).status, 200);
      assertEquals((await fetch(`${first.url}/control/status`)).status, 401);

      // kill -9 node 2, write while it is down, restart: it catches up by sync.
      children[2].kill("SIGKILL");
      await children[2].output();
      await ok(dirs[0], "ledger", "transfer", "--to", dids[2], "--amount", "3");
      await Deno.remove(`${dirs[2]}/node.json`).catch(() => {});
      children[2] = spawnNode(dirs[2], "--bootstrap", bootstrap);
      await nodeInfo(dirs[2]);
      await waitFor(
        "restarted node catches up",
        async () => (await status(dirs[2])).envelopes === 5,
        20_000,
      );

      // SIGTERM: exit 0 within 10 s, node.json removed.
      for (let i = children.length - 1; i >= 0; i--) {
        const { code, elapsed } = await stopWithin(children[i], 10_000);
        assertEquals(code, 0, `node ${i} exit code`);
        assert(elapsed < 10_000, `node ${i} stopped in ${elapsed} ms`);
      }
      children.length = 0;
      assert(
        !(await Deno.stat(`${dirs[0]}/node.json`).then(() => true, () => false)),
        "node.json removed",
      );
      // With no node running, writes go to the store directly again.
      await ok(dirs[0], "ledger", "transfer", "--to", dids[1], "--amount", "1");
    } finally {
      await killAll(children);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
