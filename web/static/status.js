// The node: its networks with peers and sync lag, and the envelopes it accepts as they commit.
import { useEffect, useState } from "./vendor/preact-hooks.mjs";
import { api, ApiError, currentNetwork, readEvents } from "./api.js";
import { LineChart } from "./charts.js";
import { Did, ErrorBox, Heading, html, Loading, TableBox, when } from "./ui.js";

/** How often the status view refreshes, and how many refreshes the envelope-rate chart keeps. */
const statusRefreshMs = 3_000;
const ratePointsMax = 60;
/** Most recent envelopes listed under "Latest envelopes". */
const recentMax = 10;

function count(value) {
  if (Array.isArray(value)) return value.length;
  return typeof value === "number" ? value : "—";
}

/**
 * The node's status, refreshed every `statusRefreshMs`, and envelopes accepted per second
 * between refreshes (the last `ratePointsMax`).
 */
function useStatus() {
  const [view, setView] = useState({ data: undefined, error: undefined, points: [] });
  useEffect(() => {
    const controller = new AbortController();
    let last = null;
    let points = [];
    let timer;
    const refresh = async () => {
      try {
        const data = await api("status", { signal: controller.signal });
        const now = Date.now();
        if (last && data.envelopes >= last.envelopes && now > last.at) {
          const rate = ((data.envelopes - last.envelopes) * 1000) / (now - last.at);
          points = [...points, { t: now, y: Math.round(rate * 100) / 100 }].slice(-ratePointsMax);
        }
        last = { envelopes: data.envelopes, at: now };
        setView({ data, error: undefined, points });
      } catch (error) {
        if (controller.signal.aborted) return;
        setView((v) => ({ ...v, error }));
        // Not allowed to read (signed out on a node without public reads): asking again every
        // few seconds would only be refused again.
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
      }
      if (!controller.signal.aborted) timer = setTimeout(refresh, statusRefreshMs);
    };
    refresh();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, []);
  return view;
}

/** The latest envelopes from the event stream, newest first; `state`: connecting | live | failed. */
function useLatest() {
  const [view, setView] = useState({ state: "connecting", recent: [], error: undefined });
  useEffect(() => {
    const controller = new AbortController();
    let recent = [];
    // since=-1 would replay the whole log: start from now, the status view is about what happens.
    readEvents("events", {
      signal: controller.signal,
      onEvent: (message) => {
        if (message.event !== "envelope") return;
        try {
          recent = [JSON.parse(message.data), ...recent].slice(0, recentMax);
        } catch {
          return;
        }
        setView({ state: "live", recent, error: undefined });
      },
    }).then(
      () => !controller.signal.aborted && setView((v) => ({ ...v, state: "ended" })),
      (error) => !controller.signal.aborted && setView((v) => ({ ...v, state: "failed", error })),
    );
    setView((v) => ({ ...v, state: "live" }));
    return () => controller.abort();
  }, []);
  return view;
}

/**
 * The networks the node serves, each cooperative by its name; "shown here" marks the one the
 * other views read (the picker's choice, else the home network).
 */
function Networks({ networks, home, cooperatives }) {
  const names = new Map((cooperatives ?? []).map((n) => [n.id, n.name]));
  const shown = currentNetwork() ?? home;
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
            <th scope="col">Peers</th>
            <th scope="col">Sync lag</th>
            <th scope="col">Envelopes</th>
          </tr>
        </thead>
        <tbody>${networks.map((n) =>
          html`
            <tr data-net=${n.id}>
              <th scope="row">${names.has(n.id) ? `${names.get(n.id)} ` : ""}<code class="id"
                title=${n.id}>${n.id.slice(0, 12)}…${n.id.slice(-6)}</code>
                      ${n.id === shown
                        ? html`
                          <span class="tag">shown here</span>
                        `
                        : ""}</th>
              <td class="num" data-peers>${n.peers}</td>
              <td class="num">${n.syncLag}</td>
              <td class="num">${n.envelopes}</td>
            </tr>
          `
        )}</tbody>
      </table>
      <//>
  `;
}

export function StatusView() {
  const status = useStatus();
  const latest = useLatest();
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
          <${Did} did=${data.did} link=${false} />
        </dd>
        <dt>Version</dt>
        <dd>${data.version}</dd>
        <dt>Ready</dt>
        <dd data-testid="ready">${data.ready ? "yes" : "no (catching up)"}</dd>
        <dt>Envelopes</dt>
        <dd data-testid="envelopes">${data.envelopes}</dd>
        <dt>Peers</dt>
        <dd data-testid="peers">${count(data.peers)}</dd>
        <dt>Sync lag</dt>
        <dd data-testid="sync-lag">${data.syncLag}</dd>
      </dl>
      <h2>Networks</h2>
      <${Networks}
        networks=${data.networks}
        home=${data.net}
        cooperatives=${data.cooperatives}
      />
    `
  }
    <h2>Envelopes per second</h2>
    <${LineChart} label="Envelopes accepted per second" points=${status.points} />
    <h2>Latest envelopes</h2>
    ${
    latest.state === "failed" && html`<${ErrorBox} error=${latest.error} what="the event stream" />`
  }
    ${
    latest.recent.length === 0
      ? html`<p class="muted">None since this page opened.</p>`
      : html`<ul class="events">${
        latest.recent.map((e) =>
          html`<li><code>${e.kind}</code> by <${Did} did=${e.author} /> #${e.seq} at ${
            when(e.ts)
          }</li>`
        )
      }</ul>`
  }
  </section>`;
}
