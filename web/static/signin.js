// Sign-in: the member's own key signs the node's challenge (in this tab, with WebCrypto, or in a
// terminal with `icn id login`), and the node answers with a short-lived scoped token.
import { useEffect, useState } from "./vendor/preact-hooks.mjs";
import {
  api,
  apiBase,
  ApiError,
  currentNetwork,
  dropSession,
  saveSession,
  servedNetworks,
  session,
  severalNetworks,
} from "./api.js";
import { forgetKey, heldKey, importKey, parseKeyText, sign } from "./keys.js";
import { Did, Heading, html } from "./ui.js";

/** Scopes a member can ask for here, and what each allows. */
const scopes = [
  ["read", "see your account and the network", true],
  ["ledger:write", "pay", true],
  ["trust:write", "vouch for members", true],
  ["gov:vote", "vote on proposals", true],
  ["gov:propose", "make and cancel proposals", false],
];

/** How often the browser asks whether the terminal has signed the challenge (sign-in is rate limited). */
const approvalPollMs = 3_000;

function chosenScopes(form) {
  return scopes.map(([scope]) => scope).filter((scope) => form.get(`scope-${scope}`));
}

function keep(answer, via) {
  saveSession({
    token: answer.token,
    did: answer.did,
    net: answer.net,
    scopes: answer.scopes,
    expires: answer.expires,
    via,
  });
}

/** Signs in with the key held in this tab: the node's challenge text is signed here. */
async function signInWithKey(did, wanted) {
  const challenge = await api("auth/challenge", {
    method: "POST",
    body: { did, scopes: wanted },
    auth: false,
  });
  const signature = await sign(new TextEncoder().encode(challenge.message));
  const answer = await api("auth/token", {
    method: "POST",
    body: { did, nonce: challenge.nonce, signature, scopes: wanted },
    auth: false,
  });
  keep(answer, "browser");
}

/** The command a member runs in a terminal to approve `challenge` (device flow). */
export function loginCommand(challenge) {
  return `icn id login ${new URL(`auth/challenge/${challenge.nonce}`, apiBase).href}`;
}

function KeyForm() {
  const [state, setState] = useState({ busy: false, error: null });
  const onFile = async (event) => {
    const file = event.currentTarget.files?.[0];
    if (!file) return;
    if (file.size > 64 * 1024) {
      setState({ busy: false, error: new Error("That file is too large to be a key") });
      return;
    }
    document.getElementById("key-text").value = await file.text();
  };
  const onSubmit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const wanted = chosenScopes(form);
    setState({ busy: true, error: null });
    try {
      const { did, seed } = parseKeyText(String(form.get("key")), String(form.get("did") ?? ""));
      event.currentTarget.reset();
      await importKey(did, seed);
      await signInWithKey(did, wanted);
      setState({ busy: false, error: null });
      location.hash = `#/members/${encodeURIComponent(did)}`;
    } catch (error) {
      forgetKey();
      setState({ busy: false, error });
    }
  };
  return html`<form class="card" onSubmit=${onSubmit} autocomplete="off">
    <h2>With your key, in this tab</h2>
    <p class="muted">Your key stays in this tab's memory: it signs the node's challenge here and
      is never sent. Reloading the page forgets it.</p>
    <label for="key-text">Key: the decrypted keystore (<code>age -d ~/.icn/identity.age</code>) or
      the base64 Ed25519 seed</label>
    <textarea id="key-text" name="key" rows="4" required spellcheck="false"></textarea>
    <label for="key-file">Or choose the file</label>
    <input id="key-file" type="file" accept=".json,.txt,application/json,text/plain" onChange=${onFile} />
    <label for="key-did">DID (needed with a bare seed)</label>
    <input id="key-did" name="did" placeholder="did:icn:z…" spellcheck="false" />
    <${ScopeChoice} idPrefix="key" />
    <button type="submit" disabled=${state.busy}>${state.busy ? "Signing in…" : "Sign in"}</button>
    ${state.error && html`<p class="error" role="alert">Sign-in failed: ${state.error.message}</p>`}
  </form>`;
}

/**
 * Signs in to the chosen network with the key this tab already holds (imported to sign in to
 * another network the node serves): no need to give it again.
 */
