/**
 * The node's Prometheus metrics (prom-client), all prefixed `icn_`, in one
 * registry per node so several in-process nodes do not share counters.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface NodeMetrics {
  registry: Registry;
  /** libp2p's own metrics (`@libp2p/prometheus-metrics`), when the node turns them on. */
  libp2pRegistry: Registry;
  peers: Gauge;
  received: Counter<"source">;
  accepted: Counter<"kind" | "source">;
  rejected: Counter<"kind" | "reason" | "source">;
  ignored: Counter<"reason" | "source">;
  validationSeconds: Histogram<"source">;
  syncLag: Gauge;
  syncRounds: Counter<"result">;
  rateLimited: Counter<"scope" | "class">;
  misbehaviour: Counter<"offence">;
  published: Counter;
  peerVersions: Gauge<"version">;
}

export function createNodeMetrics(options: { processMetrics?: boolean } = {}): NodeMetrics {
  const registry = new Registry();
  const registers = [registry];
  // prom-client's default Node.js metrics break promtool's naming rules; these are the useful ones.
  if (options.processMetrics !== false) {
    new Gauge({
      name: "icn_process_resident_memory_bytes",
      help: "Resident set size of the node process",
      registers,
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
    new Gauge({
      name: "icn_process_heap_used_bytes",
      help: "JavaScript heap in use",
      registers,
      collect() {
        this.set(Deno.memoryUsage().heapUsed);
      },
    });
    const started = Date.now() / 1000;
    new Gauge({
      name: "icn_process_start_time_seconds",
      help: "Start time of the node process since the epoch",
      registers,
    }).set(started);
  }
  return {
    registry,
    libp2pRegistry: new Registry(),
    peers: new Gauge({ name: "icn_peers", help: "Connected peers", registers }),
    received: new Counter({
      name: "icn_envelopes_received_total",
      help: "Envelopes received from peers",
      labelNames: ["source"],
      registers,
    }),
    accepted: new Counter({
      name: "icn_envelopes_accepted_total",
      help: "Envelopes validated and stored",
      labelNames: ["kind", "source"],
      registers,
    }),
    rejected: new Counter({
      name: "icn_envelopes_rejected_total",
      help: "Envelopes refused by validation, by reason",
      labelNames: ["kind", "reason", "source"],
      registers,
    }),
    ignored: new Counter({
      name: "icn_envelopes_ignored_total",
      help: "Envelopes dropped without penalty (duplicates, gaps, rate limits)",
      labelNames: ["reason", "source"],
      registers,
    }),
    validationSeconds: new Histogram({
      name: "icn_validation_seconds",
      help: "Time to validate and store one inbound batch",
      labelNames: ["source"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    syncLag: new Gauge({
      name: "icn_sync_lag_envelopes",
      help: "Envelopes peers announced that this node does not have yet",
      registers,
    }),
    syncRounds: new Counter({
      name: "icn_sync_rounds_total",
      help: "Sync rounds with peers by result",
      labelNames: ["result"],
      registers,
    }),
    rateLimited: new Counter({
      name: "icn_rate_limited_total",
      help: "Envelopes refused by a rate limit, by scope and trust class",
      labelNames: ["scope", "class"],
      registers,
    }),
    misbehaviour: new Counter({
      name: "icn_misbehaviour_total",
      help: "Peer misbehaviour recorded, by offence",
      labelNames: ["offence"],
      registers,
    }),
    published: new Counter({
      name: "icn_envelopes_published_total",
      help: "Local envelopes published to gossip",
      registers,
    }),
    peerVersions: new Gauge({
      name: "icn_peer_protocol_versions",
      help: "Connected peers by announced protocol version (upgrade adoption)",
      labelNames: ["version"],
      registers,
    }),
  };
}

/** Connection, stream and gossipsub counts read when `/metrics` is scraped. */
export interface NetworkCounts {
  /** Open connections by direction. */
  connections: Record<string, number>;
  /** Open streams by protocol. */
  streams: Record<string, number>;
  /** Peers subscribed to the network's envelope topic. */
  topicPeers: number;
  /** Peers in this node's gossipsub mesh for that topic. */
  meshPeers: number;
}

/** Gauges over libp2p's connections, streams and gossipsub mesh, read at scrape time. */
export function addNetworkGauges(metrics: NodeMetrics, read: () => NetworkCounts): void {
  const registers = [metrics.registry];
  let cached: { at: number; counts: NetworkCounts } | null = null;
  // One scrape reads every gauge; count once per scrape.
  const counts = () => {
    const now = Date.now();
    if (!cached || now - cached.at > 100) cached = { at: now, counts: read() };
    return cached.counts;
  };
  new Gauge({
    name: "icn_libp2p_connections",
    help: "Open libp2p connections by direction",
    labelNames: ["direction"],
    registers,
    collect() {
      this.reset();
      for (const [direction, n] of Object.entries(counts().connections)) this.set({ direction }, n);
    },
  });
  new Gauge({
    name: "icn_libp2p_streams",
    help: "Open libp2p streams by protocol",
    labelNames: ["protocol"],
    registers,
    collect() {
      this.reset();
      for (const [protocol, n] of Object.entries(counts().streams)) this.set({ protocol }, n);
    },
  });
  new Gauge({
    name: "icn_gossipsub_topic_peers",
    help: "Peers subscribed to the envelope topic",
    registers,
    collect() {
      this.set(counts().topicPeers);
    },
  });
  new Gauge({
    name: "icn_gossipsub_mesh_peers",
    help: "Peers in the gossipsub mesh of the envelope topic",
    registers,
    collect() {
      this.set(counts().meshPeers);
    },
  });
}

/** The `/metrics` text: the `icn_*` metrics, then libp2p's own made to pass `promtool check metrics`. */
export async function exposition(metrics: NodeMetrics): Promise<string> {
  const own = await metrics.registry.metrics();
  const libp2p = await metrics.libp2pRegistry.metrics();
  return libp2p.trim() === "" ? own : `${own.trimEnd()}\n${promtoolSafe(libp2p)}`;
}

/**
 * Drops blank lines and renames non-counter families whose names end in `_total` (some libp2p
 * gauges do; promtool refuses them) by removing that suffix.
 */
export function promtoolSafe(text: string): string {
  const renames = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (match[2] !== "counter" && match[1].endsWith("_total")) {
      renames.set(match[1], match[1].slice(0, -"_total".length));
    }
  }
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const comment = /^# (HELP|TYPE) (\S+)(.*)$/.exec(line);
    if (comment) {
      out.push(`# ${comment[1]} ${renames.get(comment[2]) ?? comment[2]}${comment[3]}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
    out.push(sample ? `${renames.get(sample[1]) ?? sample[1]}${sample[2]}` : line);
  }
  return out.join("\n") + "\n";
}
