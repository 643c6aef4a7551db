/**
 * Anomaly detection over the trust graph, each finding with its evidence:
 * circular vouching (small strongly connected components of high mutual
 * scores), Sybil clusters (communities with many more edges inside than to
 * the rest), and rapid growth (a score rising fast in score history).
 */
import { numberParam, type Params } from "../params.ts";
import { scoreScale } from "./edge.ts";
import type { TrustGraph } from "./graph.ts";
import type { HistoryPoint } from "./history.ts";
import { louvain, type LouvainResult } from "./louvain.ts";
import { type Components, stronglyConnectedComponents } from "./scc.ts";

export interface AnomalyThresholds {
  ringSizeMax: number;
  ringScoreMin: number;
  sybilDensityRatio: number;
  sybilSizeMin: number;
  growthPercent: number;
  growthWindowMs: number;
  growthFloor: number;
}

export function thresholdsFromParams(params: Params): AnomalyThresholds {
  return {
    ringSizeMax: numberParam(params, "trust.anomaly.ringSizeMax"),
    ringScoreMin: numberParam(params, "trust.anomaly.ringScoreMin"),
    sybilDensityRatio: numberParam(params, "trust.anomaly.sybilDensityRatio"),
    sybilSizeMin: numberParam(params, "trust.anomaly.sybilSizeMin"),
    growthPercent: numberParam(params, "trust.anomaly.growthPercent"),
    growthWindowMs: numberParam(params, "trust.anomaly.growthWindow"),
    growthFloor: numberParam(params, "trust.anomaly.growthFloor"),
  };
}

export interface EdgeEvidence {
  from: string;
  to: string;
  score: number;
}

export interface RingFinding {
  type: "ring";
  members: string[];
  meanScore: number;
  edges: EdgeEvidence[];
}

export interface SybilFinding {
  type: "sybil";
  members: string[];
  internalEdges: number;
  externalEdges: number;
  /** (internal edges / members) ÷ (external edges / members); Infinity when detached. */
  densityRatio: number;
  /** Louvain level the community was found at (0 = finest). */
  level: number;
  /** The edges that attach the cluster to the rest (at most `attachmentsMax`). */
  attachments: EdgeEvidence[];
}

export interface GrowthFinding {
  type: "growth";
  member: string;
  from: HistoryPoint;
  to: HistoryPoint;
  risePercent: number;
}

export type Finding = RingFinding | SybilFinding | GrowthFinding;

export interface AnomalyReport {
  rings: RingFinding[];
  sybils: SybilFinding[];
  growth: GrowthFinding[];
}

/** Evidence lists are for humans; a huge cluster still reports its first edges. */
const attachmentsMax = 20;

/** Circular vouching: SCCs of 2..ringSizeMax members whose mean internal edge score ≥ ringScoreMin. */
export function findRings(
  graph: TrustGraph,
  thresholds: AnomalyThresholds,
  components: Components = stronglyConnectedComponents(graph),
): RingFinding[] {
  const { component, sizes } = components;
  const nodesOf = new Map<number, number[]>();
  for (let u = 0; u < graph.n; u++) {
    const size = sizes[component[u]];
    if (size < 2 || size > thresholds.ringSizeMax) continue;
    let list = nodesOf.get(component[u]);
    if (!list) nodesOf.set(component[u], list = []);
    list.push(u);
  }
  const findings: RingFinding[] = [];
  for (const nodes of nodesOf.values()) {
    const edges: EdgeEvidence[] = [];
    let sum = 0;
    for (const u of nodes) {
      for (let e = graph.outStart[u]; e < graph.outStart[u + 1]; e++) {
        const v = graph.outTo[e];
        if (component[v] !== component[u]) continue;
        sum += graph.outW[e];
        edges.push({ from: graph.ids[u], to: graph.ids[v], score: graph.outW[e] / scoreScale });
      }
    }
    const meanScore = edges.length === 0 ? 0 : sum / edges.length / scoreScale;
    if (meanScore + 1e-12 < thresholds.ringScoreMin) continue;
    findings.push({
      type: "ring",
      members: nodes.map((u) => graph.ids[u]).sort(),
      meanScore,
      edges,
    });
  }
  return findings.sort((a, b) => (a.members[0] < b.members[0] ? -1 : 1));
}

/**
 * Sybil clusters: communities (any Louvain level) of at least `sybilSizeMin`
 * members whose internal ÷ external edge density is ≥ `sybilDensityRatio`.
 * Levels are read from the coarsest down, so a member is reported once, in
 * the largest community that passes. A community holding more than half of
 * all members is never reported (there is no "rest" it is attached to).
 */
