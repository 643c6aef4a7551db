/**
 * `icn federation export`: the federation's clearing as an hledger journal
 * (core/federation/export.ts), so a treasurer reads positions with the same tool as the
 * cooperatives' exports, and `hledger check -s` vouches for it.
 */
import { federationJournal } from "../core/federation/export.ts";
import { readClearing } from "../core/federation/clearing_kinds.ts";
import type { CliContext } from "./context.ts";
import { openFederation } from "./federation.ts";
import { writeFileAtomic } from "./keystore.ts";
import type { CommandResult } from "./output.ts";

export interface FederationExportOptions {
  net?: string;
  out?: string;
}

export async function federationExport(
  ctx: CliContext,
  _args: string[],
  options: FederationExportOptions,
): Promise<CommandResult> {
  const fed = await openFederation(ctx, options.net, "export the federation's clearing");
  const now = ctx.clock.now();
  const reading = await readClearing(fed.view, now);
  const coops = [...(await fed.view.coopsAt(now)).values()].map((c) => ({
    net: c.net,
    name: c.name,
  }));
  const content = federationJournal({ reading, coops, currency: fed.genesis.currencies[0] });
  const payments = [...reading.state.commits.values()].filter((o) => o.status === "accepted")
    .length;
  if (options.out !== undefined) {
    await writeFileAtomic(options.out, new TextEncoder().encode(content), 0o644);
    return {
      data: { file: options.out, format: "hledger", payments },
      text: `Exported ${payments} accepted payment(s) to ${options.out} (hledger)`,
    };
  }
  return { data: { format: "hledger", content }, text: content };
}
