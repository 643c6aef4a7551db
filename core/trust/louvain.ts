/**
 * Louvain community detection (modularity, undirected, weighted by score) on
 * the trust graph. Deterministic: node order comes from a seeded generator and
 * ties go to the lowest community index. Returns every level of the
 * hierarchy, each mapping original nodes to communities, because small dense
 * clusters can vanish into larger communities at the top level (the
 * resolution limit) while being plain at a lower one.
 */
import type { TrustGraph } from "./graph.ts";
import { scoreScale } from "./edge.ts";

export interface LouvainOptions {
  seed?: number;
  /** Bounds on work: passes per level, levels. */
  passesMax?: number;
  levelsMax?: number;
}

export interface LouvainResult {
  /** levels[k][node] = community of the original node after level k (0 = finest). */
  levels: Int32Array[];
  /** Modularity of the last level. */
  modularity: number;
}

interface LevelGraph {
  n: number;
  start: Int32Array;
  nbr: Int32Array;
  weight: Float64Array;
  self: Float64Array;
}

/** Mulberry32: small, fast, deterministic; only for visiting order. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function symmetric(graph: TrustGraph): LevelGraph {
  const n = graph.n;
  const degree = new Int32Array(n + 1);
  for (let u = 0; u < n; u++) {
    for (let e = graph.outStart[u]; e < graph.outStart[u + 1]; e++) {
      degree[u + 1]++;
      degree[graph.outTo[e] + 1]++;
    }
  }
  for (let u = 0; u < n; u++) degree[u + 1] += degree[u];
  const start = degree.slice();
  const fill = degree.slice(0, n);
  const nbr = new Int32Array(start[n]);
  const weight = new Float64Array(start[n]);
  for (let u = 0; u < n; u++) {
    for (let e = graph.outStart[u]; e < graph.outStart[u + 1]; e++) {
      const v = graph.outTo[e];
      const w = graph.outW[e] / scoreScale;
      nbr[fill[u]] = v;
      weight[fill[u]++] = w;
      nbr[fill[v]] = u;
      weight[fill[v]++] = w;
    }
  }
  return { n, start, nbr, weight, self: new Float64Array(n) };
}

/** One level of local moves; returns the community of each level node and whether anything moved. */
function localMoves(
  g: LevelGraph,
  random: () => number,
  passesMax: number,
): { community: Int32Array; moved: boolean } {
  const n = g.n;
  const strength = new Float64Array(n);
  let total = 0;
  for (let u = 0; u < n; u++) {
    let s = 2 * g.self[u];
    for (let e = g.start[u]; e < g.start[u + 1]; e++) s += g.weight[e];
    strength[u] = s;
    total += s;
  }
  const community = Int32Array.from({ length: n }, (_, i) => i);
  if (total === 0) return { community, moved: false };
  const tot = strength.slice();
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const linkWeight = new Float64Array(n);
  const touched = new Int32Array(n);
  let moved = false;
  for (let pass = 0; pass < passesMax; pass++) {
    let moves = 0;
    for (let k = 0; k < n; k++) {
      const u = order[k];
      const own = community[u];
      let touchedCount = 0;
      for (let e = g.start[u]; e < g.start[u + 1]; e++) {
        const v = g.nbr[e];
        if (v === u) continue;
        const c = community[v];
        if (linkWeight[c] === 0) touched[touchedCount++] = c;
        linkWeight[c] += g.weight[e];
      }
      tot[own] -= strength[u];
      const ku = strength[u] / total;
      let best = own;
      let bestGain = linkWeight[own] - tot[own] * ku;
      for (let t = 0; t < touchedCount; t++) {
        const c = touched[t];
        const gain = linkWeight[c] - tot[c] * ku;
        if (gain > bestGain + 1e-12 || (Math.abs(gain - bestGain) <= 1e-12 && c < best)) {
          best = c;
          bestGain = gain;
        }
      }
      for (let t = 0; t < touchedCount; t++) linkWeight[touched[t]] = 0;
      linkWeight[own] = 0;
      tot[best] += strength[u];
      if (best !== own) {
        community[u] = best;
        moves++;
      }
    }
    if (moves === 0) break;
    moved = true;
  }
  return { community, moved };
}

function aggregate(g: LevelGraph, community: Int32Array): { graph: LevelGraph; map: Int32Array } {
  const n = g.n;
  const map = new Int32Array(n).fill(-1);
  let count = 0;
  for (let u = 0; u < n; u++) if (map[community[u]] === -1) map[community[u]] = count++;
  const of = new Int32Array(n);
  for (let u = 0; u < n; u++) of[u] = map[community[u]];
  const self = new Float64Array(count);
  const rows: Map<number, number>[] = Array.from({ length: count }, () => new Map());
  for (let u = 0; u < n; u++) {
    const cu = of[u];
    self[cu] += g.self[u];
    for (let e = g.start[u]; e < g.start[u + 1]; e++) {
      const cv = of[g.nbr[e]];
      if (cu === cv) self[cu] += g.weight[e] / 2;
      else rows[cu].set(cv, (rows[cu].get(cv) ?? 0) + g.weight[e]);
    }
  }
  const start = new Int32Array(count + 1);
  for (let c = 0; c < count; c++) start[c + 1] = start[c] + rows[c].size;
  const nbr = new Int32Array(start[count]);
  const weight = new Float64Array(start[count]);
  for (let c = 0; c < count; c++) {
    let i = start[c];
    for (const [v, w] of [...rows[c]].sort((a, b) => a[0] - b[0])) {
      nbr[i] = v;
      weight[i++] = w;
    }
  }
  return { graph: { n: count, start, nbr, weight, self }, map: of };
}

function modularity(g: LevelGraph): number {
  let total = 0, inside = 0, squares = 0;
  for (let u = 0; u < g.n; u++) {
    let s = 2 * g.self[u];
    for (let e = g.start[u]; e < g.start[u + 1]; e++) s += g.weight[e];
    total += s;
    inside += 2 * g.self[u];
    squares += s * s;
  }
  return total === 0 ? 0 : inside / total - squares / (total * total);
}

export function louvain(graph: TrustGraph, options: LouvainOptions = {}): LouvainResult {
  const random = mulberry32(options.seed ?? 1);
  const passesMax = options.passesMax ?? 50;
  const levelsMax = options.levelsMax ?? 20;
  let g = symmetric(graph);
  let membership = Int32Array.from({ length: graph.n }, (_, i) => i);
  const levels: Int32Array[] = [];
  for (let level = 0; level < levelsMax; level++) {
    const { community, moved } = localMoves(g, random, passesMax);
    if (!moved) break;
    const { graph: next, map } = aggregate(g, community);
    membership = membership.map((c) => map[c]);
    levels.push(membership);
    g = next;
    if (next.n === 1) break;
  }
  if (levels.length === 0) levels.push(membership);
  return { levels, modularity: modularity(g) };
}
