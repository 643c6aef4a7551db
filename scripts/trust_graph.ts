/**
 * Synthetic trust graphs for tests and benchmarks, from a fixed seed: an
 * honest small-world graph (ring lattice with random long-range edges), plus
 * planted circular-vouching rings (2–5 members, high mutual scores, only
 * vouched *for* by honest members) and planted Sybil clusters (dense inside,
 * attached to the honest graph by a few edges).
 *
 * Usage as a script: `deno run -A scripts/trust_graph.ts --members 10000 --out edges.tsv`
 */
import { TrustGraph } from "../core/trust/graph.ts";

export interface GeneratorOptions {
  seed: number;
  honest: number;
  /** Out-edges per honest member. */
  degree: number;
  /** Share of honest edges that go to a random member instead of a ring neighbour. */
  rewire: number;
  rings: number;
  sybilClusters: number;
  sybilSize: number;
  /** Out-edges per Sybil member, inside its cluster. */
  sybilDegree: number;
  /** Edges between a cluster and the honest graph (both directions). */
  attachEdges: number;
}

export interface GeneratedGraph {
  n: number;
  from: Int32Array;
  to: Int32Array;
  score: Uint16Array;
  count: number;
  honestCount: number;
  rings: number[][];
  sybils: number[][];
}

export const defaultGenerator: GeneratorOptions = {
  seed: 42,
  honest: 9_600,
  degree: 8,
  rewire: 0.3,
  rings: 12,
  sybilClusters: 12,
  sybilSize: 30,
  sybilDegree: 6,
  attachEdges: 3,
};

/** Mulberry32, seeded. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateTrustGraph(partial: Partial<GeneratorOptions> = {}): GeneratedGraph {
  const o = { ...defaultGenerator, ...partial };
  const random = seededRandom(o.seed);
  const int = (n: number) => Math.floor(random() * n);
  const scoreIn = (lo: number, hi: number) => lo + int(hi - lo + 1);
  const capacity = o.honest * o.degree + o.rings * 40 +
    o.sybilClusters * (o.sybilSize * o.sybilDegree + 2 * o.attachEdges) + 16;
  const from = new Int32Array(capacity);
  const to = new Int32Array(capacity);
  const score = new Uint16Array(capacity);
  let count = 0;
  const add = (u: number, v: number, s: number) => {
    if (u === v) return;
    from[count] = u;
    to[count] = v;
    score[count++] = s;
  };
  const h = o.honest;
  const half = Math.max(1, o.degree);
  for (let u = 0; u < h; u++) {
    for (let k = 0; k < o.degree; k++) {
      let v: number;
      if (random() < o.rewire) v = int(h);
      else {
        const step = 1 + int(half);
        v = (u + (random() < 0.5 ? step : h - step)) % h;
      }
      add(u, v, scoreIn(200, 900));
    }
  }
  let next = h;
  const rings: number[][] = [];
  for (let r = 0; r < o.rings; r++) {
    const size = 2 + (r % 4);
    const members = Array.from({ length: size }, (_, i) => next + i);
    next += size;
    for (const u of members) {
      for (const v of members) if (u !== v) add(u, v, scoreIn(800, 1000));
    }
    // Vouched for by a few honest members; the ring vouches for no one outside.
    for (let k = 0; k < 2; k++) add(int(h), members[int(size)], scoreIn(200, 900));
    rings.push(members);
  }
  const sybils: number[][] = [];
  for (let c = 0; c < o.sybilClusters; c++) {
    const members = Array.from({ length: o.sybilSize }, (_, i) => next + i);
    next += o.sybilSize;
    for (const u of members) {
      for (let k = 0; k < o.sybilDegree; k++) add(u, members[int(o.sybilSize)], scoreIn(700, 1000));
    }
    for (let k = 0; k < o.attachEdges; k++) {
      add(int(h), members[int(o.sybilSize)], scoreIn(200, 700));
      add(members[int(o.sybilSize)], int(h), scoreIn(500, 1000));
    }
    sybils.push(members);
  }
  return { n: next, from, to, score, count, honestCount: h, rings, sybils };
}

/** A generated graph as a TrustGraph with ids `m<index>`. */
export function generatedTrustGraph(generated: GeneratedGraph): TrustGraph {
  return TrustGraph.fromEdges(generated.n, generated, {
    ids: Array.from({ length: generated.n }, (_, i) => `m${i}`),
  });
}

if (import.meta.main) {
  const { parseScriptArgs, scriptSpec, wholeNumberArg } = await import("./_args.ts");
  const usage = scriptSpec({
    usage: "deno run -A scripts/trust_graph.ts [options]",
    description: "Writes a synthetic trust graph (honest small world, planted rings and Sybil\n" +
      "clusters) as tab-separated `from to score` lines.",
    options: {
      members: { type: "string", default: "10000", value: "N", description: "members" },
      degree: {
        type: "string",
        default: "8",
        value: "D",
        description: "out-edges per honest member",
      },
      seed: { type: "string", default: "42", value: "S", description: "random seed" },
      out: {
        type: "string",
        default: "trust_edges.tsv",
        value: "FILE",
        description: "output file",
      },
    },
  });
  const { values } = parseScriptArgs(usage);
  const members = wholeNumberArg(usage, values.members, { name: "--members", fallback: 10000 });
  const degree = wholeNumberArg(usage, values.degree, { name: "--degree", fallback: 8 });
  const out = values.out;
  const g = generateTrustGraph({
    seed: wholeNumberArg(usage, values.seed, { name: "--seed", fallback: 42, min: 0 }),
    honest: Math.max(1, members - 12 * 30 - 42),
    degree,
  });
  const lines: string[] = [];
  for (let i = 0; i < g.count; i++) lines.push(`${g.from[i]}\t${g.to[i]}\t${g.score[i] / 1000}`);
  await Deno.writeTextFile(out, lines.join("\n") + "\n");
  const encoder = new TextEncoder();
  Deno.stderr.writeSync(encoder.encode(`Wrote ${g.count} edges among ${g.n} members to ${out}\n`));
}
