// The gateway's JSON API (/api/v1), as the dashboard uses it: errors with the server's stable
// code, paged lists by opaque cursor, the session's bearer token, and the event stream.
import { EventSourceParserStream } from "./vendor/eventsource-parser.mjs";

/** Base URL of the API, relative to the page, so the dashboard also works behind a path prefix. */
export const apiBase = new URL("api/v1/", document.baseURI);

/** Longest a request may take before the dashboard gives up and says so. */
const requestTimeoutMs = 15_000;

/** Most rows one "Load more" asks for (the server caps it too). */
export const pageSize = 50;

/** sessionStorage keys: the tokens (one per network), the chosen network, the home network. */
const sessionsKey = "icn.sessions";
const chosenKey = "icn.net";
const homeKey = "icn.home";

/** An answer other than 2xx, with the server's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function readStored(key, fallback) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? "null") ?? fallback;
  } catch {
    return fallback; // unreadable: as if absent
  }
}

function writeStored(key, value) {
  if (value === null || value === undefined) sessionStorage.removeItem(key);
  else sessionStorage.setItem(key, JSON.stringify(value));
}

/**
 * The cooperatives the node serves (`status.cooperatives`, home first), once the status has
 * been read; null before that or when it could not be (then the dashboard acts as on a
 * single-network node: no `?net=`, the token's network).
 */
let served = null;

/** Records what the node's status says it serves; drops a chosen network it no longer serves. */
export function setServed(status) {
  const list = Array.isArray(status?.cooperatives) ? status.cooperatives : null;
  served = list && list.length > 0 ? list : null;
  if (served) {
    writeStored(homeKey, served[0].id);
    const chosen = readStored(chosenKey, null);
    if (chosen && !served.some((n) => n.id === chosen)) writeStored(chosenKey, null);
  }
  dispatchEvent(new Event("icn-network"));
}

/** The served cooperatives `[{id, name}]`, or null (unknown, see `setServed`). */
export function servedNetworks() {
  return served;
}

/** True when the node serves more than one cooperative: then the page shows a network picker. */
export function severalNetworks() {
  return served !== null && served.length > 1;
}

/** The network the page shows: the one chosen in the picker, else the node's home network. */
export function currentNetwork() {
  return readStored(chosenKey, null) ?? readStored(homeKey, null);
}

/** Chooses the network every network-scoped request acts on (kept for this tab). */
export function chooseNetwork(id) {
  writeStored(chosenKey, id === readStored(homeKey, null) ? null : id);
  dispatchEvent(new Event("icn-network"));
  dispatchEvent(new Event("icn-session"));
}

/**
 * The signed-in session of the current network, or null: `{token, did, net, scopes, expires,
 * via}`. Tokens are kept one per network (a token is only good for the network it was issued
 * for), in sessionStorage (this tab only, gone when it closes); a member's private key never
 * is: it lives in memory only (see keys.js).
 */
export function session() {
  const net = currentNetwork();
  if (net === null) return null;
  const value = readStored(sessionsKey, {})[net];
  if (value && typeof value.token === "string" && value.expires > Date.now()) return value;
  return null;
}

/** Keeps `value` as the session of its network (`value.net`). */
export function saveSession(value) {
  const sessions = readStored(sessionsKey, {});
  sessions[value.net] = value;
  writeStored(sessionsKey, sessions);
  // Signed in before the status could be read (reads need sign-in): the token names the home.
  if (readStored(homeKey, null) === null && readStored(chosenKey, null) === null) {
    writeStored(homeKey, value.net);
  }
  dispatchEvent(new Event("icn-session"));
}

/** Forgets the current network's token (`all`: every network's). */
export function dropSession({ all = false } = {}) {
  const sessions = all ? {} : readStored(sessionsKey, {});
  const net = currentNetwork();
  if (net !== null) delete sessions[net];
  writeStored(sessionsKey, Object.keys(sessions).length ? sessions : null);
  dispatchEvent(new Event("icn-session"));
}

/** Routes that are about the node rather than one network, so they take no `?net=` of ours. */
const nodeWide = /^(status|receipts\/|federation\/|auth\/token|auth\/challenge\/)/;

/**
 * `path` with `?net=` naming the current network, on a node that serves several cooperatives
 * (a single-network node's requests stay exactly as they were).
 */
export function onNetwork(path) {
  if (!severalNetworks() || nodeWide.test(path)) return path;
  const net = currentNetwork();
  return net === null ? path : withQuery(path, { net });
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
    response = await fetch(new URL(onNetwork(path), apiBase), {
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
    if (response.status === 401 && current) dropSession();
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
  const response = await fetch(new URL(onNetwork(path), apiBase), {
    headers,
    signal,
    credentials: "omit",
  });
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
