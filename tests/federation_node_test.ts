/**
 * A federation served by running nodes: two delegates' data dirs, each holding its cooperative
 * and the federation, run `icn node run`; federation commands go through each node's control
 * API into the federation's store, and the nodes gossip the federation's envelopes to each
 * other. Two processes on loopback, every wait bounded.
 */
import { assertEquals, waitFor } from "./_node_fixture.ts";
import { killAll, nodeInfo, ok, spawnNode, stopWithin } from "./_node_process.ts";

interface Shown {
  tally: { for: number; cast: number; outcome: string };
}

Deno.test({
  name: "delegates' nodes serve the federation: a proposal and both cooperatives' votes reach both",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-federation-node-" });
    const [a, b] = [`${root}/a`, `${root}/b`];
    const children: Deno.ChildProcess[] = [];
    try {
      const did = async (dir: string) =>
        JSON.parse(await ok(dir, "--json", "id", "init")).did as string;
      const bDid = (await Promise.all([did(a), did(b)]))[1];
      const coop = async (dir: string, name: string) => {
        const file = `${root}/${name}.json`;
        await ok(dir, "governance", "genesis", "create", "--name", name, "--out", file);
        await ok(dir, "governance", "genesis", "sign", file);
        await ok(dir, "governance", "join", file);
        return file;
      };
      const [alpha, beta] = await Promise.all([coop(a, "Alpha"), coop(b, "Beta")]);
      const fed = `${root}/federation.json`;
      await ok(
        a,
        "federation",
        "create",
        "--name",
        "Federation",
        "--coop",
        alpha,
        "--coop",
        beta,
        "--delegate",
        `Beta=${bDid}`,
        "--out",
        fed,
      );
      await ok(a, "federation", "sign", fed);
      await ok(b, "federation", "sign", fed);
      await Promise.all([ok(a, "federation", "join", fed), ok(b, "federation", "join", fed)]);

      children.push(spawnNode(a));
      const first = await nodeInfo(a);
      const bootstrap = first.listen.find((addr) => addr.startsWith("/ip4/127.0.0.1/"))!;
      children.push(spawnNode(b, "--bootstrap", bootstrap));
      await nodeInfo(b);

      const proposal = JSON.parse(
        await ok(a, "--json", "federation", "propose", "--kind", "text", "--title", "Rota"),
      ).id as string;
      await waitFor("the proposal reaches B", async () => {
        const run = await ok(b, "--json", "federation", "list");
        return (JSON.parse(run).proposals as { id: string }[]).some((p) => p.id === proposal);
      }, 30_000);
      await ok(a, "federation", "vote", proposal, "for");
      await ok(b, "federation", "vote", proposal, "for");
      for (const dir of [a, b]) {
        await waitFor(`both votes reach ${dir}`, async () => {
          const shown = JSON.parse(await ok(dir, "--json", "federation", "show", proposal));
          return (shown as Shown).tally.cast === 2;
        }, 30_000);
      }
      const shown = JSON.parse(await ok(b, "--json", "federation", "show", proposal)) as Shown;
      assertEquals([shown.tally.for, shown.tally.cast], [2, 2]);

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
