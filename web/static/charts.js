// Time-series charts drawn with uPlot (a canvas, so each chart also has a text summary for
// screen readers and the numbers are in a table beside it).
import { useEffect, useRef } from "./vendor/preact-hooks.mjs";
import uPlot from "./vendor/uplot.mjs";
import { html } from "./ui.js";

/** Narrowest and tallest a chart is drawn, in CSS pixels. */
const chartWidthMin = 260;
const chartHeight = 220;

function toData(points) {
  return [points.map((p) => p.t / 1000), points.map((p) => p.y)];
}

/**
 * A line chart of `points` ([{t: ms, y: number}], oldest first) labelled `label`; `stepped`
 * draws a balance that holds its value between transfers.
 */
export function LineChart({ label, points, unit = "", stepped = false }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const width = () => Math.max(chartWidthMin, element.clientWidth);
    const options = {
      width: width(),
      height: chartHeight,
      legend: { show: false },
      cursor: { show: true, drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: "currentColor", grid: { stroke: "rgba(127,127,127,0.25)" } },
        {
          stroke: "currentColor",
          grid: { stroke: "rgba(127,127,127,0.25)" },
          label: unit,
        },
      ],
      series: [
        {},
        {
          label,
          stroke: "#1f6feb",
          width: 2,
          fill: "rgba(31,111,235,0.12)",
          paths: stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
        },
      ],
    };
    plot.current = new uPlot(options, toData(points), element);
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: width(), height: chartHeight })
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [label, unit, stepped]);
  useEffect(() => plot.current?.setData(toData(points)), [points]);
  const last = points.at(-1);
  const summary = points.length === 0
    ? `${label}: no data yet`
    : `${label}: ${points.length} points, latest ${last.y}${unit ? ` ${unit}` : ""}, ` +
      `lowest ${Math.min(...points.map((p) => p.y))}, highest ${
        Math.max(...points.map((p) => p.y))
      }`;
  return html`
    <figure class="chart">
      <div ref=${box} class="chart-canvas" role="img" aria-label=${summary}></div>
      <figcaption>${summary}</figcaption>
    </figure>
  `;
}
