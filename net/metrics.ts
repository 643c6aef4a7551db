/**
 * The node's Prometheus metrics (prom-client), all prefixed `icn_`, in one
 * registry per node so several in-process nodes do not share counters.
 */
import type { MetricsRegister } from "@libp2p/gossipsub/metrics";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { citationFailures } from "../core/federation/citation.ts";
import { type NeighbourSetName, neighbourSetNames } from "./topology.ts";

/**
 * Why an inbound gossip or sync message was dropped. A closed set so that the label stays
 * bounded whatever a peer sends: a reason not listed here is counted as `other`.
 */
export const dropReasons = [
  /** Gossip from a peer whose signed hello this node has not verified. */
  "no_hello",
  /** Gossip from a peer quarantined or banned for earlier misbehaviour. */
  "quarantined_peer",
  "banned_peer",
  /** Larger than the envelope size limit. */
  "oversized",
  /** Does not decode as a canonical envelope (or sync request). */
  "malformed",
  "invalid_signature",
  "wrong_network",
  /** Over a peer, global or author rate limit. */
  "rate_limited",
  /** Already stored. */
  "duplicate",
  /** A second envelope at a used (author, seq), validly signed: kept as fork evidence. */
  "fork",
  /** Its `prev` is not the author's previous envelope. */
  "bad_prev",
  /** Its author is quarantined after a fork. */
  "quarantined_author",
  /** Its author's key log is not known yet (sync fetches it). */
  "unknown_author",
  /** A gossipsub frame that breaks the network's policy (signed, `from` or `seqno` present). */
  "bad_frame",
  /** A gossipsub RPC from a peer whose gossipsub score is below the graylist threshold. */
  "graylisted",
  /** A gossipsub RPC that does not decode. */
  "undecodable_rpc",
  /** Anything else, kind rules included (credit limit, membership, ...). */
  "other",
] as const;
export type DropReason = typeof dropReasons[number];
export type DropChannel = "gossip" | "sync";

const dropAliases: Readonly<Record<string, DropReason>> = {
  too_large: "oversized",
  unknown_kind: "malformed",
  quarantined: "quarantined_author",
  quarantined_peer: "quarantined_peer",
};

/** The bounded label value of a rejection reason. */
export function dropReason(reason: string): DropReason {
  if (Object.hasOwn(dropAliases, reason)) return dropAliases[reason];
  return (dropReasons as readonly string[]).includes(reason) ? reason as DropReason : "other";
}

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
  /** Inbound gossip and sync messages dropped, by channel and `DropReason`. */
  dropped: Counter<"channel" | "reason">;
  /** Connections refused or closed by admission: `banned`, `prefix_share`, `admission`. */
  connectionsRefused: Counter<"reason">;
  /** Admission proofs of work checked, by `passed`, `failed`, `timeout`. */
  admissionChecks: Counter<"result">;
  /** Admission proofs of work this node was asked for, by `solved`, `refused`. */
  admissionSolves: Counter<"result">;
  /** Peers in each neighbour set (`net/topology.ts`), set by `recordNeighbourSets()`. */
  neighbours: Gauge<"set">;
  /**
   * The same counts per network a node serves (`net` is the network id, bounded by
   * `networksPerNodeMax`). Separate series, so that the node-wide ones above keep their labels.
   */
  networkReceived: Counter<"net">;
  networkAccepted: Counter<"net">;
  networkRejected: Counter<"net">;
  networkSyncLag: Gauge<"net">;
  /**
   * The accepted upgrade with the highest minVersion in each network (`net/upgrade.ts`): the
   * share of active members' nodes that announce it, its deadline (Unix time in seconds), and
   * whether it is in force on this node (peers below it refused). No series without one.
   */
  upgradeAdoption: Gauge<"net">;
  upgradeDeadline: Gauge<"net">;
  upgradeInForce: Gauge<"net">;
}

