/** Poll: one option per ballot; the most votes win, and a tie is reported as one. */
import { argmax, zeros } from "./_count.ts";

export interface PollResult {
  method: "poll";
  /** Votes per option. */
  votes: number[];
  /** The options with the most votes: several on a tie, none without ballots. */
  winners: number[];
}

export function countPoll(options: number, ballots: readonly number[]): PollResult {
  const votes = zeros(options);
  for (const choice of ballots) votes[choice]++;
  return { method: "poll", votes, winners: ballots.length === 0 ? [] : argmax(votes) };
}
