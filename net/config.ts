/**
 * Node configuration: defaults per profile, the commented `config.toml`
 * written by `icn node init`, and loading with precedence
 * defaults < file < environment (`ICN_*`) < flags. Every value is validated
 * at start; an invalid one is refused with its key named.
 */
import { parse as parseToml } from "smol-toml";
import { InvalidInputError, shown } from "../core/errors.ts";
import {
  neighbourPeersMax,
  type NeighbourSetsInit,
  topologyNameProblem,
  type TopologyRole,
  topologyRoles,
} from "./topology.ts";

export const profiles = ["server", "lan", "test"] as const;
export type Profile = typeof profiles[number];

export interface NodeConfig {
  profile: Profile;
  /** libp2p listen multiaddrs. */
  listen: string[];
  /** Multiaddrs (with /p2p/ID) dialled at start and kept connected. */
  bootstrap: string[];
  /** Loopback HTTP server for metrics, health and the control API (HOST:PORT; port 0 picks one). */
  http: string;
  logFormat: "text" | "json";
  logLevel: "debug" | "info" | "warn" | "error";
  mdns: boolean;
  dht: boolean;
  /** Keep private and loopback addresses in DHT peer records (private networks, tests). */
  dhtPrivate: boolean;
  /** Ask peers whether this node is reachable from outside (AutoNAT). */
  autonat: boolean;
  /** Dial and listen through circuit relays (`/p2p-circuit` addresses). */
  relayClient: boolean;
  /** Relay connections for other peers (circuit relay v2 hop). */
  relayServer: boolean;
  maxConnections: number;
  /** Inbound connection attempts per second per host before libp2p refuses them. */
  inboundConnectionThreshold: number;
  /** Total inbound envelopes per second across all peers. */
  globalRate: number;
  /** Envelopes per second from one peer before trust weighting. */
  peerRate: number;
  syncIntervalMs: number;
  syncPageSize: number;
  /** `/ready` fails while peers announce more missing envelopes than this. */
  readyLagMax: number;
  /** Misbehaviour points that quarantine a peer (its messages are ignored) and that ban it (disconnected). */
  quarantinePoints: number;
  banPoints: number;
  banMs: number;
  helloTimeoutMs: number;
  shutdownTimeoutMs: number;
  /**
   * Largest share of this node's connections that one IPv4 /24 or IPv6 /48 may hold, in percent
   * (loopback, private and relayed addresses and members' connections are not counted).
   */
  connectionsPerPrefixPercentMax: number;
  /** Connections one prefix may always hold, whatever its share (small networks). */
  connectionsPerPrefixMin: number;
  /** Time a peer that is not a member has to answer the admission proof of work, when it is on. */
  admissionTimeoutMs: number;
  /** Region announced in the hello (`net/topology.ts`); nodes that leave it unset share `default`. */
  topologyRegion: string;
  /** Cluster announced in the hello; empty means the node's home (first) network id. */
  topologyCluster: string;
  topologyRole: TopologyRole;
  /** Most peers in each neighbour set. */
  clusterNeighboursMax: number;
  regionalNeighboursMax: number;
  backboneNeighboursMax: number;
  trustedNeighboursMax: number;
  /** The app gateway's HOST:PORT (docs/gateway.md); empty: no gateway. */
  gatewayListen: string;
  /** Reads through the gateway without a token. */
  gatewayPublicReads: boolean;
  /** Origins the gateway allows by CORS; empty: no CORS headers. */
  gatewayCorsOrigins: string[];
  /** Reverse proxies whose X-Forwarded-For the gateway believes. */
  gatewayTrustedProxies: string[];
  gatewayTokenTtlS: number;
  /** API requests in progress at once before the gateway answers 503 `overloaded`. */
  gatewayMaxInFlight: number;
  /** The dashboard's directory; empty: `web/` beside the program when present. */
  gatewayWebDir: string;
  /** Do the clearing steps of the cooperative this node's identity is a delegate of (`net/clearing_agent.ts`). */
  federationAgent: boolean;
}