/**
 * Sets `icn_neighbors{set}` from the neighbour sets' counts (`NeighbourSets.counts()`); the node
 * calls it whenever the sets change. Only the four set names are labels, so the series stay
 * bounded.
 */
export function recordNeighbourSets(
  metrics: NodeMetrics,
  counts: Readonly<Record<NeighbourSetName, number>>,
): void {
  for (const set of neighbourSetNames) metrics.neighbours.set({ set }, counts[set]);
}

/** Counts `n` dropped messages; `reason` is mapped to the bounded set. */
export function countDropped(
  metrics: NodeMetrics,
  channel: DropChannel,
  reason: string,
  n = 1,
): void {
  metrics.dropped.inc({ channel, reason: dropReason(reason) }, n);
}

/** The name of the counter `federationCitationFailures()` keeps in a node's registry. */
export const citationFailuresMetric = "icn_federation_citation_failures_total";

/**
 * `icn_federation_citation_failures_total{reason}`: `fed.delegates` records whose citation failed
 * the audit of a node that holds the cooperative (`net/citation_audit.ts`), each record counted
 * once. Made on first use in the node's registry, every reason at 0; the labels are the
 * `citationFailures` of core/federation/citation.ts, so the series stay bounded.
 */
export function federationCitationFailures(
  metrics: Pick<NodeMetrics, "registry">,
): Counter<"reason"> {
  const found = metrics.registry.getSingleMetric(citationFailuresMetric);
  if (found) return found as Counter<"reason">;
  const counter = new Counter({
    name: citationFailuresMetric,
    help: "fed.delegates records whose citation of the cooperative's proposal failed, by reason",
    labelNames: ["reason"],
    registers: [metrics.registry],
  });
  for (const reason of citationFailures) counter.inc({ reason }, 0);
  return counter;
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
  const dropped = new Counter({
    name: "icn_messages_dropped_total",
    help: "Inbound gossip and sync messages dropped, by channel and reason",
    labelNames: ["channel", "reason"],
    registers,
  });
  // Every series exists from the start, at 0, so a rate over it never starts from nothing.
  for (const channel of ["gossip", "sync"]) {
    for (const reason of dropReasons) dropped.inc({ channel, reason }, 0);
  }
  const connectionsRefused = new Counter({
    name: "icn_connections_refused_total",
    help:
      "Connections refused by admission: banned peer, prefix over its share, failed proof of work",
    labelNames: ["reason"],
    registers,
  });
  for (const reason of ["banned", "prefix_share", "admission"]) {
    connectionsRefused.inc({ reason }, 0);
  }
  const admissionChecks = new Counter({
    name: "icn_admission_pow_checks_total",
    help: "Admission proofs of work asked of peers that are not members, by result",
    labelNames: ["result"],
    registers,
  });
  for (const result of ["passed", "failed", "timeout"]) admissionChecks.inc({ result }, 0);
  const admissionSolves = new Counter({
    name: "icn_admission_pow_solves_total",
    help: "Admission proofs of work this node was asked for, by result",
    labelNames: ["result"],
    registers,
  });
  const neighbours = new Gauge({
    name: "icn_neighbors",
    help: "Peers in each neighbour set: cluster, regional, backbone, trusted",
    labelNames: ["set"],
    registers,
  });
  for (const set of neighbourSetNames) neighbours.set({ set }, 0);
  return {
    registry,
    libp2pRegistry: new Registry(),
    neighbours,
    networkReceived: new Counter({
      name: "icn_network_envelopes_received_total",
      help: "Envelopes received from peers, by the network whose topic or sync brought them",
      labelNames: ["net"],
      registers,
    }),
    networkAccepted: new Counter({
      name: "icn_network_envelopes_accepted_total",
      help: "Envelopes validated and stored, by the network whose store took them",
      labelNames: ["net"],
      registers,
    }),
    networkRejected: new Counter({
      name: "icn_network_envelopes_rejected_total",
      help: "Envelopes refused by validation, by the network whose store refused them",
      labelNames: ["net"],
      registers,
    }),
    networkSyncLag: new Gauge({
      name: "icn_network_sync_lag_envelopes",
      help: "Envelopes of a network that its peers announced and this node does not have yet",
      labelNames: ["net"],
      registers,
    }),
    dropped,
    connectionsRefused,
    admissionChecks,
    admissionSolves,
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
    upgradeAdoption: new Gauge({
      name: "icn_upgrade_adoption_ratio",
      help:
        "Share (0-1) of active members' nodes announcing the minVersion of the network's latest accepted upgrade",
      labelNames: ["net"],
      registers,
    }),
    upgradeDeadline: new Gauge({
      name: "icn_upgrade_deadline_seconds",
      help: "Deadline of the network's latest accepted upgrade, Unix time in seconds",
      labelNames: ["net"],
      registers,
    }),
    upgradeInForce: new Gauge({
      name: "icn_upgrade_in_force",
      help:
        "1 when the network's latest accepted upgrade is in force on this node (older peers refused), else 0",
      labelNames: ["net"],
      registers,
    }),
  };
}

