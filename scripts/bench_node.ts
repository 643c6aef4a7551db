/**
 * Node benchmark, on loopback, each figure against its target:
 * - throughput: 2 nodes, validated and stored envelopes/s end to end, as a ratio of raw signed
 *   gossipsub messages/s measured in the same run (target ≥ 0.7);
 * - line: 8 nodes in a line, propagation to the far end at light load (target p99 ≤ 20 ms);
 * - sync: a fresh node in its own process, on a Deno KV store like `icn node run`, syncs
 *   100,000 envelopes from a peer (target ≤ 10 s) and its peak RSS (target ≤ 200 MB), once with
 *   the V8 flags icn starts with (`v8HeapFlags`) and once with V8's default heap sizing
 *   (`BENCH_SYNC_V8_FLAGS="A;B;..."` runs those flag sets instead, an empty one for V8's defaults);
 * - sync-ledger: the same sync with 100,000 `ledger.transfer` envelopes among 1,000 members (the
 *   ledger benchmark's world, `_bench_ledger_world.ts`) instead of trust edges by 10 authors:
 *   1,000 chains of about 100 (target ≤ 10 s, peak RSS ≤ 200 MB). `--baseline DIR,...` also
 *   runs the fresh node from each source tree DIR (e.g. `git archive BASE | tar -x -C DIR`),
 *   first, against the same peer: a before/after in one run;
 * - spam: honest throughput while a peer in its own process publishes at 10× its allowance
 *   (target ≥ 80 % of the unspammed figure).
 *
 * `deno run -A scripts/bench_node.ts [--quick] [--only throughput,line,sync,sync-ledger,spam]`
 * prints a markdown report on stdout (progress on stderr; `BENCH_DEBUG=1` adds the nodes' events).
 * `--child FILE` is internal: the sync and spam peers run as child processes of this script.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import * as dagCbor from "@ipld/dag-cbor";
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { ingest, type IngestOutcome } from "../core/chain/ingest.ts";
import { type SealedEnvelope, sealEnvelope } from "../core/envelope/envelope.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import type { Logger } from "../core/ports.ts";
import { kelNet } from "../core/constants.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { type TestIdentity, testIdentity } from "../core/testing.ts";
import { v8HeapFlags } from "../cli/node_heap.ts";
import type { NodeConfig } from "../net/config.ts";
import {
  type Cluster,
  connect,
  logSize,
  quietLogger,
  startCluster,
  startNode,
  waitFor,
} from "../tests/_node_fixture.ts";
import { parseScriptArgs, scriptSpec, usageError } from "./_args.ts";
import { benchT0, signBenchTransfers } from "./_bench_ledger_world.ts";

const phases = ["throughput", "line", "sync", "sync-ledger", "spam"];
const usage = scriptSpec({
  usage: "deno run -A scripts/bench_node.ts [--quick] [--only PHASES] [--baseline DIR]",
  description: "Node benchmark on loopback, each figure against its target: throughput, line\n" +
    "propagation, sync of 100,000 envelopes (trust edges; ledger transfers), honest throughput\n" +
    "under spam (a markdown report on stdout, progress on stderr).",
  options: {
    quick: { type: "boolean", default: false, description: "smaller runs" },
    only: {
      type: "string",
      value: "PHASES",
      description: `comma-separated phases to run (${phases.join(", ")})`,
    },
    baseline: {
      type: "string",
      value: "DIR",
      description:
        "sync-ledger: also sync with the fresh node of each source tree (DIR,...), first",
    },
    child: { type: "string", value: "FILE", description: "internal: run as a sync or spam peer" },
  },
  notes: [
    'BENCH_SYNC_V8_FLAGS="A;B;..." runs the sync under those V8 flag sets; BENCH_DEBUG=1 logs events.',
  ],
});
const flags = parseScriptArgs(usage).values;
const quick = flags.quick;
const only = flags.only === undefined ? null : new Set(flags.only.split(","));
for (const phase of only ?? []) {
  if (!phases.includes(phase)) usageError(usage, `Unknown phase "${phase}" in --only`);
}
const wanted = (name: string) => !only || only.has(name);
/** Source trees whose fresh node also syncs in sync-ledger (`--baseline DIR,...`), first. */
const baselines = flags.baseline?.split(",").filter((dir) => dir !== "") ?? [];
for (const dir of baselines) {
  try {
    Deno.statSync(`${dir}/net/sync.ts`);
  } catch {
    usageError(usage, `--baseline ${dir}: not a source tree of icn (no net/sync.ts)`);
  }
}

/** Envelopes per throughput run. */
const throughputCount = quick ? 1000 : 5000;
/** Envelopes the fresh node syncs. */
const syncCount = quick ? 10_000 : 100_000;
const syncAuthors = 10;
/** Transfers the fresh node syncs in the ledger variant (among `benchMembersTotal` members). */
const syncLedgerCount = quick ? 10_000 : 100_000;
/** Envelopes sent along the line, after `lineWarmup` unmeasured ones. */
const lineCount = quick ? 40 : 200;
const lineWarmup = 10;
const lineIntervalMs = 50;
/** Upper bound on any wait in this script. */
const waitMaxMs = 300_000;

