/**
 * The dated markdown report of a load-test run: set-up, the phase table (throughput, latency
 * percentiles, errors by status), the breaking point, and the three SVG figures beside it.
 */
import type { Scenario } from "./scenarios.ts";
import type { BreakingPoint, PhaseSummary, Thresholds } from "./stats.ts";
import { mix } from "./mix.ts";
import { retriesMax } from "./driver.ts";

export interface ReportInput {
  date: string;
  scenario: Scenario;
  commit: string;
  /** How the targets were reached: `N node(s) started by the harness` or the URLs. */
  target: string;
  members: number;
  cpus: number;
  loadBefore: string;
  loadAfter: string;
  signIn: { members: number; seconds: number; p50: number; p99: number };
  phases: PhaseSummary[];
  total: PhaseSummary;
  thresholds: Thresholds;
  breaking: BreakingPoint | null;
  figures: { throughput: string; latency: string; histogram: string };
  command: string;
  /** The unmeasured warm-up before the first phase. */
  warmUp: string;
  /** Per started node: how many lines it logged at warn or error, and the last few. */
  nodeLog: { lines: number; last: string[] }[];
}

const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const rate = (n: number) => n.toFixed(1);
const pct = (n: number) => `${(n * 100).toFixed(2)} %`;

function errorsText(errors: Record<string, number>): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "none" : entries.map(([k, v]) => `${k}: ${v}`).join(", ");
}

/** The breaking point in one sentence. */
/** Retries in a phase: how many operations retried, and the retries by answer. */
function retriesText(p: PhaseSummary): string {
  const entries = Object.entries(p.retries ?? {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return "none";
  return `${p.retriedOperations} op(s): ${entries.map(([k, v]) => `${k} ×${v}`).join(", ")}`;
}

export function breakingText(breaking: BreakingPoint | null, thresholds: Thresholds, peak: number) {
  const limits = `p99 > ${thresholds.p99Ms} ms or more than ${pct(thresholds.errorRate)} failed`;
  if (breaking === null) {
    return `not reached: no load step up to ${peak} members exceeded the thresholds (${limits}).`;
  }
  const why = breaking.reasons.map((r) =>
    r === "p99" ? `p99 ${ms(breaking.p99)} ms` : `${pct(breaking.errorRate)} failed`
  ).join(" and ");
  return `**${breaking.users} members** (phase "${breaking.phase}", ${
    rate(breaking.opsPerS)
  } operations/s): ${why} (thresholds: ${limits}).`;
}

export function renderReport(input: ReportInput): string {
  const { scenario } = input;
  const peak = Math.max(...scenario.phases.map((p) => p.users));
  const rows = [...input.phases, input.total].map((p) =>
    `| ${p === input.total ? "**all**" : p.name} | ${p.users} | ${
      p.seconds.toFixed(1)
    } | ${p.operations} | ${rate(p.opsPerS)} | ${rate(p.requestsPerS)} | ${ms(p.p50)} | ${
      ms(p.p95)
    } | ${ms(p.p99)} | ${pct(p.errorRate)} | ${errorsText(p.errors)} | ${retriesText(p)} |`
  );
  const ops = [...new Set(input.phases.flatMap((p) => Object.keys(p.byOp)))].sort();
  const opRows = ops.map((op) => {
    const s = input.total.byOp[op];
    return `| ${op} | ${s?.operations ?? 0} | ${ms(s?.p50 ?? NaN)} | ${ms(s?.p99 ?? NaN)} |`;
  });
  return [
    `# Load test: ${scenario.name} (${input.date})`,
    "",
    `Made by \`${input.command}\` (commit ${input.commit}); see [docs/loadtest.md](../loadtest.md).`,
    "",
    `- Scenario: ${scenario.description}; think time ${scenario.thinkMs[0] / 1000}–${
      scenario.thinkMs[1] / 1000
    } s between a member's operations. As run: ${
      scenario.phases.map((p) => `${p.users} members for ${p.seconds} s`).join(", then ")
    }.`,
    `- Mix: ${
      mix.map((m) => `${m.op} ${m.weight}`).join(" : ")
    } (trust edges and transfers are prepare → Ed25519 signature by the member's key → submit; balance reads one GET).`,
    `- Target: ${input.target}; ${input.members} simulated members signed in (${input.signIn.members} sign-ins in ${
      input.signIn.seconds.toFixed(1)
    } s, p50 ${ms(input.signIn.p50)} ms, p99 ${ms(input.signIn.p99)} ms).`,
    `- Machine: ${input.cpus} CPUs shared with other work and with the load generator itself; load average before ${input.loadBefore}, after ${input.loadAfter} (\`/proc/loadavg\`).`,
    `- Warm-up before the first phase, not measured: ${input.warmUp}.`,
    "",
    "## Breaking point",
    "",
    breakingText(input.breaking, input.thresholds, peak),
    "",
    "## Phases",
    "",
    `Operations are counted in the phase they started in; latency is the whole operation (both round trips of a write and the client's signature, and any retries). A \`409 stale_chain\` (prepare again) or \`503 overloaded\` (shed before any work) is retried up to ${retriesMax} times with a jittered exponential backoff that honours \`Retry-After\`; the retries are counted apart, and an operation fails only on its final answer.`,
    "",
    "| phase | members | s | operations | ops/s | requests/s | p50 ms | p95 ms | p99 ms | failed | errors by status | retries |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ...rows,
    "",
    "## By operation (whole run)",
    "",
    "| operation | count | p50 ms | p99 ms |",
    "| --- | ---: | ---: | ---: |",
    ...opRows,
    "",
    ...(input.nodeLog.length === 0 ? [] : [
      "## Node logs",
      "",
      "Lines each node logged at `warn` or above during the run, and the last few of them.",
      "",
      ...input.nodeLog.flatMap((n, i) => [
        `- node ${i + 1}: ${n.lines} line(s)`,
        ...(n.last.length === 0
          ? []
          : ["", "  ```text", ...n.last.map((l) => `  ${l.slice(0, 300)}`), "  ```", ""]),
      ]),
      "",
    ]),
    "## Figures",
    "",
    `![Throughput over time](${input.figures.throughput})`,
    "",
    `![Latency over time](${input.figures.latency})`,
    "",
    `![Latency histogram](${input.figures.histogram})`,
    "",
  ].join("\n");
}
