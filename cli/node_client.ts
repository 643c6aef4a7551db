/**
 * How the CLI finds a running node on its data dir and sends writes through
 * its control API. The node module implements the real client; until a node
 * runs, `findRunningNode` returns null and writes go to the store directly.
 */
import type { CliContext, SubmitResult } from "./context.ts";

export interface RunningNode {
  /** Base URL of the node's loopback HTTP server. */
  url: string;
  token: string;
}

export function findRunningNode(_ctx: CliContext): Promise<RunningNode | null> {
  return Promise.resolve(null);
}

export function submitViaNode(
  _ctx: CliContext,
  _node: RunningNode,
  _request: { kind: string; body: unknown },
): Promise<SubmitResult> {
  return Promise.reject(new Error("Node control API client is not built yet"));
}
