/** Score poll: every ballot scores every option from 0 to maxScore; the highest mean wins. */
import { argmax, zeros } from "./_count.ts";

export interface ScoreResult {
  method: "score";
  /** Sum of scores per option. */
  totals: number[];
  /** Mean score per option (0 without ballots). */
  means: number[];
  /** distribution[option][score]: how many ballots gave that score. */
  distribution: number[][];
  /** Highest mean (every ballot scores every option, so also the highest total); ties kept. */
  winners: number[];
}

export function countScore(
  options: number,
  maxScore: number,
  ballots: readonly (readonly number[])[],
): ScoreResult {
  const totals = zeros(options);
  const distribution = Array.from({ length: options }, () => zeros(maxScore + 1));
  for (const ballot of ballots) {
    for (let i = 0; i < options; i++) {
      totals[i] += ballot[i];
      distribution[i][ballot[i]]++;
    }
  }
  const n = ballots.length;
  return {
    method: "score",
    totals,
    means: totals.map((t) => (n === 0 ? 0 : t / n)),
    distribution,
    winners: n === 0 ? [] : argmax(totals),
  };
}
