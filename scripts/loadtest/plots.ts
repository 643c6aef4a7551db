/**
 * The report's figures as Vega-Lite specifications, compiled by `vega-lite` and rendered to SVG
 * by `vega` headless (no canvas): throughput over time, latency over time, latency histogram.
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { PhaseWindow, Sample, SecondPoint } from "./stats.ts";

const width = 640;
const height = 220;

function phaseRules(windows: readonly PhaseWindow[]) {
  return {
    data: { values: windows.map((w) => ({ second: w.start / 1000, phase: w.name })) },
    mark: { type: "rule", strokeDash: [4, 4], color: "#888" },
    encoding: { x: { field: "second", type: "quantitative" } },
  };
}

/** Operations/s, failed operations/s and active members per second. */
export function throughputSpec(
  series: readonly SecondPoint[],
  windows: readonly PhaseWindow[],
  title: string,
): TopLevelSpec {
  const values = series.flatMap((p) => [
    { second: p.second, value: p.opsPerS, series: "operations/s" },
    { second: p.second, value: p.errorsPerS, series: "failed operations/s" },
    { second: p.second, value: p.users, series: "active members" },
  ]);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width,
    height,
    layer: [
      {
        data: { values },
        mark: { type: "line", interpolate: "step-after" },
        encoding: {
          x: { field: "second", type: "quantitative", title: "time (s)" },
          y: { field: "value", type: "quantitative", title: "per second / members" },
          color: { field: "series", type: "nominal", title: null },
        },
      },
      phaseRules(windows),
    ],
  } as TopLevelSpec;
}

/** p50, p95 and p99 of operation latency per second. */
export function latencySpec(
  series: readonly SecondPoint[],
  windows: readonly PhaseWindow[],
  title: string,
): TopLevelSpec {
  const values = series.flatMap((p) =>
    (["p50", "p95", "p99"] as const)
      .filter((q) => p[q] !== null)
      .map((q) => ({ second: p.second, ms: p[q], percentile: q }))
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width,
    height,
    layer: [
      {
        data: { values },
        mark: { type: "line", point: false },
        encoding: {
          x: { field: "second", type: "quantitative", title: "time (s)" },
          y: { field: "ms", type: "quantitative", title: "latency (ms)" },
          color: { field: "percentile", type: "nominal", title: null, sort: ["p50", "p95", "p99"] },
        },
      },
      phaseRules(windows),
    ],
  } as TopLevelSpec;
}

/** How many operations took how long, stacked by operation (successful and failed alike). */
export function histogramSpec(samples: readonly Sample[], title: string): TopLevelSpec {
  const values = samples.map((s) => ({ ms: Math.round(s.ms * 100) / 100, op: s.op }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width,
    height,
    data: { values },
    mark: "bar",
    encoding: {
      x: { field: "ms", type: "quantitative", bin: { maxbins: 50 }, title: "latency (ms)" },
      y: { aggregate: "count", type: "quantitative", title: "operations" },
      color: { field: "op", type: "nominal", title: "operation" },
    },
  } as TopLevelSpec;
}

/** Compiles a Vega-Lite spec and renders it to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
