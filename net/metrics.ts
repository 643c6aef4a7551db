/**
 * The node's Prometheus metrics (prom-client), all prefixed `icn_`, in one
 * registry per node so several in-process nodes do not share counters.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface NodeMetrics {
  registry: Registry;
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
