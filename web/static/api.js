// The gateway's JSON API (/api/v1), as the dashboard uses it: errors with the server's stable
// code, paged lists by opaque cursor, the session's bearer token, and the event stream.
import { EventSourceParserStream } from "./vendor/eventsource-parser.mjs";

/** Base URL of the API, relative to the page, so the dashboard also works behind a path prefix. */
export const apiBase = new URL("api/v1/", document.baseURI);

/** Longest a request may take before the dashboard gives up and says so. */
const requestTimeoutMs = 15_000;

/** Most rows one "Load more" asks for (the server caps it too). */
export const pageSize = 50;

const tokenKey = "icn.session";

/** An answer other than 2xx, with the server's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The signed-in session, or null: `{token, did, net, scopes, expires, via}`. It is kept in
 * sessionStorage (this tab only, gone when it closes); a member's private key never is: it
 * lives in memory only (see keys.js).
 */
export function session() {
  try {
    const value = JSON.parse(sessionStorage.getItem(tokenKey) ?? "null");
    if (value && typeof value.token === "string" && value.expires > Date.now()) return value;
  } catch {
    // unreadable: treat as signed out
  }
  return null;
}

export function saveSession(value) {
  if (value === null) sessionStorage.removeItem(tokenKey);
  else sessionStorage.setItem(tokenKey, JSON.stringify(value));
  dispatchEvent(new Event("icn-session"));
}

/** Calls `path` (relative to /api/v1/); resolves to the JSON body, or throws an ApiError. */
export async function api(path, { method = "GET", body, signal, auth = true } = {}) {
  const headers = { accept: "application/json" };
  const current = auth ? session() : null;
  if (current) headers.authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const timeout = AbortSignal.timeout(requestTimeoutMs);
  let response;
  try {
    response = await fetch(new URL(path, apiBase), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      credentials: "omit",
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, "unreachable", `The node did not answer (${error.message})`);
  }
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = json?.error ?? {};
    const code = typeof error === "string" ? error : error.code ?? `http_${response.status}`;
    const message = (typeof error === "object" && error.message) || json?.message ||
      `${method} ${path} failed with ${response.status}`;
    if (response.status === 401 && current) saveSession(null);
    throw new ApiError(response.status, code, message);
  }
  return json;
}

/** Adds query parameters, leaving out undefined and empty ones. */
export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

/** One page of a list: `{items, next}`; `next` is the opaque cursor of the following page or null. */
export async function getPage(path, { cursor, limit = pageSize, signal, query = {} } = {}) {
  const body = await api(withQuery(path, { ...query, cursor, limit }), { signal });
  return { items: body.items ?? [], next: body.next ?? null, body };
}

/**
 * Follows a list's cursors until its end or `max` rows, for views that need the whole (bounded)
 * list, such as the trust graph.
 */
export async function getAll(path, { max = 1000, signal, query = {} } = {}) {
  const items = [];
  let cursor;
  for (let pages = 0; pages < Math.ceil(max / pageSize) + 1; pages++) {
    const page = await getPage(path, { cursor, signal, query });
    items.push(...page.items);
    if (!page.next || items.length >= max) {
      return { items: items.slice(0, max), complete: !page.next };
    }
    cursor = page.next;
  }
  return { items: items.slice(0, max), complete: false };
}

/** Most characters of one event held while it arrives (an envelope is at most 64 KiB). */
const eventCharsMax = 512 * 1024;

/**
 * Reads the server-sent event stream `path` (relative to /api/v1/) with the session's token,
 * which EventSource cannot send, calling `onEvent({id, event, data})` for each event until
 * `signal` aborts or the stream ends. Resolves when it ends; throws an ApiError if refused.
 */
export async function readEvents(path, { signal, onEvent }) {
  const headers = { accept: "text/event-stream" };
  const current = session();
  if (current) headers.authorization = `Bearer ${current.token}`;
  const response = await fetch(new URL(path, apiBase), { headers, signal, credentials: "omit" });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // not JSON
    }
    throw new ApiError(
      response.status,
      body?.error?.code ?? `http_${response.status}`,
      body?.error?.message ?? `The event stream answered ${response.status}`,
    );
  }
  const reader = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(
      new EventSourceParserStream({ onError: "terminate", maxBufferSize: eventCharsMax }),
    )
    .getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onEvent(value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
