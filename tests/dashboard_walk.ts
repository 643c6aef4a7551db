/// <reference lib="dom" />
/**
 * One walk through the dashboard in a real browser, as a member would take it: every page signed
 * out, then sign-in with the member's own key, a payment and a vote signed in the page. Each page
 * is checked against `expect` (what the CLI or the API says) and screenshot at desktop and phone
 * width. Shared by the in-process and the real-node dashboard tests.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "puppeteer-core";
import {
  accessibilityViolations,
  openPage,
  overflowsSideways,
  screenshots,
  settled,
  textOf,
  visit,
  waitInPage,
} from "./dashboard_browser.ts";

export interface WalkInput {
  /** The gateway's origin, `http://127.0.0.1:PORT`. */
  base: string;
  /** Where screenshots go. */
  dir: string;
  /** The member who signs in: DID and 32-byte Ed25519 seed (base64), as in the keystore. */
  member: { did: string; ed25519: string };
  /**
   * Device flow: runs the command the page shows (`icn id login URL`) in the member's terminal.
   * Without it, only the in-page key sign-in is walked.
   */
  approveInTerminal?: (url: string) => Promise<void>;
  /**
   * Called once the status page is open: makes the node accept one envelope, returns its kind.
   * Without it the live part of the status page is not checked.
   */
  whileOnStatus?: () => Promise<string>;
  /** Whom the member pays, and a proposal that is open. */
  payee: string;
  proposal: string;
  /** What the pages must show, from the CLI's --json. */
  expect: {
    members: string[];
    /** DID → balance as the CLI formats it ("-1.50"). */
    balances: Record<string, string>;
    /** "truster truster-graph" keys of current trust edges: `${from} ${to} ${graph}`. */
    edges: string[];
    /** Title and tally (for/against/abstain) of `proposal` before the vote. */
    proposalTitle: string;
    tally: string;
    /** The history of the payee: cids of its transfers. */
    payeeHistory: string[];
  };
}

export interface WalkResult {
  screenshots: string[];
  paymentReceipt: string;
  voteReceipt: string;
}

async function rowsOf(page: Page, selector: string, attribute: string): Promise<string[]> {
  return await page.$$eval(
    selector,
    (rows, name) => rows.map((row) => row.getAttribute(name as string) ?? ""),
    attribute,
  );
}

export async function walkDashboard(browser: Browser, input: WalkInput): Promise<WalkResult> {
  // The device flow's page asks for its token until the terminal approves: each early ask is
  // a 401 `not_approved`, which chromium logs as a failed resource load. Nothing else may fail.
  // The payment over the limit is refused by the node on purpose: a 422 from `envelopes`.
  const allowed = [
    // (chromium's wording of the status has changed between versions).
    new RegExp(
      `status of 422 \\([A-Za-z ]+\\) \\(${RegExp.escape(input.base)}/api/v1/envelopes\\)`,
    ),
    ...(input.approveInTerminal
      ? [`status of 401 (Unauthorized) (${input.base}/api/v1/auth/token)`]
      : []),
  ];
  const { page, problems } = await openPage(browser, allowed);
  // A single-network node's requests name no network (federation positions name a federation).
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (
      url.pathname.startsWith("/api/v1/") && !url.pathname.startsWith("/api/v1/federation/") &&
      url.searchParams.has("net")
    ) problems.push(`a request names a network on a single-network node: ${url}`);
  });
  try {
    return await walk(page, problems, input);
  } catch (error) {
    // Say what the page showed and keep a picture of it.
    const shown = await page.evaluate(() => `${location.hash}\n${document.body.innerText}`)
      .catch(() => "(the page could not be read)");
    await page.screenshot({ path: `${input.dir}/failure.png`, fullPage: true }).catch(() => {});
    throw new Error(
      `${(error as Error).message}\n--- the page (${input.dir}/failure.png) ---\n${
        shown.slice(0, 3000)
      }\n--- problems ---\n${problems.join("\n")}`,
      { cause: error },
    );
  } finally {
    await page.close().catch(() => {});
  }
}

