/** Dot voting: each ballot spreads up to `points` points over the options; the most points win. */
import { argmax, zeros } from "./_count.ts";

export interface DotResult {
  method: "dot";
  /** Points per option. */
  points: number[];
  /** How many ballots gave each option at least one point. */
  supporters: number[];
  winners: number[];
}

export function countDot(options: number, ballots: readonly (readonly number[])[]): DotResult {
  const points = zeros(options);
  const supporters = zeros(options);
  let any = false;
  for (const ballot of ballots) {
    for (let i = 0; i < options; i++) {
      if (ballot[i] > 0) {
        points[i] += ballot[i];
        supporters[i]++;
        any = true;
      }
    }
  }
  return { method: "dot", points, supporters, winners: any ? argmax(points) : [] };
}
