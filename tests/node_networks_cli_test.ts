/**
 * `icn node run` on a data dir that joined two networks: it serves both, a CLI write with `--net`
 * goes through the control API into that network's store, and a peer of one network never gets
 * the other's envelopes. Two processes on loopback.
 */
import { assert, assertEquals, waitFor } from "./_node_fixture.ts";
import { killAll, nodeInfo, ok, spawnNode, stopWithin } from "./_node_process.ts";

interface Status {
  net: string;
  envelopes: number;
  networks: { id: string; envelopes: number; peers: number }[];
  peers: { did: string | null; networks: string[]; set: string | null }[];
}

const status = async (dir: string): Promise<Status> =>
  JSON.parse(await ok(dir, "--json", "node", "status"));

Deno.test({
  name:
    "icn node run serves every joined network: --net writes land in their network, a peer of A never gets B's",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-networks-" });
    const [p, q] = [`${root}/p`, `${root}/q`];
    const children: Deno.ChildProcess[] = [];
    try {
      const did = async (dir: string) => {
        await ok(dir, "id", "init");
        return JSON.parse(await ok(dir, "--json", "id", "show")).did as string;
      };
      const [pDid, qDid] = [await did(p), await did(q)];
      const genesis = async (name: string, members: string[], signers: string[]) => {
        const file = `${root}/${name}.json`;
        await ok(
          p,
          "governance",
          "genesis",
          "create",
          "--name",
          name,
          ...members.flatMap((m) => ["--member", m]),
          "--out",
          file,
        );
        for (const dir of signers) await ok(dir, "governance", "genesis", "sign", file);
        return file;
      };
      const a = await genesis("Bakers", [pDid, qDid], [p, q]);
      const b = await genesis("Millers", [pDid], [p]);
      await ok(p, "governance", "join", a);
      await ok(q, "governance", "join", a);
      await ok(p, "governance", "join", b);

      children.push(spawnNode(p));
      const first = await nodeInfo(p);
      const bootstrap = first.listen.find((addr) => addr.startsWith("/ip4/127.0.0.1/"))!;
      children.push(spawnNode(q, "--bootstrap", bootstrap));
      await nodeInfo(q);
      let ids: string[] = [];
      await waitFor("P serves both networks and verified Q in A", async () => {
        const s = await status(p);
        ids = s.networks.map((n) => n.id);
        return ids.length === 2 && s.peers.some((peer) => peer.did === qDid);
      }, 30_000);
      const [netA, netB] = ids;
      const pStatus = await status(p);
      assertEquals(pStatus.net, netA, "the first joined network is the home network");
      assertEquals(pStatus.peers.find((peer) => peer.did === qDid)?.networks, [netA]);

      await ok(p, "trust", "add", qDid, "0.8", "--net", "Millers");
      await ok(p, "trust", "add", qDid, "0.7", "--net", "Bakers");
      await waitFor("the A write reaches Q", async () => (await status(q)).envelopes === 3, 30_000);
      const after = await status(p);
      const count = (id: string) => after.networks.find((n) => n.id === id)!.envelopes;
      // A: two inceptions and the edge; B: P's inception and the edge.
      assertEquals([count(netA), count(netB)], [3, 2]);
      const qStatus = await status(q);
      assertEquals(qStatus.networks.map((n) => n.id), [netA]);
      assertEquals(qStatus.envelopes, 3, "Q holds nothing of B");
      const text = await ok(p, "node", "status");
      assert(text.includes("Millers") && text.includes("Neighbours"), text);

      for (const child of children.splice(0)) {
        const { code } = await stopWithin(child, 10_000);
        assertEquals(code, 0);
      }
    } finally {
      await killAll(children);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
