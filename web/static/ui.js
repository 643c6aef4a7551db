// Small shared pieces of the dashboard: the html tag, data loading with loading and error states,
// paged lists, and formatting.
import { h } from "./vendor/preact.mjs";
import { useCallback, useEffect, useRef, useState } from "./vendor/preact-hooks.mjs";
import htm from "./vendor/htm.mjs";
import { ApiError, getPage } from "./api.js";

export { timeLeft, when } from "./format.js";

export const html = htm.bind(h);

/**
 * Runs `load(signal)` when `deps` change; `{data, error, loading, reload}`. A newer load
 * aborts the older one, and leaving the view aborts the last.
 */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined, loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data, error: undefined, loading: false }),
      (error) => !controller.signal.aborted && setState({ data: undefined, error, loading: false }),
    );
    return () => controller.abort();
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}

/**
 * A list read page by page ("Load more"): `{items, next, error, loading, more}`. The first page
 * loads when `path` or `query` (as JSON) change.
 */
export function usePaged(path, query = {}) {
  const key = `${path}?${JSON.stringify(query)}`;
  const [state, setState] = useState({ items: [], next: null, error: undefined, loading: true });
  const controller = useRef(null);
  const fetchPage = useCallback((cursor, append) => {
    controller.current?.abort();
    const mine = new AbortController();
    controller.current = mine;
    setState((s) => ({ ...s, loading: true }));
    getPage(path, { cursor, signal: mine.signal, query }).then(
      (page) =>
        !mine.signal.aborted && setState((s) => ({
          items: append ? [...s.items, ...page.items] : page.items,
          next: page.next,
          body: page.body,
          error: undefined,
          loading: false,
        })),
      (error) => !mine.signal.aborted && setState((s) => ({ ...s, error, loading: false })),
    );
  }, [key]);
  useEffect(() => {
    fetchPage(undefined, false);
    return () => controller.current?.abort();
  }, [key]);
  return { ...state, more: () => state.next && fetchPage(state.next, true) };
}

export function Loading({ what }) {
  return html`<p class="muted" role="status">Loading ${what}…</p>`;
}

/** An error as a sentence; a 404 on an optional route reads as "not available on this node". */
export function ErrorBox({ error, what }) {
  if (error instanceof ApiError && error.status === 401) {
    return html`<p class="notice" role="alert">
      This node shows ${what} to signed-in members only. <a href="#/signin">Sign in</a> to see it.
    </p>`;
  }
  if (error instanceof ApiError && error.status === 403) {
    return html`<p class="notice" role="alert">Your sign-in does not allow this (${error.message}).</p>`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? ` (${error.code})` : "";
  return html`<p class="error" role="alert">Could not load ${what}: ${message}${code}</p>`;
}

/** "Load more" for a paged list, or nothing at its end. */
export function More({ list, what }) {
  if (list.error && list.items.length) {
    return html`<${ErrorBox} error=${list.error} what=${what} />`;
  }
  if (!list.next) return null;
  return html`<p><button type="button" onClick=${list.more} disabled=${list.loading}>
    ${list.loading ? "Loading…" : `Load more ${what}`}
  </button></p>`;
}

/** A table that scrolls sideways on a narrow screen, reachable by keyboard. */
export function TableBox({ label, children }) {
  return html`<div class="table-box" role="region" aria-label=${label} tabindex="0">${children}</div>`;
}

/** A DID shortened for display, the whole DID in its title and for screen readers. */
export function Did({ did, link = true }) {
  if (!did) return html`<span class="muted">—</span>`;
  const short = did.length > 22 ? `${did.slice(0, 14)}…${did.slice(-6)}` : did;
  const text = html`<span class="did" title=${did}>${short}</span>`;
  return link ? html`<a href=${`#/members/${encodeURIComponent(did)}`}>${text}</a>` : text;
}

/** Sets the page title and moves focus to the view's heading, for keyboard and screen readers. */
export function useHeading(title) {
  const ref = useRef(null);
  useEffect(() => {
    document.title = `${title} · icn`;
    // Not on the first view: a page that has just loaded starts at its skip link.
    if (firstView) firstView = false;
    else ref.current?.focus({ preventScroll: true });
  }, [title]);
  return ref;
}

let firstView = true;

/** The next view keeps the focus where it is (the network picker, while its value changes). */
export function keepFocus() {
  firstView = true;
}

export function Heading({ title, children }) {
  const ref = useHeading(title);
  return html`<h1 tabindex="-1" ref=${ref}>${title}${children}</h1>`;
}
