/**
 * `icn node init|run|status|peers|connect`: the long-running node and the
 * commands that talk to it through its control API.
 */
import { envGet } from "./io_scope.ts";
import { getHeapStatistics } from "node:v8";
import { IcnError, InvalidInputError } from "../core/errors.ts";
import { toHex } from "../core/bytes.ts";
import { isDid } from "../core/identity/did.ts";
import { terminalSafe } from "../core/safe_text.ts";
import {
  configEnv,
  type ConfigOverrides,
  type NodeConfig,
  parseHostPort,
  profiles,
  renderConfig,
  resolveConfig,
} from "../net/config.ts";
import { type ContactLabels, contactLabels } from "./contacts.ts";
import type { CliContext } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { loadNodeKey } from "./node_key.ts";
import { writeFileAtomic } from "./keystore.ts";
import { pathExists, readInputText } from "./files.ts";
import { type HeldLock, nodeLockFile, readLockHolder, tryLock } from "./lock.ts";
import { defaultHeapSizing, v8HeapFlags } from "./node_heap.ts";
import { joinedNetworks, openJoinedNetworks } from "./networks.ts";
import { callNode, nodeFiles, requireRunningNode } from "./node_client.ts";
import { type CommandResult, createStderrLogger } from "./output.ts";

const configFile = "config.toml";

/**
 * `node init`'s options. The profile is checked here rather than where it is declared:
 * `net/config.ts` (and its TOML parser) loads only when a node command runs.
 */
export interface InitOptions {
  profile: string;
  force?: boolean;
}

/** `node run`'s options: overrides of the config file, checked by `resolveConfig`. */
export interface RunOptions {
  config?: string;
  profile?: string;
  listen?: string[];
  bootstrap?: string[];
  http?: string;
  logFormat?: string;
  logLevel?: string;
  /** The app gateway's HOST:PORT (docs/gateway.md). */
  gateway?: string;
}

export async function init(
  ctx: CliContext,
  _args: string[],
  options: InitOptions,
): Promise<CommandResult> {
  const { profile } = options;
  if (!(profiles as readonly string[]).includes(profile)) {
    throw new InvalidInputError(
      `Cannot use profile "${profile}": expected one of ${profiles.join(", ")}`,
    );
  }
  await ctx.ensureDataDir();
  const path = ctx.path(configFile);
  const exists = await Deno.stat(path).then(() => true, () => false);
  if (exists && options.force !== true) {
    throw new InvalidInputError(`${path} already exists: use --force to overwrite it`);
  }
  await writeFileAtomic(path, new TextEncoder().encode(renderConfig(profile as never)), 0o600);
  return { data: { path, profile }, text: `Wrote ${path} (profile ${profile})` };
}

async function readConfigText(
  ctx: CliContext,
  file: string | undefined,
): Promise<string | undefined> {
  const path = file ?? ctx.path(configFile);
  // Only a missing default file means "no config"; anything else is read, and refused by name.
  if (file === undefined && !(await pathExists(path).catch(() => true))) return undefined;
  // Bounded and strict UTF-8: /dev/zero or a binary file is refused naming it, not parsed.
  return await readInputText(path, "node config", { bytesMax: configFileBytesMax });
}

/** A node config is a page of TOML; a file far larger than every key set is not one. */
const configFileBytesMax = 1024 * 1024;

/** The node's config; a config file that does not parse or validate is named in the refusal. */
async function nodeConfig(ctx: CliContext, file: string | undefined, flags: ConfigOverrides) {
  const text = await readConfigText(ctx, file);
  try {
    return resolveConfig(text, { env: configEnv(envGet), flags });
  } catch (error) {
    if (!(error instanceof InvalidInputError) || text === undefined) throw error;
    throw new InvalidInputError(
      `${error.message} (node config ${file ?? ctx.path(configFile)})`,
      { cause: error },
    );
  }
}

export async function run(
  ctx: CliContext,
  _args: string[],
  options: RunOptions,
): Promise<CommandResult> {
  const { listen, bootstrap, http, logFormat, logLevel, profile, gateway } = options;
  const flags: ConfigOverrides = { listen, bootstrap, http, logFormat, logLevel, profile, gateway };
  const config = await nodeConfig(ctx, options.config, flags);
  const logger = createStderrLogger({ format: config.logFormat, level: config.logLevel });
  // No identity, no node; and a mistyped --data-dir is not created just to hold a lock.
  await ctx.readPublicIdentity();
  const lock = await takeNodeLock(ctx);
  try {
    return await runLocked(ctx, config, logger, lock);
  } finally {
    lock.release();
  }
}

/**
 * Takes the data dir's node lock, held for the node's whole life (one node per data dir), or
 * refuses naming the node that holds it.
 */
