/**
 * The restore guard through a running node (issue 14, "Restore, then
 * publish"): a node on a data dir whose identity was restored refuses local
 * writes until a sync round with a peer completed, and then continues the
 * member's chain at the right seq, which the peer accepts (no fork): in process, and with
 * real `icn node run` processes and CLI writes through the control API.
 */
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { catchUpKey, markCatchUp, readCatchUp } from "../core/identity/catch_up.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import { RejectedError } from "../core/errors.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { assert, assertEquals, startCluster, startNode, waitFor } from "./_node_fixture.ts";
import {
  foundCooperative,
  icn,
  killAll,
  nodeInfo,
  ok,
  spawnNode,
  standingOf,
  stopAll,
} from "./_node_process.ts";

Deno.test({
  name:
    "a node on a restored data dir refuses writes until it has synced with a peer, then continues the chain",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(2);
    const { nodes, members, net, genesis } = cluster;
    let restored: Awaited<ReturnType<typeof startNode>> | undefined;
    try {
      await nodes[0].connect(nodes[1].addrs()[0]);
      const edge = (score: number) => ({
        kind: "trust.edge",
        body: { to: members[1].did, score, graph: "social" },
      });
      const first = await nodes[0].submit(edge(500));
      assertEquals(first.outcome.status, "accepted", JSON.stringify(first.outcome));
      const head = async (store: typeof cluster.stores[0]) =>
        (await store.get<ChainHead>(chainKeys.head(net, members[0].did)))?.value.seq ?? -1;
      await waitFor("the peer holds seq 0", async () => (await head(cluster.stores[1])) === 0);
      // Member 0's machine is lost; a new one holds only the key logs (a restore) and the guard.
      await nodes[0].stop();
      const store = new MemoryStore();
      await markCatchUp(store, { did: members[0].did, reason: "restore", since: Date.now() });
      restored = await startNode({
        genesis,
        member: members[0],
        kels: [members[0].inception, members[1].inception],
        store,
      });
      let refusal: unknown;
      try {
        await restored.submit(edge(900));
      } catch (error) {
        refusal = error;
      }
      assert(refusal instanceof RejectedError, `not refused: ${refusal}`);
      assertEquals(refusal.reason, "catch_up_needed");
      assert(/icn node import/.test(refusal.message), refusal.message);
      assertEquals(await head(store), -1, "a refused write stored nothing");
      // A sync round with the peer teaches the chain head and lifts the guard.
      await restored.connect(nodes[1].addrs()[0]);
      await waitFor(
        "the guard to lift",
        async () => (await readCatchUp(store, members[0].did)) === null,
      );
      assertEquals(await store.get(catchUpKey), null);
      assertEquals(await head(store), 0);
      const next = await restored.submit(edge(900));
      assertEquals(next.outcome.status, "accepted", JSON.stringify(next.outcome));
      assertEquals(next.sealed.envelope.seq, 1);
      await waitFor("the peer holds seq 1", async () => (await head(cluster.stores[1])) === 1);
      assertEquals(await cluster.stores[1].get(chainKeys.quarantine(members[0].did)), null);
    } finally {
      await restored?.stop();
      await cluster.stop();
    }
  },
});

Deno.test({
  name:
    "icn node run on a restored data dir: writes through it are refused until it has synced with a peer, then continue the chain",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-restore-node-" });
    const [a, b, restored] = [`${root}/a`, `${root}/b`, `${root}/restored`];
    const nodes = new Map<string, Deno.ChildProcess>();
    try {
      const [didA, didB] = await foundCooperative(root, [a, b]);
      await ok(a, "trust", "add", didB, "0.5");
      await ok(a, "node", "export", "--out", `${root}/a.car`);
      await ok(b, "node", "import", `${root}/a.car`);
      await ok(a, "id", "backup", "--out", `${root}/a.backup.age`);
      await ok(restored, "id", "restore", `${root}/a.backup.age`);
      await ok(restored, "governance", "join", `${root}/genesis.json`);

      // The restored member's node runs alone: a write through it is refused and changes nothing.
      nodes.set(restored, spawnNode(restored));
      await nodeInfo(restored);
      const refused = await icn(restored, "trust", "add", didB, "0.9");
      assertEquals(refused.code, 1, refused.stderr);
      assert(/icn node import/.test(refused.stderr), refused.stderr);
      assert(/icn node connect/.test(refused.stderr), refused.stderr);
      // A peer that holds the member's chain: once the node has synced with it, writes work.
      nodes.set(b, spawnNode(b));
      const peer = (await nodeInfo(b)).listen.find((x) => x.startsWith("/ip4/127.0.0.1/"))!;
      await ok(restored, "node", "connect", peer);
      await waitFor("the restored node to catch up", async () => {
        const store = await KvStore.open(`${restored}/icn.kv`);
        try {
          return (await store.get(catchUpKey)) === null;
        } finally {
          store.close();
        }
      }, 60_000);
      await ok(restored, "trust", "add", didB, "0.9");
      await waitFor("the peer to take seq 1 of the restored chain", async () => {
        const edges = await ok(b, "--json", "trust", "list", "--from", didA);
        return /0\.9/.test(edges);
      }, 60_000);
      assertEquals(await standingOf(b, didA), "ok", "B keeps A in good standing");
      await stopAll(nodes);
    } finally {
      await killAll(nodes.values());
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
