/**
 * Web of trust: the `trust.edge` kind, its derived state, the score formula,
 * the cooperative's view, score history and anomaly detection.
 *
 * @example Score a member over a tiny in-memory graph
 * ```ts
 * import { TrustGraph } from "./mod.ts";
 *
 * // 0 → 1 (0.8), 1 → 2 (0.9): 2 is seen by 0 through one intermediary.
 * const graph = TrustGraph.fromEdges(3, {
 *   from: Int32Array.of(0, 1),
 *   to: Int32Array.of(1, 2),
 *   score: Uint16Array.of(800, 900),
 * });
 * const score = graph.score(0, 2, "all"); // 0.8 · 0.9 · 0.3 = 0.216
 * if (Math.abs(score - 0.216) > 1e-9) throw new Error("unexpected score");
 * ```
 *
 * @module
 */
export {
  checkEdgeBody,
  type EdgeBody,
  formatScore,
  type GraphScope,
  parseGraph,
  parseScore,
  scoreScale,
  type TrustGraphName,
  trustGraphs,
} from "./edge.ts";
export {
  combineScore,
  explainScore,
  graphWeights,
  type IntermediaryTerm,
  type ScoreExplanation,
  type Weights,
} from "./score.ts";
export { TrustGraph } from "./graph.ts";
export {
  type EdgeEvent,
  edgeLive,
  type EdgeRecord,
  listEdgesFrom,
  listEdgesTo,
  readAllEdges,
  readEdgeEvents,
  scoreFromState,
  trustEdgeKind,
  trustKeys,
  trustKinds,
} from "./state.ts";
export {
  anchorsAt,
  cooperativeScore,
  cooperativeScoreByWalk,
  meanScore,
  meanScoreByWalk,
} from "./view.ts";
export { type HistoryEvent, type HistoryPoint, replayHistory } from "./history.ts";
export { type Components, stronglyConnectedComponents } from "./scc.ts";
export { louvain, type LouvainResult } from "./louvain.ts";
export {
  type AnomalyReport,
  type AnomalyThresholds,
  findRapidGrowth,
  findRings,
  findSybilClusters,
  scanAnomalies,
  thresholdsFromParams,
} from "./anomalies.ts";
export { trustParams } from "./params.ts";
