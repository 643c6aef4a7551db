/// <reference lib="dom" />
/**
 * Drives the dashboard in Debian's chromium with puppeteer-core: one browser per test, pages
 * that record every console error, failed request and uncaught exception, bounded waits, and
 * screenshots at desktop and phone width. Shared by the dashboard's browser tests.
 */
import axe from "axe-core";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** The `chromium` on PATH (Debian's package puts it in /usr/bin: `apt-get install chromium`). */
export function chromiumPath(): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      if (Deno.statSync(`${dir}/chromium`).isFile) return `${dir}/chromium`;
    } catch {
      // not in this directory
    }
  }
  return "/usr/bin/chromium";
}

/** Longest any one wait for the page may take: a loaded 2-core machine renders slowly. */
export const pageWaitMs = 30_000;

export const viewports = {
  desktop: { width: 1280, height: 900 },
  // Width only: switching isMobile or hasTouch makes puppeteer reload the page.
  phone: { width: 390, height: 844 },
} as const;

/** What went wrong in a page: console errors, uncaught exceptions, failed or 5xx requests. */
export interface PageProblems {
  problems: string[];
}

export async function launchBrowser(): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in a container has no user namespace for chromium's sandbox; the pages are our own.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
    timeout: pageWaitMs,
    protocolTimeout: pageWaitMs * 2,
  });
}

/**
 * A new page that records its problems. `allowed` lists console messages (by substring) that
 * a test expects, such as the 401 of a deliberately refused request.
 */
export async function openPage(
  browser: Browser,
  allowed: (string | RegExp)[] = [],
): Promise<{ page: Page } & PageProblems> {
  const page = await browser.newPage();
  page.setDefaultTimeout(pageWaitMs);
  const problems: string[] = [];
  const isAllowed = (text: string) =>
    allowed.some((a) => typeof a === "string" ? text.includes(a) : a.test(text));
  page.on("console", (message) => {
    if (message.type() !== "error" && message.type() !== "warn") return;
    const text = `${message.type()}: ${message.text()} (${message.location().url ?? ""})`;
    if (!isAllowed(text)) problems.push(text);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${(error as Error).message}`));
  page.on("requestfailed", (request) => {
    const reason = request.failure()?.errorText ?? "";
    // Leaving a view aborts its requests and event stream on purpose.
    if (reason === "net::ERR_ABORTED") return;
    const text = `request failed: ${request.url()} ${reason}`;
    if (!isAllowed(text)) problems.push(text);
  });
  page.on("response", (response) => {
    if (response.status() >= 500) problems.push(`${response.status()} from ${response.url()}`);
  });
  return { page, problems };
}

/** Waits for `selector` and returns its text content, trimmed. */
export async function textOf(page: Page, selector: string): Promise<string> {
  const handle = await page.waitForSelector(selector, { timeout: pageWaitMs });
  const text = await handle!.evaluate((element) => element.textContent ?? "");
  await handle!.dispose();
  return text.replace(/\s+/g, " ").trim();
}

/** Waits until `fn` (run in the page) returns a truthy value; returns it. */
export async function waitInPage<T>(page: Page, fn: () => T, what: string): Promise<T> {
  try {
    const handle = await page.waitForFunction(fn, { timeout: pageWaitMs, polling: 100 });
    const value = await handle.jsonValue();
    await handle.dispose();
    return value as T;
  } catch (error) {
    throw new Error(`Timed out after ${pageWaitMs} ms waiting for ${what}`, { cause: error });
  }
}

/**
 * Opens `hash` of the dashboard, waits for `ready` (a selector), and screenshots it at desktop
 * and phone width as `<dir>/<name>-desktop.png` and `-phone.png`.
 */
export async function visit(
  page: Page,
  base: string,
  hash: string,
  ready: string,
): Promise<void> {
  const url = `${base}/${hash}`;
  if (page.url().startsWith(base) && page.url() !== "about:blank") {
    await page.evaluate((h) => (location.hash = h), hash);
  } else {
    await page.goto(url, { waitUntil: "domcontentloaded", timeout: pageWaitMs });
  }
  await page.waitForSelector(ready, { timeout: pageWaitMs });
}

export async function screenshots(page: Page, dir: string, name: string): Promise<string[]> {
  const written: string[] = [];
  for (const [label, viewport] of Object.entries(viewports)) {
    await page.setViewport(viewport);
    await settled(page);
    const path = `${dir}/${name}-${label}.png`;
    await page.screenshot({ path: path as `${string}.png`, fullPage: true });
    written.push(path);
  }
  await page.setViewport(viewports.desktop);
  return written;
}

/** Whether the page is wider than the screen at phone width (a horizontal scroll of the page). */
export async function overflowsSideways(page: Page): Promise<boolean> {
  return await page.evaluate(() =>
    document.documentElement.scrollWidth > document.documentElement.clientWidth + 1
  );
}

/**
 * Removes a test's screenshot dir, or keeps it and says where when `ICN_KEEP_SCREENSHOTS=1`
 * (to look at the pages after a run).
 */
export async function keepOrRemove(dir: string): Promise<void> {
  if (Deno.env.get("ICN_KEEP_SCREENSHOTS") === "1") {
    Deno.stderr.writeSync(new TextEncoder().encode(`screenshots kept in ${dir}\n`));
    return;
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/**
 * The page's WCAG 2 A and AA violations found by axe-core (labels, names, contrast, landmarks,
 * ...), as "rule: where" lines. axe is evaluated through the DevTools protocol, which the page's
 * CSP does not govern, so the page keeps its real CSP while it is checked.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  const installed = await page.evaluate(() => typeof (globalThis as { axe?: unknown }).axe);
  if (installed === "undefined") await page.evaluate(axe.source);
  const result = await page.evaluate(async () => {
    const run = (globalThis as unknown as {
      axe: {
        run(
          context: Document,
          options: unknown,
        ): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }>;
      };
    }).axe.run;
    const { violations } = await run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      resultTypes: ["violations"],
    });
    return violations.map((v) =>
      `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`
    );
  });
  return result;
}

/** Waits two animation frames: the layout, and the charts' ResizeObserver, follow a new viewport. */
export async function settled(page: Page): Promise<void> {
  await page.evaluate(() =>
    new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))
  );
}
