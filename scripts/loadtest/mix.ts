/**
 * The operation mix of the reference system's Locust file (seed 000, §5): trust edges 5,
 * transfers 3, balance reads 2. A simulated member picks each next operation by weight.
 */

export type Operation = "trust.edge" | "ledger.transfer" | "balance";

export const mix: readonly { op: Operation; weight: number }[] = [
  { op: "trust.edge", weight: 5 },
  { op: "ledger.transfer", weight: 3 },
  { op: "balance", weight: 2 },
];

const total = mix.reduce((sum, m) => sum + m.weight, 0);

/** The operation for a uniform draw `u` in [0, 1): each with probability weight / total. */
export function pickOperation(u: number): Operation {
  if (!(u >= 0 && u < 1)) throw new RangeError(`pickOperation: u must be in [0, 1), not ${u}`);
  let at = u * total;
  for (const m of mix) {
    if (at < m.weight) return m.op;
    at -= m.weight;
  }
  return mix[mix.length - 1].op;
}

/** A think time in [min, max] ms for a uniform draw `u` (Locust's `between(1, 3)`). */
export function thinkTime(u: number, range: readonly [number, number]): number {
  return range[0] + u * (range[1] - range[0]);
}
