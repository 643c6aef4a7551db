/** Timing helpers shared by the benchmark scripts. */

export interface PairedOptions {
  /** Operations of each kind measured (split over 10 rounds). */
  count: number;
  /** Unmeasured calls of each before timing starts. */
  warmup: number;
}

/**
 * Measures two operations in alternating rounds so that load from other
 * processes hits both alike; returns per-second rates of each.
 */
export async function paired(
  baseline: (i: number) => Promise<unknown>,
  subject: (i: number) => Promise<unknown>,
  { count, warmup }: PairedOptions,
): Promise<[number, number]> {
  const rounds = 10;
  const perRound = count / rounds;
  let baseMs = 0;
  let subjectMs = 0;
  for (let i = 0; i < warmup; i++) {
    await baseline(i);
    await subject(i);
  }
  for (let round = 0; round < rounds; round++) {
    let start = performance.now();
    for (let i = 0; i < perRound; i++) await baseline(round * perRound + i);
    baseMs += performance.now() - start;
    start = performance.now();
    for (let i = 0; i < perRound; i++) await subject(round * perRound + i);
    subjectMs += performance.now() - start;
  }
  return [count / (baseMs / 1000), count / (subjectMs / 1000)];
}
