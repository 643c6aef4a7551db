// The web of trust: every current edge as a graph (members on a circle, an arrow per edge, darker
// for a higher score) and as a table, filtered by graph. The edges are folded from the node's
// event stream of trust.edge envelopes, replayed from the start of its log and then live, the
// same fold the node makes: the latest edge per (truster, trusted, graph) wins, score 0 revokes,
// an edge past its expiry is gone.
import { useEffect, useMemo, useState } from "./vendor/preact-hooks.mjs";
import { readEvents } from "./api.js";
import { Did, ErrorBox, Heading, html, TableBox } from "./ui.js";

/** Most edges kept; past this the view says the graph is cut. */
const edgesMax = 2000;
/** A score is in thousandths (core/trust/edge.ts, scoreScale). */
const scoreScale = 1000;
/** Fewest milliseconds between redraws while the log replays. */
const redrawMs = 250;
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
      <svg viewBox=${`0 0 ${size} ${size}`} role="group"
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
              <a href=${`#/members/${encodeURIComponent(did)}`}>
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

/** The current edges, folded from the event stream; `{edges, state, error, cut}`. */
function useEdges() {
  const [view, setView] = useState({ edges: [], state: "loading", error: undefined, cut: false });
  useEffect(() => {
    const controller = new AbortController();
    const edges = new Map();
    let cut = false;
    let timer;
    let failed = false;
    const publish = (state) => {
      clearTimeout(timer);
      timer = undefined;
      if (failed) return;
      const now = Date.now();
      const live = [...edges.values()].filter((e) => !(e.expires && e.expires <= now));
      setView({ edges: live, state, error: undefined, cut });
    };
    readEvents("events?kind=trust.edge&since=-1", {
      signal: controller.signal,
      onEvent: (message) => {
        if (message.event !== "envelope") return;
        let event;
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
        const body = event.body ?? {};
        const key = `${event.author} ${body.to} ${body.graph}`;
        if (body.score === 0) edges.delete(key);
        else if (edges.has(key) || edges.size < edgesMax) {
          edges.set(key, {
            from: event.author,
            to: body.to,
            graph: body.graph,
            score: body.score / scoreScale,
            expires: body.expires,
          });
        } else cut = true;
        timer ??= setTimeout(() => publish("live"), redrawMs);
      },
    }).then(
      () => !controller.signal.aborted && publish("ended"),
      (error) => {
        if (controller.signal.aborted) return;
        failed = true;
        clearTimeout(timer);
        setView((v) => ({ ...v, state: "failed", error }));
      },
    );
    // The replay of an empty log sends nothing: show an empty graph rather than "loading".
    timer = setTimeout(() => publish("live"), redrawMs);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, []);
  return view;
}

export function TrustView() {
  const [graph, setGraph] = useState("all");
  const all = useEdges();
  const items = useMemo(
    () =>
      all.edges
        .filter((e) => graph === "all" || e.graph === graph)
        .sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to)),
    [all.edges, graph],
  );
  return html`<section>
    <${Heading} title="Trust" />
    <p>
      <label for="trust-graph">Graph</label>${" "}
      <select id="trust-graph" value=${graph} onChange=${(e) => setGraph(e.currentTarget.value)}>
        ${graphs.map((g) => html`<option value=${g}>${g}</option>`)}
      </select>
    </p>
    ${all.error && html`<${ErrorBox} error=${all.error} what="trust edges" />`}
    ${all.state === "loading" && html`<p class="muted" role="status">Loading trust edges…</p>`}
    ${all.state !== "loading" && !all.error && html`<${Graph} edges=${items} />`}
    ${all.cut && html`<p class="notice">Only the first ${edgesMax} edges are shown.</p>`}
    ${
    items.length > 0 && html`
      <${TableBox} label="Trust edges">
        <table class="edges">
          <caption>Trust edges (${items.length})</caption>
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
              <tr data-edge=${`${e.from} ${e.to} ${e.graph}`} data-score=${e.score}>
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