function HeldKeyForm() {
  const [state, setState] = useState({ busy: false, error: null });
  const key = heldKey();
  if (!key || session()) return null;
  const onSubmit = async (event) => {
    event.preventDefault();
    const wanted = chosenScopes(new FormData(event.currentTarget));
    setState({ busy: true, error: null });
    try {
      await signInWithKey(key.did, wanted);
      setState({ busy: false, error: null });
      location.hash = `#/members/${encodeURIComponent(key.did)}`;
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return html`<form class="card" data-testid="held-key" onSubmit=${onSubmit}>
    <h2>With the key already in this tab</h2>
    <p>This tab holds the key of <${Did} did=${key.did} link=${false} />: it signs this
      network's challenge here, as for the network you signed in to before.</p>
    <${ScopeChoice} idPrefix="held" />
    <button type="submit" disabled=${state.busy}>${state.busy ? "Signing in…" : "Sign in"}</button>
    ${state.error && html`<p class="error" role="alert">Sign-in failed: ${state.error.message}</p>`}
  </form>`;
}

function ScopeChoice({ idPrefix }) {
  return html`<fieldset>
    <legend>Allow this sign-in to</legend>
    ${
    scopes.map(([scope, what, checked]) =>
      html`<label class="choice"><input type="checkbox" id=${`${idPrefix}-scope-${scope}`}
        name=${`scope-${scope}`} checked=${checked} value="1" /> <code>${scope}</code>: ${what}</label>`
    )
  }
  </fieldset>`;
}

/**
 * Device flow: the browser asks for a challenge for the member's DID and shows the command that
 * signs it in a terminal (`icn id login URL`); it then asks for the token until the terminal
 * has approved the challenge or the challenge expires.
 */
function TerminalForm() {
  const [state, setState] = useState({ busy: false, error: null, challenge: null });
  useEffect(() => {
    const challenge = state.challenge;
    if (!challenge) return;
    let timer;
    let stopped = false;
    const poll = async () => {
      if (stopped) return;
      if (Date.now() > challenge.expires) {
        setState({
          busy: false,
          challenge: null,
          error: new Error("The challenge expired: start again"),
        });
        return;
      }
      try {
        const answer = await api("auth/token", {
          method: "POST",
          body: { did: challenge.did, nonce: challenge.nonce, scopes: challenge.scopes },
          auth: false,
        });
        if (stopped) return;
        keep(answer, "terminal");
        setState({ busy: false, challenge: null, error: null });
        location.hash = `#/members/${encodeURIComponent(answer.did)}`;
      } catch (error) {
        if (stopped) return;
        if (error instanceof ApiError && error.code === "not_approved") {
          timer = setTimeout(poll, approvalPollMs);
        } else if (error instanceof ApiError && error.status === 429) {
          timer = setTimeout(poll, approvalPollMs * 2);
        } else {
          setState({ busy: false, challenge: null, error });
        }
      }
    };
    timer = setTimeout(poll, approvalPollMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [state.challenge]);
  const onSubmit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const did = String(form.get("did") ?? "").trim();
    setState({ busy: true, error: null, challenge: null });
    try {
      const challenge = await api("auth/challenge", {
        method: "POST",
        body: { did, scopes: chosenScopes(form) },
        auth: false,
      });
      setState({ busy: false, error: null, challenge: { ...challenge, did } });
    } catch (error) {
      setState({ busy: false, error, challenge: null });
    }
  };
  return html`<form class="card" onSubmit=${onSubmit} autocomplete="off">
    <h2>From a terminal</h2>
    <p class="muted">Your key stays in your keystore: the terminal signs this node's challenge and
      this tab then gets read and write access without holding a key (writes are signed in the
      terminal too: <code>icn ledger transfer</code>, <code>icn governance vote</code>).</p>
    <label for="terminal-did">Your DID (<code>icn id show</code>)</label>
    <input id="terminal-did" name="did" required placeholder="did:icn:z…" spellcheck="false" />
    <${ScopeChoice} idPrefix="terminal" />
    <button type="submit" disabled=${state.busy}>Show the command</button>
    ${
    state.challenge && html`
      <div role="status" data-testid="login-command">
        <p>Run this on the machine that holds your identity, within five minutes:</p>
        <pre class="command"><code>${loginCommand(state.challenge)}</code></pre>
        <p class="muted">Waiting for the terminal…</p>
      </div>
    `
  }
    ${state.error && html`<p class="error" role="alert">Sign-in failed: ${state.error.message}</p>`}
  </form>`;
}

/** The command that signs in to `net` from a terminal and prints a token (for apps and scripts). */
export function terminalTokenCommand(net) {
  const url = new URL(apiBase.href);
  if (net) url.searchParams.set("net", net);
  return `icn id login "${url.href}"`;
}

/** On a node that serves several cooperatives: which one this sign-in is for. */
function SignInNetwork() {
  if (!severalNetworks()) return null;
  const net = currentNetwork();
  const name = servedNetworks().find((n) => n.id === net)?.name ?? net;
  return html`
    <div class="card" data-testid="signin-network">
      <p>You are signing in to <strong>${name}</strong> (<code class="did">${net}</code>). Each
          network has its own sign-in: choose another network above to sign in there. A token is
          only ever sent to the network it was issued for.</p>
      <p>For a token in the terminal itself (apps, scripts):</p>
      <pre class="command"><code data-testid="terminal-token-command">${terminalTokenCommand(
        net,
      )}</code></pre>
    </div>
  `;
}

export function SignInView() {
  const current = session();
  const key = heldKey();
  return html`<section>
    <${Heading} title="Sign in" />
    <${SignInNetwork} />
    ${
    current && html`<p class="ok" role="status">Signed in as <${Did} did=${current.did} />
      (${(current.scopes ?? []).join(", ")}), until ${
      new Date(current.expires).toLocaleTimeString()
    }.
      ${key ? " Your key is held in this tab." : " No key in this tab: reads only."}
      ${" "}<button type="button" onClick=${() => {
      forgetKey();
      dropSession({ all: true });
    }}>Sign out</button></p>`
  }
    <${HeldKeyForm} />
    <${KeyForm} />
    <${TerminalForm} />
  </section>`;
}
