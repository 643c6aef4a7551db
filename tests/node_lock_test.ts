/**
 * One node per data dir, and clear refusals at start: a second `icn node run`
 * on a data dir whose node runs is refused naming that node and leaves it
 * alone; the lock goes with its holder (SIGTERM or kill -9); a p2p or HTTP
 * port in use is named with how to choose another, exit 1, no stack trace.
 */
import { assertEquals, assertMatch, icn, icnExpect } from "./_cli.ts";
import { spawnNode } from "./_node_process.ts";

/** Upper bound for a node to start (write node.json) on a loaded machine. */
const nodeStartMs = 60_000;
/** Upper bound for a refused `node run` to exit, or a stopped node to finish. */
const nodeExitMs = 60_000;

/** Waits for `child` to exit within `ms`; kills it and fails if it does not. */
async function exitWithin(
  child: Deno.ChildProcess,
  ms: number,
  what: string,
): Promise<{ code: number; stderr: string }> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, ms);
  const out = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(out.stderr);
  if (timedOut) throw new Error(`${what} did not exit within ${ms} ms\n${stderr}`);
  return { code: out.code, stderr };
}

interface NodeInfo {
  pid: number;
  url: string;
  peerId: string;
  listen: string[];
}

async function waitForNode(dir: string, pid: number): Promise<NodeInfo> {
  const deadline = Date.now() + nodeStartMs;
  while (Date.now() < deadline) {
    try {
      const info = JSON.parse(await Deno.readTextFile(`${dir}/node.json`)) as NodeInfo;
      if (info.pid === pid) return info;
    } catch {
      // Not written yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`node ${pid} wrote no node.json in ${dir} within ${nodeStartMs} ms`);
}

function assertNoStack(stderr: string): void {
  if (/\n\s+at /.test(stderr)) throw new Error(`stack trace on stderr:\n${stderr}`);
}

const root = await Deno.makeTempDir({ prefix: "icn-nodelock-" });
const home = `${root}/home`;
await icnExpect(0, ["--data-dir", home, "id", "init"]);
const did = (await icnExpect(0, ["--json", "--data-dir", home, "id", "show"])).json<{
  did: string;
}>().did;
const genesis = `${root}/genesis.json`;
await icnExpect(0, [
  "--data-dir",
  home,
  "governance",
  "genesis",
  "create",
  "--name",
  "Lock coop",
  "--member",
  did,
  "--out",
  genesis,
]);
await icnExpect(0, ["--data-dir", home, "governance", "genesis", "sign", genesis]);
await icnExpect(0, ["--data-dir", home, "governance", "join", genesis]);

Deno.test({
  name: "a second icn node run on the same data dir is refused and the first keeps running",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const first = spawnNode(home);
    try {
      const info = await waitForNode(home, first.pid);
      const token = await Deno.readTextFile(`${home}/node.token`);
      const second = await exitWithin(spawnNode(home), nodeExitMs, "second node");
      assertEquals(second.code, 1, `second node exit code\n${second.stderr}`);
      assertMatch(second.stderr, new RegExp(`a node already runs on it \\(pid ${first.pid}`));
      assertMatch(second.stderr, new RegExp(`peer id ${info.peerId}`));
      assertMatch(second.stderr, /listening on \/ip4\/127\.0\.0\.1\/tcp\/\d+/);
      assertMatch(second.stderr, /kill -TERM \d+.*--data-dir/);
      assertNoStack(second.stderr);
      // The first node's files are untouched and it still answers.
      assertEquals(JSON.parse(await Deno.readTextFile(`${home}/node.json`)).pid, first.pid);
      assertEquals(await Deno.readTextFile(`${home}/node.token`), token, "token");
      const status = await icnExpect(0, ["--json", "--data-dir", home, "node", "status"]);
      assertEquals(status.json<{ peerId: string }>().peerId, info.peerId);
    } finally {
      first.kill("SIGTERM");
    }
    const stopped = await exitWithin(first, nodeExitMs, "first node");
    assertEquals(stopped.code, 0, `first node exit\n${stopped.stderr}`);
    const none = await icn(["--data-dir", home, "node", "status"]);
    assertEquals(none.code, 1, "node status after stop");

    // Released on a clean stop: a new node starts; after kill -9, the next one starts too.
    const again = spawnNode(home);
    await waitForNode(home, again.pid);
    again.kill("SIGKILL");
    await exitWithin(again, nodeExitMs, "killed node");
    const afterKill = spawnNode(home);
    try {
      await waitForNode(home, afterKill.pid);
    } finally {
      afterKill.kill("SIGTERM");
    }
    assertEquals((await exitWithin(afterKill, nodeExitMs, "last node")).code, 0, "last node exit");
  },
});

Deno.test({
  name: "a p2p or HTTP port in use is named with how to choose another, exit 1",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    try {
      const cases: [string[], RegExp][] = [
        [
          ["--listen", `/ip4/127.0.0.1/tcp/${port}`],
          new RegExp(
            `p2p address 127\\.0\\.0\\.1:${port} is already in use.*--listen.*node\\.listen.*ICN_NODE_LISTEN`,
          ),
        ],
        [
          ["--http", `127.0.0.1:${port}`],
          new RegExp(
            `HTTP address 127\\.0\\.0\\.1:${port} is already in use.*--http.*http\\.listen.*ICN_HTTP_LISTEN`,
          ),
        ],
      ];
      for (const [args, expected] of cases) {
        const run = await exitWithin(spawnNode(home, ...args), nodeExitMs, args.join(" "));
        assertEquals(run.code, 1, `exit code of node run ${args.join(" ")}\n${run.stderr}`);
        assertMatch(run.stderr, expected);
        assertNoStack(run.stderr);
        const left = await Deno.stat(`${home}/node.json`).then(() => true, () => false);
        if (left) throw new Error("node.json left behind by a node that did not start");
      }
    } finally {
      taken.close();
    }
  },
});
