// Members with their balances, one member's account (history, balance over time, trust), and
// the signed-in member's payment form.
import { useMemo, useRef, useState } from "./vendor/preact-hooks.mjs";
import { api, getAll, session } from "./api.js";
import { LineChart } from "./charts.js";
import { balancePoints, decimalsOf, toMinor } from "./format.js";
import { heldKey } from "./keys.js";
import {
  Did,
  ErrorBox,
  Heading,
  html,
  Loading,
  More,
  TableBox,
  useLoad,
  usePaged,
  when,
} from "./ui.js";
import { submitSigned, transferId } from "./write.js";

/** Most balances read at once to join with the member list. */
const balancesMax = 1000;

function balanceText(b) {
  return b ? `${b.balance} ${b.currency}` : "—";
}

export function MembersView() {
  const members = usePaged("members");
  const balances = useLoad((signal) => getAll("balances", { max: balancesMax, signal }), []);
  const byDid = useMemo(() => {
    const map = new Map();
    for (const b of balances.data?.items ?? []) if (!map.has(b.did)) map.set(b.did, b);
    return map;
  }, [balances.data]);
  const me = session()?.did;
  return html`<section>
    <${Heading} title="Members" />
    ${
    members.error && !members.items.length &&
    html`<${ErrorBox} error=${members.error} what="members" />`
  }
    ${balances.error && html`<${ErrorBox} error=${balances.error} what="balances" />`}
    ${members.loading && !members.items.length && html`<${Loading} what="members" />`}
    ${
    members.items.length > 0 && html`
      <${TableBox} label="Members">
        <table class="members">
          <caption>Members and balances${members.body?.total !== undefined
            ? ` (${members.body.total})`
            : ""}</caption>
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Balance</th>
              <th scope="col">Limit</th>
              <th scope="col">Role</th>
            </tr>
          </thead>
          <tbody>${members.items.map((m) => {
            const b = byDid.get(m.did);
            return html`
              <tr data-did=${m.did}>
                <th scope="row"><${Did} did=${m.did} />${m.did === me
                  ? html`
                    <span class="tag">you</span>
                  `
                  : ""}</th>
                <td class="num" data-balance=${b?.balance ?? ""}>${balanceText(b)}</td>
                <td class="num">${b?.limit ?? "—"}</td>
                <td>${m.founder ? "founder" : "member"}</td>
              </tr>
            `;
          })}</tbody>
        </table>
        <//>
    `
  }
    <${More} list=${members} what="members" />
  </section>`;
}

function History({ did }) {
  const history = usePaged(`accounts/${encodeURIComponent(did)}/history`);
  const points = useMemo(() => balancePoints(history.items), [history.items]);
  if (history.error && !history.items.length) {
    return html`<${ErrorBox} error=${history.error} what="this member's history" />`;
  }
  if (history.loading && !history.items.length) return html`<${Loading} what="history" />`;
  if (!history.items.length) return html`<p class="muted">No transfers yet.</p>`;
  return html`
    <h2>Balance over time</h2>
    <${LineChart} label="Balance after each transfer" points=${points} stepped=${true} />
    <h2>History</h2>
    <${TableBox} label="History">
      <table class="history">
        <caption>Transfers, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">With</th>
            <th scope="col">Amount</th>
            <th scope="col">Balance</th>
            <th scope="col">Memo</th>
          </tr>
        </thead>
        <tbody>${history.items.map((e) =>
          html`
            <tr data-cid=${e.cid}>
              <td>${when(e.ts)}</td>
              <td>
                <${Did} did=${e.counterparty ?? (e.from === did ? e.to : e.from)} />
              </td>
              <td class="num" data-amount=${e.amount}>${e.amount}</td>
              <td class="num">${e.balance}</td>
              <td>${e.memo || ""}</td>
            </tr>
          `
        )}</tbody>
      </table>
      <//>
      <${More} list=${history} what="transfers" />
  `;
}