export async function takeNodeLock(ctx: CliContext): Promise<HeldLock> {
  const path = ctx.path(nodeLockFile);
  const lock = await tryLock(path, { pid: Deno.pid, command: "icn node run", since: Date.now() })
    .catch((error) => {
      throw new InvalidInputError(
        `Cannot start a node on ${ctx.dataDir}: cannot take the node lock ${path}: ${
          (error as Error).message
        }`,
      );
    });
  if (lock) return lock;
  const holder = await readLockHolder(path);
  const where = [
    holder?.peerId ? `peer id ${holder.peerId}` : "",
    Array.isArray(holder?.listen) && holder.listen.length > 0
      ? `listening on ${holder.listen.join(" ")}`
      : "",
    typeof holder?.url === "string" ? `control API ${holder.url}` : "",
  ].filter((part) => part !== "");
  throw new IcnError(
    "node_running",
    `Cannot start a node on ${ctx.dataDir}: a node already runs on it (${
      [holder ? `pid ${holder.pid}` : "its pid is not recorded", ...where].join(", ")
    }) — stop it first${
      holder ? ` (kill -TERM ${holder.pid})` : ""
    }, or give this node its own --data-dir`,
  );
}

/** True when `error` or anything in its cause chain says an address is already in use. */
export function isAddrInUse(error: unknown, depth = 0): boolean {
  if (depth > 8 || error === null || typeof error !== "object") return false;
  if (error instanceof Deno.errors.AddrInUse) return true;
  const e = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (e.code === "EADDRINUSE") return true;
  if (typeof e.message === "string" && /EADDRINUSE|address already in use/i.test(e.message)) {
    return true;
  }
  if (Array.isArray(e.errors) && e.errors.some((inner) => isAddrInUse(inner, depth + 1))) {
    return true;
  }
  return isAddrInUse(e.cause, depth + 1);
}

function portInUseError(what: "p2p" | "http", address: string, cause: unknown): IcnError {
  const how = what === "p2p"
    ? "choose another with --listen /ip4/0.0.0.0/tcp/PORT, node.listen in config.toml or ICN_NODE_LISTEN (tcp/0 picks a free port)"
    : "choose another with --http 127.0.0.1:PORT, http.listen in config.toml or ICN_HTTP_LISTEN (port 0 picks a free one)";
  return new IcnError(
    "port_in_use",
    `Cannot start the node: the ${
      what === "p2p" ? "p2p" : "HTTP"
    } address ${address} is already in use — ${how}; \`icn doctor\` shows what is free`,
    { cause },
  );
}

/** The TCP listen address of a multiaddr, as host:port (`/ip4/0.0.0.0/tcp/4001` → 0.0.0.0:4001). */
function hostPortOf(addr: string): string {
  const match = /^\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)/.exec(addr);
  if (!match) return addr;
  return `${match[1].includes(":") ? `[${match[1]}]` : match[1]}:${match[2]}`;
}

