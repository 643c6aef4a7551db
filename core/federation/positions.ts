/**
 * The positions view of a federation's clearing: one row per pair, what `icn federation
 * positions --json` prints and what the gateway's `GET /api/v1/federation/positions` serves
 * (docs/clearing.md, docs/gateway.md). Pure: it shapes a `readPositions` reading (the stored
 * positions, clearing_state.ts).
 */
import { formatAmount } from "../ledger/amount.ts";
import type { PositionsReading } from "./clearing_kinds.ts";

export interface PositionRow {
  /** The pair, in id order: `lo`, `hi`. */
  coops: [string, string];
  names: [string, string];
  /** Who owes whom; null when even. */
  debtor: string | null;
  creditor: string | null;
  /** What the debtor owes, in the federation's currency (decimal text) and minor units. */
  owed: string;
  owedMinor: string;
  /** The agreement in force: its limit, the share of it used (percent), its id, rates, interval. */
  limit: string | null;
  use: number | null;
  agreement: string | null;
  rates: Record<string, string> | null;
  settlementInterval: number | null;
  /** Accepted commits, commits still open, and what settlements cleared. */
  accepted: number;
  open: number;
  settled: string;
}

/** Each pair's row, sorted by the pair's first cooperative then its second. */
export function positionRows(
  reading: PositionsReading,
  coops: ReadonlyMap<string, { name: string }>,
  decimals: number,
): PositionRow[] {
  const name = (net: string) => coops.get(net)?.name ?? net;
  const rows: PositionRow[] = [];
  const pairs = [...reading.state.pairs.values()].sort((a, b) =>
    a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : a.hi < b.hi ? -1 : a.hi > b.hi ? 1 : 0
  );
  for (const pair of pairs) {
    const a = pair.agreement;
    const abs = pair.position < 0n ? -pair.position : pair.position;
    const [debtor, creditor] = pair.position >= 0n ? [pair.lo, pair.hi] : [pair.hi, pair.lo];
    const open = reading.open.get(`${pair.lo}/${pair.hi}`) ?? 0;
    rows.push({
      coops: [pair.lo, pair.hi],
      names: [name(pair.lo), name(pair.hi)],
      debtor: abs === 0n ? null : debtor,
      creditor: abs === 0n ? null : creditor,
      owed: formatAmount(abs, decimals),
      owedMinor: abs.toString(),
      limit: a ? formatAmount(a.limit, decimals) : null,
      use: a && a.limit > 0n ? Number((abs * 10000n) / a.limit) / 100 : null,
      agreement: a?.id ?? null,
      rates: a ? { [a.coopA]: a.rateA.text, [a.coopB]: a.rateB.text } : null,
      settlementInterval: a?.settlementInterval ?? null,
      accepted: pair.accepted,
      open,
      settled: formatAmount(pair.settled, decimals),
    });
  }
  return rows;
}