async function walk(page: Page, problems: string[], input: WalkInput): Promise<WalkResult> {
  const { base, dir, expect } = input;
  const shots: string[] = [];
  const checkLayout = async (name: string) => {
    for (const scheme of ["light", "dark"]) {
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
      assert.deepEqual(
        await accessibilityViolations(page),
        [],
        `${name} (${scheme}): axe-core finds WCAG 2 A/AA violations`,
      );
    }
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
    shots.push(...await screenshots(page, dir, name));
    await page.setViewport({ width: 390, height: 844 });
    await settled(page);
    assert(!(await overflowsSideways(page)), `${name}: the page scrolls sideways at phone width`);
    await page.setViewport({ width: 1280, height: 900 });
  };

  // Status, signed out.
  await visit(page, base, "#/", "[data-testid=envelopes]");
  await waitInPage(page, () => document.querySelectorAll("tr[data-net]").length > 0, "networks");
  // One cooperative: no network picker, and no request names a network.
  assert.equal(await page.$("#network"), null, "a network picker on a single-network node");
  if (input.whileOnStatus) {
    // An envelope accepted while the page is open appears under "Latest envelopes" (the event
    // stream, woken by the node's accepted-envelope callback).
    const kind = await input.whileOnStatus();
    await waitInPage(
      page,
      new Function(
        `return document.querySelector("ul.events li code")?.textContent === ${
          JSON.stringify(kind)
        }`,
      ) as () => boolean,
      `a ${kind} envelope under "Latest envelopes"`,
    );
  }
  await checkLayout("status");

  // Keyboard: on a fresh load the skip link is the first Tab stop and moves focus to the content;
  // the next stops are the brand and the navigation's links, and Enter on one opens its view
  // with focus on its heading.
  await page.reload({ waitUntil: "domcontentloaded" });
  await page.waitForSelector("[data-testid=envelopes]");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.className), "skip");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
  await page.reload({ waitUntil: "domcontentloaded" });
  await page.waitForSelector("[data-testid=envelopes]");
  const stops: string[] = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    stops.push(await page.evaluate(() => document.activeElement?.getAttribute("href") ?? ""));
  }
  assert.deepEqual(stops, ["#main", "#/", "#/", "#/members"], "Tab order: skip link, brand, nav");
  await page.keyboard.press("Enter");
  await page.waitForSelector("h1:focus", { timeout: 30_000 });
  assert.equal(await textOf(page, "h1"), "Members");

  // Members and balances.
  await visit(page, base, "#/members", "tr[data-did]");
  await waitInPage(
    page,
    () => [...document.querySelectorAll("td[data-balance]")].every((td) => td.textContent !== "—"),
    "balances in the member list",
  );
  assert.deepEqual(
    (await rowsOf(page, "tr[data-did]", "data-did")).sort(),
    [...expect.members].sort(),
  );
  const shown = await page.$$eval("tr[data-did]", (rows) =>
    Object.fromEntries(
      rows.map((row) => [
        row.getAttribute("data-did"),
        row.querySelector("td[data-balance]")?.getAttribute("data-balance"),
      ]),
    ));
  assert.deepEqual(shown, expect.balances);
  await checkLayout("members");

  // The payee's account: balance, history, chart.
  await visit(page, base, `#/members/${encodeURIComponent(input.payee)}`, "[data-testid=balance]");
  await waitInPage(page, () => document.querySelectorAll("tr[data-cid]").length > 0, "history");
  assert.deepEqual(await rowsOf(page, "tr[data-cid]", "data-cid"), expect.payeeHistory);
  assert(
    (await textOf(page, "[data-testid=balance]")).startsWith(expect.balances[input.payee]),
    "the account's balance matches the CLI",
  );
  await page.waitForSelector(".chart canvas");
  await checkLayout("member");

  // Proposals and one proposal.
  await visit(page, base, "#/proposals", `tr[data-proposal="${input.proposal}"]`);
  assert.deepEqual(
    await page.$eval(
      `tr[data-proposal="${input.proposal}"] [data-tally]`,
      (e) => e.getAttribute("data-tally"),
    ),
    expect.tally,
  );
  await checkLayout("proposals");
  await visit(
    page,
    base,
    `#/proposals/${encodeURIComponent(input.proposal)}`,
    "[data-testid=state]",
  );
  assert.deepEqual(await textOf(page, "h1"), expect.proposalTitle);
  await checkLayout("proposal");

  // The trust graph, folded from the event stream.
  await visit(page, base, "#/trust", ".trust-graph svg");
  await waitInPage(
    page,
    new Function(
      `return document.querySelectorAll("tr[data-edge]").length === ${expect.edges.length}`,
    ) as () => boolean,
    `${expect.edges.length} trust edges`,
  );
  assert.deepEqual(
    (await rowsOf(page, "tr[data-edge]", "data-edge")).sort(),
    [...expect.edges].sort(),
  );
  await checkLayout("trust");

  // Federation: not on this node.
  await visit(page, base, "#/federation", "[data-testid=federation-unavailable]");
  await checkLayout("federation");

  // Sign in with the member's own key (the decrypted keystore's JSON), in this tab.
  await visit(page, base, "#/signin", "#key-text");
  await checkLayout("signin");
  if (input.approveInTerminal) {
    // The device flow: the page shows the command, the terminal signs, the page is signed in
    // without holding a key (reads only until a key is imported here).
    await page.type("#terminal-did", input.member.did);
    await page.click("form:has(#terminal-did) button[type=submit]");
    const command = await textOf(page, "[data-testid=login-command] code");
    const match = /^icn id login (http:\/\/\S+\/api\/v1\/auth\/challenge\/\S+)$/.exec(command);
    assert.ok(match, `the page shows a login command: ${command}`);
    await input.approveInTerminal(match[1]);
    await page.waitForFunction(
      (did) => location.hash === `#/members/${encodeURIComponent(did)}`,
      { timeout: 30_000 },
      input.member.did,
    );
    assert.match(await textOf(page, ".account"), /read only/);
    assert.equal(await textOf(page, "h1"), "Your account");
    assert.match(
      await textOf(page, "form.card, p.muted a[href='#/signin']"),
      /sign in with your key/i,
    );
    await checkLayout("terminal-signed-in");
    await page.click(".account button.link");
    await page.waitForSelector("a.account[href='#/signin']");
    await visit(page, base, "#/signin", "#key-text");
  }
  await page.type(
    "#key-text",
    JSON.stringify({ did: input.member.did, ed25519: input.member.ed25519 }),
  );
  await page.click("form.card button[type=submit]");
  await page.waitForFunction(
    (did) => location.hash === `#/members/${encodeURIComponent(did)}`,
    { timeout: 30_000 },
    input.member.did,
  );
  assert.deepEqual(await textOf(page, "h1"), "Your account");
  await page.waitForSelector("#pay-to");
  await checkLayout("account");

  // Bad payments are refused with a sentence and change nothing: too many decimals (in the
  // page, before any request), then more than the credit limit allows (by the node's rules).
  const balanceBefore = await textOf(page, "[data-testid=balance]");
  const pay = async (amount: string) => {
    await page.$eval("form.card", (form) => (form as HTMLFormElement).reset());
    await page.type("#pay-to", input.payee);
    await page.type("#pay-amount", amount);
    await page.click("form.card button[type=submit]");
  };
  await pay("1.234");
  assert.match(await textOf(page, "form.card p.error"), /Payment refused: .*has 2 decimals/);
  await pay("99999");
  await waitInPage(
    page,
    () =>
      /balance|limit|credit/i.test(document.querySelector("form.card p.error")?.textContent ?? ""),
    "the node's refusal of a payment over the limit",
  );
  assert.equal(await textOf(page, "[data-testid=balance]"), balanceBefore);
  assert.equal(await page.$("[data-receipt]"), null);

  // Pay, signed in the page.
  await page.$eval("form.card", (form) => (form as HTMLFormElement).reset());
  await page.type("#pay-to", input.payee);
  await page.type("#pay-amount", "1.50");
  await page.type("#pay-memo", "from the browser");
  await page.click("form.card button[type=submit]");
  const paymentReceipt = await page.waitForSelector("[data-receipt]", { timeout: 30_000 })
    .then((h) => h!.evaluate((e) => e.getAttribute("data-receipt") ?? ""));
  assert(
    (await textOf(page, "[data-receipt]")).includes("accepted"),
    `the payment was not accepted: ${await textOf(page, "[data-receipt]")}`,
  );

  // Vote, signed in the page.
  await visit(page, base, `#/proposals/${encodeURIComponent(input.proposal)}`, "input[value=for]");
  await page.click("input[value=for]");
  await page.click("form.card button[type=submit]");
  const voteReceipt = await page.waitForSelector("[data-receipt]", { timeout: 30_000 })
    .then((h) => h!.evaluate((e) => e.getAttribute("data-receipt") ?? ""));
  await waitInPage(
    page,
    new Function(
      `return document.querySelector('tr[data-voter="${input.member.did}"] [data-choice]')?.textContent === "for"`,
    ) as () => boolean,
    "the vote in the proposal's votes",
  );
  await checkLayout("voted");

  assert.deepEqual(problems, [], `the pages reported problems:\n${problems.join("\n")}`);
  return { screenshots: shots, paymentReceipt, voteReceipt };
}
