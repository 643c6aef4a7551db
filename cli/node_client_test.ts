import { strictEqual as assertEquals } from "node:assert";
import type { CliContext } from "./context.ts";
import { findRunningNode, nodeFiles } from "./node_client.ts";

/** A data dir whose node.json points at `url`. */
async function dataDir(url: string): Promise<{ ctx: CliContext; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "icn-node-client-" });
  await Deno.writeTextFile(`${dir}/${nodeFiles.info}`, JSON.stringify({ pid: 1, url }));
  await Deno.writeTextFile(`${dir}/${nodeFiles.token}`, "ab".repeat(32));
  const ctx = { path: (name: string) => `${dir}/${name}` } as unknown as CliContext;
  return { ctx, dir };
}

Deno.test("findRunningNode() finds a node that is slow to answer its health check", async () => {
  const release = Promise.withResolvers<void>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async () => {
    await release.promise;
    return new Response("ok");
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const { ctx, dir } = await dataDir(url);
  try {
    // A busy node still holds the store: the CLI must go through it, not write beside it.
    assertEquals((await findRunningNode(ctx))?.url, url);
  } finally {
    release.resolve();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findRunningNode() ignores a node.json whose port nothing listens on", async () => {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const { ctx, dir } = await dataDir(`http://127.0.0.1:${port}`);
  try {
    assertEquals(await findRunningNode(ctx), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
