/**
 * The load-test harness (scripts/loadtest.ts): its statistics (percentiles, phase summaries,
 * the breaking point, per-second series), the operation mix, the scenarios' scaling, the Vega-Lite
 * figures as well-formed SVG, bad command lines, and one tiny end-to-end run against a real node
 * that writes a report with valid SVG figures.
 */
import { XMLValidator } from "fast-xml-parser";
import { mix, pickOperation, thinkTime } from "../scripts/loadtest/mix.ts";
import {
  histogramSpec,
  latencySpec,
  renderSvg,
  throughputSpec,
} from "../scripts/loadtest/plots.ts";
import {
  peakUsers,
  scenarioNames,
  scenarios,
  scenarioSeconds,
  withDuration,
} from "../scripts/loadtest/scenarios.ts";
import {
  breakingPoint,
  defaultThresholds,
  percentile,
  type PhaseSummary,
  type Sample,
  summarize,
  timeSeries,
} from "../scripts/loadtest/stats.ts";
import {
  backoffMs,
  drive,
  type Member,
  retriesMax,
  retryableCode,
  retryBackoffMaxMs,
  runOperation,
  usersAt,
} from "../scripts/loadtest/driver.ts";
import { testIdentity } from "../core/testing.ts";
import { toBase64 } from "../core/bytes.ts";
import { assert, assertEquals } from "./_node_fixture.ts";

const root = new URL("..", import.meta.url).pathname;

function assertThrows(fn: () => unknown, message: string): void {
  let threw = false;
  try {
    fn();
  } catch {
    threw = true;
  }
  assert(threw, message);
}

function assertWellFormedSvg(text: string, what: string): void {
  const valid = XMLValidator.validate(text);
  assert(valid === true, `${what} is not well-formed XML: ${JSON.stringify(valid)}`);
  assert(/^<svg[\s>]/.test(text.trimStart()), `${what} does not start with <svg`);
  assert(text.includes('xmlns="http://www.w3.org/2000/svg"'), `${what} lacks the SVG namespace`);
}

const sample = (t: number, ms: number, status = "ok", op = "balance", requests = 1): Sample => ({
  t,
  op,
  ms,
  status,
  requests,
});

Deno.test("percentile: nearest rank over sorted values; NaN when empty; q outside (0, 1] refused", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  assertEquals(percentile(values, 0.5), 50);
  assertEquals(percentile(values, 0.95), 95);
  assertEquals(percentile(values, 0.99), 99);
  assertEquals(percentile(values, 1), 100);
  assertEquals(percentile([7], 0.01), 7);
  assertEquals(percentile([1, 2, 3, 4], 0.5), 2);
  assertEquals(percentile([1, 2, 3, 4], 0.51), 3);
  assert(Number.isNaN(percentile([], 0.5)), "empty list gives NaN");
  assertThrows(() => percentile(values, 0), "q = 0 refused");
  assertThrows(() => percentile(values, 1.5), "q > 1 refused");
  assertThrows(() => percentile(values, NaN), "q NaN refused");
});

Deno.test("summarize: only samples started in the window; rates, percentiles, errors by status", () => {
  const samples = [
    sample(-1, 999), // before
    sample(0, 10),
    sample(100, 20, "ok", "trust.edge", 2),
    sample(500, 30, "429 rate_limited", "ledger.transfer", 1),
    sample(1999, 40, "timeout", "trust.edge", 2),
    sample(2000, 999), // after (end is exclusive)
  ];
  const s = summarize(samples, { name: "p", users: 5, start: 0, end: 2000 });
  assertEquals(s.operations, 4);
  assertEquals(s.requests, 6);
  assertEquals(s.seconds, 2);
  assertEquals(s.opsPerS, 2);
  assertEquals(s.requestsPerS, 3);
  assertEquals([s.p50, s.p95, s.p99], [20, 40, 40]);
  assertEquals(s.errors, { "429 rate_limited": 1, timeout: 1 });
  assertEquals(s.errorRate, 0.5);
  assertEquals(s.byOp["trust.edge"], { operations: 2, p50: 20, p99: 40 });
  const empty = summarize([], { name: "e", users: 1, start: 0, end: 1000 });
  assertEquals([empty.operations, empty.errorRate], [0, 0]);
  assert(Number.isNaN(empty.p99), "no latency without operations");
});

