// Sign-in: the member's own key signs the node's challenge (in this tab, with WebCrypto, or in a
// terminal with `icn id login`), and the node answers with a short-lived scoped token.
import { useState } from "./vendor/preact-hooks.mjs";
import { api, saveSession, session, tokenClaims } from "./api.js";
import { base64ToBytes, forgetKey, heldKey, importKey, parseKeyText, sign } from "./keys.js";
import { Did, Heading, html } from "./ui.js";

/** Scopes a member can ask for here, and what each allows. */
const scopes = [
  ["read", "see your account and the network"],
  ["ledger:write", "pay"],
  ["trust:write", "vouch for members"],
  ["gov:vote", "vote on proposals"],
];

/** The bytes the member signs for a challenge: as the node gives them. */
function challengeBytes(challenge) {
  if (typeof challenge.signingBytes === "string") return base64ToBytes(challenge.signingBytes);
  if (typeof challenge.message === "string") return new TextEncoder().encode(challenge.message);
  return new TextEncoder().encode(challenge.nonce);
}

/** Signs in with the key held in this tab; stores the session. */
async function signInWithKey(did, wanted) {
  const challenge = await api("auth/challenge", { method: "POST", body: { did }, auth: false });
  const signature = await sign(challengeBytes(challenge));
  const answer = await api("auth/token", {
    method: "POST",
    body: { did, nonce: challenge.nonce, signature, scopes: wanted },
    auth: false,
  });
  const claims = tokenClaims(answer.token);
  saveSession({
    token: answer.token,
    did,
    net: claims.net ?? answer.net,
    scopes: answer.scopes ?? claims.scopes ?? wanted,
    expires: typeof claims.exp === "number" ? claims.exp * 1000 : Date.now() + 3_600_000,
    via: "browser",
  });
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
    const wanted = scopes.map(([scope]) => scope).filter((scope) => form.get(`scope-${scope}`));
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
    <fieldset>
      <legend>Allow this sign-in to</legend>
      ${
    scopes.map(([scope, what]) =>
      html`<label class="choice"><input type="checkbox" name=${`scope-${scope}`} checked
        value="1" /> <code>${scope}</code>: ${what}</label>`
    )
  }
    </fieldset>
    <button type="submit" disabled=${state.busy}>${state.busy ? "Signing in…" : "Sign in"}</button>
    ${state.error && html`<p class="error" role="alert">Sign-in failed: ${state.error.message}</p>`}
  </form>`;
}

function TerminalHelp() {
  const url = new URL(".", document.baseURI).href;
  return html`
    <section class="card">
      <h2>From a terminal</h2>
      <p>On the machine that holds your identity, run</p>
      <pre><code>icn id login ${url}</code></pre>
      <p
        class="muted">It signs the node's challenge with your keystore and prints a link that signs this
          browser in; your key stays in the terminal.</p>
    </section>
  `;
}

export function SignInView() {
  const current = session();
  const key = heldKey();
  return html`<section>
    <${Heading} title="Sign in" />
    ${
    current && html`<p class="ok" role="status">Signed in as <${Did} did=${current.did} />
      (${(current.scopes ?? []).join(", ")}), until ${
      new Date(current.expires).toLocaleTimeString()
    }.
      ${key ? " Your key is held in this tab." : " No key in this tab: reads only."}
      ${" "}<button type="button" onClick=${() => {
      forgetKey();
      saveSession(null);
    }}>Sign out</button></p>`
  }
    <${KeyForm} />
    <${TerminalHelp} />
  </section>`;
}
