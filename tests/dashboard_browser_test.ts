/**
 * The dashboard in Debian's chromium (puppeteer-core) against a real `icn node run` with the
 * gateway on loopback: every page loads without console errors and shows what the CLI's --json
 * says (members, balances, a member's history, the proposal's tally, the trust edges), the
 * member signs in with the key from their own keystore (held only in the page), pays and votes
 * in the page, and the vote is in `icn governance show`. Screenshots of each page at desktop and
 * phone width are written under the test's temp dir (kept with ICN_KEEP_SCREENSHOTS=1).
 */
import assert from "node:assert/strict";
import { fromBase64, toBase64 } from "../core/bytes.ts";
import { ed25519FromSeed, signEd25519 } from "../core/identity/keys.ts";
import { unlockKeystoreFile } from "./_keystore.ts";
import {
  foundCooperative,
  killAll,
  nodeInfo,
  ok,
  spawnNodeWithEnv,
  stopWithin,
} from "./_node_process.ts";
import { needsTools } from "./_tools.ts";
import { keepOrRemove, launchBrowser } from "./dashboard_browser.ts";
import { walkDashboard } from "./dashboard_walk.ts";

/**
 * What an app does to write through the gateway, from outside the browser: sign in with the
 * member's seed, prepare, sign, submit. Returns the receipt.
 */
async function writeThroughGateway(
  base: string,
  member: { did: string; seed: string },
  kind: string,
  body: unknown,
): Promise<{ outcome: { status: string } }> {
  const key = await ed25519FromSeed(fromBase64(member.seed));
  const post = async (path: string, json: unknown, token?: string) => {
    const response = await fetch(`${base}/api/v1/${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(json),
    });
    const answer = await response.json();
    assert.equal(response.status, 200, `${path}: ${JSON.stringify(answer)}`);
    return answer;
  };
  const challenge = await post("auth/challenge", { did: member.did, scopes: ["trust:write"] });
  const signature = await signEd25519(key, new TextEncoder().encode(challenge.message));
  const { token } = await post("auth/token", {
    did: member.did,
    nonce: challenge.nonce,
    signature: toBase64(signature),
  });
  const prepared = await post("prepare", { kind, body }, token);
  const sig = await signEd25519(key, fromBase64(prepared.signingBytes));
  return await post(
    "envelopes",
    { envelope: { ...prepared.envelope, sigs: [{ alg: "ed25519", sig: toBase64(sig) }] } },
    token,
  );
}

interface CliBalance {
  did: string;
  balance: string;
}

Deno.test(needsTools(["chromium"], {
  name:
    "dashboard: a real node's gateway in chromium: pages match the CLI, sign-in, pay and a vote seen by icn governance show",
  // A node process and a browser: their own leak checks are the explicit stops below.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-dashboard-node-" });
    const shots = `${root}/screenshots`;
    await Deno.mkdir(shots);
    const [a, b, c] = ["a", "b", "c"].map((name) => `${root}/${name}`);
    const children: Deno.ChildProcess[] = [];
    let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
    try {
      const [alice, bob, carol] = await foundCooperative(root, [a, b, c]);
      // State made from the terminal before the node starts: an edge, a payment, a proposal.
      await ok(a, "trust", "add", bob, "0.8", "--graph", "social");
      await ok(a, "ledger", "transfer", "--to", bob, "--amount", "2.50", "--memo", "tea");
      const proposal = JSON.parse(
        await ok(a, "--json", "governance", "propose", "--kind", "text", "--title", "Buy a kettle"),
      ).id as string;

      const node = spawnNodeWithEnv(
        a,
        { ICN_GATEWAY_PUBLIC_READS: "true" },
        "--gateway",
        "127.0.0.1:0",
      );
      children.push(node);
      const info = await nodeInfo(a) as { gateway?: string };
      assert.ok(info.gateway, "node.json names the gateway's URL");

      // What the pages must show, from the CLI.
      const members = JSON.parse(await ok(a, "--json", "governance", "members")).members
        .map((m: { did: string }) => m.did);
      const balances = Object.fromEntries(
        (JSON.parse(await ok(a, "--json", "ledger", "balances")) as CliBalance[])
          .map((row) => [row.did, row.balance]),
      );
      const history = JSON.parse(await ok(a, "--json", "ledger", "history", bob)).entries
        .map((e: { cid: string }) => e.cid);
      const edges = JSON.parse(await ok(a, "--json", "trust", "list")).edges
        .map((e: { from?: string; to: string; graph: string }) =>
          `${e.from ?? alice} ${e.to} ${e.graph}`
        );
      // The edge the status step writes through the gateway while the page watches.
      edges.push(`${alice} ${carol} technical`);
      const shown = JSON.parse(await ok(a, "--json", "governance", "show", proposal));
      const tally = `${shown.tally.for}/${shown.tally.against}/${shown.tally.abstain}`;

      // The member's own key, as `age -d identity.age` shows it.
      const secrets = await unlockKeystoreFile(`${a}/identity.age`, "correct horse");
      browser = await launchBrowser();
      const result = await walkDashboard(browser, {
        base: info.gateway,
        dir: shots,
        member: { did: alice, ed25519: secrets.ed25519 },
        whileOnStatus: async () => {
          const receipt = await writeThroughGateway(
            info.gateway!,
            { did: alice, seed: secrets.ed25519 },
            "trust.edge",
            { to: carol, score: 300, graph: "technical" },
          );
          assert.equal(receipt.outcome.status, "accepted");
          return "trust.edge";
        },
        approveInTerminal: async (url) => {
          const out = JSON.parse(await ok(a, "--json", "id", "login", url));
          assert.equal(out.approved, true);
        },
        payee: bob,
        proposal,
        expect: {
          members,
          balances,
          edges,
          proposalTitle: "Buy a kettle",
          tally,
          payeeHistory: history,
        },
      });
      await browser.close();
      browser = undefined;

      // The edge written through the gateway, the vote and the payment made in the page, as the
      // terminal sees them.
      const edgesAfter = JSON.parse(await ok(a, "--json", "trust", "list")).edges
        .map((e: { from?: string; to: string; graph: string }) =>
          `${e.from ?? alice} ${e.to} ${e.graph}`
        );
      assert.deepEqual([...edgesAfter].sort(), [...edges].sort());
      const after = JSON.parse(await ok(a, "--json", "governance", "show", proposal));
      assert.deepEqual(
        after.votes.map((
          v: { did?: string; voter?: string; choice: string },
        ) => [v.did ?? v.voter, v.choice]),
        [[alice, "for"]],
      );
      assert.equal(after.tally.for, 1);
      const paid = JSON.parse(await ok(a, "--json", "ledger", "history", bob)).entries[0];
      assert.equal(paid.amount, "1.50");
      assert.equal(paid.memo, "from the browser");
      const receipt = JSON.parse(await ok(a, "--json", "node", "receipt", result.voteReceipt));
      assert.equal(receipt.kind, "gov.vote");

      assert.equal(result.screenshots.length, 22);
      for (const path of result.screenshots) assert.ok((await Deno.stat(path)).size > 1000, path);
      const { code } = await stopWithin(node, 10_000);
      assert.equal(code, 0, "the node stops cleanly on SIGTERM");
      children.length = 0;
    } finally {
      await browser?.close().catch(() => {});
      await killAll(children);
      await keepOrRemove(root);
    }
  },
}));
