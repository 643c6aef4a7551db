/**
 * Meeting-time poll: each ballot answers every time with can (2), if need be
 * (1) or cannot (0). The time most can attend (can or if need be) wins; among
 * those, the one with the fewest "if need be".
 */
import { argmax, zeros } from "./_count.ts";

export interface MeetingResult {
  method: "meeting";
  can: number[];
  ifNeedBe: number[];
  /** can + ifNeedBe per time. */
  available: number[];
  winners: number[];
}

export function countMeeting(
  options: number,
  ballots: readonly (readonly number[])[],
): MeetingResult {
  const can = zeros(options);
  const ifNeedBe = zeros(options);
  for (const ballot of ballots) {
    for (let i = 0; i < options; i++) {
      if (ballot[i] === 2) can[i]++;
      else if (ballot[i] === 1) ifNeedBe[i]++;
    }
  }
  const available = can.map((c, i) => c + ifNeedBe[i]);
  let winners: number[] = [];
  if (ballots.length > 0) {
    const most = argmax(available);
    // Fewest "if need be" among the most available: the highest negated count.
    winners = argmax(ifNeedBe.map((n) => -n), most);
  }
  return { method: "meeting", can, ifNeedBe, available, winners };
}