function phase(name: string, users: number, p99: number, errorRate: number, operations = 100) {
  return { name, users, p99, errorRate, operations, opsPerS: users / 2 } as PhaseSummary;
}

Deno.test("breakingPoint: the lowest load step over a threshold; null when none; empty steps skipped", () => {
  const t = { p99Ms: 1000, errorRate: 0.01 };
  assertEquals(
    breakingPoint([phase("a", 25, 100, 0), phase("b", 50, 900, 0.01)], t),
    null,
    "at the thresholds is not over them",
  );
  const byLatency = breakingPoint(
    [phase("a", 25, 100, 0), phase("b", 50, 1001, 0), phase("c", 100, 5000, 0.5)],
    t,
  );
  assertEquals([byLatency?.phase, byLatency?.users, byLatency?.reasons], ["b", 50, ["p99"]]);
  const byErrors = breakingPoint([phase("a", 25, 100, 0.02)], t);
  assertEquals(byErrors?.reasons, ["errors"]);
  const both = breakingPoint([phase("a", 25, 2000, 0.02)], t);
  assertEquals(both?.reasons, ["p99", "errors"]);
  // A spike's phases are not in load order: the lowest load over a threshold counts.
  const spike = breakingPoint(
    [phase("before", 10, 100, 0), phase("spike", 200, 3000, 0), phase("after", 10, 1500, 0)],
    t,
  );
  assertEquals(spike?.phase, "after");
  assertEquals(breakingPoint([phase("idle", 5, NaN, 0, 0)], t), null);
  assertEquals(defaultThresholds, { p99Ms: 1000, errorRate: 0.01 });
});

Deno.test("the mix: trust edges 5 : transfers 3 : balance reads 2, exactly over uniform draws", () => {
  assertEquals(mix.map((m) => [m.op, m.weight]), [
    ["trust.edge", 5],
    ["ledger.transfer", 3],
    ["balance", 2],
  ]);
  const counts: Record<string, number> = {};
  const n = 10_000;
  for (let i = 0; i < n; i++) {
    const op = pickOperation(i / n);
    counts[op] = (counts[op] ?? 0) + 1;
  }
  assertEquals(counts, { "trust.edge": 5000, "ledger.transfer": 3000, balance: 2000 });
  assertEquals(pickOperation(0), "trust.edge");
  assertEquals(pickOperation(0.4999), "trust.edge");
  assertEquals(pickOperation(0.5), "ledger.transfer");
  assertEquals(pickOperation(0.8), "balance");
  assertEquals(pickOperation(0.9999999), "balance");
  assertThrows(() => pickOperation(1), "u = 1 refused");
  assertThrows(() => pickOperation(-0.1), "negative u refused");
  assertEquals([thinkTime(0, [1000, 3000]), thinkTime(0.5, [1000, 3000])], [1000, 2000]);
});

Deno.test("scenarios: five, each with phases; --duration scales them in proportion", () => {
  assertEquals([...scenarioNames], ["baseline", "medium", "high", "stress", "spike"]);
  for (const name of scenarioNames) {
    const s = scenarios[name];
    assert(s.phases.length > 0 && s.phases.every((p) => p.users > 0 && p.seconds > 0), name);
  }
  assertEquals(peakUsers(scenarios.stress), 300);
  const spike = scenarios.spike.phases;
  assert(spike[1].users > 10 * spike[0].users && spike[1].rampPerS === Infinity, "a sudden jump");
  const short = withDuration(scenarios.stress, 12);
  assertEquals(short.phases.map((p) => p.seconds), [2, 2, 2, 2, 2, 2]);
  assertEquals(scenarioSeconds(short), 12);
  assertEquals(withDuration(scenarios.baseline, undefined), scenarios.baseline);
  assertEquals(withDuration(scenarios.baseline, 3).phases[0].seconds, 3);
});

