/**
 * Key rotation on a live network, with real `icn node run` processes: a member rotates while
 * its node is stopped (a running node refuses to have its keys changed behind its back), one
 * peer runs and one is down; the rotated node keeps its peer id, its hello carries the new key
 * events, and all three converge with no bundle passed by hand and no ban.
 */
import { assert, assertEquals, waitFor } from "./_node_fixture.ts";
import {
  foundCooperative,
  icn,
  killAll,
  nodeInfo,
  ok,
  spawnNode,
  standingOf,
  status,
  stopAll,
  stopWithin,
} from "./_node_process.ts";

interface PeerRow {
  did: string | null;
  standing?: string;
}

Deno.test({
  name:
    "a member rotates while its peers run or are down: same peer id, peers learn the key from its hello, all converge",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-rotation-" });
    const [a, b, c] = [0, 1, 2].map((i) => `${root}/n${i}`);
    const nodes = new Map<string, Deno.ChildProcess>();
    try {
      const [, didB, didC] = await foundCooperative(root, [a, b, c]);
      nodes.set(a, spawnNode(a));
      const hub = (await nodeInfo(a)).listen.find((x) => x.startsWith("/ip4/127.0.0.1/"))!;
      nodes.set(b, spawnNode(b, "--bootstrap", hub));
      nodes.set(c, spawnNode(c, "--bootstrap", hub));
      await Promise.all([nodeInfo(b), nodeInfo(c)]);
      await waitFor("three verified nodes", async () => {
        const all = await Promise.all([a, b, c].map(status));
        return all[0].peers.filter((p) => p.did).length === 2;
      }, 60_000);
      const peerIdBefore = JSON.parse(await Deno.readTextFile(`${c}/node.json`)).peerId;

      // Changing keys behind a running node is refused, saying how to do it.
      const behind = await icn(c, "id", "rotate");
      assertEquals(behind.code, 1, behind.stderr);
      assert(/stop it/.test(behind.stderr), behind.stderr);

      // B goes down; C stops, rotates, and starts again while A runs.
      for (const dir of [b, c]) {
        assertEquals((await stopWithin(nodes.get(dir)!, 10_000)).code, 0);
        nodes.delete(dir);
      }
      await ok(c, "id", "rotate");
      nodes.set(c, spawnNode(c, "--bootstrap", hub));
      const restarted = await nodeInfo(c);
      assertEquals(JSON.parse(await Deno.readTextFile(`${c}/node.json`)).peerId, peerIdBefore);
      assert(restarted.listen.length > 0, "C listens again");
      await waitFor("A verifies C's hello signed by the rotated key", async () => {
        const peers = JSON.parse(await ok(a, "--json", "node", "peers")) as PeerRow[];
        return peers.some((p) => p.did === didC);
      }, 60_000);

      // C writes through its node; then B comes back with C's old key and catches up.
      await ok(c, "ledger", "transfer", "--to", didB, "--amount", "2", "--memo", "after rotation");
      nodes.set(b, spawnNode(b, "--bootstrap", hub));
      await nodeInfo(b);
      await waitFor("all three converge", async () => {
        const all = await Promise.all([a, b, c].map(status));
        return all.every((s) => s.envelopes === all[2].envelopes) &&
          all[0].peers.filter((p) => p.did).length === 2;
      }, 90_000);
      // B's DID document for C (from its key log) is C's own: the rotated key.
      assertEquals(
        JSON.parse(await ok(b, "--json", "id", "resolve", didC)),
        JSON.parse(await ok(c, "--json", "id", "resolve", didC)),
      );
      assertEquals(await standingOf(a, didC), "ok", "A keeps C in good standing");
      await stopAll(nodes);
    } finally {
      await killAll(nodes.values());
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