async function runLocked(
  ctx: CliContext,
  config: NodeConfig,
  logger: ReturnType<typeof createStderrLogger>,
  lock: HeldLock,
): Promise<CommandResult> {
  logHeapSizing(logger);
  const http = parseHostPort(config.http, "http.listen");
  // Refused before anything is unlocked or opened.
  const { testUpgradeOptions } = await import("../net/upgrade.ts");
  const upgradeOptions = testUpgradeOptions(
    config.profile,
    config.syncIntervalMs,
    envGet("ICN_TEST_PROTOCOL_VERSION"),
  );
  const unlocked = await ctx.unlock();
  const deps = await ctx.ingestDeps();
  // Every joined network, each over its own store, the home network first (none joined: the
  // node refuses to start, naming `icn governance join`).
  const networks = await Promise.all(
    (await openJoinedNetworks(ctx)).map(async ({ id, store, kinds }) => ({
      id,
      store,
      kinds: await kinds(),
    })),
  );
  const { IcnNode } = await import("../net/node.ts");
  const { serveNode } = await import("../net/http.ts");
  const node = await IcnNode.create(
    {
      ...deps,
      ...(networks.length > 0 ? { networks } : {}),
      logger,
      identity: {
        did: unlocked.did,
        signer: unlocked.signer,
        ed25519: unlocked.ed25519,
        nodeKey: await loadNodeKey(ctx),
      },
    },
    config,
    { libp2pMetrics: true, ...upgradeOptions },
  );
  try {
    await node.start();
  } catch (error) {
    await node.stop().catch(() => {});
    if (!isAddrInUse(error)) throw error;
    const tcp = config.listen.filter((addr) =>
      /\/tcp\/\d+/.test(addr) && !/\/tcp\/0(\/|$)/.test(addr)
    );
    throw portInUseError("p2p", tcp.map(hostPortOf).join(", ") || config.listen.join(", "), error);
  }
  const token = toHex(ctx.rng.bytes(32));
  let server: ReturnType<typeof serveNode>;
  let gateway: import("../net/gateway/serve.ts").GatewayServer | undefined;
  try {
    server = serveNode(node, {
      ...http,
      token,
      receipt: (id) => gateway?.gateway.receipts.get(id),
    });
  } catch (error) {
    await node.stop().catch(() => {});
    if (!isAddrInUse(error)) throw error;
    throw portInUseError("http", `${http.hostname}:${http.port}`, error);
  }
  if (config.gatewayListen !== "") {
    const { serveGateway } = await import("../net/gateway/serve.ts");
    try {
      gateway = await serveGateway(node, config, logger);
    } catch (error) {
      await server.shutdown().catch(() => {});
      await node.stop().catch(() => {});
      if (!isAddrInUse(error)) throw error;
      throw new IcnError(
        "port_in_use",
        `Cannot start the node: the gateway address ${config.gatewayListen} is already in use — choose another with --gateway HOST:PORT or gateway.listen in config.toml`,
        { cause: error },
      );
    }
  }
  await writeFileAtomic(ctx.path(nodeFiles.token), new TextEncoder().encode(token + "\n"), 0o600);
  const info = {
    pid: Deno.pid,
    url: server.url,
    peerId: node.peerId,
    listen: node.addrs(),
    ...(gateway ? { gateway: gateway.url } : {}),
  };
  await writeFileAtomic(
    ctx.path(nodeFiles.info),
    new TextEncoder().encode(JSON.stringify(info) + "\n"),
    0o600,
  );
  await lock.describe({ command: "icn node run", since: Date.now(), ...info });
  logger.info("http_listening", { url: server.url });

  const stopped = Promise.withResolvers<string>();
  let signals = 0;
  const onSignal = (signal: Deno.Signal) => () => {
    signals++;
    if (signals > 1) {
      logger.warn("shutdown_forced", { signal });
      Deno.exit(exitCodes.interrupted);
    }
    stopped.resolve(signal);
  };
  const listeners: [Deno.Signal, () => void][] = [["SIGINT", onSignal("SIGINT")], [
    "SIGTERM",
    onSignal("SIGTERM"),
  ]];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  const signal = await stopped.promise;
  logger.info("shutdown_started", { signal });
  const watchdog = setTimeout(() => {
    logger.error("shutdown_timeout", { ms: config.shutdownTimeoutMs });
    Deno.exit(exitCodes.failure);
  }, config.shutdownTimeoutMs);
  await Promise.all([
    Deno.remove(ctx.path(nodeFiles.info)).catch(() => {}),
    Deno.remove(ctx.path(nodeFiles.token)).catch(() => {}),
  ]);
  await gateway?.shutdown().catch(() => {});
  await server.shutdown().catch(() => {});
  await node.stop();
  ctx.close();
  clearTimeout(watchdog);
  for (const [s, listener] of listeners) Deno.removeSignalListener(s, listener);
  logger.info("shutdown_done", {});
  return { data: { stopped: true, signal }, text: "" };
}

/**
 * The V8 heap limit this process got from its start (flags cannot change it now); a warning when
 * it is V8's default sizing, e.g. `deno run cli/main.ts node run` without `--v8-flags`.
 */
function logHeapSizing(logger: ReturnType<typeof createStderrLogger>): void {
  const limit = getHeapStatistics().heap_size_limit;
  const fields = { limitMb: Math.round(limit / 2 ** 20) };
  if (defaultHeapSizing(limit)) {
    logger.warn("v8_heap_default_sizing", {
      ...fields,
      hint:
        `a syncing node peaks at nearly twice the RSS; start icn with --v8-flags=${v8HeapFlags} ` +
        "as deno task icn and release binaries do (README, Memory)",
    });
  } else logger.info("v8_heap", fields);
}

/** What `icn node status` shows of each network the node serves. */
interface NetworkRow {
  id: string;
  envelopes: number;
  syncLag: number;
  peers: number;
}

/** A peer as the node's control API reports it (the fields the text output shows). */
interface PeerRow {
  peer: string;
  did: string | null;
  trustClass: string;
  score: number;
  standing: string;
  addrs: string[];
  /** Networks both serve (absent from an older node's reply). */
  networks?: string[];
  /** Its neighbour set, null when in none (absent from an older node's reply). */
  set?: string | null;
}

/**
 * Network ids as shown: `name (id)`, or with `short` the name alone; the id alone for a network
 * this data dir knows no name of.
 */
async function networkNames(
  ctx: CliContext,
): Promise<(id: string, short?: boolean) => string> {
  const names = new Map<string, string>();
  try {
    for (const network of await joinedNetworks(ctx)) names.set(network.id, network.name);
  } catch {
    // The names are a courtesy: the ids alone still say which networks.
  }
  return (id, short = false) => {
    const name = names.get(id);
    if (!name) return id;
    return short ? terminalSafe(name) : `${terminalSafe(name)} (${id})`;
  };
}

