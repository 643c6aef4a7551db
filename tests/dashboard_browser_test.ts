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
import {
  accessibilityViolations,
  keepOrRemove,
  launchBrowser,
  openPage,
  overflowsSideways,
  screenshots,
  settled,
  textOf,
  viewports,
  visit,
  waitInPage,
} from "./dashboard_browser.ts";
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
  net?: string,
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
  const challenge = await post(`auth/challenge${net ? `?net=${net}` : ""}`, {
    did: member.did,
    scopes: ["trust:write"],
  });
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

interface CliMember {
  did: string;
}

Deno.test(needsTools(["chromium"], {
  name:
    "dashboard: a node serving two cooperatives: the network picker switches every view (?net=), members and balances match the CLI's --net, sign-in goes to the chosen network and its token stays there",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-dashboard-networks-" });
    const shots = `${root}/screenshots`;
    await Deno.mkdir(shots);
    const [a, b] = [`${root}/a`, `${root}/b`];
    const children: Deno.ChildProcess[] = [];
    let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
    try {
      const [aDid, bDid] = await Promise.all([a, b].map(async (dir) => {
        await ok(dir, "id", "init");
        return JSON.parse(await ok(dir, "--json", "id", "show")).did as string;
      }));
      /** A cooperative founded by `founder` with `others` as co-founders who sign and join. */
      const found = async (founder: string, name: string, others: [string, string][]) => {
        const file = `${root}/${name}.json`;
        await ok(
          founder,
          "governance",
          "genesis",
          "create",
          "--name",
          name,
          ...others.flatMap(([, did]) => ["--member", did]),
          "--out",
          file,
        );
        const signers = [founder, ...others.map(([dir]) => dir)];
        for (const dir of signers) await ok(dir, "governance", "genesis", "sign", file);
        for (const dir of signers) await ok(dir, "governance", "join", file);
      };
      // A founds Alpha alone (A's home); B founds Beta with A as its second member, and A's node
      // serves both. A pays B on Beta, so the two networks' members and balances differ.
      await found(a, "Alpha", []);
      await found(b, "Beta", [[a, aDid]]);
      await ok(a, "ledger", "transfer", "--net", "Beta", "--to", bDid, "--amount", "1.25");

      const node = spawnNodeWithEnv(
        a,
        { ICN_GATEWAY_PUBLIC_READS: "true" },
        "--gateway",
        "127.0.0.1:0",
      );
      children.push(node);
      const base = (await nodeInfo(a) as { gateway?: string }).gateway!;
      assert.ok(base, "node.json names the gateway's URL");
      let served: { id: string; name: string }[] = [];
      for (let round = 0; round < 100 && served.length < 2; round++) {
        const status = await (await fetch(`${base}/api/v1/status`)).json();
        served = status.cooperatives ?? [];
        if (served.length < 2) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.deepEqual(served.map((n) => n.name), ["Alpha", "Beta"], "status.cooperatives");
      const [alpha, beta] = served.map((n) => n.id);

      /** What the members page must show on `net`, from the CLI's --json --net. */
      const expected = async (net: string) => ({
        members: (JSON.parse(await ok(a, "--json", "governance", "members", "--net", net))
          .members as CliMember[]).map((m) => m.did).sort(),
        balances: Object.fromEntries(
          (JSON.parse(await ok(a, "--json", "ledger", "balances", "--net", net)) as CliBalance[])
            .map((row) => [row.did, row.balance]),
        ),
      });
      const onAlpha = await expected(alpha);
      const onBeta = await expected(beta);
      assert.notDeepEqual(onAlpha, onBeta);
      const secrets = await unlockKeystoreFile(`${a}/identity.age`, "correct horse");

      browser = await launchBrowser();
      // The device flow's early token asks are 401 `not_approved` (logged by chromium).
      const { page, problems } = await openPage(browser, [
        `status of 401 (Unauthorized) (${base}/api/v1/auth/token)`,
      ]);
      /** Every API request the page makes: its path and query, and whether it sent a token. */
      const requests: { url: URL; token: boolean }[] = [];
      page.on("request", (request) => {
        const url = new URL(request.url());
        if (url.pathname.startsWith("/api/v1/")) {
          requests.push({ url, token: request.headers().authorization !== undefined });
        }
      });
      const membersShown = async (
        want: { members: string[]; balances: Record<string, string> },
      ) => {
        const wanted = JSON.stringify(want);
        await waitInPage(
          page,
          new Function(`
            const rows = [...document.querySelectorAll("tr[data-did]")];
            const members = rows.map((r) => r.getAttribute("data-did")).sort();
            const balances = Object.fromEntries(rows.map((r) => [r.getAttribute("data-did"),
              r.querySelector("td[data-balance]")?.getAttribute("data-balance")]));
            return JSON.stringify({ members, balances }) === ${JSON.stringify(wanted)};
          `) as () => boolean,
          `the members page to show ${wanted}`,
        );
      };
      const checkLayout = async (name: string) => {
        for (const scheme of ["light", "dark"]) {
          await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
          assert.deepEqual(await accessibilityViolations(page), [], `${name} (${scheme}): axe`);
        }
        await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
        const written = await screenshots(page, shots, name);
        for (const path of written) assert.ok((await Deno.stat(path)).size > 1000, path);
        await page.setViewport(viewports.phone);
        await settled(page);
        assert(!(await overflowsSideways(page)), `${name}: scrolls sideways at phone width`);
        await page.setViewport(viewports.desktop);
      };
      const selected = () => page.$eval("#network", (s) => (s as HTMLSelectElement).value);
      try {
        // The home network first: a labelled picker naming both, and Alpha's members.
        await visit(page, base, "#/members", "#network");
        assert.equal(await textOf(page, "label[for=network]"), "Network");
        assert.deepEqual(
          await page.$$eval("#network option", (os) => os.map((o) => o.textContent ?? "")),
          [`Alpha (${alpha.slice(0, 10)}…)`, `Beta (${beta.slice(0, 10)}…)`],
        );
        assert.equal(await selected(), alpha);
        await membersShown(onAlpha);

        // Switch to Beta: the view reads Beta (`?net=BETA`) and matches `--net Beta`.
        let since = requests.length;
        await page.select("#network", beta);
        await membersShown(onBeta);
        const read = requests.slice(since).filter((r) =>
          r.url.pathname === "/api/v1/members" || r.url.pathname === "/api/v1/balances"
        );
        assert.ok(read.length >= 2, "members and balances read again");
        for (const r of read) assert.equal(r.url.searchParams.get("net"), beta, `${r.url}`);
        await checkLayout("networks-members-beta");

        // The status page's latest envelopes follow the chosen network's stream.
        since = requests.length;
        await visit(page, base, "#/", "[data-testid=envelopes]");
        await waitInPage(
          page,
          () => document.querySelectorAll("tr[data-net]").length > 1,
          "networks",
        );
        const stream = () =>
          requests.slice(since).some((r) =>
            r.url.pathname === "/api/v1/events" && r.url.searchParams.get("net") === beta
          );
        for (let round = 0; round < 100 && !stream(); round++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(stream(), "the status page reads Beta's event stream");
        assert.match(await textOf(page, `tr[data-net="${beta}"] th`), /^Beta .*shown here$/);
        assert.match(await textOf(page, `tr[data-net="${alpha}"] th`), /^Alpha [^ ]+$/);
        const edge = await writeThroughGateway(
          base,
          { did: aDid, seed: secrets.ed25519 },
          "trust.edge",
          { to: bDid, score: 300, graph: "technical" },
          beta,
        );
        assert.equal(edge.outcome.status, "accepted");
        await waitInPage(
          page,
          () => document.querySelector("ul.events li code")?.textContent === "trust.edge",
          "the trust edge written on Beta under Latest envelopes",
        );

        // Sign-in goes to the chosen network: the page names it and shows the terminal's command.
        await visit(page, base, "#/signin", "[data-testid=signin-network]");
        assert.match(await textOf(page, "[data-testid=signin-network]"), /signing in to Beta/);
        const tokenCommand = await textOf(page, "[data-testid=terminal-token-command]");
        assert.equal(tokenCommand, `icn id login "${base}/api/v1/?net=${beta}"`);
        const fromTerminal = JSON.parse(
          await ok(a, "--json", "id", "login", JSON.parse(tokenCommand.slice(13))),
        );
        assert.equal(fromTerminal.net, beta, "the shown command signs in to Beta");
        await checkLayout("networks-signin-beta");

        // The device flow: the challenge is Beta's, so the terminal's approval signs in to Beta.
        await page.type("#terminal-did", aDid);
        await page.click("form:has(#terminal-did) button[type=submit]");
        const command = await textOf(page, "[data-testid=login-command] code");
        const device = /^icn id login (http:\/\/\S+\/api\/v1\/auth\/challenge\/\S+)$/.exec(command);
        assert.ok(device, `the page shows a login command: ${command}`);
        assert.equal(JSON.parse(await ok(a, "--json", "id", "login", device[1])).approved, true);
        await page.waitForFunction(
          (did) => location.hash === `#/members/${encodeURIComponent(did)}`,
          { timeout: 30_000 },
          aDid,
        );
        const sessions = () =>
          page.evaluate(() => JSON.parse(sessionStorage.getItem("icn.sessions") ?? "{}"));
        let held = await sessions();
        assert.deepEqual(Object.keys(held), [beta]);
        assert.equal(held[beta].net, beta);
        assert.equal(held[beta].via, "terminal");
        await page.click(".account button.link");
        await page.waitForSelector("a.account[href='#/signin']");
        assert.equal(await page.evaluate(() => sessionStorage.getItem("icn.sessions")), null);

        // With the key, in the tab: the token is Beta's, and only Beta's.
        await visit(page, base, "#/signin", "#key-text");
        await page.type("#key-text", JSON.stringify({ did: aDid, ed25519: secrets.ed25519 }));
        await page.click("form.card button[type=submit]");
        await page.waitForFunction(
          (did) => location.hash === `#/members/${encodeURIComponent(did)}`,
          { timeout: 30_000 },
          aDid,
        );
        await page.waitForSelector("#pay-to");
        held = await sessions();
        assert.deepEqual(Object.keys(held), [beta]);
        assert.equal(held[beta].via, "browser");
        assert.ok(
          (await textOf(page, "[data-testid=balance]")).startsWith(onBeta.balances[aDid]),
          "A's balance on Beta",
        );

        // Back to Alpha with the keyboard: signed out there (Beta's token is not sent), Alpha's
        // members again.
        await visit(page, base, "#/members", "tr[data-did]");
        since = requests.length;
        await page.focus("#network");
        await page.keyboard.press("ArrowUp");
        await waitInPage(
          page,
          () => (document.getElementById("network") as HTMLSelectElement)?.value !== "",
          "the picker",
        );
        assert.equal(await selected(), alpha, "ArrowUp on the picker chooses Alpha");
        await membersShown(onAlpha);
        assert.equal(
          await page.evaluate(() => document.activeElement?.id),
          "network",
          "the picker keeps the focus while the view reloads",
        );
        await page.waitForSelector("a.account[href='#/signin']");
        const onAlphaReads = requests.slice(since);
        assert.ok(onAlphaReads.length > 0);
        for (const r of onAlphaReads) {
          assert.equal(r.token, false, `Beta's token sent with ${r.url}`);
          if (r.url.pathname !== "/api/v1/status") {
            assert.equal(r.url.searchParams.get("net"), alpha, `${r.url}`);
          }
        }
        await checkLayout("networks-members-alpha");
        // Signing in to Alpha with the key the tab already holds: a second token, Alpha's.
        await visit(page, base, "#/signin", "[data-testid=held-key]");
        await page.click("[data-testid=held-key] button[type=submit]");
        await page.waitForFunction(
          (did) => location.hash === `#/members/${encodeURIComponent(did)}`,
          { timeout: 30_000 },
          aDid,
        );
        await page.waitForSelector("#pay-to");
        held = await sessions();
        assert.deepEqual(Object.keys(held).sort(), [alpha, beta].sort());
        assert.equal(held[alpha].net, alpha);
        // And back on Beta the member is still signed in there.
        await page.select("#network", beta);
        await page.waitForSelector("span.account");
        assert.deepEqual(problems, [], `the pages reported problems:\n${problems.join("\n")}`);
      } catch (error) {
        const shown = await page.evaluate(() => `${location.hash}\n${document.body.innerText}`)
          .catch(() => "(the page could not be read)");
        await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
        throw new Error(
          `${(error as Error).message}\n--- the page ---\n${
            shown.slice(0, 3000)
          }\n--- problems ---\n${problems.join("\n")}`,
          { cause: error },
        );
      }
      await browser.close();
      browser = undefined;
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
