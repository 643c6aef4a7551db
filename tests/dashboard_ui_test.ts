/**
 * The dashboard in Debian's chromium against the gateway app in this process (over an in-memory
 * three-founder network, served on loopback): every page loads without console errors, shows
 * what the API holds, and a member signs in with their own key, pays and votes in the page. The
 * same walk runs against a real `icn node run` in dashboard_browser_test.ts.
 */
import assert from "node:assert/strict";
import { toBase64 } from "../core/bytes.ts";
import { testNetwork } from "../core/testing.ts";
import { rulesFor } from "../core/governance/view.ts";
import { bearer, prepareAndSign, signIn, testGateway } from "../net/gateway/_testing.ts";
import { keepOrRemove, launchBrowser, openPage, textOf, visit } from "./dashboard_browser.ts";
import { walkDashboard } from "./dashboard_walk.ts";
import { needsTools } from "./_tools.ts";

const webDir = new URL("../web", import.meta.url).pathname;

Deno.test(needsTools(["chromium"], {
  name: "dashboard: every page in chromium against the gateway in process, sign-in, pay and vote",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const network = await testNetwork(3, { now: Date.now() });
    // The browser lives in real time: tokens expire, rate buckets refill, proposals close by it.
    network.deps.clock.now = () => Date.now();
    const t = await testGateway({ publicReads: true, webDir }, { network });
    const [, alice, bob, carol] = [undefined, ...network.members];
    const currency = network.genesis.currencies[0].code;
    const submit = async (member: typeof alice, kind: string, body: unknown) => {
      const token = await signIn(t, member!, [
        "read",
        "ledger:write",
        "trust:write",
        "gov:vote",
        "gov:propose",
      ]);
      const signed = await prepareAndSign(t, member!, token, { kind, body });
      const response = await t.request("/api/v1/envelopes", {
        json: signed,
        headers: bearer(token),
      });
      const receipt = await response.json();
      assert.equal(response.status, 200, JSON.stringify(receipt));
      return receipt as { cid: string };
    };
    await submit(alice, "trust.edge", { to: bob!.did, score: 800, graph: "social" });
    await submit(bob, "trust.edge", { to: carol!.did, score: 500, graph: "economic" });
    const paid = await submit(alice, "ledger.transfer", { to: bob!.did, amount: 250, currency });
    const proposal = await submit(carol, "gov.proposal", {
      kind: "text",
      title: "Buy a kettle",
      body: "For the shared kitchen",
      action: {},
      rules: rulesFor(network.genesis.params, "text"),
    });
    const json = async (path: string) => await (await t.request(path)).json();
    const balances = await json(`/api/v1/balances?currency=${currency}`);

    const log: string[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request, info) => {
        log.push(
          `${Date.now() % 100000} ${request.method} ${new URL(request.url).pathname}${
            new URL(request.url).search
          }`,
        );
        return t.gateway.app.fetch(request, {
          remoteAddr: (info.remoteAddr as Deno.NetAddr).hostname,
        });
      },
    );
    const dir = await Deno.makeTempDir({ prefix: "icn-dashboard-ui-" });
    const browser = await launchBrowser();
    try {
      const result = await walkDashboard(browser, {
        base: `http://127.0.0.1:${server.addr.port}`,
        dir,
        member: { did: alice!.did, ed25519: toBase64(alice!.ed25519.seed) },
        whileOnStatus: async () => {
          await submit(carol, "trust.edge", { to: alice!.did, score: 300, graph: "technical" });
          return "trust.edge";
        },
        payee: bob!.did,
        proposal: proposal.cid,
        expect: {
          members: network.members.map((m) => m.did),
          balances: Object.fromEntries(
            balances.items.map((b: { did: string; balance: string }) => [b.did, b.balance]),
          ),
          edges: [
            `${alice!.did} ${bob!.did} social`,
            `${bob!.did} ${carol!.did} economic`,
            `${carol!.did} ${alice!.did} technical`,
          ],
          proposalTitle: "Buy a kettle",
          tally: "0/0/0",
          payeeHistory: [paid.cid],
        },
      });
      // The vote cast in the page is in the node's state.
      const shown = await json(`/api/v1/proposals/${proposal.cid}`);
      assert.deepEqual(
        shown.votes.map((v: { did: string; choice: string }) => [v.did, v.choice]),
        [[alice!.did, "for"]],
      );
      const account = await json(`/api/v1/accounts/${alice!.did}/history`);
      assert.equal(account.items[0].memo, "from the browser");
      assert.equal(result.screenshots.length, 2 * 10);
      for (const path of result.screenshots) assert.ok((await Deno.stat(path)).size > 1000, path);
    } catch (e) {
      Deno.stderr.writeSync(new TextEncoder().encode(`gateway requests:\n${log.join("\n")}\n`));
      throw e;
    } finally {
      await browser.close();
      await server.shutdown();
      t.gateway.stop();
      await keepOrRemove(dir);
    }
  },
}));

Deno.test(needsTools(["chromium"], {
  name: "dashboard: signed out on a gateway without public reads, every view says to sign in",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const network = await testNetwork(2, { now: Date.now() });
    network.deps.clock.now = () => Date.now();
    const t = await testGateway({ publicReads: false, webDir }, { network });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request, info) =>
        t.gateway.app.fetch(request, { remoteAddr: (info.remoteAddr as Deno.NetAddr).hostname }),
    );
    const base = `http://127.0.0.1:${server.addr.port}`;
    const browser = await launchBrowser();
    try {
      // Each refused read is a 401 that chromium logs; nothing else may fail.
      const { page, problems } = await openPage(browser, [
        new RegExp(`status of 401 \\(Unauthorized\\) \\(${RegExp.escape(base)}/api/v1/`),
      ]);
      for (const hash of ["#/", "#/members", "#/proposals", "#/trust", "#/federation"]) {
        await visit(page, base, hash, "main h1");
        const notice = await textOf(page, "main .notice");
        assert.match(notice, /signed-in members only\. Sign in to see it\./, `${hash}: ${notice}`);
        assert.equal(await page.$eval("main .notice a", (a) => a.getAttribute("href")), "#/signin");
      }
      await page.close();
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      await server.shutdown();
      t.gateway.stop();
    }
  },
}));
