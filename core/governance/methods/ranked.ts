/**
 * Ranked choice: instant-runoff for one seat and Schulze as the Condorcet
 * method, both from the same ballots (option indexes, most preferred first;
 * options a ballot leaves out rank below every option it lists, level with
 * each other).
 *
 * Instant-runoff: each round counts every ballot for its highest option still
 * in the race; an option with more than half of the ballots still counting
 * wins; otherwise every option with the fewest votes is eliminated at once. If
 * all options left are level, they are reported as a tie.
 *
 * Schulze (winning votes): d[i][j] ballots prefer i to j; a path's strength is
 * its weakest link d[x][y] where d[x][y] > d[y][x]; p[i][j] is the strongest
 * path. i ranks above j iff p[i][j] > p[j][i]; the winners are the options no
 * other beats. Options are ranked by how many others they beat (ties grouped);
 * one seat goes to the winner (several winners are a tie), more seats are
 * filled from the top of that order.
 */
import { argmax, zeros } from "./_count.ts";

export interface RunoffRound {
  /** Votes per option this round (null for options already eliminated). */
  counts: (number | null)[];
  /** Ballots whose options were all eliminated. */
  exhausted: number;
  /** Options eliminated at the end of this round (none in the last round). */
  eliminated: number[];
}

export interface RankedResult {
  method: "ranked";
  seats: number;
  instantRunoff: {
    rounds: RunoffRound[];
    /** One option, or every option left when they end level; none without ballots. */
    winners: number[];
  };
  schulze: {
    /** pairwise[i][j]: ballots preferring option i to option j. */
    pairwise: number[][];
    /** strongest[i][j]: strength of the strongest path from i to j. */
    strongest: number[][];
    /** How many options each one beats (p[i][j] > p[j][i]). */
    beats: number[];
    /** Options no other beats. */
    winners: number[];
    /** Groups of options, best first; options in a group beat equally many. */
    ranking: number[][];
  };
  /** The `seats` options elected by Schulze's order, when no tie straddles the last seat. */
  elected: number[];
  /** Options tied for the remaining seats (empty when `elected` fills them). */
  tiedForLastSeat: number[];
}

export function instantRunoff(
  options: number,
  ballots: readonly (readonly number[])[],
): RankedResult["instantRunoff"] {
  const rounds: RunoffRound[] = [];
  if (ballots.length === 0) return { rounds, winners: [] };
  const continuing = new Uint8Array(options).fill(1);
  // Each ballot sits in the pile of its highest option still in the race; an
  // elimination moves only the ballots of the eliminated piles, so the whole
  // count reads each ballot's ranking once.
  // Piles are linked lists in typed arrays (head per option, next per ballot): no allocation.
  const position = new Int32Array(ballots.length);
  const next = new Int32Array(ballots.length);
  const head = new Int32Array(options).fill(-1);
  const size = new Int32Array(options);
  let exhausted = 0;
  for (let b = 0; b < ballots.length; b++) {
    const top = ballots[b][0];
    next[b] = head[top];
    head[top] = b;
    size[top]++;
  }
  let left = options;
  // One round per elimination: at most `options` rounds.
  for (let round = 0; round < options; round++) {
    const counts = Array.from(size);
    const shown = counts.map((c, i) => (continuing[i] === 1 ? c : null));
    const live: number[] = [];
    for (let i = 0; i < options; i++) if (continuing[i] === 1) live.push(i);
    const active = ballots.length - exhausted;
    const leaders = argmax(counts, live);
    if (leaders.length === 1 && counts[leaders[0]] * 2 > active) {
      rounds.push({ counts: shown, exhausted, eliminated: [] });
      return { rounds, winners: leaders };
    }
    const fewest = argmax(counts.map((c) => -c), live);
    if (fewest.length === left) {
      rounds.push({ counts: shown, exhausted, eliminated: [] });
      return { rounds, winners: fewest };
    }
    rounds.push({ counts: shown, exhausted, eliminated: fewest });
    for (const i of fewest) continuing[i] = 0;
    left -= fewest.length;
    for (const i of fewest) {
      let b = head[i];
      while (b !== -1) {
        const following = next[b];
        const ballot = ballots[b];
        let k = position[b] + 1;
        while (k < ballot.length && continuing[ballot[k]] === 0) k++;
        position[b] = k;
        if (k < ballot.length) {
          const to = ballot[k];
          next[b] = head[to];
          head[to] = b;
          size[to]++;
        } else exhausted++;
        b = following;
      }
      head[i] = -1;
      size[i] = 0;
    }
  }
  // Unreachable: each round removes at least one option and one option left wins.
  throw new Error("instant-runoff ran out of rounds");
}

export function schulze(
  options: number,
  ballots: readonly (readonly number[])[],
): RankedResult["schulze"] {
  const n = options;
  // A ballot prefers x to y when it ranks x and not y before it, so
  // d[x][y] = (ballots ranking x) − (ballots ranking both, y before x): only
  // the pairs inside each ranking are visited.
  const before = new Int32Array(n * n);
  const listed = new Int32Array(n);
  for (let t = 0; t < ballots.length; t++) {
    const ballot = ballots[t];
    const length = ballot.length;
    for (let a = 0; a < length; a++) {
      const row = ballot[a] * n;
      listed[ballot[a]]++;
      for (let b = a + 1; b < length; b++) before[row + ballot[b]]++;
    }
  }
  const flat = new Int32Array(n * n);
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) if (x !== y) flat[x * n + y] = listed[x] - before[y * n + x];
  }
  const d = Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * n, i * n + n)));
  const p = Array.from(
    { length: n },
    (_, i) => Array.from({ length: n }, (_, j) => (i !== j && d[i][j] > d[j][i] ? d[i][j] : 0)),
  );
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      for (let k = 0; k < n; k++) {
        if (i !== k && j !== k) p[j][k] = Math.max(p[j][k], Math.min(p[j][i], p[i][k]));
      }
    }
  }
  const beats = zeros(n);
  const winners: number[] = [];
  for (let i = 0; i < n; i++) {
    let beaten = false;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      if (p[i][j] > p[j][i]) beats[i]++;
      if (p[j][i] > p[i][j]) beaten = true;
    }
    if (!beaten) winners.push(i);
  }
  const order = [...Array(n).keys()].sort((a, b) => beats[b] - beats[a] || a - b);
  const ranking: number[][] = [];
  for (const i of order) {
    const last = ranking.at(-1);
    if (last && beats[last[0]] === beats[i]) last.push(i);
    else ranking.push([i]);
  }
  return {
    pairwise: d,
    strongest: p,
    beats,
    winners: ballots.length === 0 ? [] : winners,
    ranking: ballots.length === 0 ? [] : ranking,
  };
}

export function countRanked(
  options: number,
  seats: number,
  ballots: readonly (readonly number[])[],
): RankedResult {
  const result = schulze(options, ballots);
  const elected: number[] = [];
  let tiedForLastSeat: number[] = [];
  if (seats === 1) {
    // One seat: the Schulze winner itself (several winners are a tie).
    if (result.winners.length === 1) elected.push(result.winners[0]);
    else tiedForLastSeat = result.winners;
  } else {
    for (const group of result.ranking) {
      if (elected.length + group.length <= seats) elected.push(...group);
      else {
        if (elected.length < seats) tiedForLastSeat = group;
        break;
      }
    }
  }
  return {
    method: "ranked",
    seats,
    instantRunoff: instantRunoff(options, ballots),
    schulze: result,
    elected,
    tiedForLastSeat,
  };
}
