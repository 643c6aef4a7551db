// The node: its networks with peers and sync lag, and the envelopes it accepts as they commit.
import { useEffect, useState } from "./vendor/preact-hooks.mjs";
import { api, apiBase, session } from "./api.js";
import { LineChart } from "./charts.js";
import { Did, ErrorBox, Heading, html, Loading, TableBox, useLoad, when } from "./ui.js";

/** How often the status view refreshes, and how much of the event rate the chart keeps. */
const statusRefreshMs = 5_000;
const rateWindowSeconds = 120;
/** Most recent envelopes listed under "Latest envelopes". */
const recentMax = 10;

function count(value) {
  if (Array.isArray(value)) return value.length;
  return typeof value === "number" ? value : "—";
}

function lag(network) {
  const value = network.syncLag ?? network.lag ?? network.sync?.lag;
  if (value === undefined || value === null) return "—";
  return typeof value === "number" ? `${value}` : JSON.stringify(value);
}

/**
 * Envelopes per second from the event stream, counted per second over the last
 * `rateWindowSeconds`, and the latest envelopes. `state` is connecting | live | unavailable.
 */
function useEventRate() {
  const [view, setView] = useState({ state: "connecting", points: [], recent: [] });
  useEffect(() => {
    const counts = new Map();
    let recent = [];
    const url = new URL("events", apiBase);
    const current = session();
    if (current) url.searchParams.set("access_token", current.token);
    const source = new EventSource(url);
    let state = "connecting";
    source.onopen = () => (state = "live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) state = "unavailable";
    };
    const onEnvelope = (event) => {
      const second = Math.floor(Date.now() / 1000);
      counts.set(second, (counts.get(second) ?? 0) + 1);
      try {
        recent = [JSON.parse(event.data), ...recent].slice(0, recentMax);
      } catch {
        // not JSON: counted, not listed
      }
    };
    source.addEventListener("envelope", onEnvelope);
    source.onmessage = onEnvelope;
    const tick = setInterval(() => {
      const now = Math.floor(Date.now() / 1000);
      for (const second of counts.keys()) {
        if (second < now - rateWindowSeconds) counts.delete(second);
      }
      const points = [];
      for (let s = now - 60; s < now; s++) points.push({ t: s * 1000, y: counts.get(s) ?? 0 });
      setView({ state, points, recent });
    }, 1000);
    return () => {
      clearInterval(tick);
      source.close();
    };
  }, []);
  return view;
}

function Networks({ networks }) {
  if (!Array.isArray(networks) || networks.length === 0) {
    return html`<p class="muted">This node serves no network yet.</p>`;
  }
  return html`
    <${TableBox} label="Networks">
      <table>
        <caption>Networks this node serves</caption>
        <thead>
          <tr>
            <th scope="col">Network</th>
            <th scope="col">Id</th>
            <th scope="col">Peers</th>
            <th scope="col">Sync lag</th>
            <th scope="col">Envelopes</th>
          </tr>
        </thead>
        <tbody>${networks.map((n) =>
          html`
            <tr data-net=${n.net ?? n.id}>
              <th scope="row">${n.name ?? "—"}</th>
              <td><code class="id" title=${n.net ?? n.id}>${String(n.net ?? n.id ?? "").slice(
                0,
                16,
              )}…</code></td>
              <td data-peers>${count(n.peers)}</td>
              <td>${lag(n)}</td>
              <td>${n.envelopes ?? "—"}</td>
            </tr>
          `
        )}</tbody>
      </table>
      <//>
  `;
}

export function StatusView() {
  const status = useLoad((signal) => api("status", { signal }), []);
  const rate = useEventRate();
  useEffect(() => {
    const timer = setInterval(status.reload, statusRefreshMs);
    return () => clearInterval(timer);
  }, []);
  const data = status.data;
  return html`<section>
    <${Heading} title="Node status" />
    ${status.error && html`<${ErrorBox} error=${status.error} what="the node's status" />`}
    ${!data && !status.error && html`<${Loading} what="status" />`}
    ${
    data && html`
      <dl class="facts">
        <dt>Node</dt>
        <dd>
          <${Did} did=${data.did ?? data.node?.did} link=${false} />
        </dd>
        <dt>Version</dt>
        <dd>${data.version ?? "—"}</dd>
        <dt>Up since</dt>
        <dd>${when(data.started ?? data.since)}</dd>
        <dt>Envelopes</dt>
        <dd data-testid="envelopes">${data.envelopes ?? "—"}</dd>
        <dt>Peers</dt>
        <dd data-testid="peers">${count(data.peers)}</dd>
      </dl>
      <h2>Networks</h2>
      <${Networks} networks=${data.networks} />
    `
  }
    <h2>Envelopes per second</h2>
    ${
    rate.state === "unavailable"
      ? html`<p class="muted">The live event stream is not available.</p>`
      : html`<${LineChart} label="Envelopes accepted per second (last minute)" points=${rate.points} />`
  }
    <h2>Latest envelopes</h2>
    ${
    rate.recent.length === 0
      ? html`<p class="muted">None since this page opened.</p>`
      : html`<ul class="events">${
        rate.recent.map((e) =>
          html`<li><code>${e.kind}</code> by <${Did} did=${e.author} /> #${e.seq}</li>`
        )
      }</ul>`
  }
  </section>`;
}