interface KeyDef {
  /** Key in the TOML file: `section.name`. */
  toml: string;
  field: keyof NodeConfig;
  /** `name`: a region or cluster name (`net/topology.ts`), or empty where `empty` says so. */
  type: "string" | "strings" | "list" | "int" | "bool" | "enum" | "name";
  /** A `name` or `string` that may be empty, and what empty means. */
  empty?: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
  doc: string;
}

const neighbourSetDocs = {
  cluster: "same cluster",
  regional: "same region, other cluster",
  backbone: "rendezvous and archive nodes, other regions",
  trusted: "trust class partner or above, anywhere",
} as const;

const keyDefs: readonly KeyDef[] = [
  {
    toml: "node.profile",
    field: "profile",
    type: "enum",
    values: profiles,
    doc: "server, lan or test",
  },
  { toml: "node.listen", field: "listen", type: "strings", doc: "libp2p listen multiaddrs" },
  {
    toml: "node.bootstrap",
    field: "bootstrap",
    type: "strings",
    doc: "peers to dial at start, /ip4/HOST/tcp/PORT/p2p/PEER_ID",
  },
  {
    toml: "http.listen",
    field: "http",
    type: "string",
    doc: "loopback HTTP server: /metrics, /health, /ready, control API",
  },
  {
    toml: "log.format",
    field: "logFormat",
    type: "enum",
    values: ["text", "json"],
    doc: "text or json, one line per event on stderr",
  },
  {
    toml: "log.level",
    field: "logLevel",
    type: "enum",
    values: ["debug", "info", "warn", "error"],
    doc: "debug, info, warn or error",
  },
  { toml: "discovery.mdns", field: "mdns", type: "bool", doc: "find peers on the LAN with mDNS" },
  { toml: "discovery.dht", field: "dht", type: "bool", doc: "run the kad-dht (server profile)" },
  {
    toml: "discovery.dht_private",
    field: "dhtPrivate",
    type: "bool",
    doc: "keep private and loopback addresses in DHT records (private networks, tests)",
  },
  {
    toml: "discovery.autonat",
    field: "autonat",
    type: "bool",
    doc: "ask peers whether this node is reachable from outside (AutoNAT)",
  },
  {
    toml: "relay.client",
    field: "relayClient",
    type: "bool",
    doc: "dial and listen through circuit relays (add /p2p-circuit to node.listen to reserve)",
  },
  {
    toml: "relay.server",
    field: "relayServer",
    type: "bool",
    doc: "relay connections for other peers (circuit relay v2; limited in time and bytes)",
  },
  {
    toml: "limits.max_connections",
    field: "maxConnections",
    type: "int",
    min: 1,
    max: 10_000,
    doc: "most open connections",
  },
  {
    toml: "limits.inbound_connection_threshold",
    field: "inboundConnectionThreshold",
    type: "int",
    min: 1,
    max: 100_000,
    doc: "inbound connection attempts per second per host",
  },
  {
    toml: "limits.global_rate",
    field: "globalRate",
    type: "int",
    min: 1,
    max: 1_000_000,
    doc: "total inbound envelopes per second, shared by trust weight",
  },
  {
    toml: "limits.peer_rate",
    field: "peerRate",
    type: "int",
    min: 1,
    max: 1_000_000,
    doc: "inbound envelopes per second from one peer",
  },
  {
    toml: "sync.interval_ms",
    field: "syncIntervalMs",
    type: "int",
    min: 100,
    max: 86_400_000,
    doc: "how often heads are exchanged with every peer",
  },
  {
    toml: "sync.page_size",
    field: "syncPageSize",
    type: "int",
    min: 1,
    max: 5000,
    doc: "envelopes per sync response (and per validation call; also capped at 4 MiB)",
  },
  {
    toml: "sync.ready_lag_max",
    field: "readyLagMax",
    type: "int",
    min: 0,
    max: 1_000_000_000,
    doc: "/ready fails while more envelopes than this are known missing",
  },
  {
    toml: "misbehaviour.quarantine_points",
    field: "quarantinePoints",
    type: "int",
    min: 1,
    max: 1_000_000,
    doc: "points after which a peer's messages are ignored",
  },
  {
    toml: "misbehaviour.ban_points",
    field: "banPoints",
    type: "int",
    min: 1,
    max: 1_000_000,
    doc: "points after which a peer is disconnected and refused",
  },
  {
    toml: "misbehaviour.ban_ms",
    field: "banMs",
    type: "int",
    min: 1000,
    max: 31_536_000_000,
    doc: "how long a ban lasts",
  },
  {
    toml: "timeouts.hello_ms",
    field: "helloTimeoutMs",
    type: "int",
    min: 100,
    max: 600_000,
    doc: "time a peer has to send its signed hello",
  },
  {
    toml: "timeouts.shutdown_ms",
    field: "shutdownTimeoutMs",
    type: "int",
    min: 100,
    max: 60_000,
    doc: "graceful shutdown budget before forced exit",
  },
  {
    toml: "admission.prefix_percent_max",
    field: "connectionsPerPrefixPercentMax",
    type: "int",
    min: 1,
    max: 100,
    doc:
      "largest share (percent) of connections from one IPv4 /24 or IPv6 /48; public addresses only, members exempt",
  },
  {
    toml: "admission.prefix_connections_min",
    field: "connectionsPerPrefixMin",
    type: "int",
    min: 1,
    max: 10_000,
    doc: "connections one prefix may always hold, whatever its share",
  },
  {
    toml: "admission.pow_timeout_ms",
    field: "admissionTimeoutMs",
    type: "int",
    min: 1000,
    max: 600_000,
    doc:
      "time a non-member peer has to answer the proof of work (genesis network.admissionPow.bits > 0)",
  },
  {
    toml: "topology.region",
    field: "topologyRegion",
    type: "name",
    doc: "region announced to peers, e.g. eu-west; peers in it are regional neighbours",
  },
  {
    toml: "topology.cluster",
    field: "topologyCluster",
    type: "name",
    empty: true,
    doc: 'cluster announced to peers; "" is the node\'s home (first) network id',
  },
  {
    toml: "topology.role",
    field: "topologyRole",
    type: "enum",
    values: topologyRoles,
    doc: "edge, rendezvous (serves discovery for its region) or archive (keeps full history)",
  },
  ...(["cluster", "regional", "backbone", "trusted"] as const).map((set): KeyDef => ({
    toml: `topology.limits.${set}`,
    field: `${set}NeighboursMax`,
    type: "int",
    min: 1,
    max: neighbourPeersMax,
    doc: `most peers in the ${set} neighbour set (${neighbourSetDocs[set]})`,
  })),
  {
    toml: "gateway.listen",
    field: "gatewayListen",
    type: "string",
    empty: true,
    doc: 'app API and dashboard HOST:PORT (docs/gateway.md); "" turns the gateway off',
  },
  {
    toml: "gateway.public_reads",
    field: "gatewayPublicReads",
    type: "bool",
    doc: "reads (members, balances, proposals...) without a token",
  },
  {
    toml: "gateway.cors_origins",
    field: "gatewayCorsOrigins",
    type: "list",
    doc: "origins allowed by CORS, e.g. https://app.example.org; none: no CORS headers",
  },
  {
    toml: "gateway.trusted_proxies",
    field: "gatewayTrustedProxies",
    type: "list",
    doc: "addresses of reverse proxies whose X-Forwarded-For is believed; none by default",
  },
  {
    toml: "gateway.token_ttl_s",
    field: "gatewayTokenTtlS",
    type: "int",
    min: 60,
    max: 86_400,
    doc: "lifetime of a sign-in token, in seconds",
  },
  {
    toml: "gateway.max_in_flight",
    field: "gatewayMaxInFlight",
    type: "int",
    min: 1,
    max: 10_000,
    doc: "API requests in progress at once; past it the gateway answers 503 overloaded",
  },
  {
    toml: "gateway.web_dir",
    field: "gatewayWebDir",
    type: "string",
    empty: true,
    doc: 'the dashboard\'s directory; "" uses web/ beside the program when present',
  },
  {
    toml: "federation.agent",
    field: "federationAgent",
    type: "bool",
    doc: "do this delegate's clearing steps as envelopes arrive (docs/clearing.md)",
  },
];