const fast: Partial<NodeConfig> = { globalRate: 1_000_000, peerRate: 1_000_000 };
const encoder = new TextEncoder();
const log = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));
const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  log(line);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const met = (ok: boolean) => ok ? "met" : "**NOT met**";

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** A chain of `count` trust edges by `author` to `to`, signed ahead of time. */
async function signedChain(
  author: TestIdentity,
  net: string,
  to: string,
  count: number,
  startTs: number,
): Promise<SealedEnvelope[]> {
  const out: SealedEnvelope[] = [];
  let prev: string | null = null;
  for (let seq = 0; seq < count; seq++) {
    const sealed: SealedEnvelope = await sealEnvelope({
      net,
      // Trust edges: ledger transfers would hit the per-hour velocity rule.
      kind: "trust.edge",
      seq,
      prev,
      ts: startTs + seq,
      body: { to, score: 1 + (seq % 999), graph: "social" },
    }, author.signer);
    out.push(sealed);
    prev = sealed.cid;
  }
  return out;
}

// ---- child processes ----

/** Warnings and sync failures of a child's node, on stderr. */
function stderrLogger(who: string, verbose = false): Logger {
  const write = (level: string) => (event: string, fields?: Record<string, unknown>) => {
    if (level === "debug" && !verbose && !event.startsWith("sync")) return;
    const at = (performance.timeOrigin + performance.now()) % 1e6 / 1000;
    log(`  [${who} ${at.toFixed(3)}] ${level} ${event} ${JSON.stringify(fields ?? {})}`);
  };
  return {
    debug: write("debug"),
    info: verbose ? write("info") : () => {},
    warn: write("warn"),
    error: write("error"),
  };
}

interface ChildSpec {
  role: "sync" | "spam";
  genesis: Genesis;
  seed: number;
  identityTs: number;
  addr: string;
  /** sync: envelopes to wait for; its store directory. */
  target: number;
  dir: string;
  pageSize: number;
  /**
   * sync: count the envelopes of this network the node accepts (not log entries) towards
   * `target`, and report the time its sync pages spent in ingest. Empty: the log's size.
   */
  countNet?: string;
  /** spam: messages/s, how many distinct envelopes to sign, whom they name. */
  rate: number;
  count: number;
  to: string;
}

interface ChildHandle {
  child: Deno.ChildProcess;
  /** Next line the child prints on stdout. */
  line(): Promise<string>;
  send(line: string): Promise<void>;
  close(): Promise<void>;
}

const hasNice = (() => {
  try {
    return new Deno.Command("nice", { args: ["true"] }).outputSync().success;
  } catch {
    return false;
  }
})();

