// The web of trust: every edge as a graph (members on a circle, an arrow per edge, darker for a
// higher score) and as a table, filtered by graph.
import { useMemo, useState } from "./vendor/preact-hooks.mjs";
import { getAll } from "./api.js";
import { Did, ErrorBox, Heading, html, Loading, TableBox, useLoad } from "./ui.js";

/** Most edges drawn; past this the view says the graph is cut. */
const edgesMax = 2000;
/** Most members drawn on the circle (labels would overlap long before). */
const nodesMax = 200;
const size = 400;
const radius = 160;

const graphs = ["all", "social", "economic", "technical"];

function layout(edges) {
  const dids = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort().slice(0, nodesMax);
  const place = new Map(
    dids.map((did, i) => {
      const angle = (2 * Math.PI * i) / dids.length - Math.PI / 2;
      return [did, {
        x: size / 2 + radius * Math.cos(angle),
        y: size / 2 + radius * Math.sin(angle),
      }];
    }),
  );
  return { dids, place };
}

function short(did) {
  return did.slice(-4);
}

function Graph({ edges }) {
  const { dids, place } = useMemo(() => layout(edges), [edges]);
  if (dids.length === 0) return html`<p class="muted">No trust edges in this graph yet.</p>`;
  return html`
    <figure class="trust-graph">
      <svg viewBox=${`0 0 ${size} ${size}`} role="img"
        aria-label=${`Trust graph: ${dids.length} members, ${edges.length} edges; the table below lists them`}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="16" refY="5" markerWidth="6" markerHeight="6"
              orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" /></marker>
          </defs>
          ${edges.filter((e) => place.has(e.from) && place.has(e.to)).map((e) => {
            const a = place.get(e.from);
            const b = place.get(e.to);
            return html`
              <line class="edge" x1=${a.x} y1=${a.y} x2=${b.x} y2=${b.y}
                stroke-opacity=${0.2 + 0.8 * Number(e.score)} stroke-width=${1 +
                  2 * Number(e.score)}
                marker-end="url(#arrow)">
                <title>${`${e.from} → ${e.to}: ${e.score} (${e.graph})`}</title>
              </line>
            `;
          })}
          ${dids.map((did) => {
            const p = place.get(did);
            return html`
              <a href=${`#/members/${encodeURIComponent(did)}`} aria-label=${did}>
                <circle class="node" cx=${p.x} cy=${p.y} r="9">
                  <title>${did}</title>
                </circle>
                <text class="node-label" x=${p.x} y=${p.y - 13} text-anchor="middle">${short(
                  did,
                )}</text>
              </a>
            `;
          })}
        </svg>
      <figcaption>Members are labelled by the last four characters of their DID; an arrow points from
          the member who trusts to the member trusted, darker and thicker for a higher score.</figcaption>
    </figure>
  `;
}

export function TrustView() {
  const [graph, setGraph] = useState("all");
  const edges = useLoad(
    (signal) =>
      getAll("trust/edges", { max: edgesMax, signal, query: graph === "all" ? {} : { graph } }),
    [graph],
  );
  const items = edges.data?.items ?? [];
  return html`<section>
    <${Heading} title="Trust" />
    <p>
      <label for="trust-graph">Graph</label>${" "}
      <select id="trust-graph" value=${graph} onChange=${(e) => setGraph(e.currentTarget.value)}>
        ${graphs.map((g) => html`<option value=${g}>${g}</option>`)}
      </select>
    </p>
    ${edges.error && html`<${ErrorBox} error=${edges.error} what="trust edges" />`}
    ${!edges.data && !edges.error && html`<${Loading} what="trust edges" />`}
    ${edges.data && html`<${Graph} edges=${items} />`}
    ${
    edges.data && !edges.data.complete &&
    html`<p class="notice">Only the first ${edgesMax} edges are shown.</p>`
  }
    ${
    items.length > 0 && html`
      <${TableBox} label="Trust edges">
        <table>
          <caption>Trust edges</caption>
          <thead>
            <tr>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Score</th>
              <th scope="col">Graph</th>
            </tr>
          </thead>
          <tbody>${items.map((e) =>
            html`
              <tr data-edge=${`${e.from}>${e.to}`}>
                <td>
                  <${Did} did=${e.from} />
                </td>
                <td>
                  <${Did} did=${e.to} />
                </td>
                <td class="num">${e.score}</td>
                <td>${e.graph}</td>
              </tr>
            `
          )}</tbody>
        </table>
        <//>
    `
  }
  </section>`;
}