/**
 * A gossipsub metrics register that counts what gossipsub itself drops before icn's topic
 * validator sees it (a signed frame under the unsigned policy, an RPC from a graylisted peer,
 * an RPC that does not decode) and discards every other gossipsub metric.
 */
export function gossipsubDropRegister(
  onDrop: (reason: DropReason, n: number) => void,
): MetricsRegister {
  const noop = () => {};
  const gauge = (name: string) => ({
    inc: (labels?: unknown, value?: number) => {
      const n = typeof labels === "number" ? labels : value ?? 1;
      const reason = gossipsubDrop(name, labels);
      if (reason && n > 0) onDrop(reason, n);
    },
    set: noop,
    addCollect: noop,
  });
  return {
    gauge: ((config: { name: string }) => gauge(config.name)) as MetricsRegister["gauge"],
    histogram: (() => ({
      startTimer: () => noop,
      observe: noop,
      reset: noop,
    })) as unknown as MetricsRegister["histogram"],
    avgMinMax: (() => ({ set: noop })) as unknown as MetricsRegister["avgMinMax"],
  };
}

/** The drop a gossipsub metric increment stands for, if any. */
function gossipsubDrop(name: string, labels: unknown): DropReason | null {
  switch (name) {
    case "gossipsub_msg_received_invalid_total": {
      const error = (labels as { error?: string } | undefined)?.error;
      // `reject` and `ignore` are icn's own validator's answers, counted there by reason.
      return error === "reject" || error === "ignore" ? null : "bad_frame";
    }
    case "gossipsub_rpc_rcv_not_accepted_total":
      return "graylisted";
    case "gossipsub_rpc_recv_err_count_total":
    case "gossipsub_rpc_data_err_count_total":
      return "undecodable_rpc";
    default:
      return null;
  }
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

// ---- making third-party metrics pass promtool ----

/** One metric family of the text exposition format: its `# HELP`, `# TYPE` and samples. */
export interface MetricFamily {
  name: string;
  /** counter, gauge, histogram, summary or untyped. */
  type: string;
  /** Escaped as in the text format. */
  help: string;
  samples: MetricSample[];
}

export interface MetricSample {
  name: string;
  labels: [string, string][];
  /** As written: a number, NaN, +Inf or -Inf. */
  value: string;
  timestamp?: string;
}

/** Lines of libp2p's exposition parsed, at most (a scrape far beyond this is a bug upstream). */
const exposedLinesMax = 1_000_000;

/** Parses text exposition into families; samples before any `# TYPE` form untyped families. */
export function parseExposition(text: string): MetricFamily[] {
  const families: MetricFamily[] = [];
  const byName = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let found = byName.get(name);
    if (!found) {
      found = { name, type: "untyped", help: "", samples: [] };
      byName.set(name, found);
      families.push(found);
    }
    return found;
  };
  let current: MetricFamily | null = null;
  const lines = text.split("\n");
  if (lines.length > exposedLinesMax) {
    throw new RangeError(`Cannot parse metrics: ${lines.length} lines, at most ${exposedLinesMax}`);
  }
  for (const line of lines) {
    if (line.trim() === "") continue;
    const comment = /^#\s*(HELP|TYPE)\s+(\S+)\s?(.*)$/.exec(line);
    if (comment) {
      current = family(comment[2]);
      if (comment[1] === "HELP") current.help = comment[3];
      else current.type = comment[3].trim();
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = parseSample(line);
    const owner = current && ownsSample(current, sample.name) ? current : family(sample.name);
    owner.samples.push(sample);
  }
  return families;
}

function ownsSample(family: MetricFamily, sample: string): boolean {
  if (sample === family.name) return true;
  const suffixes = family.type === "histogram"
    ? ["_bucket", "_sum", "_count"]
    : family.type === "summary"
    ? ["_sum", "_count"]
    : family.type === "counter"
    ? ["_total"]
    : [];
  return suffixes.some((s) => sample === family.name + s);
}

function parseSample(line: string): MetricSample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) throw new SyntaxError(`Cannot parse metric sample ${JSON.stringify(line)}`);
  let rest = line.slice(name.length);
  const labels: [string, string][] = [];
  if (rest.startsWith("{")) {
    let i = 1;
    while (i < rest.length && rest[i] !== "}") {
      const label = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(rest.slice(i));
      if (!label) throw new SyntaxError(`Cannot parse labels of ${JSON.stringify(line)}`);
      i += label[0].length;
      let value = "";
      while (i < rest.length && rest[i] !== '"') {
        // Escapes are kept as written: values are copied, never interpreted.
        if (rest[i] === "\\") value += rest[i++];
        value += rest[i++];
      }
      if (rest[i] !== '"') throw new SyntaxError(`Unterminated label in ${JSON.stringify(line)}`);
      labels.push([label[1], value]);
      i++;
      while (rest[i] === "," || rest[i] === " ") i++;
    }
    if (rest[i] !== "}") throw new SyntaxError(`Unterminated labels in ${JSON.stringify(line)}`);
    rest = rest.slice(i + 1);
  }
  const [value, timestamp] = rest.trim().split(/\s+/);
  if (value === undefined || value === "") {
    throw new SyntaxError(`Metric sample without a value: ${JSON.stringify(line)}`);
  }
  return { name, labels, value, timestamp };
}

