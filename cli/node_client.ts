/**
 * How the CLI finds a running node on its data dir and sends writes through
 * its control API. The node writes `node.json` ({pid, url}) and a token
 * file (mode 0600) in the data dir while it runs; a stale `node.json` whose
 * server does not answer is ignored and writes go to the store directly.
 */
import { IcnError, NotFoundError, RejectedError } from "../core/errors.ts";
import type { CliContext, SubmitResult } from "./context.ts";

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

export async function findRunningNode(ctx: CliContext): Promise<RunningNode | null> {
  let info: { url?: unknown };
  let token: string;
  try {
    info = JSON.parse(await Deno.readTextFile(ctx.path(nodeFiles.info)));
    token = (await Deno.readTextFile(ctx.path(nodeFiles.token))).trim();
  } catch {
    return null;
  }
  if (
    typeof info.url !== "string" ||
    !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(info.url)
  ) {
    return null;
  }
  try {
    const response = await fetch(`${info.url}/health`, {
      signal: AbortSignal.timeout(healthTimeoutMs),
    });
    await response.body?.cancel();
    if (!response.ok) return null;
  } catch {
    return null;
  }
  return { url: info.url, token };
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
