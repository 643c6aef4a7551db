/**
 * The trust formula (compatible with the reference system):
 * `min(1, direct·wd + mean over intermediaries i of (t(obs→i)·t(i→target))·wt)`.
 * Inputs are integer thousandths; sums are exact integers, so the result does
 * not depend on the order in which edges are visited.
 */
import { type GraphScope, scoreScale } from "./edge.ts";

export interface Weights {
  direct: number;
  transitive: number;
}

/** (wd, wt) per graph; `all` (no graph named) uses 0.7/0.3 over the highest score per pair. */
export const graphWeights: Readonly<Record<GraphScope, Weights>> = {
  social: { direct: 0.6, transitive: 0.4 },
  economic: { direct: 0.8, transitive: 0.2 },
  technical: { direct: 0.9, transitive: 0.1 },
  all: { direct: 0.7, transitive: 0.3 },
};

/** One intermediary's part of a score. */
export interface IntermediaryTerm {
  via: string;
  /** t(observer→via) and t(via→target), in [0,1]. */
  toVia: number;
  fromVia: number;
  /** toVia·fromVia·wt / count: what this intermediary adds to the score. */
  contribution: number;
}

export interface ScoreExplanation {
  observer: string;
  target: string;
  graph: GraphScope;
  score: number;
  weights: Weights;
  /** The observer's own edge to the target, in [0,1] (0 when none). */
  direct: number;
  directTerm: number;
  /** Mean of the intermediary products, times wt. */
  transitiveTerm: number;
  /** True when direct + transitive terms exceeded 1. */
  capped: boolean;
  /** Largest contribution first. */
  intermediaries: IntermediaryTerm[];
}

/**
 * Combines the parts: `direct` in thousandths, `productSum` the sum of
 * products of thousandths (each up to 10^6), `count` intermediaries.
 */
export function combineScore(
  direct: number,
  productSum: number,
  count: number,
  weights: Weights,
): number {
  const transitive = count === 0 ? 0 : productSum / count / scoreScale ** 2;
  return Math.min(1, (direct / scoreScale) * weights.direct + transitive * weights.transitive);
}

/** Builds the explanation from the observer's direct edge and every (via, t(o→via), t(via→target)) in thousandths. */
export function explainScore(parts: {
  observer: string;
  target: string;
  graph: GraphScope;
  /** The observer's direct edge, thousandths. */
  direct: number;
  paths: readonly { via: string; toVia: number; fromVia: number }[];
}): ScoreExplanation {
  const { observer, target, graph, direct, paths } = parts;
  const weights = graphWeights[graph];
  if (observer === target) {
    return {
      observer,
      target,
      graph,
      score: 1,
      weights,
      direct: 1,
      directTerm: 1,
      transitiveTerm: 0,
      capped: false,
      intermediaries: [],
    };
  }
  let sum = 0;
  for (const path of paths) sum += path.toVia * path.fromVia;
  const count = paths.length;
  const directTerm = (direct / scoreScale) * weights.direct;
  const transitiveTerm = count === 0 ? 0 : (sum / count / scoreScale ** 2) * weights.transitive;
  const intermediaries = paths.map((path) => ({
    via: path.via,
    toVia: path.toVia / scoreScale,
    fromVia: path.fromVia / scoreScale,
    contribution: (path.toVia * path.fromVia / scoreScale ** 2) * weights.transitive / count,
  })).sort((a, b) =>
    b.contribution - a.contribution || (a.via < b.via ? -1 : a.via > b.via ? 1 : 0)
  );
  return {
    observer,
    target,
    graph,
    score: combineScore(direct, sum, count, weights),
    weights,
    direct: direct / scoreScale,
    directTerm,
    transitiveTerm,
    capped: directTerm + transitiveTerm > 1,
    intermediaries,
  };
}