/** An accepted upgrade as `/control/status` reports it (`net/upgrade.ts` `UpgradeStatus`). */
interface UpgradeRow {
  net: string;
  minVersion: string;
  deadline: number;
  readiness: number;
  active: number;
  ready: number;
  ratio: number;
  state: string;
  warning?: string;
}

export async function status(ctx: CliContext): Promise<CommandResult> {
  const node = await requireRunningNode(ctx);
  const s = await callNode(node, "GET", "/control/status") as {
    did: string;
    peerId: string;
    net: string;
    listen: string[];
    envelopes: number;
    syncLag: number;
    ready: boolean;
    peers: PeerRow[];
    networks?: NetworkRow[];
    topology?: { region: string; cluster: string; role: string };
    neighbours?: Record<string, string[]>;
    upgrades?: UpgradeRow[];
  };
  const labels = await contactLabels(ctx);
  const named = await networkNames(ctx);
  const networks = s.networks ?? [];
  const upgrades = s.upgrades ?? [];
  return {
    data: s,
    warnings: [
      ...labels.warnings,
      ...upgrades.flatMap((u) =>
        u.warning ? [`${named(u.net, true)}: ${terminalSafe(u.warning)}`] : []
      ),
    ],
    text: [
      `DID       ${s.did}`,
      `Peer id   ${s.peerId}`,
      `Network   ${named(s.net)}`,
      ...(networks.length > 1 || (networks.length === 1 && networks[0].id !== s.net)
        ? [
          `Networks  ${networks.length}`,
          ...networks.map((n) =>
            `  ${named(n.id)} envelopes=${n.envelopes} lag=${n.syncLag} peers=${n.peers}`
          ),
        ]
        : []),
      `Listen    ${s.listen.join(" ")}`,
      `Envelopes ${s.envelopes}`,
      `Sync lag  ${s.syncLag}`,
      `Ready     ${s.ready ? "yes" : "no"}`,
      ...(s.topology
        ? [
          `Topology  region=${terminalSafe(s.topology.region)} cluster=${
            terminalSafe(s.topology.cluster)
          } role=${terminalSafe(s.topology.role)}`,
        ]
        : []),
      ...(s.neighbours
        ? [
          `Neighbours ${
            Object.entries(s.neighbours).map(([set, peers]) => `${set}=${peers.length}`).join(" ")
          }`,
        ]
        : []),
      ...upgrades.map((u) =>
        `Upgrade   ${named(u.net, true)} min ${terminalSafe(u.minVersion)} ${
          u.state.replace("_", " ")
        }: ${u.ready}/${u.active} active member nodes (${
          Math.round(u.ratio * 100)
        }%, ${u.readiness}% needed), deadline ${new Date(u.deadline).toISOString()}`
      ),
      `Peers     ${s.peers.length}`,
      ...s.peers.map((p) =>
        `  ${p.peer} ${peerDid(labels, p.did) ?? "(no hello yet)"}${
          p.set !== undefined ? ` set=${p.set ?? "-"}` : ""
        }`
      ),
    ],
  };
}

/** A peer's DID with its contact name; the DID comes from the node's reply, so it is checked first. */
function peerDid(labels: ContactLabels, did: string | null): string | null {
  return did !== null && isDid(did as unknown) ? labels.label(did) : did;
}

export async function peers(ctx: CliContext): Promise<CommandResult> {
  const node = await requireRunningNode(ctx);
  const list = await callNode(node, "GET", "/control/peers") as PeerRow[];
  const labels = await contactLabels(ctx);
  const named = await networkNames(ctx);
  return {
    data: list,
    warnings: labels.warnings,
    text: list.length === 0
      ? "No peers connected"
      : list.map((p) =>
        `${p.peer} ${peerDid(labels, p.did) ?? "-"} class=${p.trustClass} score=${
          p.score.toFixed(2)
        } ${p.standing}${p.set !== undefined ? ` set=${p.set ?? "-"}` : ""}${
          p.networks ? ` networks=${p.networks.map((id) => named(id, true)).join(",") || "-"}` : ""
        } ${p.addrs.join(",")}`
      ),
  };
}

export async function connect(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const addr = args[0];
  if (!addr?.startsWith("/")) {
    throw new InvalidInputError(
      `Cannot connect to "${addr}": expected a multiaddr like /ip4/127.0.0.1/tcp/4001/p2p/12D3...`,
    );
  }
  const node = await requireRunningNode(ctx);
  const reply = await callNode(node, "POST", "/control/connect", { addr }) as { peer: string };
  return { data: reply, text: `Connected to ${reply.peer}` };
}
