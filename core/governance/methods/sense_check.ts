/** Sense check: the distribution of answers, with no binding outcome. */
import { type SenseChoice, senseChoices } from "./spec.ts";

export interface SenseCheckResult {
  method: "sense-check";
  counts: Record<SenseChoice, number>;
}

export function countSenseCheck(ballots: readonly string[]): SenseCheckResult {
  const counts = Object.fromEntries(senseChoices.map((c) => [c, 0])) as Record<SenseChoice, number>;
  for (const ballot of ballots) counts[ballot as SenseChoice]++;
  return { method: "sense-check", counts };
}
