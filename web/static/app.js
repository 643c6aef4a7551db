// The icn dashboard: a Preact app with hash routes, served by the node's gateway at `/`.
import { render } from "./vendor/preact.mjs";
import { useEffect, useState } from "./vendor/preact-hooks.mjs";
import {
  api,
  ApiError,
  chooseNetwork,
  currentNetwork,
  dropSession,
  servedNetworks,
  session,
  setServed,
  severalNetworks,
} from "./api.js";
import { forgetKey, heldKey } from "./keys.js";
import { MembersView, MemberView } from "./members.js";
import { ProposalsView, ProposalView } from "./proposals.js";
import { SignInView } from "./signin.js";
import { StatusView } from "./status.js";
import { TrustView } from "./trust.js";
import { Did, ErrorBox, Heading, html, keepFocus, Loading, TableBox, useLoad } from "./ui.js";

const nav = [
  ["#/", "Status"],
  ["#/members", "Members"],
  ["#/proposals", "Proposals"],
  ["#/trust", "Trust"],
  ["#/federation", "Federation"],
];

/** The route in the hash (`#/members/did:…` → ["members", "did:…"]); other hashes keep the last. */
function parseRoute(hash, previous) {
  if (!hash || hash === "#") return [""];
  if (!hash.startsWith("#/")) return previous ?? [""];
  return hash.slice(2).split("/").map((part) => decodeURIComponent(part));
}

function useRoute() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute((previous) => parseRoute(location.hash, previous));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** Re-renders when the session or the held key changes (sign-in, sign-out, expiry). */
function useSession() {
  const [, setRound] = useState(0);
  useEffect(() => {
    const onChange = () => setRound((r) => r + 1);
    addEventListener("icn-session", onChange);
    return () => removeEventListener("icn-session", onChange);
  }, []);
  return session();
}

/**
 * Federation positions: the node's status lists the federation networks it serves
 * (`federation`, empty where none), and each one's pairs are read from
 * `GET /api/v1/federation/positions?net=ID` (the rows of `icn federation positions --json`).
 */
function FederationView() {
  const positions = useLoad(async (signal) => {
    const status = await api("status", { signal });
    const served = Array.isArray(status.federation) ? status.federation : [];
    if (served.length === 0) return null;
    return await Promise.all(served.map(async (fed) => {
      const items = [];
      let next = null;
      // Bounded: at most 20 pages of 200 pairs per federation.
      for (let round = 0; round < 20; round++) {
        const query = new URLSearchParams({ net: fed.id, limit: "200" });
        if (next) query.set("cursor", next);
        const page = await api(`federation/positions?${query}`, { signal });
        items.push(...page.items);
        next = page.next;
        if (!next) return { ...page, items };
      }
      return { net: fed.id, name: fed.name, currency: "", items };
    }));
  }, []);
  const notHere = positions.data === null ||
    (positions.error instanceof ApiError && positions.error.status === 404);
  const federations = positions.data ?? [];
  return html`<section>
    <${Heading} title="Federation" />
    ${
    notHere && html`<p class="notice" data-testid="federation-unavailable">
      Federation positions are not available on this node.</p>`
  }
    ${
    positions.error && !notHere &&
    html`<${ErrorBox} error=${positions.error} what="federation positions" />`
  }
    ${positions.loading && html`<${Loading} what="federation positions" />`}
    ${
    federations.map((fed) =>
      fed.items.length === 0
        ? html`<p class="muted">No positions between cooperatives of ${fed.name} yet.</p>`
        : html`
          <${TableBox} label=${`Positions in ${fed.name}`}>
            <table>
              <caption>Positions between cooperatives of ${fed.name} (${fed.currency})</caption>
              <thead>
                <tr>
                  <th scope="col">Cooperatives</th>
                  <th scope="col">Who owes whom</th>
                  <th scope="col">Owed</th>
                  <th scope="col">Limit</th>
                  <th scope="col">Used</th>
                </tr>
              </thead>
              <tbody>${fed.items.map((p) => {
                const nameOf = (net) => p.names[p.coops.indexOf(net)] ?? net;
                return html`
                  <tr>
                    <th scope="row">${p.names[0]} – ${p.names[1]}</th>
                    <td>${p.debtor === null
                      ? "even"
                      : `${nameOf(p.debtor)} owes ${nameOf(p.creditor)}`}</td>
                    <td class="num">${p.owed}</td>
                    <td class="num">${p.limit ?? "no agreement"}</td>
                    <td class="num">${p.use === null ? "–" : `${p.use}%`}</td>
                  </tr>
                `;
              })}</tbody>
            </table>
            <//>
        `
    )
  }
  </section>`;
}

function NotFound() {
  return html`
    <section>
      <${Heading} title="Not found" />
      <p>There is no such page. <a href="#/">Back to the node's status</a>.</p>
    </section>
  `;
}

