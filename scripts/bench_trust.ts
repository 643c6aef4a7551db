/**
 * `deno run -A scripts/bench_trust.ts [--members N] [--degree D] [--louvain-members N]`:
 * trust at scale on a generated graph (default 100,000 members, ~1,000,000
 * edges): one score with explanation, all scores from one observer, the full
 * anomaly scan (rings, Sybil clusters, score-history replay and rapid growth),
 * and SCC + Louvain side by side with python3-networkx on the same edges, timed
 * inside Python (graph loading excluded on both sides). networkx's Louvain is
 * too slow for the bench budget at full size, so communities are compared on
 * a smaller generated graph (`--louvain-members`, default 20,000).
 */
import { defaultParams } from "../core/params.ts";
import {
  findRapidGrowth,
  findRings,
  findSybilClusters,
  thresholdsFromParams,
} from "../core/trust/anomalies.ts";
import { TrustGraph } from "../core/trust/graph.ts";
import { type HistoryEvent, replayHistory } from "../core/trust/history.ts";
import { louvain } from "../core/trust/louvain.ts";
import { stronglyConnectedComponents } from "../core/trust/scc.ts";
import { type GeneratedGraph, generateTrustGraph, seededRandom } from "./trust_graph.ts";
import { parseScriptArgs, scriptSpec, wholeNumberArg } from "./_args.ts";

const usage = scriptSpec({
  usage: "deno run -A scripts/bench_trust.ts [options]",
  description: "Trust at scale on a generated graph: scores, the anomaly scan, SCC and Louvain\n" +
    "against python3-networkx (a markdown report on stdout).",
  options: {
    members: { type: "string", value: "N", description: "members (default 100000)" },
    degree: { type: "string", value: "D", description: "out-edges per honest member (default 12)" },
    "louvain-members": {
      type: "string",
      value: "N",
      description: "members of the graph Louvain is compared on (default 20000)",
    },
  },
});
const { values } = parseScriptArgs(usage);
const members = wholeNumberArg(usage, values.members, { name: "--members", fallback: 100_000 });
const degree = wholeNumberArg(usage, values.degree, { name: "--degree", fallback: 12 });
const louvainMembers = wholeNumberArg(usage, values["louvain-members"], {
  name: "--louvain-members",
  fallback: 20_000,
});
const encoder = new TextEncoder();
const progress = (text: string) => Deno.stderr.writeSync(encoder.encode(`bench_trust: ${text}\n`));
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));

function generate(total: number): GeneratedGraph {
  return generateTrustGraph({ seed: 7, honest: total - 42 - 12 * 30, degree });
}

function build(g: GeneratedGraph): TrustGraph {
  return TrustGraph.fromEdges(g.n, g, { ids: Array.from({ length: g.n }, (_, i) => `m${i}`) });
}

function time<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const value = fn();
  return [value, performance.now() - start];
}

/** Median of three runs: the machine is shared, one run can land on a busy moment. */
function median3<T>(fn: () => T): [T, number] {
  const runs = [time(fn), time(fn), time(fn)].sort((x, y) => x[1] - y[1]);
  return runs[1];
}

