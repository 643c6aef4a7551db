/**
 * The restore guard through a running node (issue 14, "Restore, then
 * publish"): a node on a data dir whose identity was restored refuses local
 * writes until a sync round with a peer completed, and then continues the
 * member's chain at the right seq, which the peer accepts (no fork).
 */
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { catchUpKey, markCatchUp, readCatchUp } from "../core/identity/catch_up.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import { RejectedError } from "../core/errors.ts";
import { assert, assertEquals, startCluster, startNode, waitFor } from "./_node_fixture.ts";

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