/** Renders families as text exposition. */
export function renderExposition(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels.length === 0
        ? ""
        : `{${s.labels.map(([k, v]) => `${k}="${v}"`).join(",")}}`;
      out.push(`${s.name}${labels} ${s.value}${s.timestamp ? ` ${s.timestamp}` : ""}`);
    }
  }
  return out.join("\n") + "\n";
}

// promtool's naming rules (Prometheus client_golang promlint), as they apply to a family.
const types = ["counter", "gauge", "histogram", "summary"];
/** Units promlint knows, each with its base unit and the factor to it (linear units only). */
const knownUnits: Record<string, [base: string, factor: number]> = {
  amperes: ["amperes", 1],
  bytes: ["bytes", 1],
  grams: ["grams", 1],
  joules: ["joules", 1],
  meters: ["meters", 1],
  metres: ["metres", 1],
  seconds: ["seconds", 1],
  volts: ["volts", 1],
  minutes: ["seconds", 60],
  hours: ["seconds", 3600],
  days: ["seconds", 86_400],
  weeks: ["seconds", 604_800],
  inches: ["meters", 0.0254],
  yards: ["meters", 0.9144],
  miles: ["meters", 1609.344],
  bits: ["bytes", 1 / 8],
  calories: ["joules", 4.184],
  pounds: ["grams", 453.59237],
  ounces: ["grams", 28.349523125],
};
/** Temperatures convert with an offset: they are never rescaled, so families using them are dropped. */
const affineUnits = new Set(["kelvin", "kelvins", "fahrenheit", "rankine"]);
const unitPrefixes: Record<string, number> = {
  pico: 1e-12,
  nano: 1e-9,
  micro: 1e-6,
  milli: 1e-3,
  centi: 1e-2,
  deci: 1e-1,
  deca: 1e1,
  hecto: 1e2,
  kilo: 1e3,
  kibi: 2 ** 10,
  mega: 1e6,
  mibi: 2 ** 20,
  giga: 1e9,
  gibi: 2 ** 30,
  tera: 1e12,
  tebi: 2 ** 40,
  peta: 1e15,
  pebi: 2 ** 50,
};
/** promlint's discouraged abbreviations, with what each is taken to mean (`m` is ambiguous: dropped). */
const abbreviations: Record<string, [word: string | null, factor: number]> = {
  s: ["seconds", 1],
  sec: ["seconds", 1],
  ms: ["seconds", 1e-3],
  us: ["seconds", 1e-6],
  ns: ["seconds", 1e-9],
  h: ["seconds", 3600],
  d: ["seconds", 86_400],
  b: ["bytes", 1],
  kb: ["bytes", 1e3],
  mb: ["bytes", 1e6],
  gb: ["bytes", 1e9],
  tb: ["bytes", 1e12],
  pb: ["bytes", 1e15],
  m: [null, 1],
};