async function writeEdges(path: string, graph: TrustGraph): Promise<void> {
  const lines: string[] = [];
  for (let u = 0; u < graph.n; u++) {
    for (let e = graph.outStart[u]; e < graph.outStart[u + 1]; e++) {
      lines.push(`${u} ${graph.outTo[e]} ${graph.outW[e] / 1000}`);
    }
  }
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

const python = `
import json, sys, time
import networkx as nx
path, mode = sys.argv[1], sys.argv[2]
G = nx.DiGraph()
with open(path) as f:
    G.add_weighted_edges_from((int(u), int(v), float(w)) for u, v, w in (l.split() for l in f))
out = {"nodes": G.number_of_nodes(), "edges": G.number_of_edges()}
if mode in ("scc", "both"):
    t = time.perf_counter(); comps = list(nx.strongly_connected_components(G))
    out["scc_ms"] = (time.perf_counter() - t) * 1000; out["scc_count"] = len(comps)
if mode in ("louvain", "both"):
    U = G.to_undirected()
    t = time.perf_counter(); parts = nx.community.louvain_communities(U, weight="weight", seed=1)
    out["louvain_ms"] = (time.perf_counter() - t) * 1000; out["louvain_count"] = len(parts)
print(json.dumps(out))
`;

async function networkx(path: string, mode: string): Promise<Record<string, number> | string> {
  const script = await Deno.makeTempFile({ suffix: ".py" });
  await Deno.writeTextFile(script, python);
  try {
    const result = await new Deno.Command("python3", {
      args: [script, path, mode],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (result.code !== 0) return new TextDecoder().decode(result.stderr).trim().split("\n").pop()!;
    return JSON.parse(new TextDecoder().decode(result.stdout));
  } catch (error) {
    return (error as Error).message;
  } finally {
    await Deno.remove(script);
  }
}

const fmt = (ms: number) => ms < 10 ? `${ms.toFixed(3)} ms` : `${ms.toFixed(0)} ms`;
const ratio = (theirs: number, ours: number) => `${(theirs / ours).toFixed(1)}×`;

progress(`generating ${members} members`);
const generated = generate(members);
const [graph, buildMs] = time(() => build(generated));
progress(`graph built: ${graph.n} members, ${graph.edgeCount} edges in ${fmt(buildMs)}`);

// One score with explanation: random observer, a target two hops away.
const random = seededRandom(11);
const samples: number[] = [];
let intermediariesSeen = 0;
for (let k = 0; k < 2000; k++) {
  const observer = Math.floor(random() * generated.honestCount);
  const row = graph.outStart[observer];
  const via = graph.outTo[row + Math.floor(random() * (graph.outStart[observer + 1] - row))];
  const target = graph.outTo[graph.outStart[via]] ?? via;
  const start = performance.now();
  const explained = graph.explain(observer, target, "all");
  samples.push(performance.now() - start);
  intermediariesSeen += explained.intermediaries.length;
}
samples.sort((a, b) => a - b);
const explainMedian = samples[samples.length >> 1];
const explainP99 = samples[Math.floor(samples.length * 0.99)];
const explainMax = samples[samples.length - 1];

// Scores of every member from one observer.
const allRuns: number[] = [];
for (let k = 0; k < 5; k++) allRuns.push(time(() => graph.scoresFrom(k * 997, "all"))[1]);
allRuns.sort((a, b) => a - b);
const allMedian = allRuns[2];

// Full anomaly scan.
const thresholds = thresholdsFromParams(defaultParams());
progress("anomaly scan");
const [components, sccMs] = median3(() => stronglyConnectedComponents(graph));
const [rings, ringsMs] = time(() => findRings(graph, thresholds, components));
const [communities, louvainMs] = median3(() => louvain(graph, { seed: 1 }));
const [sybils, sybilMs] = time(() => findSybilClusters(graph, thresholds, communities));
// Score history: every edge gets a time within 90 days; the anchors are 10 members.
const day = 86_400_000;
const events: HistoryEvent[] = [];
for (let u = 0; u < graph.n; u++) {
  for (let e = graph.outStart[u]; e < graph.outStart[u + 1]; e++) {
    events.push({
      from: graph.ids[u],
      to: graph.ids[graph.outTo[e]],
      graph: "social",
      score: graph.outW[e],
      ts: Math.floor(random() * 90 * day),
      cid: `e${e}`,
    });
  }
}
const anchors = Array.from({ length: 10 }, (_, i) => `m${i * 101}`);
const [histories, historyMs] = time(() => replayHistory(events, { anchors }));
const [growth, growthMs] = time(() => findRapidGrowth(histories, thresholds));
const scanMs = sccMs + ringsMs + louvainMs + sybilMs + historyMs + growthMs;

const flagged = new Set(sybils.flatMap((s) => s.members));
const sybilMembers = generated.sybils.flat();
const caught = sybilMembers.filter((i) => flagged.has(`m${i}`)).length;
let honestFlagged = 0;
for (let i = 0; i < generated.honestCount; i++) if (flagged.has(`m${i}`)) honestFlagged++;

// networkx side by side.
const tmp = await Deno.makeTempDir({ prefix: "bench-trust-" });
progress("networkx SCC on the full graph");
await writeEdges(`${tmp}/full.txt`, graph);
const nxFull = await networkx(`${tmp}/full.txt`, "scc");
progress(`networkx Louvain on ${louvainMembers} members`);
const small = build(generate(louvainMembers));
await writeEdges(`${tmp}/small.txt`, small);
const [, smallSccMs] = median3(() => stronglyConnectedComponents(small));
const [smallCommunities, smallLouvainMs] = median3(() => louvain(small, { seed: 1 }));
const nxSmall = await networkx(`${tmp}/small.txt`, "both");
await Deno.remove(tmp, { recursive: true });

out(
  `## Trust (${graph.n.toLocaleString("en")} members, ${
    graph.edgeCount.toLocaleString("en")
  } edges)`,
);
out("");
out("| measure | result | target |");
out("| --- | --- | --- |");
out(`| build in-memory graph (CSR, both directions) | ${fmt(buildMs)} | |`);
out(
  `| one score with --explain (2,000 pairs) | median ${fmt(explainMedian)}, p99 ${
    fmt(explainP99)
  }, max ${fmt(explainMax)} (mean ${
    (intermediariesSeen / samples.length).toFixed(1)
  } intermediaries) | ≤ 10 ms |`,
);
out(`| all members' scores from one observer | ${fmt(allMedian)} (median of 5) | ≤ 2 s |`);
out(
  `| full anomaly scan | ${fmt(scanMs)}: SCC ${fmt(sccMs)}, rings ${fmt(ringsMs)}, Louvain ${
    fmt(louvainMs)
  }, Sybil check ${fmt(sybilMs)}, history replay of ${events.length.toLocaleString("en")} events ${
    fmt(historyMs)
  }, rapid growth ${fmt(growthMs)} | ≤ 15 s |`,
);
out(
  `| findings | ${rings.length} rings (${generated.rings.length} planted), ${sybils.length} Sybil clusters: ${caught}/${sybilMembers.length} planted Sybils and ${honestFlagged} honest flagged, ${growth.length} rapid-growth | |`,
);
out(
  `| Louvain levels / communities | ${communities.levels.length} levels, modularity ${
    communities.modularity.toFixed(3)
  } | |`,
);
out("");
out(
  "networkx (python3-networkx, one run timed inside Python, graph loading excluded; icn: median of 3):",
);
out("");
out("| algorithm | graph | icn | networkx | networkx ÷ icn |");
out("| --- | --- | --- | --- | --- |");
if (typeof nxFull === "string") out(`| SCC | full | ${fmt(sccMs)} | failed: ${nxFull} | |`);
else {
  out(
    `| SCC (Tarjan, iterative) | ${graph.n} / ${graph.edgeCount} | ${
      fmt(sccMs)
    } (${components.count} comps) | ${fmt(nxFull.scc_ms)} (${nxFull.scc_count} comps) | ${
      ratio(nxFull.scc_ms, sccMs)
    } |`,
  );
}
if (typeof nxSmall === "string") {
  out(`| Louvain | small | ${fmt(smallLouvainMs)} | failed: ${nxSmall} | |`);
} else {
  out(
    `| SCC | ${small.n} / ${small.edgeCount} | ${fmt(smallSccMs)} | ${fmt(nxSmall.scc_ms)} | ${
      ratio(nxSmall.scc_ms, smallSccMs)
    } |`,
  );
  const ourCount = new Set(smallCommunities.levels[smallCommunities.levels.length - 1]).size;
  out(
    `| Louvain | ${small.n} / ${small.edgeCount} | ${
      fmt(smallLouvainMs)
    } (${ourCount} communities) | ${
      fmt(nxSmall.louvain_ms)
    } (${nxSmall.louvain_count} communities) | ${ratio(nxSmall.louvain_ms, smallLouvainMs)} |`,
  );
}