/** Deepest nesting of config tables: `[topology.limits]`. */
const tableDepthMax = 2;

/** Defaults of each profile. */
export function defaultConfig(profile: Profile = "server"): NodeConfig {
  const base: NodeConfig = {
    profile,
    listen: ["/ip4/0.0.0.0/tcp/4001"],
    bootstrap: [],
    http: "127.0.0.1:5601",
    logFormat: "text",
    logLevel: "info",
    mdns: false,
    dht: true,
    dhtPrivate: false,
    autonat: true,
    relayClient: true,
    relayServer: false,
    maxConnections: 200,
    inboundConnectionThreshold: 20,
    globalRate: 5000,
    peerRate: 1000,
    syncIntervalMs: 30_000,
    syncPageSize: 2000,
    readyLagMax: 1000,
    quarantinePoints: 20,
    banPoints: 100,
    banMs: 3_600_000,
    helloTimeoutMs: 10_000,
    shutdownTimeoutMs: 8_000,
    // A quarter: an attacker who owns one /24 holds at most one in four of this node's
    // connections, while a few peers in one data centre (4, the minimum) are always welcome.
    connectionsPerPrefixPercentMax: 25,
    connectionsPerPrefixMin: 4,
    // 8 bits at 4 MiB take a few seconds of hashing on a small machine; a minute is ample.
    admissionTimeoutMs: 60_000,
    topologyRegion: "default",
    topologyCluster: "",
    topologyRole: "edge",
    // 40 in all, under the lan profile's 50 connections: most neighbours serve the node's own
    // cooperative, and a few in each other set keep it connected to the rest of the federation.
    clusterNeighboursMax: 16,
    regionalNeighboursMax: 8,
    backboneNeighboursMax: 8,
    trustedNeighboursMax: 8,
    gatewayListen: "",
    gatewayPublicReads: false,
    gatewayCorsOrigins: [],
    gatewayTrustedProxies: [],
    gatewayTokenTtlS: 3600,
    gatewayMaxInFlight: 64,
    gatewayWebDir: "",
    federationAgent: false,
  };
  if (profile === "lan") {
    return {
      ...base,
      mdns: true,
      dht: false,
      autonat: false,
      relayClient: false,
      maxConnections: 50,
    };
  }
  if (profile === "test") {
    return {
      ...base,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      http: "127.0.0.1:0",
      dht: false,
      autonat: false,
      relayClient: false,
      inboundConnectionThreshold: 10_000,
      syncIntervalMs: 2000,
      helloTimeoutMs: 5000,
    };
  }
  return base;
}

function tomlValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

/** The commented `config.toml` of a profile, every key shown with its default. */
export function renderConfig(profile: Profile): string {
  const config = defaultConfig(profile);
  const lines = [
    `# icn node configuration (profile "${profile}").`,
    "# Every key is shown with its default. Environment variables override this file",
    "# (ICN_<SECTION>_<KEY>, e.g. ICN_LIMITS_PEER_RATE=500; lists are comma-separated),",
    "# and `icn node run` flags override both.",
  ];
  let section = "";
  for (const def of keyDefs) {
    const dot = def.toml.lastIndexOf(".");
    const [name, key] = [def.toml.slice(0, dot), def.toml.slice(dot + 1)];
    if (name !== section) {
      section = name;
      lines.push("", `[${name}]`);
    }
    lines.push(`# ${def.doc}`, `${key} = ${tomlValue(config[def.field])}`);
  }
  return lines.join("\n") + "\n";
}

function fail(key: string, message: string): never {
  throw new InvalidInputError(`Invalid node config "${key}": ${message}`);
}

function coerce(def: KeyDef, raw: unknown, source: string): unknown {
  const key = `${def.toml}${source}`;
  switch (def.type) {
    case "string":
      if (raw === "" && def.empty) return raw;
      if (typeof raw !== "string" || raw.length === 0) fail(key, "expected a non-empty string");
      return raw;
    case "list": {
      const list = typeof raw === "string"
        ? raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
        : raw;
      const bad = Array.isArray(list)
        ? list.find((v) => typeof v !== "string" || v.length === 0 || v.length > 256)
        : list;
      if (!Array.isArray(list) || bad !== undefined) {
        fail(key, `expected a list of non-empty strings, got "${shown(bad, 80)}"`);
      }
      return list;
    }
    case "strings": {
      const list = typeof raw === "string"
        ? raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
        : raw;
      const bad = Array.isArray(list)
        ? list.find((v) => typeof v !== "string" || !v.startsWith("/"))
        : list;
      if (!Array.isArray(list) || bad !== undefined) {
        fail(key, `expected a list of multiaddrs starting with /, got "${shown(bad, 80)}"`);
      }
      return list;
    }
    case "int": {
      const n = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      const value = typeof n === "bigint" ? Number(n) : n;
      if (typeof value !== "number" || !Number.isInteger(value)) fail(key, "expected an integer");
      if (value < (def.min ?? -Infinity) || value > (def.max ?? Infinity)) {
        fail(key, `${value} is outside ${def.min}..${def.max}`);
      }
      return value;
    }
    case "bool":
      if (raw === "true" || raw === true) return true;
      if (raw === "false" || raw === false) return false;
      return fail(key, "expected true or false");
    case "enum":
      if (typeof raw !== "string" || !def.values!.includes(raw)) {
        fail(key, `expected one of ${def.values!.join(", ")}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    case "name": {
      if (typeof raw !== "string") fail(key, "expected a string");
      if (raw === "" && def.empty) return raw;
      const problem = topologyNameProblem(raw);
      if (problem !== null) fail(key, problem);
      return raw;
    }
  }
}

function envName(def: KeyDef): string {
  return "ICN_" + def.toml.replaceAll(".", "_").toUpperCase();
}

/** Flags of `icn node run`, already parsed. */
export interface ConfigOverrides {
  listen?: string[];
  bootstrap?: string[];
  http?: string;
  logFormat?: string;
  logLevel?: string;
  profile?: string;
  /** The app gateway's HOST:PORT. */
  gateway?: string;
}

/**
 * Builds the config from TOML text (may be empty), environment and flags.
 * The profile is chosen first (flag, env, file) so its defaults apply.
 */
export function resolveConfig(
  fileText: string | undefined,
  options: { env?: Record<string, string | undefined>; flags?: ConfigOverrides } = {},
): NodeConfig {
  const env = options.env ?? {};
  const flags = options.flags ?? {};
  let file: Record<string, unknown> = {};
  if (fileText !== undefined) {
    try {
      file = parseToml(fileText) as Record<string, unknown>;
    } catch (error) {
      throw new InvalidInputError(`Cannot parse node config: ${(error as Error).message}`);
    }
  }
  const fromFile = new Map<string, unknown>();
  const isTable = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value);
  // `[section]` tables, and `[section.sub]` tables where keys have three parts (topology.limits).
  const readTable = (prefix: string, table: Record<string, unknown>, depth: number) => {
    for (const [key, value] of Object.entries(table)) {
      const name = `${prefix}.${key}`;
      if (keyDefs.some((d) => d.toml === name)) {
        fromFile.set(name, value);
      } else if (
        depth < tableDepthMax && isTable(value) &&
        keyDefs.some((d) => d.toml.startsWith(`${name}.`))
      ) {
        readTable(name, value, depth + 1);
      } else {
        fail(name, "unknown key");
      }
    }
  };
  for (const [section, table] of Object.entries(file)) {
    if (!isTable(table)) fail(section, "expected a [section] table");
    readTable(section, table, 1);
  }
  const profileDef = keyDefs[0];
  const profileRaw = flags.profile ?? env[envName(profileDef)] ?? fromFile.get("node.profile") ??
    "server";
  const profile = coerce(profileDef, profileRaw, "") as Profile;
  const config = defaultConfig(profile) as unknown as Record<string, unknown>;
  for (const def of keyDefs) {
    if (fromFile.has(def.toml)) config[def.field] = coerce(def, fromFile.get(def.toml), "");
    const fromEnv = env[envName(def)];
    if (fromEnv !== undefined) config[def.field] = coerce(def, fromEnv, ` (${envName(def)})`);
  }
  const flagFields: [keyof ConfigOverrides, string][] = [
    ["listen", "node.listen"],
    ["bootstrap", "node.bootstrap"],
    ["http", "http.listen"],
    ["logFormat", "log.format"],
    ["logLevel", "log.level"],
    ["gateway", "gateway.listen"],
  ];
  for (const [flag, toml] of flagFields) {
    const value = flags[flag];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    const def = keyDefs.find((d) => d.toml === toml)!;
    config[def.field] = coerce(def, value, ` (--${flag})`);
  }
  const result = config as unknown as NodeConfig;
  parseHostPort(result.http, "http.listen");
  if (result.gatewayListen !== "") parseGatewayListen(result.gatewayListen);
  if (result.banPoints < result.quarantinePoints) {
    fail("misbehaviour.ban_points", "must be at least misbehaviour.quarantine_points");
  }
  return result;
}

/** Splits HOST:PORT; refuses non-loopback hosts (the control API must not be exposed). */
export function parseHostPort(text: string, key: string): { hostname: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  if (!match) fail(key, `expected HOST:PORT, got ${JSON.stringify(text)}`);
  const hostname = match[1].replace(/^\[|\]$/g, "");
  const port = Number(match[2]);
  if (port > 65535) fail(key, `port ${port} is out of range`);
  if (!["127.0.0.1", "localhost", "::1"].includes(hostname)) {
    fail(key, `host ${hostname} is not loopback (the control API must stay local)`);
  }
  return { hostname, port };
}

/** The gateway's HOST:PORT (any host: a public bind is allowed, with a warning at start). */
export function parseGatewayListen(text: string): { hostname: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(text);
  if (!match) fail("gateway.listen", `expected HOST:PORT, got ${JSON.stringify(text)}`);
  const port = Number(match[2]);
  if (port > 65535) fail("gateway.listen", `port ${port} is out of range`);
  return { hostname: match[1].replace(/^\[|\]$/g, ""), port };
}

/**
 * The `ICN_*` variables this module reads, looked up with `get` (the CLI passes its scoped
 * environment, so an in-process command sees its own; the default is the process's).
 */
export function configEnv(
  get: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const def of keyDefs) out[envName(def)] = get(envName(def));
  return out;
}

/**
 * The neighbour sets' init for this config: the cluster defaults to `cooperativeNetworkId`, the
 * network id of the node's cooperative.
 */
export function neighbourSetsInit(
  config: NodeConfig,
  cooperativeNetworkId: string,
): NeighbourSetsInit {
  return {
    local: {
      region: config.topologyRegion,
      cluster: config.topologyCluster === "" ? cooperativeNetworkId : config.topologyCluster,
      role: config.topologyRole,
    },
    limits: {
      cluster: config.clusterNeighboursMax,
      regional: config.regionalNeighboursMax,
      backbone: config.backboneNeighboursMax,
      trusted: config.trustedNeighboursMax,
    },
  };
}