/** A unit word of a name: its base and factor, or null when the word is no unit. */
function unitOf(word: string): { base: string; factor: number } | "affine" | null {
  for (const [prefix, scale] of [["", 1] as const, ...Object.entries(unitPrefixes)]) {
    if (!word.startsWith(prefix)) continue;
    const rest = word.slice(prefix.length);
    if (affineUnits.has(rest)) return "affine";
    const known = knownUnits[rest];
    if (known) return { base: known[0], factor: known[1] * scale };
  }
  return null;
}

/** What promtool's `check metrics` says about one family (empty: it passes). */
export function lintFamily(family: MetricFamily): string[] {
  const problems: string[] = [];
  const { name, type } = family;
  if (family.help.trim() === "") problems.push("no help text");
  for (const word of name.split("_")) {
    const unit = unitOf(word);
    if (unit === "affine" || (unit && unit.base !== word)) problems.push(`non-base unit "${word}"`);
    if (word in abbreviations) problems.push(`abbreviated unit "${word}"`);
  }
  if (type === "counter" && !name.endsWith("_total")) problems.push('counter without "_total"');
  if (type !== "counter" && type !== "untyped" && name.endsWith("_total")) {
    problems.push('non-counter with "_total"');
  }
  if (type !== "untyped") {
    if (type !== "histogram" && name.endsWith("_bucket")) problems.push('"_bucket" suffix');
    for (const suffix of ["_count", "_sum"]) {
      if (type !== "histogram" && type !== "summary" && name.endsWith(suffix)) {
        problems.push(`"${suffix}" suffix`);
      }
    }
    if (name.includes(`_${type}_`) || name.endsWith(`_${type}`)) problems.push("type in name");
  }
  if (name.includes(":")) problems.push('":" in name');
  if (/[a-z][A-Z]/.test(name)) problems.push("camelCase name");
  for (const sample of family.samples) {
    for (const [label] of sample.labels) {
      if (/[a-z][A-Z]/.test(label)) problems.push(`camelCase label "${label}"`);
      if (label === "le" && type !== "histogram") problems.push('"le" label');
      if (label === "quantile" && type !== "summary") problems.push('"quantile" label');
    }
  }
  return [...new Set(problems)];
}

function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

/** A sample of a group whose label says it is a variance (libp2p's moving averages): in unit². */
function variance(sample: MetricSample): boolean {
  return sample.labels.some(([, value]) => /variance/i.test(value));
}