function Trust({ did }) {
  const me = session()?.did;
  const trust = useLoad(
    (signal) => api(`trust/${encodeURIComponent(did)}/score`, { signal }),
    [did, me],
  );
  if (trust.error) return html`<${ErrorBox} error=${trust.error} what="trust" />`;
  if (!trust.data) return html`<${Loading} what="trust" />`;
  const { cooperative, observer } = trust.data;
  const x = observer?.explanation;
  return html`
    <h2>Trust</h2>
    <dl class="facts">
        <dt>The cooperative's view</dt>
        <dd data-testid="coop-trust">${cooperative.score.toFixed(3)} <span class="tag">${cooperative
          .class}</span></dd>
        ${observer && observer.did !== did && html`
          <dt>From <${Did} did=${observer.did} /></dt>
          <dd data-testid="observer-trust">${observer.score.toFixed(3)} <span class="tag">${observer
            .class}</span>
                <details>
                  <summary>Why</summary>
                  <p>Direct ${x.direct} × ${x.weights.direct} = ${x.directTerm.toFixed(
                    3,
                  )}, through others
                    ${x.transitiveTerm.toFixed(3)} (weight ${x.weights.transitive})${x.capped
                      ? ", capped at 1"
                      : ""}.</p>
                  ${x.intermediaries.length > 0 &&
                    html`<ul>${
                      x.intermediaries.map((i) =>
                        html`<li>via <${Did} did=${i.via} />: ${i.toVia} × ${i.fromVia} → ${
                          i.contribution.toFixed(3)
                        }</li>`
                      )
                    }</ul>`}
                </details>
              </dd>
        `}
      </dl>
  `;
}

export function PayForm({ did, balance, onPaid }) {
  const [state, setState] = useState({ busy: false, receipt: null, error: null });
  // One idempotency id per payment, kept until it is accepted: a second click, or a retry after
  // a lost answer, is reported as already there, never paid twice.
  const paymentId = useRef(transferId());
  const key = heldKey();
  if (!key || key.did !== did) {
    return html`<p class="muted">To pay from this account, <a href="#/signin">sign in with your key in
      this tab</a>.</p>`;
  }
  const onSubmit = async (event) => {
    event.preventDefault();
    const element = event.currentTarget;
    const form = new FormData(element);
    setState({ busy: true, receipt: null, error: null });
    try {
      const body = {
        to: String(form.get("to")).trim(),
        amount: toMinor(String(form.get("amount")), decimalsOf(balance.balance)),
        currency: balance.currency,
        memo: String(form.get("memo") ?? ""),
        id: paymentId.current,
      };
      const receipt = await submitSigned("ledger.transfer", body);
      paymentId.current = transferId();
      element.reset();
      setState({ busy: false, receipt, error: null });
      onPaid();
    } catch (error) {
      setState({ busy: false, receipt: null, error });
    }
  };
  return html`<form class="card" onSubmit=${onSubmit} aria-describedby="pay-help">
    <h2>Pay</h2>
    <p id="pay-help" class="muted">Signed in this tab with your key; the node only sees the signature.</p>
    <label for="pay-to">To (DID)</label>
    <input id="pay-to" name="to" required pattern="did:icn:z[1-9A-HJ-NP-Za-km-z]+" autocomplete="off" />
    <label for="pay-amount">Amount (${balance.currency})</label>
    <input id="pay-amount" name="amount" required inputmode="decimal" pattern="[0-9]+(\\.[0-9]{1,8})?" />
    <label for="pay-memo">Memo (optional)</label>
    <input id="pay-memo" name="memo" maxlength="200" />
    <button type="submit" disabled=${state.busy}>${
    state.busy ? "Signing…" : "Sign and pay"
  }</button>
    ${
    state.error && html`<p class="error" role="alert">Payment refused: ${state.error.message}</p>`
  }
    ${
    state.receipt && html`<p class="ok" role="status" data-receipt=${state.receipt.id}>
      Payment ${state.receipt.outcome.status}: receipt <code>${state.receipt.id}</code></p>`
  }
  </form>`;
}

export function MemberView({ did }) {
  const balance = useLoad(
    (signal) => api(`accounts/${encodeURIComponent(did)}/balance`, { signal }),
    [did],
  );
  const [round, setRound] = useState(0);
  const mine = session()?.did === did;
  const b = balance.data;
  const paid = () => {
    balance.reload();
    setRound((r) => r + 1);
  };
  return html`<section>
    <${Heading} title=${mine ? "Your account" : "Member"} />
    <p><${Did} did=${did} link=${false} /></p>
    ${balance.error && html`<${ErrorBox} error=${balance.error} what="the balance" />`}
    ${
    b && html`
      <dl class="facts">
        <dt>Balance</dt>
        <dd data-testid="balance">${balanceText(b)}</dd>
        <dt>Credit limit</dt>
        <dd data-testid="limit">${b.limit}</dd>
        <dt>Available</dt>
        <dd data-testid="available">${b.available}</dd>
      </dl>
    `
  }
    ${mine && b && html`<${PayForm} did=${did} balance=${b} onPaid=${paid} />`}
    <${Trust} did=${did} />
    <${History} did=${did} key=${round} />
  </section>`;
}
