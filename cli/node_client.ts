/**
 * How the CLI finds a running node on its data dir and sends writes through
 * its control API. The node writes `node.json` ({pid, url}) and a token
 * file (mode 0600) in the data dir while it runs; a stale `node.json` whose
 * server does not answer is ignored and writes go to the store directly.
 */
import { IcnError, InvalidInputError, NotFoundError, RejectedError } from "../core/errors.ts";
import { isPlainMap } from "../core/strict.ts";
import type { CliContext, SubmitResult } from "./context.ts";
import { pathExists, readInputText } from "./files.ts";

export interface RunningNode {
  /** Base URL of the node's loopback HTTP server. */
  url: string;
  token: string;
}

/** How long the CLI waits for the node's health answer before treating node.json as stale. */
const healthTimeoutMs = 1000;
/** How long one control request may take. */
const controlTimeoutMs = 30_000;

export const nodeFiles = { info: "node.json", token: "node.token" } as const;

/** node.json is a line of JSON; the token 64 hex digits. Anything far larger is not theirs. */
const nodeFileBytesMax = 64 * 1024;

export async function findRunningNode(ctx: CliContext): Promise<RunningNode | null> {
  const infoPath = ctx.path(nodeFiles.info);
  const tokenPath = ctx.path(nodeFiles.token);
  if (!(await pathExists(infoPath)) || !(await pathExists(tokenPath))) return null;
  const damaged = (path: string, why: string) =>
    new InvalidInputError(
      `Cannot read ${path}: ${why} (if no node runs on this data dir, remove it; \`icn node run\` writes it anew)`,
    );
  let info: unknown;
  try {
    info = JSON.parse(await readInputText(infoPath, "node info", { bytesMax: nodeFileBytesMax }));
  } catch (error) {
    throw damaged(infoPath, error instanceof SyntaxError ? "not JSON" : (error as Error).message);
  }
  const token = (await readInputText(tokenPath, "node token", { bytesMax: nodeFileBytesMax }))
    .trim();
  const url = isPlainMap(info) ? info.url : undefined;
  if (typeof url !== "string") throw damaged(infoPath, "it has no control URL");
  // Only a loopback URL is ever contacted with the token (a planted node.json cannot send it away).
  if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(url)) return null;
  try {
    const response = await fetch(`${url}/health`, {
      signal: AbortSignal.timeout(healthTimeoutMs),
    });
    await response.body?.cancel();
    if (!response.ok) return null;
  } catch (error) {
    // Refused (nothing listens) is a stale node.json. A node slow to answer (syncing, a loaded
    // machine) still runs and holds the store: writing beside it would make a second writer.
    if (error instanceof DOMException && error.name === "TimeoutError") return { url, token };
    return null;
  }
  return { url, token };
}

/** The running node or a clear error. */
export async function requireRunningNode(ctx: CliContext): Promise<RunningNode> {
  const node = await findRunningNode(ctx);
  if (!node) {
    throw new NotFoundError(
      `No node is running on ${ctx.dataDir}: start one with \`icn node run\``,
    );
  }
  return node;
}

/** Calls the control API; IcnErrors from the node come back as errors with the same code. */
export async function callNode(
  node: RunningNode,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${node.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(controlTimeoutMs),
    });
  } catch (error) {
    throw new IcnError(
      "node_unreachable",
      `Cannot reach the node at ${node.url}: ${(error as Error).message}`,
    );
  }
  const { controlError, readControlReply } = await import("../net/control.ts");
  const value = await readControlReply(response);
  if (!response.ok) {
    const error = controlError(value);
    throw new RejectedError(
      error.code ?? "node_error",
      error.message ?? `Node answered ${response.status} to ${method} ${path}`,
    );
  }
  return value;
}

export async function submitViaNode(
  _ctx: CliContext,
  node: RunningNode,
  request: { kind: string; body: unknown },
): Promise<SubmitResult> {
  const { decodeSubmitReply, encodeSubmitRequest } = await import("../net/control.ts");
  const reply = await callNode(node, "POST", "/control/submit", encodeSubmitRequest(request));
  const { cid, sealed, outcome } = await decodeSubmitReply(reply as never);
  return { cid, envelope: sealed.envelope, outcome };
}
