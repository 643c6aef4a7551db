/**
 * The load test's statistics: samples of operations, per-phase summaries (throughput,
 * p50/p95/p99, errors by status), the breaking point, and per-second series for the plots.
 * Pure: every function takes the samples and windows it is given.
 */

/** One operation a simulated member did (a trust edge or transfer is prepare + sign + submit). */
export interface Sample {
  /** Start, ms since the run began. */
  t: number;
  /** The operation: `trust.edge`, `ledger.transfer` or `balance`. */
  op: string;
  /** Latency of the whole operation, ms. */
  ms: number;
  /** `ok`, or what failed: an HTTP status (`429`, `422`, `500`), `timeout` or `network`. */
  status: string;
  /** HTTP requests the operation made (2 for a write, 1 for a read; fewer when it failed early). */
  requests: number;
  /**
   * Retries after a retryable answer, by what was retried (`409 stale_chain`, `503 overloaded`);
   * absent when the first attempt was final. `status` is the final attempt's.
   */
  retries?: Record<string, number>;
}

/** The `q`-quantile (0 < q ≤ 1) of ascending `sorted` values, nearest rank; NaN when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (!(q > 0 && q <= 1)) throw new RangeError(`percentile: q must be in (0, 1], not ${q}`);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface PhaseWindow {
  name: string;
  /** Simulated members active at the phase's target. */
  users: number;
  /** ms since the run began, [start, end). */
  start: number;
  end: number;
}

export interface PhaseSummary {
  name: string;
  users: number;
  seconds: number;
  operations: number;
  requests: number;
  /** Operations per second (started in the window). */
  opsPerS: number;
  /** HTTP requests per second. */
  requestsPerS: number;
  p50: number;
  p95: number;
  p99: number;
  /** Failed operations by status (`429`, `422`, `timeout`, ...). */
  errors: Record<string, number>;
  /** Failed operations / operations (0 when there were none). */
  errorRate: number;
  /** Retries by what was retried (`409 stale_chain`, `503 overloaded`), over all operations. */
  retries: Record<string, number>;
  /** Operations that needed at least one retry (whatever their final status). */
  retriedOperations: number;
  /** Latency percentiles by operation. */
  byOp: Record<string, { operations: number; p50: number; p99: number }>;
}

function sortedLatencies(samples: readonly Sample[]): number[] {
  return samples.map((s) => s.ms).sort((a, b) => a - b);
}

/** Sums up the samples that started in `window`. */
export function summarize(samples: readonly Sample[], window: PhaseWindow): PhaseSummary {
  const inside = samples.filter((s) => s.t >= window.start && s.t < window.end);
  const seconds = Math.max(0.001, (window.end - window.start) / 1000);
  const latencies = sortedLatencies(inside);
  const errors: Record<string, number> = {};
  for (const s of inside) if (s.status !== "ok") errors[s.status] = (errors[s.status] ?? 0) + 1;
  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  const retries: Record<string, number> = {};
  let retriedOperations = 0;
  for (const s of inside) {
    if (s.retries === undefined) continue;
    retriedOperations++;
    for (const [what, n] of Object.entries(s.retries)) retries[what] = (retries[what] ?? 0) + n;
  }
  const byOp: PhaseSummary["byOp"] = {};
  for (const op of [...new Set(inside.map((s) => s.op))].sort()) {
    const list = sortedLatencies(inside.filter((s) => s.op === op));
    byOp[op] = {
      operations: list.length,
      p50: percentile(list, 0.5),
      p99: percentile(list, 0.99),
    };
  }
  const requests = inside.reduce((sum, s) => sum + s.requests, 0);
  return {
    name: window.name,
    users: window.users,
    seconds,
    operations: inside.length,
    requests,
    opsPerS: inside.length / seconds,
    requestsPerS: requests / seconds,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    errors,
    errorRate: inside.length === 0 ? 0 : failed / inside.length,
    retries,
    retriedOperations,
    byOp,
  };
}

export interface Thresholds {
  /** p99 latency above this (ms) breaks. */
  p99Ms: number;
  /** Failed operations above this share (0–1) breaks. */
  errorRate: number;
}

/** The defaults: p99 over 1 s or more than 1 % of operations failing. */
export const defaultThresholds: Thresholds = { p99Ms: 1000, errorRate: 0.01 };

export interface BreakingPoint {
  phase: string;
  users: number;
  opsPerS: number;
  p99: number;
  errorRate: number;
  /** What broke: `p99`, `errors` or both. */
  reasons: ("p99" | "errors")[];
}

/**
 * The lowest load step (fewest users) whose p99 or error rate exceeds the thresholds; null when
 * none does. A phase without operations is not a step (nothing was measured there).
 */
export function breakingPoint(
  phases: readonly PhaseSummary[],
  thresholds: Thresholds,
): BreakingPoint | null {
  const steps = phases.filter((p) => p.operations > 0).sort((a, b) => a.users - b.users);
  for (const p of steps) {
    const reasons: BreakingPoint["reasons"] = [];
    if (p.p99 > thresholds.p99Ms) reasons.push("p99");
    if (p.errorRate > thresholds.errorRate) reasons.push("errors");
    if (reasons.length > 0) {
      return {
        phase: p.name,
        users: p.users,
        opsPerS: p.opsPerS,
        p99: p.p99,
        errorRate: p.errorRate,
        reasons,
      };
    }
  }
  return null;
}

export interface SecondPoint {
  /** Second of the run (bucket start). */
  second: number;
  opsPerS: number;
  errorsPerS: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  users: number;
}

/**
 * One point per `bucketMs` of the run from 0 to `endMs`: throughput (operations started in the
 * bucket), errors, latency percentiles (null in an empty bucket) and the active users at its
 * start (`usersAt`).
 */
export function timeSeries(
  samples: readonly Sample[],
  endMs: number,
  usersAt: (ms: number) => number,
  bucketMs = 1000,
): SecondPoint[] {
  const buckets = Math.max(1, Math.ceil(endMs / bucketMs));
  const groups: Sample[][] = Array.from({ length: buckets }, () => []);
  for (const s of samples) {
    const i = Math.floor(s.t / bucketMs);
    if (i >= 0 && i < buckets) groups[i].push(s);
  }
  const perS = 1000 / bucketMs;
  return groups.map((group, i) => {
    const list = sortedLatencies(group);
    const at = (q: number) => (list.length === 0 ? null : percentile(list, q));
    return {
      second: (i * bucketMs) / 1000,
      opsPerS: group.length * perS,
      errorsPerS: group.filter((s) => s.status !== "ok").length * perS,
      p50: at(0.5),
      p95: at(0.95),
      p99: at(0.99),
      users: usersAt(i * bucketMs),
    };
  });
}