function scaled(value: string, factor: number): string {
  if (factor === 1 || !/^[-+]?(\d|\.\d)/.test(value)) return value;
  // Rounded to 12 significant digits so that 12 ms reads 0.012, not 0.012000000000000002.
  return String(Number((Number(value) * factor).toPrecision(12)));
}

/**
 * One family renamed to promtool's rules: units converted to the base unit (milliseconds to
 * seconds, values and histogram bounds scaled), reserved suffixes, type words, colons and
 * camelCase removed, `_total` only on counters. Null when no rename can make it pass.
 */
export function promtoolFamily(family: MetricFamily): MetricFamily | null {
  const { type } = family;
  let words = snakeCase(family.name.replaceAll(":", "_")).split("_");
  let factor = 1;
  words = words.flatMap((word, index) => {
    if (index > 0 && type !== "untyped" && word === type && types.includes(word)) return [];
    const abbreviation = abbreviations[word];
    if (abbreviation) {
      factor *= abbreviation[1];
      return abbreviation[0] === null ? [] : [abbreviation[0]];
    }
    const unit = unitOf(word);
    if (unit && unit !== "affine" && unit.base !== word) {
      factor *= unit.factor;
      return [unit.base];
    }
    return [word];
  });
  let name = words.filter((w) => w !== "").join("_");
  if (type !== "counter" && type !== "untyped") name = name.replace(/_total$/, "");
  if (type !== "histogram") name = name.replace(/_bucket$/, "_buckets");
  if (type !== "histogram" && type !== "summary") name = name.replace(/_(count|sum)$/, "_$1s");
  if (type === "counter" && !name.endsWith("_total")) name += "_total";
  const relabel = (label: string): string => {
    // libp2p's metric groups name their label after the family.
    if (label === family.name) return name;
    const snake = snakeCase(label);
    if (snake === "le" && type !== "histogram") return "upper_bound";
    if (snake === "quantile" && type !== "summary") return "quantile_level";
    return snake;
  };
  const samples = family.samples.map((sample) => {
    const suffix = sample.name.startsWith(family.name) ? sample.name.slice(family.name.length) : "";
    // Bucket and count samples count observations: only sums and plain values carry the unit.
    const counted = suffix === "_count" || (suffix === "_bucket" && type === "histogram");
    let sampleName = name + suffix;
    // A counter sample carries the family name, which may just have gained `_total`.
    if (type === "counter" && suffix === "_total") sampleName = name;
    return {
      ...sample,
      name: sampleName,
      labels: sample.labels.map(([label, value]): [string, string] => [
        relabel(label),
        label === "le" && type === "histogram" ? scaled(value, factor) : value,
      ]),
      value: counted ? sample.value : scaled(sample.value, variance(sample) ? factor ** 2 : factor),
    };
  });
  let help = family.help.trim() === "" || family.help === family.name ? name : family.help;
  if (factor !== 1) help += ` (converted to base units from ${family.name})`;
  const renamed = { name, type, help, samples };
  return lintFamily(renamed).length === 0 ? renamed : null;
}

/**
 * libp2p's own metrics made to pass `promtool check metrics` (their names break its rules, e.g.
 * `libp2p_connection_monitor_ping_time_milliseconds` and `libp2p_kad_dht_routing_table_kad_bucket`):
 * every family renamed by `promtoolFamily`. A family no rename can fix, or one whose new name
 * another family already has, is left out with a `#` comment naming it.
 */
export function promtoolSafe(text: string): string {
  const out: MetricFamily[] = [];
  const dropped: string[] = [];
  const names = new Set<string>();
  for (const family of parseExposition(text)) {
    const fixed = promtoolFamily(family);
    if (!fixed || names.has(fixed.name)) {
      dropped.push(family.name);
      continue;
    }
    names.add(fixed.name);
    out.push(fixed);
  }
  const notes = dropped.map((name) => `# icn: left out ${name}: promtool refuses its name\n`);
  return notes.join("") + renderExposition(out);
}
