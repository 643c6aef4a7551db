/** `icn node receipt ID`: a receipt of a write through the running node's app gateway. */
import { InvalidInputError } from "../core/errors.ts";
import type { CliContext } from "./context.ts";
import { callNode, requireRunningNode } from "./node_client.ts";
import type { CommandResult } from "./output.ts";

export async function receipt(ctx: CliContext, args: string[]): Promise<CommandResult> {
  // The gateway's receipt ids are r- and 24 hex digits (net/gateway/app.ts): checked before
  // looking for a node, so a typo is named even when none is running.
  if (!/^r-[0-9a-f]{24}$/.test(args[0])) {
    throw new InvalidInputError(
      `Not a receipt id: "${args[0].slice(0, 200)}" (r- and 24 hex digits, as a write printed it)`,
    );
  }
  const node = await requireRunningNode(ctx);
  const value = await callNode(node, "GET", `/control/receipt?id=${encodeURIComponent(args[0])}`);
  const r = value as {
    id: string;
    caller: string;
    kind: string;
    cid: string | null;
    ts: number;
    outcome: { status: string; reason?: string; message?: string };
  };
  return {
    data: value,
    text: [
      `${r.id}: ${r.kind} by ${r.caller} ${r.outcome.status}${
        r.outcome.reason ? ` (${r.outcome.reason}: ${r.outcome.message ?? ""})` : ""
      }`,
      `  cid:  ${r.cid ?? "-"}`,
      `  time: ${new Date(r.ts).toISOString()}`,
    ],
  };
}