Deno.test("timeSeries: per-second throughput, errors and percentiles; users from the change list", () => {
  const samples = [sample(10, 5), sample(900, 15, "500"), sample(2500, 7)];
  const changes: [number, number][] = [[0, 0], [5, 2], [2000, 4]];
  const series = timeSeries(samples, 3000, (ms) => usersAt(changes, ms));
  assertEquals(series.map((p) => [p.second, p.opsPerS, p.errorsPerS, p.p50, p.p99, p.users]), [
    [0, 2, 1, 5, 15, 0],
    [1, 0, 0, null, null, 2],
    [2, 1, 0, 7, 7, 4],
  ]);
});

Deno.test("figures: Vega-Lite compiled and rendered by vega are well-formed SVG", async () => {
  const samples = Array.from(
    { length: 200 },
    (_, i) =>
      sample(i * 50, 5 + (i % 17) * 3, i % 23 === 0 ? "429 rate_limited" : "ok", mix[i % 3].op),
  );
  const windows = [
    { name: "10 members", users: 10, start: 0, end: 5000 },
    { name: "20 members", users: 20, start: 5000, end: 10_000 },
  ];
  const series = timeSeries(samples, 10_000, (ms) => (ms < 5000 ? 10 : 20));
  for (
    const [what, spec] of [
      ["throughput", throughputSpec(series, windows, "Throughput")],
      ["latency", latencySpec(series, windows, "Latency")],
      ["histogram", histogramSpec(samples, "Histogram")],
    ] as const
  ) {
    const svg = await renderSvg(spec);
    assertWellFormedSvg(svg, what);
    assert(svg.includes("<path") || svg.includes("<rect"), `${what} draws marks`);
  }
  // A broken document is caught by the same check.
  assertThrows(() => assertWellFormedSvg("<svg><g></svg>", "broken"), "unclosed element caught");
});

