/**
 * The app gateway of a real `icn node run` process: `--gateway 127.0.0.1:0`, `icn id login`
 * signs in from the terminal, and an app (this test, holding the member's key as an app would)
 * prepares, signs and submits a transfer, a trust edge and a vote; each shows in the CLI's
 * `--json`, and `icn node receipt` shows the receipt. `icn id login CHALLENGE_URL` approves a
 * browser's sign-in (the device flow). SIGTERM still stops the node cleanly.
 */
import { fromBase64, toBase64 } from "../core/bytes.ts";
import { ed25519FromSeed, type Ed25519KeyPair, signEd25519 } from "../core/identity/keys.ts";
import { unlockKeystoreFile } from "./_keystore.ts";
import { assert, assertEquals, waitFor } from "./_node_fixture.ts";
import { foundCooperative, killAll, ok, spawnNode, stopWithin } from "./_node_process.ts";

async function call(url: string, token: string, body?: unknown) {
  const response = await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.json() };
}

async function write(
  api: string,
  token: string,
  key: Ed25519KeyPair,
  request: { kind: string; body: unknown },
) {
  const prepared = await call(`${api}/prepare`, token, request);
  assertEquals(prepared.status, 200, JSON.stringify(prepared.body));
  const sig = await signEd25519(key, fromBase64(prepared.body.signingBytes));
  const submitted = await call(`${api}/envelopes`, token, {
    envelope: { ...prepared.body.envelope, sigs: [{ alg: "ed25519", sig: toBase64(sig) }] },
  });
  assertEquals(submitted.status, 200, JSON.stringify(submitted.body));
  assertEquals(submitted.body.outcome.status, "accepted");
  return submitted.body as { id: string; cid: string };
}

Deno.test({
  name:
    "icn node run --gateway: id login, then a transfer, a trust edge and a vote signed by the app, each seen by the CLI",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-gateway-" });
    const [alice, bob] = [`${root}/alice`, `${root}/bob`];
    const children: Deno.ChildProcess[] = [];
    try {
      const [aliceDid, bobDid] = await foundCooperative(root, [alice, bob]);
      const proposal = JSON.parse(
        await ok(alice, "--json", "governance", "propose", "--title", "Paint the shed"),
      );
      const secrets = await unlockKeystoreFile(`${alice}/identity.age`, "correct horse");
      const key = await ed25519FromSeed(fromBase64(secrets.ed25519));

      const node = spawnNode(alice, "--gateway", "127.0.0.1:0");
      children.push(node);
      let gatewayUrl = "";
      await waitFor("the gateway's URL in node.json", async () => {
        try {
          gatewayUrl = JSON.parse(await Deno.readTextFile(`${alice}/node.json`)).gateway ?? "";
        } catch {
          return false;
        }
        return gatewayUrl !== "";
      }, 60_000);
      const api = `${gatewayUrl}/api/v1`;

      const login = JSON.parse(
        await ok(
          alice,
          "--json",
          "id",
          "login",
          gatewayUrl,
          "--scope",
          "read",
          "--scope",
          "ledger:write",
          "--scope",
          "trust:write",
          "--scope",
          "gov:vote",
        ),
      );
      assertEquals(login.did, aliceDid);
      const token = login.token as string;

      // The device flow: a browser asks for a challenge, the terminal approves it, the browser
      // redeems the nonce without a signature.
      const browser = await fetch(`${api}/auth/challenge`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ did: aliceDid, scopes: ["read"] }),
      }).then((r) => r.json());
      const approved = JSON.parse(
        await ok(alice, "--json", "id", "login", `${api}/auth/challenge/${browser.nonce}`),
      );
      assertEquals([approved.approved, approved.scopes], [true, ["read"]]);
      const redeemed = await fetch(`${api}/auth/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ did: aliceDid, nonce: browser.nonce }),
      });
      assertEquals(redeemed.status, 200);
      assertEquals((await redeemed.json()).scopes, ["read"]);

      const currency = (await call(`${api}/balances`, token)).body.items[0].currency;
      const transfer = await write(api, token, key, {
        kind: "ledger.transfer",
        body: { to: bobDid, amount: 1250, currency, memo: "from an app" },
      });
      await write(api, token, key, {
        kind: "trust.edge",
        body: { to: bobDid, score: 750, graph: "economic" },
      });
      await write(api, token, key, {
        kind: "gov.vote",
        body: { proposal: proposal.id, choice: "for" },
      });

      const balance = JSON.parse(await ok(alice, "--json", "ledger", "balance", bobDid));
      assertEquals(balance.balanceMinor, "1250");
      const history = JSON.parse(await ok(alice, "--json", "ledger", "history"));
      assertEquals(history.entries[0].memo, "from an app");
      const score = JSON.parse(
        await ok(alice, "--json", "trust", "score", bobDid, "--graph", "economic"),
      );
      assert(score.score > 0, `trust score of bob: ${JSON.stringify(score)}`);
      const shown = JSON.parse(await ok(alice, "--json", "governance", "show", proposal.id));
      assertEquals(shown.votes.map((v: { did: string; choice: string }) => [v.did, v.choice]), [
        [aliceDid, "for"],
      ]);
      const receipt = JSON.parse(await ok(alice, "--json", "node", "receipt", transfer.id));
      assertEquals([receipt.cid, receipt.outcome.status], [transfer.cid, "accepted"]);

      const { code } = await stopWithin(node, 10_000);
      children.length = 0;
      assertEquals(code, 0);
    } finally {
      await killAll(children);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
