/**
 * An in-memory trust graph in compressed sparse rows (out-edges and in-edges,
 * each row sorted by node index), built once from an edge list and then read
 * by the formula, SCC, community detection and the anomaly scan. Nodes are
 * dense indices 0..n-1; `ids` maps them back to DIDs.
 */
import { type GraphScope, scoreScale } from "./edge.ts";
import { combineScore, explainScore, graphWeights, type ScoreExplanation } from "./score.ts";

export interface GraphOptions {
  /** DID of each node index (for explanations and reports). */
  ids?: readonly string[];
  /** 1 where the node is a member; only members act as intermediaries. Default: all. */
  members?: Uint8Array;
}

/** Counting sort of `order` by `key[order[i]]` (stable), keys in 0..n-1. */
function countingSort(order: Int32Array, key: Int32Array, n: number): Int32Array {
  const counts = new Int32Array(n + 1);
  for (let i = 0; i < order.length; i++) counts[key[order[i]] + 1]++;
  for (let i = 0; i < n; i++) counts[i + 1] += counts[i];
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) out[counts[key[order[i]]]++] = order[i];
  return out;
}

export class TrustGraph {
  readonly n: number;
  readonly outStart: Int32Array;
  readonly outTo: Int32Array;
  readonly outW: Uint16Array;
  readonly inStart: Int32Array;
  readonly inFrom: Int32Array;
  readonly inW: Uint16Array;
  readonly ids: readonly string[];
  readonly members: Uint8Array | null;

  private constructor(
    n: number,
    rows: { outStart: Int32Array; outTo: Int32Array; outW: Uint16Array },
    cols: { inStart: Int32Array; inFrom: Int32Array; inW: Uint16Array },
    options: GraphOptions,
  ) {
    this.n = n;
    this.outStart = rows.outStart;
    this.outTo = rows.outTo;
    this.outW = rows.outW;
    this.inStart = cols.inStart;
    this.inFrom = cols.inFrom;
    this.inW = cols.inW;
    this.ids = options.ids ?? Array.from({ length: n }, (_, i) => String(i));
    this.members = options.members ?? null;
  }

  /**
   * Builds from parallel arrays (`count` edges; scores in thousandths).
   * Duplicate pairs keep the highest score; score 0 and self-edges are dropped.
   */
  static fromEdges(
    n: number,
    edges: { from: Int32Array; to: Int32Array; score: Uint16Array; count?: number },
    options: GraphOptions = {},
  ): TrustGraph {
    const count = edges.count ?? edges.from.length;
    let order: Int32Array = new Int32Array(count);
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const u = edges.from[i], v = edges.to[i];
      if (u < 0 || u >= n || v < 0 || v >= n) {
        throw new RangeError(`Edge ${i} (${u} → ${v}) is outside 0..${n - 1}`);
      }
      if (u !== v && edges.score[i] > 0) order[kept++] = i;
    }
    order = order.subarray(0, kept);
    order = countingSort(countingSort(order, edges.to, n), edges.from, n);
    const outStart = new Int32Array(n + 1);
    const outTo = new Int32Array(kept);
    const outW = new Uint16Array(kept);
    const outFrom = new Int32Array(kept);
    let m = 0;
    for (let k = 0; k < kept; k++) {
      const i = order[k];
      const u = edges.from[i], v = edges.to[i], w = edges.score[i];
      if (m > 0 && outFrom[m - 1] === u && outTo[m - 1] === v) {
        if (w > outW[m - 1]) outW[m - 1] = w;
        continue;
      }
      outFrom[m] = u;
      outTo[m] = v;
      outW[m] = Math.min(w, scoreScale);
      outStart[u + 1]++;
      m++;
    }
    for (let u = 0; u < n; u++) outStart[u + 1] += outStart[u];
    const rows = { outStart, outTo: outTo.slice(0, m), outW: outW.slice(0, m) };
    // In-rows: stable sort of the (from, to)-sorted list by `to` keeps each row sorted by `from`.
    const inOrder = countingSort(
      Int32Array.from({ length: m }, (_, i) => i),
      rows.outTo,
      n,
    );
    const inStart = new Int32Array(n + 1);
    const inFrom = new Int32Array(m);
    const inW = new Uint16Array(m);
    for (let k = 0; k < m; k++) {
      const e = inOrder[k];
      inFrom[k] = outFrom[e];
      inW[k] = rows.outW[e];
      inStart[rows.outTo[e] + 1]++;
    }
    for (let v = 0; v < n; v++) inStart[v + 1] += inStart[v];
    return new TrustGraph(n, rows, { inStart, inFrom, inW }, options);
  }

  get edgeCount(): number {
    return this.outTo.length;
  }

  isMember(node: number): boolean {
    return this.members === null || this.members[node] === 1;
  }

  /** Score of edge u→v in thousandths (0 when absent). */
  edgeScore(u: number, v: number): number {
    let lo = this.outStart[u], hi = this.outStart[u + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = this.outTo[mid];
      if (x === v) return this.outW[mid];
      if (x < v) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** The (intermediary, t(o→i), t(i→t)) triples, by merging two sorted rows. */
  paths(observer: number, target: number): { via: number; toVia: number; fromVia: number }[] {
    const out: { via: number; toVia: number; fromVia: number }[] = [];
    let a = this.outStart[observer];
    const aEnd = this.outStart[observer + 1];
    let b = this.inStart[target];
    const bEnd = this.inStart[target + 1];
    while (a < aEnd && b < bEnd) {
      const x = this.outTo[a], y = this.inFrom[b];
      if (x === y) {
        if (x !== observer && x !== target && this.isMember(x)) {
          out.push({ via: x, toVia: this.outW[a], fromVia: this.inW[b] });
        }
        a++;
        b++;
      } else if (x < y) a++;
      else b++;
    }
    return out;
  }

  /** Score of `target` seen by `observer` (weights of `scope`). */
  score(observer: number, target: number, scope: GraphScope = "all"): number {
    if (observer === target) return 1;
    const paths = this.paths(observer, target);
    let sum = 0;
    for (const p of paths) sum += p.toVia * p.fromVia;
    return combineScore(
      this.edgeScore(observer, target),
      sum,
      paths.length,
      graphWeights[scope],
    );
  }

  explain(observer: number, target: number, scope: GraphScope = "all"): ScoreExplanation {
    const paths = this.paths(observer, target).map((p) => ({ ...p, via: this.ids[p.via] }));
    return explainScore({
      observer: this.ids[observer],
      target: this.ids[target],
      graph: scope,
      direct: observer === target ? scoreScale : this.edgeScore(observer, target),
      paths,
    });
  }

  /** Scores of every node seen by `observer`, in one pass over two hops. */
  scoresFrom(observer: number, scope: GraphScope = "all"): Float64Array {
    const n = this.n;
    const sums = new Float64Array(n);
    const counts = new Int32Array(n);
    const direct = new Uint16Array(n);
    for (let a = this.outStart[observer]; a < this.outStart[observer + 1]; a++) {
      const i = this.outTo[a];
      const toVia = this.outW[a];
      direct[i] = toVia;
      if (!this.isMember(i)) continue;
      for (let b = this.outStart[i]; b < this.outStart[i + 1]; b++) {
        const t = this.outTo[b];
        if (t === observer || t === i) continue;
        sums[t] += toVia * this.outW[b];
        counts[t]++;
      }
    }
    const weights = graphWeights[scope];
    const scores = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      scores[t] = direct[t] === 0 && counts[t] === 0
        ? 0
        : combineScore(direct[t], sums[t], counts[t], weights);
    }
    scores[observer] = 1;
    return scores;
  }
}