Deno.test("drive: ramps phase by phase, never drives a member twice at once, records every operation", async () => {
  // A stand-in gateway that answers at once and counts each member's requests in flight.
  const inFlight = new Map<string, number>();
  let overlap = 0;
  const seen = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const did = (req.headers.get("authorization") ?? "").replace("Bearer ", "");
    seen.add(did);
    const n = (inFlight.get(did) ?? 0) + 1;
    inFlight.set(did, n);
    if (n > 1) overlap++;
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const path = new URL(req.url).pathname;
      if (req.method === "POST") await req.json();
      if (path.endsWith("/prepare")) {
        return Response.json({
          envelope: { author: did },
          signingBytes: toBase64(new Uint8Array(8)),
        });
      }
      if (path.endsWith("/envelopes")) return Response.json({ outcome: { status: "accepted" } });
      return Response.json({ balance: "0.00" });
    } finally {
      inFlight.set(did, inFlight.get(did)! - 1);
    }
  });
  try {
    const api = `http://127.0.0.1:${server.addr.port}/api/v1`;
    const members: Member[] = await Promise.all(
      Array.from({ length: 4 }, async (_, index) => {
        const identity = await testIdentity(500 + index);
        return { index, identity, api, token: identity.did };
      }),
    );
    const result = await drive({
      scenario: {
        name: "spike",
        description: "test",
        thinkMs: [0, 10],
        phases: [
          { name: "up", users: 4, rampPerS: Infinity, seconds: 0.4 },
          { name: "down", users: 1, rampPerS: Infinity, seconds: 0.3 },
          { name: "up again", users: 4, rampPerS: 40, seconds: 0.4 },
        ],
      },
      members,
      currency: "hours",
      requestTimeoutMs: 5000,
      graceMs: 5000,
      log: () => {},
    });
    assertEquals(overlap, 0, "a member had two requests in flight");
    assertEquals(seen.size, 4);
    assertEquals(result.windows.map((w) => [w.name, w.users]), [["up", 4], ["down", 1], [
      "up again",
      4,
    ]]);
    assertEquals(result.endMs, 1100);
    const counts = result.users.map(([, users]) => users);
    assertEquals([Math.max(...counts), counts.at(-1)], [4, 0]);
    assert(counts.includes(1), `went down to 1: ${counts}`);
    assert(result.samples.length > 10, `operations ran: ${result.samples.length}`);
    assert(result.samples.every((s) => s.status === "ok"), JSON.stringify(result.samples[0]));
    assert(
      result.samples.every((s) => s.requests === (s.op === "balance" ? 1 : 2)),
      "a write is two requests, a read one",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("runOperation: 409 stale_chain and 503 overloaded are retried (bounded, counted apart); others are not", async () => {
  // A stand-in gateway scripted per request: each entry answers one request in order (`null`
  // passes it through to a normal answer); once the script is empty every request succeeds.
  type Scripted = { status: number; code: string; retryAfter?: string } | null;
  let script: Scripted[] = [];
  const paths: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname.replace(/.*\/api\/v1/, "");
    paths.push(path);
    if (req.method === "POST") await req.json();
    const next = script.shift() ?? null;
    if (next !== null) {
      return Response.json({ error: { code: next.code, message: "scripted" } }, {
        status: next.status,
        headers: next.retryAfter === undefined ? {} : { "retry-after": next.retryAfter },
      });
    }
    if (path === "/prepare") {
      return Response.json({
        envelope: { seq: paths.length },
        signingBytes: toBase64(new Uint8Array(8)),
      });
    }
    if (path === "/envelopes") return Response.json({ outcome: { status: "accepted" } });
    return Response.json({ balance: "0.00" });
  });
  try {
    const api = `http://127.0.0.1:${server.addr.port}/api/v1`;
    const identity = await testIdentity(600);
    const other = await testIdentity(601);
    const member: Member = { index: 0, identity, api, token: "t" };
    const run = (op: "balance" | "ledger.transfer" | "trust.edge", scripted: Scripted[]) => {
      script = scripted;
      paths.length = 0;
      return runOperation(op, member, [other], "hours", {
        run: AbortSignal.timeout(20_000),
        requestTimeoutMs: 5000,
      }, () => 0);
    };

    // 503 overloaded twice on a read (Retry-After: 0), then 200: ok, 2 retries counted.
    const read = await run("balance", [
      { status: 503, code: "overloaded", retryAfter: "0" },
      { status: 503, code: "overloaded", retryAfter: "0" },
    ]);
    assertEquals([read.status, read.requests, read.retries], ["ok", 3, { "503 overloaded": 2 }]);

    // 409 stale_chain at submit: the write is prepared again and signed anew, then accepted.
    const stale = await run("trust.edge", [null, { status: 409, code: "stale_chain" }]);
    assertEquals([stale.status, stale.requests, stale.retries], ["ok", 4, {
      "409 stale_chain": 1,
    }]);
    assertEquals(paths, ["/prepare", "/envelopes", "/prepare", "/envelopes"]);

    // 503 at prepare and 409 at submit in one operation: both counted, each under its own name.
    const both = await run("ledger.transfer", [
      { status: 503, code: "overloaded", retryAfter: "0" },
      null,
      { status: 409, code: "stale_chain" },
    ]);
    assertEquals(both.status, "ok");
    assertEquals(both.retries, { "503 overloaded": 1, "409 stale_chain": 1 });

    // Bounded: past retriesMax the final answer is the failure, with every retry counted.
    const overloaded = { status: 503, code: "overloaded", retryAfter: "0" };
    const givenUp = await run("balance", Array(retriesMax + 5).fill(overloaded));
    assertEquals(givenUp.status, "503 overloaded");
    assertEquals([givenUp.requests, givenUp.retries], [retriesMax + 1, {
      "503 overloaded": retriesMax,
    }]);

    // Not retryable: 429, 503 store_busy, 409 with another code, 422. One request, no retries.
    for (
      const [status, code] of [[429, "rate_limited"], [503, "store_busy"], [409, "other"], [
        422,
        "invalid_signature",
      ]] as const
    ) {
      const once = await run("balance", [{ status, code, retryAfter: "0" }]);
      assertEquals([once.status, once.requests, once.retries], [`${status} ${code}`, 1, undefined]);
    }

    // The retry counts add up per phase.
    const summary = summarize([
      { t: 0, ...read },
      { t: 1, ...stale },
      { t: 2, ...both },
      { t: 3, ...givenUp },
    ], { name: "p", users: 1, start: 0, end: 1000 });
    assertEquals(summary.retriedOperations, 4);
    assertEquals(summary.retries, {
      "503 overloaded": 2 + 1 + retriesMax,
      "409 stale_chain": 2,
    });
    assertEquals(summary.errors, { "503 overloaded": 1 });
  } finally {
    await server.shutdown();
  }
});

