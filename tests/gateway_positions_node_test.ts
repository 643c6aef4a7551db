/**
 * The gateway of a real `icn node run` that serves several networks. Two cooperatives' delegates
 * make a federation and a clearing agreement with the CLI; delegate A is also a member of the
 * second cooperative, Beta. A's node runs with `--gateway`:
 * - `GET /api/v1/federation/positions` equals `icn federation positions --json`, and
 *   `status.federation` names the federation;
 * - `icn id login "URL/api/v1?net=BETA"` signs in to Beta, and with that token an app reads
 *   Beta, writes a transfer there (prepare → the member's signature → submit) that
 *   `icn ledger balance --net Beta` shows, and follows Beta's event stream; the Beta token is
 *   refused on the home network.
 * The clock is stepped past the agreement's close with `ICN_TEST_CLOCK_OFFSET_MS`, for the CLI
 * and the node alike.
 */
import { fromBase64, toBase64 } from "../core/bytes.ts";
import { ed25519FromSeed, signEd25519 } from "../core/identity/keys.ts";
import { icnExpect } from "./_cli.ts";
import { unlockKeystoreFile } from "./_keystore.ts";
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
    "icn node run --gateway serving a federation and two cooperatives: positions equal the CLI's; sign-in, a write and events on the second cooperative",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-gateway-positions-" });
    const [a, b] = [`${root}/a`, `${root}/b`];
    const children: Deno.ChildProcess[] = [];
    try {
      const [aDid, bDid] = await Promise.all(
        [a, b].map(async (dir) => (await json<{ did: string }>(dir, "id", "init")).did),
      );
      /** A cooperative founded by `dir`, with `others` as co-founders who sign and join it. */
      const coop = async (
        dir: string,
        name: string,
        others: string[] = [],
        dids: string[] = [],
      ) => {
        const file = `${root}/${name}.json`;
        await cli(
          dir,
          "governance",
          "genesis",
          "create",
          "--name",
          name,
          ...dids.flatMap((did) => ["--member", did]),
          "--out",
          file,
        );
        for (const signer of [dir, ...others]) {
          await cli(signer, "governance", "genesis", "sign", file);
        }
        for (const member of [dir, ...others]) await cli(member, "governance", "join", file);
        return file;
      };
      // A founds Alpha alone; B founds Beta with A as a second member.
      const [alpha, beta] = await Promise.all([
        coop(a, "Alpha"),
        coop(b, "Beta", [a], [aDid]),
      ]);
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

      // The second cooperative through the same gateway: sign in to it from the terminal.
      const betaId = (status.body.networks as { id: string }[]).map((n) => n.id).find((id) =>
        id !== coopId && id !== fed
      )!;
      assert(betaId !== undefined, `Beta among ${JSON.stringify(status.body.networks)}`);
      const betaLogin = await json<{ token: string; net: string }>(
        a,
        "id",
        "login",
        `${api}?net=${betaId}`,
        "--scope",
        "read",
        "--scope",
        "ledger:write",
      );
      assertEquals(betaLogin.net, betaId);
      const betaToken = betaLogin.token;
      const asBeta = async (path: string, body?: unknown, headers: HeadersInit = {}) => {
        const response = await fetch(`${api}${path}`, {
          method: body === undefined ? "GET" : "POST",
          headers: {
            authorization: `Bearer ${betaToken}`,
            "content-type": "application/json",
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        return { status: response.status, body: await response.json() };
      };
      const members = await asBeta("/members");
      assertEquals(
        members.body.items.map((m: { did: string }) => m.did).sort(),
        [aDid, bDid].sort(),
      );
      // The Beta token on the home network: refused.
      const crossed = await asBeta(`/members?net=${coopId}`);
      assertEquals([crossed.status, crossed.body.error.code], [401, "wrong_network"]);

      // A transfer in Beta, signed by A's own key as an app would, seen by the CLI and as an event.
      const secrets = await unlockKeystoreFile(`${a}/identity.age`, "correct horse");
      const key = await ed25519FromSeed(fromBase64(secrets.ed25519));
      const currency = (await asBeta(`/accounts/${aDid}/balance`)).body.currency as string;
      const prepared = await asBeta("/prepare", {
        kind: "ledger.transfer",
        body: { to: bDid, amount: 300, currency, memo: "across" },
      });
      assertEquals([prepared.status, prepared.body.envelope?.net], [200, betaId]);
      const sig = await signEd25519(key, fromBase64(prepared.body.signingBytes));
      const submitted = await asBeta("/envelopes", {
        envelope: { ...prepared.body.envelope, sigs: [{ alg: "ed25519", sig: toBase64(sig) }] },
      });
      assertEquals(submitted.status, 200, JSON.stringify(submitted.body));
      assertEquals([submitted.body.net, submitted.body.outcome.status], [betaId, "accepted"]);
      const balance = await json<{ balanceMinor: string }>(
        a,
        "ledger",
        "balance",
        bDid,
        "--net",
        "Beta",
      );
      assertEquals(balance.balanceMinor, "300");
      const events = await fetch(`${api}/events?kind=ledger.transfer&since=-1`, {
        headers: { authorization: `Bearer ${betaToken}` },
        signal: AbortSignal.timeout(30_000),
      });
      assertEquals(events.status, 200);
      const reader = events.body!.getReader();
      let text = "";
      const deadline = Date.now() + 20_000;
      while (!text.includes(submitted.body.cid) && Date.now() < deadline) {
        const next = await reader.read();
        if (next.done) break;
        text += new TextDecoder().decode(next.value);
      }
      await reader.cancel();
      assert(text.includes(submitted.body.cid), `Beta's stream has the transfer: ${text}`);
      assert(text.includes(`"net":"${betaId}"`), "the event names Beta");

      const { code } = await stopWithin(children.pop()!, 10_000);
      assertEquals(code, 0);
    } finally {
      await killAll(children);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
