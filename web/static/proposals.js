// Proposals with their tallies and time left, one proposal's votes, and the vote form.
import { useEffect, useState } from "./vendor/preact-hooks.mjs";
import { api, session } from "./api.js";
import { heldKey } from "./keys.js";
import {
  Did,
  ErrorBox,
  Heading,
  html,
  Loading,
  More,
  TableBox,
  timeLeft,
  useLoad,
  usePaged,
  when,
} from "./ui.js";
import { submitSigned } from "./write.js";

/** How often "time left" is recomputed. */
const clockTickMs = 30_000;

function useNow() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), clockTickMs);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/** for / against / abstain as a bar, with the numbers in text beside it. */
function TallyBar({ tally }) {
  if (!tally) return html`<span class="muted">—</span>`;
  const total = Math.max(1, tally.eligible ?? tally.cast ?? 1);
  const part = (n, cls) =>
    // Set through the CSSOM (element.style), which a CSP without 'unsafe-inline' allows.
    n > 0
      ? html`<span class=${`bar-${cls}`} style=${{
        width: `${Math.round((100 * n) / total)}%`,
      }}></span>`
      : null;
  return html`
    <span class="tally">
      <span class="bar" aria-hidden="true">${part(tally.for, "for")}${part(
        tally.against,
        "against",
      )}${part(tally.abstain, "abstain")}</span>
      <span class="tally-text" data-tally=${`${tally.for}/${tally.against}/${tally.abstain}`}>
          ${tally.for} for, ${tally.against} against, ${tally.abstain} abstain
          (${tally.cast} of ${tally.eligible} cast${tally.required
            ? `, ${tally.required} needed`
            : ""})
        </span>
    </span>
  `;
}

export function ProposalsView() {
  const list = usePaged("proposals");
  const now = useNow();
  return html`<section>
    <${Heading} title="Proposals" />
    ${
    list.error && !list.items.length && html`<${ErrorBox} error=${list.error} what="proposals" />`
  }
    ${list.loading && !list.items.length && html`<${Loading} what="proposals" />`}
    ${
    !list.loading && !list.error && !list.items.length &&
    html`<p class="muted">No proposals yet.</p>`
  }
    ${
    list.items.length > 0 && html`
      <${TableBox} label="Proposals">
        <table class="proposals">
          <caption>Proposals, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">State</th>
              <th scope="col">Tally</th>
              <th scope="col">Time left</th>
            </tr>
          </thead>
          <tbody>${list.items.map((p) =>
            html`
              <tr data-proposal=${p.id}>
                <th scope="row"><a href=${`#/proposals/${encodeURIComponent(p.id)}`}>${p.title}</a>
                          <span class="muted"> (${p.kind})</span></th>
                <td data-state>${p.state}</td>
                <td>
                  <${TallyBar} tally=${p.tally ??
                    { for: 0, against: 0, abstain: 0, cast: p.cast, eligible: p.eligible }} />
                </td>
                <td>${p.state === "Open" ? timeLeft(p.closes, now) : "—"}</td>
              </tr>
            `
          )}</tbody>
        </table>
        <//>
    `
  }
    <${More} list=${list} what="proposals" />
  </section>`;
}

function VoteForm({ id, onVoted }) {
  const [state, setState] = useState({ busy: false, receipt: null, error: null });
  const key = heldKey();
  const current = session();
  // The key in this tab votes only as the member signed in to this network.
  if (!key || (current && current.did !== key.did)) {
    return html`<p class="muted">To vote, <a href="#/signin">sign in with your key in this tab</a>.</p>`;
  }
  const onSubmit = async (event) => {
    event.preventDefault();
    const choice = new FormData(event.currentTarget).get("choice");
    if (!choice) {
      setState({ busy: false, receipt: null, error: new Error("Choose for, against or abstain") });
      return;
    }
    setState({ busy: true, receipt: null, error: null });
    try {
      const receipt = await submitSigned("gov.vote", { proposal: id, choice: String(choice) });
      setState({ busy: false, receipt, error: null });
      onVoted();
    } catch (error) {
      setState({ busy: false, receipt: null, error });
    }
  };
  const scoped = !current?.scopes || current.scopes.includes("gov:vote");
  return html`<form class="card" onSubmit=${onSubmit}>
    <fieldset disabled=${state.busy}>
      <legend>Your vote as <${Did} did=${key.did} link=${false} /></legend>
      ${
    ["for", "against", "abstain"].map((choice) =>
      html`<label class="choice"><input type="radio" name="choice" value=${choice} /> ${choice}</label>`
    )
  }
      <button type="submit">${state.busy ? "Signing…" : "Sign and vote"}</button>
    </fieldset>
    ${
    !scoped &&
    html`<p class="notice">Your sign-in lacks the gov:vote scope; sign in again with it.</p>`
  }
    ${state.error && html`<p class="error" role="alert">Vote refused: ${state.error.message}</p>`}
    ${
    state.receipt && html`<p class="ok" role="status" data-receipt=${state.receipt.id}>
      Vote ${state.receipt.outcome.status}: receipt <code>${state.receipt.id}</code></p>`
  }
  </form>`;
}

export function ProposalView({ id }) {
  const proposal = useLoad((signal) => api(`proposals/${encodeURIComponent(id)}`, { signal }), [
    id,
  ]);
  const now = useNow();
  const p = proposal.data;
  return html`<section>
    <${Heading} title=${p?.title ?? "Proposal"} />
    <p><a href="#/proposals">All proposals</a></p>
    ${proposal.error && html`<${ErrorBox} error=${proposal.error} what="the proposal" />`}
    ${!p && !proposal.error && html`<${Loading} what="the proposal" />`}
    ${
    p && html`
      <dl class="facts">
        <dt>State</dt>
        <dd data-testid="state">${p.state}</dd>
        <dt>Kind</dt>
        <dd>${p.kind}</dd>
        <dt>Author</dt>
        <dd>
          <${Did} did=${p.author} />
        </dd>
        <dt>Opened</dt>
        <dd>${when(p.opened)}</dd>
        <dt>Closes</dt>
        <dd>${when(p.closes)} (${timeLeft(p.closes, now)})</dd>
        <dt>Tally</dt>
        <dd>
          <${TallyBar} tally=${p.tally} />
        </dd>
      </dl>
          ${p.text && html`
            <h2>Text</h2>
            <p class="prose">${p.text}</p>
          `}
          ${p.state === "Open" && html`<${VoteForm} id=${p.id ?? id} onVoted=${proposal.reload} />`}
          <h2>Votes</h2>
          ${(p.votes ?? []).length === 0 ? html`<p class="muted">No votes yet.</p>` : html`
            <${TableBox} label="Votes">
              <table>
                <caption>Votes cast</caption>
                <thead>
                  <tr>
                    <th scope="col">Member</th>
                    <th scope="col">Choice</th>
                    <th scope="col">Via</th>
                  </tr>
                </thead>
                <tbody>${p.votes.map((v) =>
                  html`
                    <tr data-voter=${v.voter ?? v.did}>
                      <th scope="row">
                        <${Did} did=${v.voter ?? v.did} />
                      </th>
                      <td data-choice>${v.choice}</td>
                      <td>${v.via ? html`<${Did} did=${v.via} />` : "direct"}</td>
                    </tr>
                  `
                )}</tbody>
              </table>
              <//>
          `}
    `
  }
  </section>`;
}
