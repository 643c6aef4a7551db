/**
 * The gateway's federation positions from a real `icn node run` that serves a federation: two
 * cooperatives' delegates make a federation and a clearing agreement with the CLI, then one
 * delegate's node runs with `--gateway`; `GET /api/v1/federation/positions` must equal
 * `icn federation positions --json`, and `status.federation` must name the federation. The
 * clock is stepped past the agreement's close with `ICN_TEST_CLOCK_OFFSET_MS`, for the CLI and
 * the node alike.
 */
import { icnExpect } from "./_cli.ts";
import { assert, assertEquals, waitFor } from "./_node_fixture.ts";
import { killAll, spawnNodeWithEnv, stopWithin } from "./_node_process.ts";

let clockOffsetMs = 0;
const env = () => ({ ICN_TEST_CLOCK_OFFSET_MS: String(clockOffsetMs) });
const cli = (dir: string, ...args: string[]) =>
  icnExpect(0, ["--data-dir", dir, ...args], { env: env() });
const json = async <T>(dir: string, ...args: string[]): Promise<T> =>
  (await cli(dir, "--json", ...args)).json<T>();

Deno.test({
  name:
    "icn node run --gateway serving a federation: /api/v1/federation/positions equals icn federation positions --json",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-gateway-positions-" });
    const [a, b] = [`${root}/a`, `${root}/b`];
    const children: Deno.ChildProcess[] = [];
    try {
      const [, bDid] = await Promise.all(
        [a, b].map(async (dir) => (await json<{ did: string }>(dir, "id", "init")).did),
      );
      const coop = async (dir: string, name: string) => {
        const file = `${root}/${name}.json`;
        await cli(dir, "governance", "genesis", "create", "--name", name, "--out", file);
        await cli(dir, "governance", "genesis", "sign", file);
        await cli(dir, "governance", "join", file);
        return file;
      };
      const [alpha, beta] = await Promise.all([coop(a, "Alpha"), coop(b, "Beta")]);
      const fedFile = `${root}/federation.json`;
      await cli(
        a,
        "federation",
        "create",
        "--name",
        "Bread federation",
        "--coop",
        alpha,
        "--coop",
        beta,
        "--delegate",
        `Beta=${bDid}`,
        "--set",
        "federation.clearing.votingPeriod=1h",
        "--out",
        fedFile,
      );
      await cli(a, "federation", "sign", fedFile);
      await cli(b, "federation", "sign", fedFile);
      const [{ id: fed }] = await Promise.all(
        [a, b].map((dir) => json<{ id: string }>(dir, "federation", "join", fedFile)),
      );
      const carry = async (from: string, to: string) => {
        const bundle = `${root}/${crypto.randomUUID()}.car`;
        await cli(from, "node", "export", "--net", fed, "--out", bundle);
        await cli(to, "node", "import", bundle, "--net", fed);
      };
      // A clearing agreement both cooperatives vote for, in force once its vote closes.
      const agreement = await json<{ id: string; closes: number }>(
        a,
        "federation",
        "agreement",
        "--with",
        "Beta",
        "--limit",
        "100",
        "--rate",
        "1",
        "--partner-rate",
        "2",
      );
      await carry(a, b);
      await cli(a, "federation", "vote", agreement.id, "for");
      await cli(b, "federation", "vote", agreement.id, "for");
      await carry(b, a);
      clockOffsetMs = agreement.closes + 2000 - Date.now();
      const expected = await json<{ positions: Record<string, unknown>[] }>(
        a,
        "federation",
        "positions",
      );
      assertEquals(expected.positions.length, 1);
      assertEquals(expected.positions[0].limit, "100.00");

      const node = spawnNodeWithEnv(a, env(), "--gateway", "127.0.0.1:0");
      children.push(node);
      let gatewayUrl = "";
      await waitFor("the gateway's URL in node.json", async () => {
        try {
          gatewayUrl = JSON.parse(await Deno.readTextFile(`${a}/node.json`)).gateway ?? "";
        } catch {
          return false;
        }
        return gatewayUrl !== "";
      }, 60_000);
      const api = `${gatewayUrl}/api/v1`;
      const { token } = await json<{ token: string }>(a, "id", "login", gatewayUrl);
      const get = async (path: string) => {
        const response = await fetch(`${api}${path}`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(30_000),
        });
        return { status: response.status, body: await response.json() };
      };

      const status = await get("/status");
      assertEquals(status.status, 200, JSON.stringify(status.body));
      assertEquals(status.body.federation, [{ id: fed, name: "Bread federation" }]);
      const positions = await get(`/federation/positions?net=${fed}`);
      assertEquals(positions.status, 200, JSON.stringify(positions.body));
      assertEquals([positions.body.net, positions.body.name], [fed, "Bread federation"]);
      assertEquals(positions.body.items, expected.positions);
      assertEquals(positions.body.next, null);
      assert(
        positions.body.items[0].agreement === agreement.id,
        `the agreement in force: ${JSON.stringify(positions.body.items[0])}`,
      );
      // The cooperative's id is no federation: 404, as over the wire as in process.
      const coopId = (await json<{ net: string }>(a, "node", "status")).net;
      const notFed = await get(`/federation/positions?net=${coopId}`);
      assertEquals([notFed.status, notFed.body.error.code], [404, "unknown_network"]);

      const { code } = await stopWithin(children.pop()!, 10_000);
      assertEquals(code, 0);
    } finally {
      await killAll(children);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
