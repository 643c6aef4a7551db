/**
 * Score history from the cooperative's point of view (mean over the anchors,
 * every graph, highest score per pair): replayed from the edge event log in
 * time order, expiries included, recording a point whenever a member's score
 * changes. Because it is a replay of signed events ordered by (ts, cid), the
 * history is the same on every node whatever order envelopes arrived in.
 */
import type { GraphScope, TrustGraphName } from "./edge.ts";
import { combineScore, graphWeights } from "./score.ts";

export interface HistoryEvent {
  from: string;
  to: string;
  graph: TrustGraphName;
  score: number;
  ts: number;
  cid: string;
  expires?: number;
}

export interface HistoryPoint {
  ts: number;
  score: number;
}

export interface HistoryOptions {
  anchors: readonly string[];
  /** Who may act as an intermediary; default: everyone. */
  isMember?: (did: string) => boolean;
  /** Only keep histories of these members (default: all). */
  only?: ReadonlySet<string>;
  /** Stop at this time (expiries after it are not applied). */
  until?: number;
}

type PairGraphs = Map<TrustGraphName, { score: number; expires?: number }>;

/** Replays `events` (any order; sorted here) into per-member score histories. */
export function replayHistory(
  events: readonly HistoryEvent[],
  options: HistoryOptions,
): Map<string, HistoryPoint[]> {
  const anchors = [...new Set(options.anchors)].sort();
  const anchorSet = new Set(anchors);
  const member = options.isMember ?? (() => true);
  const until = options.until ?? Number.POSITIVE_INFINITY;
  const out = new Map<string, Map<string, PairGraphs>>();
  const inn = new Map<string, Map<string, PairGraphs>>();
  /** How many anchors currently trust each node: only their edges can move a score. */
  const anchorIn = new Map<string, number>();
  const histories = new Map<string, HistoryPoint[]>();
  const current = new Map<string, number>();
  const weights = graphWeights["all" as GraphScope];

  const effective = (row: PairGraphs | undefined): number => {
    let best = 0;
    if (row) { for (const { score } of row.values()) if (score > best) best = score; }
    return best;
  };
  const pair = (from: string, to: string) => effective(out.get(from)?.get(to));

  const scoreOf = (target: string): number => {
    if (anchors.length === 0) return 0;
    let total = 0;
    const vouchers = inn.get(target);
    for (const anchor of anchors) {
      if (anchor === target) {
        total += 1;
        continue;
      }
      let sum = 0, count = 0;
      if (vouchers) {
        for (const [via, row] of vouchers) {
          if (via === anchor || !member(via)) continue;
          const toVia = pair(anchor, via);
          if (toVia === 0) continue;
          const fromVia = effective(row);
          if (fromVia === 0) continue;
          sum += toVia * fromVia;
          count++;
        }
      }
      total += combineScore(pair(anchor, target), sum, count, weights);
    }
    return Math.min(1, total / anchors.length);
  };

  const setEdge = (
    from: string,
    to: string,
    graph: TrustGraphName,
    score: number,
    exp?: number,
  ) => {
    const before = pair(from, to);
    const get = (map: Map<string, Map<string, PairGraphs>>, a: string, b: string) => {
      let row = map.get(a);
      if (!row) map.set(a, row = new Map());
      let cell = row.get(b);
      if (!cell) row.set(b, cell = new Map());
      return cell;
    };
    const cellOut = get(out, from, to);
    const cellIn = get(inn, to, from);
    if (score === 0) {
      cellOut.delete(graph);
      cellIn.delete(graph);
    } else {
      const value = exp === undefined ? { score } : { score, expires: exp };
      cellOut.set(graph, value);
      cellIn.set(graph, value);
    }
    const after = pair(from, to);
    if (anchorSet.has(from) && (before === 0) !== (after === 0)) {
      anchorIn.set(to, (anchorIn.get(to) ?? 0) + (after === 0 ? -1 : 1));
    }
    return before !== after;
  };

  // Only an anchor, or someone an anchor vouches for at some time, can move a
  // cooperative score; everyone else's edges are skipped (most of a big graph).
  const relevant = new Set(anchors);
  for (const event of events) if (anchorSet.has(event.from)) relevant.add(event.to);
  // Time points: every event, and every expiry (the edge disappears at `expires`).
  type Step = { ts: number; order: string; event: HistoryEvent; expiry: boolean };
  const steps: Step[] = [];
  for (const event of events) {
    if (event.ts > until || !relevant.has(event.from)) continue;
    steps.push({ ts: event.ts, order: event.cid, event, expiry: false });
    if (event.expires !== undefined && event.expires <= until) {
      steps.push({ ts: event.expires, order: event.cid, event, expiry: true });
    }
  }
  steps.sort((a, b) =>
    a.ts - b.ts || (a.expiry === b.expiry ? 0 : a.expiry ? -1 : 1) ||
    (a.order < b.order ? -1 : a.order > b.order ? 1 : 0)
  );
  let i = 0;
  while (i < steps.length) {
    const ts = steps[i].ts;
    const affected = new Set<string>();
    for (; i < steps.length && steps[i].ts === ts; i++) {
      const { event, expiry } = steps[i];
      if (expiry) {
        // Only if this event's edge is still the one in place.
        const cell = out.get(event.from)?.get(event.to)?.get(event.graph);
        if (!cell || cell.expires !== event.expires || cell.score !== event.score) continue;
      }
      const changed = setEdge(
        event.from,
        event.to,
        event.graph,
        expiry ? 0 : event.score,
        event.expires,
      );
      if (!changed) continue;
      if (anchorSet.has(event.from)) {
        affected.add(event.to);
        for (const target of out.get(event.to)?.keys() ?? []) affected.add(target);
      }
      if ((anchorIn.get(event.from) ?? 0) > 0 || anchorSet.has(event.to)) affected.add(event.to);
    }
    for (const target of [...affected].sort()) {
      if (options.only && !options.only.has(target)) continue;
      const score = scoreOf(target);
      if (Math.abs(score - (current.get(target) ?? 0)) <= 1e-12) continue;
      current.set(target, score);
      let series = histories.get(target);
      if (!series) histories.set(target, series = []);
      series.push({ ts, score });
    }
  }
  return histories;
}