function View({ route }) {
  const [top, arg] = route;
  switch (top) {
    case "":
      return html`<${StatusView} />`;
    case "members":
      return arg ? html`<${MemberView} did=${arg} key=${arg} />` : html`<${MembersView} />`;
    case "proposals":
      return arg ? html`<${ProposalView} id=${arg} key=${arg} />` : html`<${ProposalsView} />`;
    case "trust":
      return html`<${TrustView} />`;
    case "federation":
      return html`<${FederationView} />`;
    case "signin":
      return html`<${SignInView} />`;
    default:
      return html`<${NotFound} />`;
  }
}

function Account({ current }) {
  if (!current) return html`<a class="account" href="#/signin">Sign in</a>`;
  const signOut = () => {
    forgetKey();
    dropSession({ all: true });
  };
  return html`<span class="account">
    <a href=${`#/members/${encodeURIComponent(current.did)}`}>My account</a>
    ${" "}<${Did} did=${current.did} link=${false} />${heldKey() ? "" : " (read only)"}
    ${" "}<button type="button" class="link" onClick=${signOut}>Sign out</button>
  </span>`;
}

/** How often the list of served networks is read again (a network joined or left). */
const networksRefreshMs = 60_000;

/**
 * Reads the node's status once before the views start, so a network chosen earlier in this tab
 * is used from the first request, and again on sign-in and every `networksRefreshMs`. A status
 * that cannot be read (reads need sign-in) leaves the page as on a single-network node.
 */
function useNetworks() {
  const [state, setState] = useState({ ready: false, round: 0 });
  useEffect(() => {
    let stopped = false;
    let timer;
    const controller = new AbortController();
    let reading = false; // one read at a time, so there is only ever one timer
    const read = async () => {
      if (reading) return;
      reading = true;
      try {
        setServed(await api("status", { signal: controller.signal }));
      } catch {
        if (controller.signal.aborted) return;
        // A refresh that fails keeps the list it had: the chosen network stays chosen.
        if (servedNetworks() === null) setServed(null);
      } finally {
        reading = false;
      }
      if (stopped) return;
      clearTimeout(timer);
      setState((s) => ({ ready: true, round: s.round + 1 }));
      timer = setTimeout(read, networksRefreshMs);
    };
    read();
    const onSession = () => {
      if (!servedNetworks() && session()) {
        clearTimeout(timer);
        read();
      }
    };
    addEventListener("icn-session", onSession);
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
      removeEventListener("icn-session", onSession);
    };
  }, []);
  return state.ready;
}

/**
 * The network picker, on a node that serves several cooperatives: a labelled select. Changing
 * it reloads every view on that network (`?net=ID`) with that network's own sign-in.
 */
function NetworkPicker({ net }) {
  if (!severalNetworks()) return null;
  const onChange = (event) => {
    keepFocus();
    chooseNetwork(event.currentTarget.value);
    // A member or proposal of one network is not one of the other: back to the list.
    const route = parseRoute(location.hash);
    if (route.length > 1 && route[0] !== "signin") location.hash = `#/${route[0]}`;
  };
  return html`
    <div class="network">
      <label for="network">Network</label>
      <select id="network" name="network" value=${net} onChange=${onChange}>
          ${servedNetworks().map((n) =>
            html`<option value=${n.id}>${n.name} (${short(n.id)})</option>`
          )}
        </select>
    </div>
  `;
}

/** A network id is long: its first characters tell two apart. */
function short(id) {
  return id.length > 12 ? `${id.slice(0, 10)}…` : id;
}

function App() {
  const route = useRoute();
  const current = useSession();
  const ready = useNetworks();
  const [, setRound] = useState(0);
  useEffect(() => {
    const onChange = () => setRound((r) => r + 1);
    addEventListener("icn-network", onChange);
    return () => removeEventListener("icn-network", onChange);
  }, []);
  const net = currentNetwork();
  const here = `#/${route[0]}`;
  return html`
    <header class="top">
      <a class="brand" href="#/">icn</a>
      <nav aria-label="Main">
        <ul>${nav.map(([href, label]) =>
          html`<li><a href=${href} aria-current=${
            href === here ? "page" : undefined
          }>${label}</a></li>`
        )}</ul>
      </nav>
      ${ready && html`<${NetworkPicker} net=${net} />`}
      <${Account} current=${current} />
    </header>
    <main id="main" tabindex="-1">
      ${ready
        ? html`<${View} route=${route} key=${net ?? ""} />`
        : html`<${Loading} what="the node" />`}
    </main>
    <footer class="muted">Everything here is also in the CLI: <code>icn --help</code>.</footer>
  `;
}

// The skip link focuses the main region without changing the route in the hash.
document.querySelector(".skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main")?.focus();
});

render(html`<${App} />`, document.getElementById("app"));