async function spawnChild(
  spec: ChildSpec,
  v8Flags = "",
  /** The script the child runs (this one, or its copy in a baseline tree). */
  script = new URL(import.meta.url).pathname,
): Promise<ChildHandle> {
  const file = await Deno.makeTempFile({ prefix: "icn-bench-node-", suffix: ".cbor" });
  await Deno.writeFile(file, dagCbor.encode(spec));
  const args = [
    "run",
    "-A",
    `--v8-flags=--expose-gc${v8Flags ? `,${v8Flags}` : ""}`,
    script,
    "--child",
    file,
  ];
  // A spammer is another machine: on this shared box it runs niced, so that it takes CPU from
  // the receiver as little as the scheduler allows.
  const niced = spec.role === "spam" && hasNice;
  const child = new Deno.Command(niced ? "nice" : Deno.execPath(), {
    args: niced ? ["-n", "19", Deno.execPath(), ...args] : args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  let buffer = "";
  return {
    child,
    async line() {
      while (!buffer.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`bench child (${spec.role}) exited before answering`);
        buffer += value;
      }
      const at = buffer.indexOf("\n");
      const out = buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
      return out;
    },
    async send(line: string) {
      // A child that finished on its own has closed its input.
      await writer.write(encoder.encode(line + "\n")).catch(() => {});
    },
    async close() {
      await writer.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await reader.cancel().catch(() => {});
      await child.status;
      clearTimeout(timer);
      await Deno.remove(file).catch(() => {});
    },
  };
}

async function runChild(file: string): Promise<void> {
  const spec = dagCbor.decode(await Deno.readFile(file)) as ChildSpec;
  const member = await testIdentity(spec.seed, spec.identityTs);
  const out = (value: unknown) =>
    Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
  const stdin = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  let input = "";
  const nextInput = async (): Promise<string> => {
    while (!input.includes("\n")) {
      const { value, done } = await stdin.read();
      if (done) return "stop";
      input += value;
    }
    const at = input.indexOf("\n");
    const line = input.slice(0, at);
    input = input.slice(at + 1);
    return line;
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (spec.role === "sync") {
    // The parent never writes: end of input means it is gone.
    nextInput().then(() => Deno.exit(1));
    // Like `icn node run`: a Deno KV store on disk.
    const store = await KvStore.open(`${spec.dir}/icn.kv`);
    let accepted = 0;
    // When the last key event and the first envelope of the network were accepted.
    let kelsAt = NaN;
    let firstAt = NaN;
    const countNet = spec.countNet ?? "";
    const node = await startNode({
      genesis: spec.genesis,
      member,
      kels: [member.inception],
      store,
      config: { ...fast, syncPageSize: spec.pageSize, syncIntervalMs: 600_000 },
      node: {
        authorLimits: false,
        ...(countNet
          ? {
            onAccepted: (sealed: SealedEnvelope) => {
              if (sealed.envelope.net === countNet) {
                if (accepted++ === 0) firstAt = performance.now();
              } else if (sealed.envelope.net === kelNet) kelsAt = performance.now();
            },
          }
          : {}),
      },
      logger: stderrLogger("sync peer", Deno.env.get("BENCH_DEBUG") !== undefined),
    });
    const synced = async () => countNet ? accepted : await logSize(store);
    gc?.();
    const rssStart = Deno.memoryUsage().rss;
    let rssPeak = rssStart;
    let heapTotalPeak = 0;
    const procStatus = () => {
      try {
        return Deno.readTextFileSync("/proc/self/status");
      } catch {
        return "";
      }
    };
    const kibIn = (status: string, field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    // Ledger variant: the anonymous and file-backed (mapped store) parts at their own peaks.
    let anonPeak = 0;
    let filePeak = 0;
    const started = performance.now();
    await node.connect(spec.addr);
    await waitFor("fresh node synced", async () => {
      const sample = Deno.memoryUsage();
      rssPeak = Math.max(rssPeak, sample.rss);
      heapTotalPeak = Math.max(heapTotalPeak, sample.heapTotal);
      if (countNet) {
        const status = procStatus();
        anonPeak = Math.max(anonPeak, kibIn(status, "RssAnon"));
        filePeak = Math.max(filePeak, kibIn(status, "RssFile"));
      }
      return await synced() >= spec.target;
    }, waitMaxMs);
    const seconds = (performance.now() - started) / 1000;
    gc?.();
    await sleep(500);
    gc?.();
    const memory = Deno.memoryUsage();
    const status = procStatus();
    const kib = (field: string) => kibIn(status, field);
    let dbBytes = 0;
    for (const entry of Deno.readDirSync(spec.dir)) {
      dbBytes += Deno.statSync(`${spec.dir}/${entry.name}`).size;
    }
    // Sync pages: how many `ingest` calls and the seconds they took.
    const validation = (await node.metrics.validationSeconds.get()).values
      .filter((v) => v.labels.source === "sync");
    const histogram = (suffix: string) =>
      validation.find((v) => v.metricName?.endsWith(suffix))?.value ?? NaN;
    out({
      rssAnon: kib("RssAnon"),
      rssFile: kib("RssFile"),
      dbBytes,
      seconds,
      envelopes: await synced(),
      ingestSeconds: histogram("_sum"),
      kelSeconds: (kelsAt - started) / 1000,
      anonPeak,
      filePeak,
      firstSeconds: (firstAt - started) / 1000,
      ingestCalls: histogram("_count"),
      rssStart,
      rssPeak,
      rssEnd: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotalPeak,
    });
    await node.stop();
    store.close();
    return;
  }
  // spam: distinct seq-0 envelopes of a non-member, each one worth a full signature check.
  const node = await startNode({ genesis: spec.genesis, member, kels: [member.inception] });
  const net = node.net;
  const spam: Uint8Array[] = [];
  const base = Date.now() - spec.count - 1000;
  for (let i = 0; i < spec.count; i++) {
    const sealed = await sealEnvelope({
      net,
      kind: "trust.edge",
      seq: 0,
      prev: null,
      ts: base + i,
      body: { to: spec.to, score: 1 + (i % 999), graph: "social" },
    }, member.signer);
    spam.push(sealed.bytes);
  }
  const receiver = await node.connect(spec.addr);
  await waitFor("hello with the receiver", () => {
    const peer = node.peers().find((p) => p.peer === receiver);
    return peer?.did != null && node.libp2p.services.pubsub.getSubscribers(node.topic).length > 0;
  }, 30_000);
  out({ ready: true });
  await nextInput();
  let stop = false;
  nextInput().then(() => stop = true);
  // Spamming a peer that closed the connection is pointless: stop and say when.
  let closedAt: number | null = null;
  node.libp2p.addEventListener("peer:disconnect", (event) => {
    if (event.detail.toString() === receiver) closedAt ??= performance.now();
  });
  const started = performance.now();
  let sent = 0;
  // Paced in 5 ms ticks, catching up on a late tick at up to twice the rate.
  while (
    !stop && closedAt === null && sent < spam.length && performance.now() - started < waitMaxMs
  ) {
    const due = Math.min(spam.length, Math.floor(spec.rate * (performance.now() - started) / 1000));
    const batch: Promise<void>[] = [];
    const limit = Math.min(due, sent + Math.ceil(spec.rate / 100));
    while (sent < limit) batch.push(node.publish(spam[sent++]));
    await Promise.all(batch);
    await sleep(5);
  }
  const seconds = ((closedAt ?? performance.now()) - started) / 1000;
  out({ sent, seconds, exhausted: sent >= spam.length, closed: closedAt !== null });
  await node.stop();
}

// ---- clusters on Deno KV ----

/**
 * `startCluster` with every node on its own Deno KV store in a temporary directory, as under
 * `icn node run` (the in-memory store lists by scanning every key, which large stores feel).
 */
async function startKvCluster(
  count: number,
  options: Parameters<typeof startCluster>[1] = {},
): Promise<Cluster> {
  const dir = await Deno.makeTempDir({ prefix: "icn-bench-node-kv-" });
  const stores: KvStore[] = [];
  for (let i = 0; i < count; i++) stores.push(await KvStore.open(`${dir}/node${i}.kv`));
  let next = 0;
  const cluster = await startCluster(count, { ...options, store: () => stores[next++] });
  return {
    ...cluster,
    async stop() {
      await cluster.stop();
      for (const store of stores) store.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// ---- (a) throughput ----

async function rawGossipsubRate(count: number, size: number): Promise<number> {
  const make = () =>
    createLibp2p({
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // Default gossipsub: every message signed by the publisher and verified by the receiver.
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
    });
  const [a, b] = [await make(), await make()];
  try {
    a.services.pubsub.subscribe("raw");
    b.services.pubsub.subscribe("raw");
    await a.dial(b.getMultiaddrs()[0]);
    await waitFor("raw mesh", () => a.services.pubsub.getSubscribers("raw").length > 0);
    let received = 0;
    let last = 0;
    b.services.pubsub.addEventListener("message", () => {
      received++;
      last = performance.now();
    });
    const messages = Array.from({ length: count }, (_, i) => {
      const data = crypto.getRandomValues(new Uint8Array(size));
      new DataView(data.buffer).setUint32(0, i);
      return data;
    });
    const started = performance.now();
    for (const data of messages) await a.services.pubsub.publish("raw", data);
    await waitFor("raw delivery", () => received >= count, waitMaxMs);
    return count / ((last - started) / 1000);
  } finally {
    await a.stop();
    await b.stop();
  }
}

interface HonestPair {
  cluster: Cluster;
  /** Envelopes the receiver accepted from gossip, and when it accepted the last one. */
  accepted: { count: number; last: number };
}

/** Starts sender H (the only founder: federated) and receiver R (not a member), plus one more member S. */
async function honestPair(config: Partial<NodeConfig>): Promise<HonestPair> {
  const accepted = { count: 0, last: 0 };
  const cluster = await startKvCluster(2, {
    logger: (index) =>
      index === 1 && Deno.env.get("BENCH_DEBUG") ? stderrLogger("receiver", true) : quietLogger,
    founders: 1,
    extraMembers: 1,
    config,
    node: (index) => ({
      authorLimits: false,
      onAccepted: index === 1
        ? (_sealed, source) => {
          if (source !== "gossip") return;
          accepted.count++;
          accepted.last = performance.now();
        }
        : undefined,
    }),
  });
  await connect(cluster.nodes, "line");
  // R holds H's, S's and its own KEL inception once sync ran.
  await waitFor("KELs on the receiver", async () => await logSize(cluster.stores[1]) >= 3);
  return { cluster, accepted };
}

/**
 * H publishes `count` pre-signed envelopes, as fast as it can or paced at `pace`/s; the rate at
 * which R has validated and stored them.
 */
async function honestRate(
  pair: HonestPair,
  count: number,
  pace?: number,
): Promise<{ rate: number; size: number }> {
  const { cluster, accepted } = pair;
  const chain = await signedChain(
    cluster.members[0],
    cluster.net,
    cluster.members[1].did,
    count,
    Date.now() - count - 10_000,
  );
  accepted.count = 0;
  const started = performance.now();
  if (pace === undefined) {
    for (const sealed of chain) await cluster.nodes[0].publish(sealed.bytes);
  } else {
    let sent = 0;
    while (sent < count) {
      const due = Math.min(count, Math.floor(pace * (performance.now() - started) / 1000));
      while (sent < due) await cluster.nodes[0].publish(chain[sent++].bytes);
      await sleep(5);
    }
  }
  await waitFor("receiver stored everything", () => accepted.count >= count, waitMaxMs);
  return { rate: count / ((accepted.last - started) / 1000), size: chain[0].bytes.length };
}

async function throughput(): Promise<number> {
  log(`throughput: ${throughputCount} envelopes per run, load ${loadAverage()}`);
  const runs: { raw: number; icn: number }[] = [];
  let size = 0;
  for (let i = 0; i < 2; i++) {
    const pair = await honestPair(fast);
    let icn;
    try {
      icn = await honestRate(pair, throughputCount);
    } finally {
      await pair.cluster.stop();
    }
    size = icn.size;
    const raw = await rawGossipsubRate(throughputCount, size);
    runs.push({ raw, icn: icn.rate });
    log(`  run ${i + 1}: icn ${fmt(icn.rate)}/s, raw ${fmt(raw)}/s`);
  }
  const icn = Math.max(...runs.map((r) => r.icn));
  const raw = Math.max(...runs.map((r) => r.raw));
  report(
    `- (a) 2 nodes, ${fmt(throughputCount)} envelopes of ${size} bytes, best of 2: ${
      fmt(icn)
    } validated and stored envelopes/s vs ${fmt(raw)} raw signed gossipsub messages/s: ratio ${
      (icn / raw).toFixed(2)
    } (per run: ${runs.map((r) => (r.icn / r.raw).toFixed(2)).join(", ")}); target ≥ 0.7: ${
      met(icn / raw >= 0.7)
    }`,
  );
  return icn;
}

// ---- (b) propagation along a line ----

async function propagationLine(): Promise<void> {
  log(`line: 8 nodes, load ${loadAverage()}`);
  const nodeCount = 8;
  const arrivals: Map<string, number>[] = Array.from({ length: nodeCount }, () => new Map());
  const cluster = await startKvCluster(nodeCount, {
    // Heads exchanged every 30 s as in the server and lan profiles (the test profile's 2 s
    // makes a sync round with each neighbour land inside most 10 s runs).
    config: { syncIntervalMs: 30_000 },
    node: (index) => ({
      authorLimits: false,
      onAccepted: (sealed) => arrivals[index].set(sealed.cid, performance.now()),
    }),
  });
  try {
    // Every node learns every KEL up front (with 30 s between sync rounds, they would take
    // minutes to walk down the line).
    for (const node of cluster.nodes) {
      await ingest(node.deps, cluster.members.map((m) => m.inception), { source: "import" });
    }
    await connect(cluster.nodes, "line");
    // Wait for the gossipsub mesh along the whole line (grafts happen on heartbeats).
    await waitFor("mesh along the line", () =>
      cluster.nodes.every((node, i) => {
        const mesh = (node.libp2p.services.pubsub as unknown as {
          getMeshPeers(topic: string): string[];
        }).getMeshPeers(node.topic).length;
        return mesh >= (i === 0 || i === nodeCount - 1 ? 1 : 2);
      }), 30_000);
    const sent: { cid: string; at: number }[] = [];
    const total = lineWarmup + lineCount;
    for (let i = 0; i < total; i++) {
      const at = performance.now();
      const { sealed } = await cluster.nodes[0].submit({
        kind: "trust.edge",
        body: { to: cluster.members[1].did, score: 1 + i, graph: "social" },
      });
      // Node 1 stored and published it when `submit` returns.
      arrivals[0].set(sealed.cid, performance.now());
      if (i >= lineWarmup) sent.push({ cid: sealed.cid, at });
      await sleep(lineIntervalMs);
    }
    const last = arrivals[nodeCount - 1];
    await waitFor("far end has all", () => sent.every((s) => last.has(s.cid)), 30_000);
    const latencies = sent.map((s) => last.get(s.cid)! - s.at).sort((a, b) => a - b);
    const p = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
    // The slowest ones hop by hop, on stderr, to see where time goes.
    const slowest = [...sent].sort((a, b) => last.get(b.cid)! - b.at - (last.get(a.cid)! - a.at))
      .slice(0, 3);
    for (const s of slowest) {
      const times = [s.at, ...arrivals.map((a) => a.get(s.cid)!)];
      log(`  slow: ${times.slice(1).map((t, i) => (t - times[i]).toFixed(1)).join(" + ")} ms`);
    }
    // What one hop spends validating and storing (the far end's gossip batches).
    const histogram = (await cluster.nodes[nodeCount - 1].metrics.validationSeconds.get()).values
      .filter((v) => v.labels.source === "gossip");
    const sum = histogram.find((v) => v.metricName?.endsWith("_sum"))?.value ?? NaN;
    const batches = histogram.find((v) => v.metricName?.endsWith("_count"))?.value ?? NaN;
    // Median time per hop.
    const hops: string[] = [];
    for (let n = 1; n < nodeCount; n++) {
      const deltas = sent.map((s) => arrivals[n].get(s.cid)! - arrivals[n - 1].get(s.cid)!)
        .sort((a, b) => a - b);
      hops.push(deltas[Math.floor(deltas.length / 2)].toFixed(1));
    }
    report(
      `- (b) 8 nodes in a line, ${lineCount} envelopes at ${
        1000 / lineIntervalMs
      }/s (after ${lineWarmup} warm-up), from \`submit\` on node 1 to stored on node 8: p50 ${
        p(0.5).toFixed(1)
      } ms, p90 ${p(0.9).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${
        latencies[latencies.length - 1].toFixed(1)
      } ms (median per hop: submit ${
        sent.map((s) => arrivals[0].get(s.cid)! - s.at).sort((a, b) => a - b)[
          Math.floor(sent.length / 2)
        ].toFixed(1)
      }, then ${hops.join(", ")} ms; validating and storing took ${
        (1000 * sum / batches).toFixed(2)
      } ms per gossip batch at the far end); target p99 ≤ 20 ms: ${met(p(0.99) <= 20)}`,
    );
  } finally {
    await cluster.stop();
  }
}

// ---- (c) sync into a fresh node ----

/** Page size of the fresh node's sync requests. */
const syncPageSize = 2000;
/** V8 flag sets of the sync runs: those icn starts with, then V8's defaults (""). */
const syncV8Flags = Deno.env.get("BENCH_SYNC_V8_FLAGS")?.split(";") ?? [v8HeapFlags, ""];

function v8FlagsLabel(flags: string): string {
  if (flags === "") return "V8's default heap sizing, as a plain `deno run`";
  if (flags === v8HeapFlags) {
    return `the V8 flags icn starts with, \`--v8-flags=${flags}\` (\`deno task icn\`, release binaries)`;
  }
  return `\`--v8-flags=${flags}\``;
}

async function syncFresh(): Promise<void> {
  log(`sync: ${fmt(syncCount)} envelopes, load ${loadAverage()}`);
  // Node 0 serves; members 1..syncAuthors wrote the envelopes; the last member is the fresh node.
  const source = await startKvCluster(1, {
    logger: () => Deno.env.get("BENCH_DEBUG") ? stderrLogger("serving", true) : quietLogger,
    extraMembers: syncAuthors + 1,
    config: { ...fast, syncIntervalMs: 600_000 },
    node: { authorLimits: false },
  });
  try {
    const [full] = source.nodes;
    const started = performance.now();
    const perAuthor = syncCount / syncAuthors;
    for (const author of source.members.slice(1, 1 + syncAuthors)) {
      const chain = await signedChain(
        author,
        source.net,
        source.members[0].did,
        perAuthor,
        Date.now() - perAuthor - 60_000,
      );
      for (let i = 0; i < chain.length; i += 5000) {
        await ingest(full.deps, chain.slice(i, i + 5000), { source: "import" });
      }
    }
    const setupSeconds = (performance.now() - started) / 1000;
    const target = await logSize(source.stores[0]);
    log(`  serving node holds ${fmt(target)} envelopes (setup ${setupSeconds.toFixed(0)} s)`);
    for (const v8Flags of syncV8Flags) {
      log(`  fresh node with ${v8FlagsLabel(v8Flags)}, load ${loadAverage()}`);
      const dir = await Deno.makeTempDir({ prefix: "icn-bench-sync-" });
      const child = await spawnChild({
        role: "sync",
        genesis: source.genesis,
        seed: syncAuthors + 2,
        identityTs: source.identityTs,
        addr: full.addrs()[0],
        target,
        dir,
        pageSize: syncPageSize,
        rate: 0,
        count: 0,
        to: "",
      }, v8Flags);
      let result;
      try {
        result = JSON.parse(await child.line()) as {
          seconds: number;
          envelopes: number;
          rssStart: number;
          rssPeak: number;
          rssEnd: number;
          rssAnon: number;
          rssFile: number;
          heapUsed: number;
          heapTotalPeak: number;
          dbBytes: number;
        };
      } finally {
        await child.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
      report(
        `- (c) a fresh node (own process, Deno KV store, pages of ${fmt(syncPageSize)}, ${
          v8FlagsLabel(v8Flags)
        }) syncs ${fmt(syncCount)} envelopes by ${syncAuthors} authors from one peer in ${
          result.seconds.toFixed(1)
        } s (${fmt(syncCount / result.seconds)}/s); target ≤ 10 s: ${
          met(result.seconds <= 10)
        }. Its RSS: ${mb(result.rssStart)} MB before, peak ${mb(result.rssPeak)} MB, ${
          mb(result.rssEnd)
        } MB after (${mb(result.rssAnon)} MB anonymous, ${
          mb(result.rssFile)
        } MB file-backed) with ${fmt(result.envelopes)} envelopes stored (${
          mb(result.dbBytes)
        } MB on disk, JS heap ${mb(result.heapUsed)} MB, V8 heap peak ${
          mb(result.heapTotalPeak)
        } MB); target ≤ 200 MB: ${met(result.rssPeak <= 200 * 2 ** 20)} (peak)`,
      );
    }
  } finally {
    await source.stop();
  }
}

// ---- (c') sync of ledger transfers into a fresh node ----

interface SyncChildResult {
  seconds: number;
  envelopes: number;
  rssStart: number;
  rssPeak: number;
  rssEnd: number;
  ingestSeconds: number;
  ingestCalls: number;
  /** Since connecting: the last key event log accepted, the first transfer accepted. */
  kelSeconds: number;
  firstSeconds: number;
  dbBytes: number;
  heapTotalPeak: number;
  /** Peaks of the anonymous and the file-backed parts of the RSS (each at its own moment). */
  anonPeak: number;
  filePeak: number;
}

/** Seeds of the serving and the fresh node's identities (neither is a member of the genesis). */
const ledgerServingSeed = 9_001;
const ledgerFreshSeed = 9_002;

async function syncLedger(): Promise<void> {
  log(`sync-ledger: ${fmt(syncLedgerCount)} transfers, load ${loadAverage()}`);
  const world = await signBenchTransfers(syncLedgerCount, (line) => log(`  ${line}`));
  log(`  signed in ${world.signSeconds.toFixed(0)} s`);
  const dir = await Deno.makeTempDir({ prefix: "icn-bench-sync-ledger-" });
  const identityTs = benchT0 - 2000;
  const serving = await testIdentity(ledgerServingSeed, identityTs);
  const store = await KvStore.open(`${dir}/serving.kv`);
  let node: Awaited<ReturnType<typeof startNode>> | undefined;
  try {
    // The serving node starts with every member's key event log (1,000 KEL chains of one).
    node = await startNode({
      genesis: world.genesis,
      member: serving,
      kels: [serving.inception, ...world.members.map((m) => m.inception)],
      store,
      logger: Deno.env.get("BENCH_DEBUG") ? stderrLogger("serving", true) : quietLogger,
      config: { ...fast, syncIntervalMs: 600_000 },
      node: { authorLimits: false },
    });
    // Its store is filled by ingest in this process before any peer connects, in chain order
    // (the order they were signed in), in calls of 5,000 as `bench ledger` does.
    log(`  filling the serving node's store, load ${loadAverage()}`);
    const fillStart = performance.now();
    for (let i = 0; i < world.envelopes.length; i += 5000) {
      const outcomes: IngestOutcome[] = await ingest(
        node.deps,
        world.envelopes.slice(i, i + 5000).map((e) => e.bytes),
        { source: "import" },
      );
      const refused = outcomes.find((o) => o.status !== "accepted");
      if (refused) throw new Error(`serving store refused a transfer: ${JSON.stringify(refused)}`);
    }
    const fillSeconds = (performance.now() - fillStart) / 1000;
    log(
      `  serving node holds ${fmt(syncLedgerCount)} transfers (fill ${fillSeconds.toFixed(0)} s)`,
    );
    const runs: { label: string; result: SyncChildResult; load: string }[] = [];
    const variants: [string, string | undefined][] = [];
    for (const dir of baselines) {
      // A baseline tree runs this script's child code with its own net/ and core/.
      const script = `${dir}/scripts/_bench_node_current.ts`;
      await Deno.copyFile(new URL(import.meta.url).pathname, script);
      variants.push([`baseline ${dir}`, script]);
    }
    variants.push(["this tree", undefined]);
    for (const [label, script] of variants) {
      const load = loadAverage();
      log(`  fresh node: ${label}, load ${load}`);
      const childDir = await Deno.makeTempDir({ prefix: "icn-bench-sync-" });
      const child = await spawnChild(
        {
          role: "sync",
          genesis: world.genesis,
          seed: ledgerFreshSeed,
          identityTs,
          addr: node.addrs()[0],
          target: syncLedgerCount,
          dir: childDir,
          pageSize: syncPageSize,
          countNet: world.net,
          rate: 0,
          count: 0,
          to: "",
        },
        v8HeapFlags,
        script,
      );
      try {
        runs.push({ label, result: JSON.parse(await child.line()) as SyncChildResult, load });
      } finally {
        await child.close();
        await Deno.remove(childDir, { recursive: true }).catch(() => {});
      }
      const { result } = runs[runs.length - 1];
      log(
        `    ${result.seconds.toFixed(1)} s, ${fmt(result.ingestCalls)} ingest calls taking ${
          result.ingestSeconds.toFixed(1)
        } s, KELs done at ${result.kelSeconds.toFixed(1)} s, peak RSS ${
          mb(result.rssPeak)
        } MB (anonymous ${mb(result.anonPeak)}, file-backed ${mb(result.filePeak)}, V8 heap ${
          mb(result.heapTotalPeak)
        } MB at their peaks)`,
      );
    }
    const parts = runs.map(({ label, result, load }) =>
      `${runs.length > 1 ? `${label}: ` : ""}${result.seconds.toFixed(1)} s (${
        fmt(syncLedgerCount / result.seconds)
      } transfers/s; ${fmt(result.ingestCalls)} sync pages ingested in ${
        result.ingestSeconds.toFixed(1)
      } s, the rest waiting for replies; key event logs done after ${
        result.kelSeconds.toFixed(1)
      } s, first transfer at ${result.firstSeconds.toFixed(1)} s), peak RSS ${
        mb(result.rssPeak)
      } MB (${mb(result.rssStart)} MB before; at their own peaks ${
        mb(result.anonPeak)
      } MB anonymous, ${mb(result.filePeak)} MB file-backed, V8 heap ${
        mb(result.heapTotalPeak)
      } MB; ${mb(result.dbBytes)} MB on disk), load at its start ${load}; target ≤ 10 s: ${
        met(result.seconds <= 10)
      }, ≤ 200 MB: ${met(result.rssPeak <= 200 * 2 ** 20)}`
    );
    const own = runs[runs.length - 1].result.seconds;
    const ratio = runs.length > 1
      ? `; this tree is ${
        runs.slice(0, -1).map(({ label, result }) =>
          `${(result.seconds / own).toFixed(2)}× as fast as ${label}`
        ).join(", ")
      }`
      : "";
    report(
      `- (c') a fresh node (own process, Deno KV store, pages of ${
        fmt(syncPageSize)
      }, the V8 flags icn starts with) syncs ${
        fmt(syncLedgerCount)
      } \`ledger.transfer\` envelopes by ${fmt(world.members.length)} members (and their ${
        fmt(world.members.length)
      } key event logs) from one peer: ${
        parts.join("; ")
      }${ratio}. The serving node's store was filled by ingest beforehand in ${
        fillSeconds.toFixed(0)
      } s (signing took ${world.signSeconds.toFixed(0)} s).`,
    );
  } finally {
    await node?.stop();
    store.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ---- (d) honest throughput under spam ----

interface SpamResult {
  rate: number;
  sent: number;
  spamRate: number;
  /** How long the spammer was sending (until the receiver's connection closed, if it did). */
  spamSeconds: number;
  honestSeconds: number;
  closed: boolean;
  exhausted: boolean;
  standing: string;
  limited: number;
}

async function spammedRate(
  peerRate: number,
  pace: number,
  spamRate: number,
  config: Partial<NodeConfig>,
  expectSeconds: number,
): Promise<SpamResult> {
  const pair = await honestPair({ ...fast, peerRate, ...config });
  const { cluster } = pair;
  const [, receiver] = cluster.nodes;
  try {
    const count = Math.ceil(spamRate * (expectSeconds * 2 + 3));
    const child = await spawnChild({
      role: "spam",
      genesis: cluster.genesis,
      seed: 3,
      identityTs: cluster.identityTs,
      addr: receiver.addrs()[0],
      target: 0,
      dir: "",
      pageSize: 0,
      rate: spamRate,
      count,
      to: cluster.members[1].did,
    });
    try {
      await child.line();
      await child.send("go");
      await sleep(300);
      const { rate } = await honestRate(pair, throughputCount, pace);
      const honestSeconds = throughputCount / rate;
      const spammer = peerIdFromPublicKey(publicKeyFromRaw(cluster.members[2].ed25519.publicKey))
        .toString();
      const connected = receiver.libp2p.getPeers().some((p) => p.toString() === spammer);
      const standing = receiver.misbehaviour.standing(spammer, Date.now());
      const limited = (await receiver.metrics.rateLimited.get()).values
        .reduce((n, v) => n + v.value, 0);
      await child.send("stop");
      const spam = JSON.parse(await child.line()) as {
        sent: number;
        seconds: number;
        exhausted: boolean;
        closed: boolean;
      };
      return {
        rate,
        sent: spam.sent,
        spamRate: spam.sent / spam.seconds,
        spamSeconds: spam.seconds,
        honestSeconds,
        closed: spam.closed,
        exhausted: spam.exhausted,
        standing: `${standing}, ${connected ? "connected" : "disconnected"}`,
        limited,
      };
    } finally {
      await child.close();
    }
  } finally {
    await cluster.stop();
  }
}

async function spamRun(capacity: number | null): Promise<void> {
  log(`spam: load ${loadAverage()}`);
  if (capacity === null) {
    const pair = await honestPair(fast);
    try {
      capacity = (await honestRate(pair, throughputCount)).rate;
    } finally {
      await pair.cluster.stop();
    }
  }
  // H (federated, weight 8) may send peerRate/s, above what R can absorb; S (isolated, weight 1)
  // may send peerRate/8 per second, and sends 10 times that.
  // H offers 1.35 times what R absorbed unspammed (R is the bottleneck), paced within its allowance.
  const peerRate = Math.ceil(capacity * 1.5 / 100) * 100;
  const pace = Math.round(peerRate * 0.9);
  const allowance = peerRate / 8;
  const spamRate = allowance * 10;
  const baseline = await (async () => {
    const pair = await honestPair({ ...fast, peerRate });
    try {
      const classes = pair.cluster.nodes[1].peers().map((p) => p.trustClass);
      log(`  peer classes at the receiver: ${classes.join(", ")}`);
      return (await honestRate(pair, throughputCount, pace)).rate;
    } finally {
      await pair.cluster.stop();
    }
  })();
  const expectSeconds = throughputCount / baseline;
  const variants: [string, Partial<NodeConfig>][] = [
    ["default misbehaviour settings", {}],
    ["quarantine and ban turned off (rate limits only)", {
      quarantinePoints: 1_000_000,
      banPoints: 1_000_000,
    }],
  ];
  const parts: string[] = [];
  let worst = Infinity;
  for (const [name, config] of variants) {
    const r = await spammedRate(peerRate, pace, spamRate, config, expectSeconds);
    worst = Math.min(worst, r.rate / baseline);
    parts.push(
      `${name}: ${fmt(r.rate)}/s = ${(100 * r.rate / baseline).toFixed(0)} % (spammer sent ${
        fmt(r.sent)
      } at ${fmt(r.spamRate)}/s = ${(r.spamRate / allowance).toFixed(1)}× its allowance${
        r.closed
          ? ` until its connection closed after ${r.spamSeconds.toFixed(1)} s of the ${
            (0.3 + r.honestSeconds).toFixed(1)
          } s run`
          : ""
      }${r.exhausted ? ", ran out of pre-signed spam" : ""}; ${
        fmt(r.limited)
      } refused by rate limits; spammer ${r.standing})`,
    );
  }
  report(
    `- (d) honest sender allowed ${fmt(peerRate)}/s and offering ${
      fmt(pace)
    }/s, spammer (an isolated peer in its own process, distinct validly signed envelopes of a non-member) allowed ${
      fmt(allowance)
    }/s and sending ${fmt(spamRate)}/s; unspammed ${fmt(baseline)}/s; with the spammer, ${
      parts.join("; ")
    }; target ≥ 80 %: ${met(worst >= 0.8)}`,
  );
}

async function main(): Promise<void> {
  if (flags.child !== undefined) {
    await runChild(flags.child);
    return;
  }
  report(`# Node benchmark${quick ? " (quick)" : ""}`);
  report("");
  report(
    `Loopback, ${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}; load average at start ${loadAverage()}.`,
  );
  report("");
  let capacity: number | null = null;
  if (wanted("throughput")) capacity = await throughput();
  if (wanted("line")) await propagationLine();
  if (wanted("sync")) await syncFresh();
  if (wanted("sync-ledger")) await syncLedger();
  if (wanted("spam")) await spamRun(capacity);
  report("");
  report(`Load average at the end: ${loadAverage()}.`);
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
}

await main();
Deno.exit(0);