export function findSybilClusters(
  graph: TrustGraph,
  thresholds: AnomalyThresholds,
  communities: LouvainResult = louvain(graph),
): SybilFinding[] {
  const covered = new Uint8Array(graph.n);
  const findings: SybilFinding[] = [];
  for (let level = communities.levels.length - 1; level >= 0; level--) {
    const of = communities.levels[level];
    let count = 0;
    for (let u = 0; u < graph.n; u++) if (of[u] + 1 > count) count = of[u] + 1;
    const size = new Int32Array(count);
    const internal = new Int32Array(count);
    const external = new Int32Array(count);
    for (let u = 0; u < graph.n; u++) {
      const cu = of[u];
      size[cu]++;
      for (let e = graph.outStart[u]; e < graph.outStart[u + 1]; e++) {
        const cv = of[graph.outTo[e]];
        if (cu === cv) internal[cu]++;
        else {
          external[cu]++;
          external[cv]++;
        }
      }
    }
    const flagged = new Uint8Array(count);
    for (let c = 0; c < count; c++) {
      // A majority is not a cluster attached to "the rest": it is the rest.
      if (size[c] < thresholds.sybilSizeMin || internal[c] === 0 || size[c] * 2 > graph.n) {
        continue;
      }
      const ratio = external[c] === 0 ? Infinity : internal[c] / external[c];
      if (ratio >= thresholds.sybilDensityRatio) flagged[c] = 1;
    }
    const members = new Map<number, number[]>();
    for (let u = 0; u < graph.n; u++) {
      if (!flagged[of[u]]) continue;
      let list = members.get(of[u]);
      if (!list) members.set(of[u], list = []);
      list.push(u);
    }
    for (const [c, nodes] of members) {
      if (nodes.some((u) => covered[u])) continue;
      for (const u of nodes) covered[u] = 1;
      const attachments: EdgeEvidence[] = [];
      for (const u of nodes) {
        for (let e = graph.outStart[u]; e < graph.outStart[u + 1]; e++) {
          if (of[graph.outTo[e]] !== c && attachments.length < attachmentsMax) {
            attachments.push({
              from: graph.ids[u],
              to: graph.ids[graph.outTo[e]],
              score: graph.outW[e] / scoreScale,
            });
          }
        }
        for (let e = graph.inStart[u]; e < graph.inStart[u + 1]; e++) {
          if (of[graph.inFrom[e]] !== c && attachments.length < attachmentsMax) {
            attachments.push({
              from: graph.ids[graph.inFrom[e]],
              to: graph.ids[u],
              score: graph.inW[e] / scoreScale,
            });
          }
        }
      }
      findings.push({
        type: "sybil",
        members: nodes.map((u) => graph.ids[u]).sort(),
        internalEdges: internal[c],
        externalEdges: external[c],
        densityRatio: external[c] === 0 ? Infinity : internal[c] / external[c],
        level,
        attachments,
      });
    }
  }
  return findings.sort((a, b) => b.members.length - a.members.length);
}

/** Rapid growth: a score at least `growthPercent` % above one in effect within the window before it. */
export function findRapidGrowth(
  histories: ReadonlyMap<string, readonly HistoryPoint[]>,
  thresholds: AnomalyThresholds,
): GrowthFinding[] {
  const factor = 1 + thresholds.growthPercent / 100;
  const findings: GrowthFinding[] = [];
  for (const [member, series] of histories) {
    let best: GrowthFinding | undefined;
    for (let j = 1; j < series.length; j++) {
      const to = series[j];
      const windowStart = to.ts - thresholds.growthWindowMs;
      // The point in effect at the window start, then every point inside the window.
      for (let i = j - 1; i >= 0; i--) {
        const from = series[i];
        if (from.score >= thresholds.growthFloor && to.score >= from.score * factor - 1e-12) {
          const risePercent = (to.score / from.score - 1) * 100;
          if (!best || risePercent > best.risePercent) {
            best = { type: "growth", member, from, to, risePercent };
          }
        }
        if (from.ts <= windowStart) break;
      }
    }
    if (best) findings.push(best);
  }
  return findings.sort((a, b) => b.risePercent - a.risePercent || (a.member < b.member ? -1 : 1));
}

export interface ScanOptions {
  thresholds: AnomalyThresholds;
  histories?: ReadonlyMap<string, readonly HistoryPoint[]>;
  seed?: number;
}

/** The full scan: rings, Sybil clusters and (with histories) rapid growth. */
export function scanAnomalies(graph: TrustGraph, options: ScanOptions): AnomalyReport {
  return {
    rings: findRings(graph, options.thresholds),
    sybils: findSybilClusters(graph, options.thresholds, louvain(graph, { seed: options.seed })),
    growth: options.histories ? findRapidGrowth(options.histories, options.thresholds) : [],
  };
}
