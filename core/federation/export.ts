/**
 * The federation's clearing as an hledger journal: one account per cooperative
 * (`coops:<network id>`), one transaction per accepted payment (the payer's cooperative owes
 * more, the payee's is owed more) and per applied settlement (the reverse). A cooperative's
 * balance is then what it is owed (negative: what it owes) in the federation's currency, the
 * sum of every pair's position it is in: with two cooperatives, `hledger balance coops:B` is
 * what A owes B, which is A's `clearing:B` and minus B's `clearing:A` in their own exports at
 * rate 1 (docs/clearing.md). Pure formatting over `readClearing`'s records and outcomes.
 */
import type { Currency } from "../governance/genesis.ts";
import { formatAmount } from "../ledger/amount.ts";
import { hledgerCommodity } from "../ledger/export.ts";
import type { CommitRecord, SettlementOutcome } from "./clearing.ts";
import type { ClearingReading } from "./clearing_kinds.ts";

/** The account of a cooperative: its network id, as the cooperatives' ledgers name it. */
export function coopAccount(net: string): string {
  return `coops:${net}`;
}

function day(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/**
 * The journal: commodity and account declarations (so `hledger check -s` passes), then the
 * accepted payments (dated when accepted) and applied settlements, in time order.
 */
export function federationJournal(input: {
  reading: Pick<ClearingReading, "commits" | "state">;
  coops: readonly { net: string; name: string }[];
  currency: Currency;
}): string {
  const { reading, currency } = input;
  const unit = hledgerCommodity(currency.code);
  const amount = (minor: bigint) => `${formatAmount(minor, currency.decimals)} ${unit}`;
  const lines = [
    "; icn federation export",
    "",
    `commodity ${
      formatAmount(1000n * 10n ** BigInt(currency.decimals), currency.decimals)
    } ${unit}`,
    "",
  ];
  const accounts = new Map(input.coops.map((c) => [c.net, c.name]));
  const accepted: { commit: CommitRecord; at: number }[] = [];
  for (const commit of reading.commits) {
    const outcome = reading.state.commits.get(commit.cid);
    if (outcome?.status !== "accepted") continue;
    accepted.push({ commit, at: outcome.decidedAt ?? commit.ts });
    for (const net of [commit.from, commit.to]) if (!accounts.has(net)) accounts.set(net, "");
  }
  const settled = reading.state.settlements.filter((s) => s.status === "applied");
  for (const s of settled) {
    for (const net of [s.payer, s.payee]) if (!accounts.has(net)) accounts.set(net, "");
  }
  for (const [net, name] of [...accounts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // A name is the cooperative's own text: one line, in a comment.
    const label = name.replace(/[\r\n\t;]+/g, " ").slice(0, 100);
    lines.push(`account ${coopAccount(net)}${label ? `  ; ${label}` : ""}`);
  }
  type Item = { at: number; key: string; lines: string[] };
  const items: Item[] = accepted.map(({ commit, at }) => ({
    at,
    key: commit.cid,
    lines: [
      `${day(at)} clearing payment  ; commit: ${commit.cid}`,
      `    ; payment: ${commit.id}`,
      `    ${coopAccount(commit.from)}  -${amount(commit.amount)}`,
      `    ${coopAccount(commit.to)}  ${amount(commit.amount)}`,
    ],
  }));
  for (const s of settled as SettlementOutcome[]) {
    const at = s.appliedAt ?? 0;
    items.push({
      at,
      key: `settlement ${s.id}`,
      lines: [
        `${day(at)} settlement  ; id: ${s.id.replace(/[\r\n]+/g, " ")}`,
        `    ${coopAccount(s.payer)}  ${amount(s.amount)}`,
        `    ${coopAccount(s.payee)}  -${amount(s.amount)}`,
      ],
    });
  }
  items.sort((a, b) => a.at - b.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const item of items) lines.push("", ...item.lines);
  return lines.join("\n") + "\n";
}