Deno.test("backoffMs: exponential with jitter, capped, never shorter than Retry-After (capped too)", () => {
  assertEquals(retryableCode(409, "stale_chain"), "409 stale_chain");
  assertEquals(retryableCode(503, "overloaded"), "503 overloaded");
  assertEquals(retryableCode(503, "store_busy"), undefined);
  assertEquals(retryableCode(429, "rate_limited"), undefined);
  assertEquals(backoffMs(0, undefined, () => 1), 200);
  assertEquals(backoffMs(0, undefined, () => 0), 100);
  assertEquals(backoffMs(2, undefined, () => 1), 800);
  assertEquals(backoffMs(20, undefined, () => 1), retryBackoffMaxMs);
  assertEquals(backoffMs(0, 1, () => 0), 1000);
  assertEquals(backoffMs(0, 3600, () => 0), retryBackoffMaxMs);
});

async function loadtest(args: string[], timeoutMs: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      "--config",
      `${root}deno.json`,
      `${root}scripts/loadtest.ts`,
      ...args,
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test({
  name: "loadtest: bad command lines are usage errors (exit 2) and write nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "icn-loadtest-bad-" });
    try {
      for (
        const [args, message] of [
          [["--scenario", "huge"], 'Unknown scenario "huge"'],
          [["--nodes", "0"], "--nodes"],
          [["--nodes", "2", "--url", "http://127.0.0.1:1"], "not both"],
          [["--url", "ftp://x"], "--url"],
          [["--duration", "1"], "--duration"],
          [["--max-errors", "1001"], "--max-errors"],
        ] as const
      ) {
        const run = await loadtest([...args, "--out", `${out}/report`], 60_000);
        assertEquals(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
        assert(run.stderr.includes(message), `${args.join(" ")}: ${run.stderr}`);
      }
      assertEquals([...Deno.readDirSync(out)].length, 0, "nothing written");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "loadtest: a 3 s baseline against one real node writes a report with well-formed SVG figures",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "icn-loadtest-e2e-" });
    try {
      const run = await loadtest(
        ["--scenario", "baseline", "--duration", "3", "--out", out],
        120_000,
      );
      assertEquals(run.code, 0, run.stderr);
      assert(run.stdout.includes("Breaking point:"), run.stdout);
      const date = new Date().toISOString().slice(0, 10);
      const base = `${out}/${date}-baseline`;
      const report = await Deno.readTextFile(`${base}.md`);
      for (const heading of ["## Breaking point", "## Phases", "## Figures"]) {
        assert(report.includes(heading), `report lacks ${heading}`);
      }
      for (const figure of ["throughput", "latency", "histogram"]) {
        assert(report.includes(`](${date}-baseline-${figure}.svg)`), `report links ${figure}`);
        assertWellFormedSvg(await Deno.readTextFile(`${base}-${figure}.svg`), figure);
      }
      const summary = JSON.parse(await Deno.readTextFile(`${base}.json`));
      assertEquals(summary.phases.length, 1);
      assert(summary.total.operations > 0, `operations ran: ${JSON.stringify(summary.total)}`);
      // The gateway refuses nothing of a 10-member baseline: signed writes are accepted, reads
      // answered. Only a timeout is allowed (the machine is shared; the full suite runs in
      // parallel), and not for every operation.
      const errors = summary.total.errors as Record<string, number>;
      const refused = Object.keys(errors).filter((status) => status !== "timeout");
      assertEquals(refused, [], JSON.stringify(errors));
      assert((errors.timeout ?? 0) < summary.total.operations, JSON.stringify(summary.total));
      assert(summary.total.requests > summary.total.operations, "writes made two requests");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
