/**
 * Handler of `icn doctor`: checks what an operator would check by hand, and
 * says how to fix each problem. Reads only; never creates or repairs anything.
 */
import { envGet } from "./io_scope.ts";
import { readLog } from "../core/chain/read.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { decodeEnvelope } from "../core/envelope/envelope.ts";
import { InvalidInputError } from "../core/errors.ts";
import { terminalSafe } from "../core/safe_text.ts";
import type { CliContext } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { checkKeystoreKeys } from "./doctor_keystore.ts";
import { readInputText } from "./files.ts";
import { nodeLockFile, readLockHolder } from "./lock.ts";
import { findRunningNode, nodeFiles } from "./node_client.ts";
import type { CommandResult } from "./output.ts";

export type FindingStatus = "ok" | "warn" | "error" | "skip";

export interface Finding {
  check: string;
  status: FindingStatus;
  message: string;
  /** What to do about it (warnings and errors). */
  fix?: string;
}

/** Bounds the log walk so doctor answers in seconds even on a large store. */
export const doctorLogEntriesMax = 1_000_000;
/** Half of the ±300 s clock skew envelopes are accepted with: beyond it, writes start to bounce. */
export const clockSkewWarnMs = 150_000;

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    // A data dir that is a regular file makes every path under it "not a directory".
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw error;
  }
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}

async function checkDataDir(ctx: CliContext): Promise<Finding[]> {
  const dir = ctx.dataDir;
  const info = await statOrNull(dir);
  if (!info) {
    return [{
      check: "data-dir",
      status: "error",
      message: `Data dir ${dir} does not exist`,
      fix: "run `icn id init` (or pass --data-dir / set ICN_HOME to the right directory)",
    }];
  }
  if (!info.isDirectory) {
    return [{
      check: "data-dir",
      status: "error",
      message: `Data dir ${dir} is not a directory`,
      fix: "move the file away or point --data-dir / ICN_HOME at a directory",
    }];
  }
  if (info.mode === null) {
    return [{ check: "data-dir", status: "ok", message: `Data dir ${dir} exists` }];
  }
  if ((info.mode & 0o002) !== 0) {
    return [{
      check: "data-dir",
      status: "error",
      message: `Data dir ${dir} is writable by every user (mode ${octal(info.mode)})`,
      fix: `chmod 700 ${dir}`,
    }];
  }
  if ((info.mode & 0o077) !== 0) {
    return [{
      check: "data-dir",
      status: "warn",
      message: `Data dir ${dir} is open to other users (mode ${octal(info.mode)})`,
      fix: `chmod 700 ${dir}`,
    }];
  }
  return [{
    check: "data-dir",
    status: "ok",
    message: `Data dir ${dir} exists, mode ${octal(info.mode)}`,
  }];
}

async function checkKeystore(ctx: CliContext): Promise<Finding[]> {
  const info = await statOrNull(ctx.keystorePath);
  if (!info) {
    return [{
      check: "keystore",
      status: "warn",
      message: `No keystore at ${ctx.keystorePath}`,
      fix: "run `icn id init` to create this data dir's identity",
    }];
  }
  const findings: Finding[] = [];
  if (info.mode !== null && (info.mode & 0o777) !== 0o600) {
    findings.push({
      check: "keystore",
      status: "error",
      message: `Keystore ${ctx.keystorePath} has mode ${octal(info.mode)}, expected 0600`,
      fix: `chmod 600 ${ctx.keystorePath}`,
    });
  } else {
    findings.push({
      check: "keystore",
      status: "ok",
      message: `Keystore ${ctx.keystorePath}${info.mode !== null ? " has mode 0600" : " exists"}`,
    });
  }
  try {
    const identity = await ctx.readPublicIdentity();
    findings.push({ check: "identity", status: "ok", message: `Identity ${identity.did}` });
  } catch (error) {
    findings.push({
      check: "identity",
      status: "error",
      message: (error as Error).message,
      fix:
        `restore ${ctx.publicIdentityPath} from a backup, or re-create it with \`icn id init --force\``,
    });
  }
  return findings;
}

/** Every logged envelope decodes, matches its log entry, and extends its author's chain. */
async function checkStoreAndLog(ctx: CliContext): Promise<Finding[]> {
  const location = ctx.storeLocation;
  if (!location.remote && !(await statOrNull(location.path))) {
    return [{
      check: "store",
      status: "skip",
      message: `No store yet at ${location.path}`,
      fix: "nothing to do until the data dir joins a cooperative (`icn governance join`)",
    }];
  }
  let store;
  try {
    store = await ctx.store();
  } catch (error) {
    return [{
      check: "store",
      status: "error",
      message: (error as Error).message,
      fix: "check the file's owner and permissions, free disk space, or restore it from a backup",
    }];
  }
  const findings: Finding[] = [{
    check: "store",
    status: "ok",
    message: `Store opens (${location.remote ? "remote KV" : location.path})`,
  }];
  const network = (await store.get<string>(chainKeys.network))?.value;
  findings.push(
    network ? { check: "network", status: "ok", message: `Joined network ${network}` } : {
      check: "network",
      status: "warn",
      message: "This data dir has not joined a cooperative",
      fix: "run `icn governance join GENESIS_FILE`",
    },
  );
  const heads = new Map<string, { seq: number; cid: string }>();
  const problems: string[] = [];
  let count = 0;
  let truncated = false;
  try {
    for await (const { position, entry, bytes } of readLog(store)) {
      if (count >= doctorLogEntriesMax) {
        truncated = true;
        break;
      }
      count++;
      let sealed;
      try {
        sealed = await decodeEnvelope(bytes);
      } catch (error) {
        problems.push(`log ${position}: ${(error as Error).message}`);
        continue;
      }
      const { envelope, cid } = sealed;
      if (cid !== entry.cid || envelope.author !== entry.author || envelope.seq !== entry.seq) {
        problems.push(`log ${position}: envelope ${cid} does not match its log entry`);
      }
      const chain = `${envelope.net}\u0000${envelope.author}`;
      const head = heads.get(chain);
      const expectedSeq = head ? head.seq + 1 : 0;
      const expectedPrev = head ? head.cid : null;
      if (envelope.seq !== expectedSeq || envelope.prev !== expectedPrev) {
        problems.push(
          `log ${position}: ${envelope.author} seq ${envelope.seq} does not extend its chain (expected seq ${expectedSeq})`,
        );
      }
      heads.set(chain, { seq: envelope.seq, cid });
      if (problems.length >= 10) break;
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) {
    findings.push({
      check: "log",
      status: "error",
      message: `Log check failed: ${problems.join("; ")}`,
      fix:
        "restore the data dir from a backup, or re-sync from peers into a fresh data dir (`icn node export` / `icn node import`)",
    });
  } else {
    findings.push({
      check: "log",
      status: "ok",
      message: `${count} envelopes decode and chain links are intact${
        truncated ? ` (checked the first ${doctorLogEntriesMax})` : ""
      }`,
    });
  }
  if (network) {
    try {
      const { checkLedger } = await import("../core/ledger/audit.ts");
      const { createKindRegistry } = await import("../core/kinds.ts");
      const ledgerFindings = await checkLedger(store, { kinds: createKindRegistry() });
      findings.push(
        ledgerFindings.length === 0
          ? { check: "ledger", status: "ok", message: "`icn ledger check` passes" }
          : {
            check: "ledger",
            status: "error",
            message: `Ledger check failed: ${ledgerFindings.join("; ")}`,
            fix:
              "run `icn ledger check` for details; restore the data dir from a backup or re-sync it from peers",
          },
      );
    } catch (error) {
      findings.push({
        check: "ledger",
        status: "error",
        message: `Ledger check could not run: ${(error as Error).message}`,
        fix: "run `icn ledger check --debug` and report the error",
      });
    }
  }
  return findings;
}

/** A node running on this data dir: its control URL and token, and where it says it listens. */
export interface NodeSeen {
  url: string;
  token: string;
  /** From node.json, else the node lock's holder; null when neither records it. */
  pid: number | null;
  /** libp2p multiaddrs the node reported when it started listening. */
  listen: string[];
}

/** A node.json or node.lock is one line of JSON; anything larger is not the node's. */
const nodeInfoBytesMax = 64 * 1024;
/** At most this many of the node's p2p addresses are probed (it announces one per interface). */
const nodeAddressesMax = 16;

/** The JSON object in a small file of the data dir, or null (missing, damaged, too large). */
async function readSmallJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    using file = await Deno.open(path);
    const info = await file.stat();
    if (!info.isFile || info.size > nodeInfoBytesMax) return null;
    const buffer = new Uint8Array(nodeInfoBytesMax + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = await file.read(buffer.subarray(length));
      if (n === null) break;
      length += n;
    }
    if (length > nodeInfoBytesMax) return null;
    const value = JSON.parse(new TextDecoder().decode(buffer.subarray(0, length)));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/**
 * The node that answers on this data dir, with its real addresses: node.json (written once it
 * listens) and the node lock's holder (`node.lock`, described with the same fields) both record
 * pid, control URL and listen addresses; only a node whose control URL answers counts.
 */
export async function findNodeSeen(ctx: CliContext): Promise<NodeSeen | null> {
  let node = null;
  try {
    node = await findRunningNode(ctx);
  } catch {
    node = null;
  }
  if (!node) return null;
  const info = await readSmallJson(ctx.path(nodeFiles.info));
  const holder = await readLockHolder(ctx.path(nodeLockFile));
  // The lock's description counts only when it is the same node (a stale one names an old url).
  const sameNode = holder !== null && holder.url === node.url;
  const pid = Number.isSafeInteger(info?.pid) ? info!.pid as number : sameNode ? holder!.pid : null;
  const fromInfo = stringsOf(info?.listen);
  const listen = fromInfo.length > 0 ? fromInfo : sameNode ? stringsOf(holder!.listen) : [];
  return { ...node, pid, listen };
}

async function checkNode(ctx: CliContext): Promise<{ node: NodeSeen | null; findings: Finding[] }> {
  const node = await findNodeSeen(ctx);
  if (!node) {
    const stale = await statOrNull(ctx.path(nodeFiles.info));
    return {
      node: null,
      findings: [{
        check: "clock",
        status: "skip",
        message: `No node runs on this data dir${
          stale ? " (node.json is stale)" : ""
        }, so clock skew against peers was not measured`,
      }],
    };
  }
  return { node, findings: [await checkPeerClocks(node), ...await checkUpgrades(node)] };
}

/**
 * Accepted protocol upgrades as the running node sees them (net/upgrade.ts): one that is past
 * its deadline but short of `upgrade.readiness`, or that this node does not run yet, is a
 * warning; none, or all in force and run here, is fine.
 */
async function checkUpgrades(node: { url: string; token: string }): Promise<Finding[]> {
  let upgrades: Record<string, unknown>[];
  try {
    const { callNode } = await import("./node_client.ts");
    const reply = await callNode(node, "GET", "/control/status") as { upgrades?: unknown };
    upgrades = Array.isArray(reply.upgrades) ? reply.upgrades : [];
  } catch (error) {
    return [{
      check: "upgrade",
      status: "warn",
      message: `A node runs at ${node.url} but its status is unavailable: ${
        (error as Error).message
      }`,
      fix: "check the node's log; restart it with `systemctl restart icn-node` if it hangs",
    }];
  }
  const warned = upgrades.filter((u) => typeof u.warning === "string");
  if (warned.length === 0) {
    return [{
      check: "upgrade",
      status: "ok",
      message: upgrades.length === 0
        ? "No accepted protocol upgrade"
        : `${upgrades.length} accepted upgrade(s), nothing to do`,
    }];
  }
  return warned.map((u) => ({
    check: "upgrade",
    status: "warn",
    message: terminalSafe(String(u.warning)),
    fix: "see `icn node status`: upgrade this node, or the members' nodes still on the old " +
      "version (docs/governance.md, Protocol upgrades)",
  }));
}

/** Clock offsets the node reports per peer (`clockSkewMs`), against the accepted skew. */
async function checkPeerClocks(node: { url: string; token: string }): Promise<Finding> {
  let peers: unknown;
  try {
    const { callNode } = await import("./node_client.ts");
    const reply = await callNode(node, "GET", "/control/peers") as { peers?: unknown };
    peers = Array.isArray(reply) ? reply : reply.peers;
  } catch (error) {
    return {
      check: "clock",
      status: "warn",
      message: `A node runs at ${node.url} but its peer list is unavailable: ${
        (error as Error).message
      }`,
      fix: "check the node's log; restart it with `systemctl restart icn-node` if it hangs",
    };
  }
  const list = Array.isArray(peers) ? peers as Record<string, unknown>[] : [];
  const offsets = list.flatMap((p) =>
    typeof p.clockSkewMs === "number" ? [{ peer: String(p.peer), skew: p.clockSkewMs }] : []
  );
  if (offsets.length === 0) {
    return {
      check: "clock",
      status: "skip",
      message: `A node runs at ${node.url} with ${list.length} peer(s); it reports no per-peer ` +
        "clock offsets (peers whose handshake time is off are refused by the node)",
    };
  }
  const worst = offsets.reduce((a, b) => Math.abs(b.skew) > Math.abs(a.skew) ? b : a);
  const limitMs = clockSkewWarnMs;
  return Math.abs(worst.skew) > limitMs
    ? {
      check: "clock",
      status: "error",
      message: `Clock is ${Math.round(worst.skew / 1000)} s off peer ${worst.peer}`,
      fix: "enable time sync (`timedatectl set-ntp true`) on this machine or ask the peer to",
    }
    : {
      check: "clock",
      status: "ok",
      message: `Clock within ${Math.round(Math.abs(worst.skew))} ms of ${offsets.length} peer(s)`,
    };
}

/** One TCP port to probe: where it is bound, and the node's addresses it stands for. */
interface PortProbe {
  name: "p2p" | "http";
  hostname: string;
  port: number;
  /** The node's addresses on this port, for the report; empty for a configured port. */
  addresses: string[];
}

/** "this data dir's node (pid 123)", for messages. */
function nodeName(node: NodeSeen): string {
  return `this data dir's node${node.pid !== null ? ` (pid ${node.pid})` : ""}`;
}

/** Whether something listens on hostname:port: "free", "in-use", or the error that stopped the test. */
function probePort(hostname: string, port: number): "free" | "in-use" | Error {
  try {
    const listener = Deno.listen({ hostname, port, transport: "tcp" });
    listener.close();
    return "free";
  } catch (error) {
    return error instanceof Deno.errors.AddrInUse ? "in-use" : error as Error;
  }
}

/** A port the running node says it holds: in use is as expected; free means node.json lies. */
function checkNodePort(probe: PortProbe, node: NodeSeen): Finding {
  const check = `port-${probe.name}`;
  const where = `${probe.hostname}:${probe.port}`;
  const also = probe.addresses.length > 1 ? ` (${probe.addresses.join(", ")})` : "";
  const result = probePort(probe.hostname, probe.port);
  if (result === "in-use") {
    return {
      check,
      status: "ok",
      message: `Port ${where}${also} is held by ${nodeName(node)}`,
    };
  }
  if (result === "free") {
    return {
      check,
      status: "warn",
      message: `The ${probe.name} address ${where} of ${
        nodeName(node)
      } is free: nothing listens there`,
      fix: "check the node's log; `icn node status` lists the addresses it listens on",
    };
  }
  return {
    check,
    status: "ok",
    message: `Port ${where}${also} is ${nodeName(node)}'s (not probed: ${result.message})`,
  };
}

/** A configured port: free is good; in use is another program's (or this node's, when it runs). */
function checkPort(probe: PortProbe, node: NodeSeen | null, nodePorts: Set<number>): Finding {
  const { name, hostname, port } = probe;
  const check = `port-${name}`;
  const result = probePort(hostname, port);
  if (result === "free") {
    return { check, status: "ok", message: `Port ${hostname}:${port} is free` };
  }
  if (result === "in-use") {
    if (node && nodePorts.has(port)) {
      return {
        check,
        status: "ok",
        message: `Port ${hostname}:${port} is in use, held by ${nodeName(node)}`,
      };
    }
    return {
      check,
      status: "error",
      message: `Port ${hostname}:${port} is used by another program`,
      fix:
        `find it with \`ss -ltnp 'sport = :${port}'\` and stop it, or configure another ${name} port`,
    };
  }
  return {
    check,
    status: "warn",
    message: `Cannot test port ${hostname}:${port}: ${result.message}`,
    fix: "run doctor with network permission (--allow-net)",
  };
}

/**
 * The node's TCP ports from its multiaddrs (one probe per port, on a host that is this machine's),
 * relayed and non-TCP addresses left out.
 */
export function nodeP2pProbes(listen: string[]): PortProbe[] {
  const byPort = new Map<number, PortProbe>();
  for (const address of listen) {
    if (address.includes("/p2p-circuit")) continue;
    const match = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)(\/p2p\/[^/]+)?$/.exec(address);
    if (!match) continue;
    const port = Number(match[3]);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
    const probe = byPort.get(port);
    if (probe) {
      probe.addresses.push(`${match[2]}:${port}`);
      // Loopback is always this machine's, so it is the surest host to probe on.
      if (match[2] === "127.0.0.1") probe.hostname = match[2];
      continue;
    }
    if (byPort.size >= nodeAddressesMax) break;
    byPort.set(port, {
      name: "p2p",
      hostname: match[2],
      port,
      addresses: [`${match[2]}:${port}`],
    });
  }
  return [...byPort.values()];
}

/** The node's HTTP address, from its control URL. */
function nodeHttpProbe(url: string): PortProbe | null {
  try {
    const parsed = new URL(url);
    const port = Number(parsed.port);
    if (!Number.isInteger(port) || port <= 0) return null;
    const hostname = parsed.hostname.replace(/^\[|\]$/g, "");
    return { name: "http", hostname, port, addresses: [`${parsed.hostname}:${port}`] };
  } catch {
    return null;
  }
}

/**
 * Port findings. While a node runs, its real addresses (node.json / node.lock) are checked and
 * reported as its own; a port given with --p2p-port/--http-port is checked too. Without a node,
 * the configured ports (flags, else config.toml, environment, defaults) are checked.
 */
export function checkPorts(ports: PortPlan, node: NodeSeen | null): Finding[] {
  const configured: PortProbe[] = [
    { name: "p2p", hostname: ports.p2pHost, port: ports.p2p, addresses: [] },
    { name: "http", hostname: ports.httpHost, port: ports.http, addresses: [] },
  ];
  if (!node) {
    return configured.map((probe) =>
      probe.port === 0
        ? {
          check: `port-${probe.name}`,
          status: "skip",
          message: `The ${probe.name} port is picked at start (0)`,
        }
        : checkPort(probe, null, new Set())
    );
  }
  const findings: Finding[] = [];
  const held = [...nodeP2pProbes(node.listen), nodeHttpProbe(node.url)].filter((probe) =>
    probe !== null
  );
  for (const name of ["p2p", "http"] as const) {
    const mine = held.filter((probe) => probe.name === name);
    findings.push(...mine.map((probe) => checkNodePort(probe, node)));
    if (mine.length === 0) {
      findings.push({
        check: `port-${name}`,
        status: "skip",
        message: `No ${name} address is recorded by ${nodeName(node)}`,
      });
    }
  }
  const nodePorts = new Set(held.map((probe) => probe.port));
  for (const probe of configured) {
    if (!ports.explicit.includes(probe.name) || probe.port === 0) continue;
    if (held.some((h) => h.name === probe.name && h.port === probe.port)) continue;
    findings.push(checkPort(probe, node, nodePorts));
  }
  return findings;
}

/** Defaults of the node's server profile (net/config.ts), used when nothing is configured. */
export const defaultPorts = { p2pHost: "0.0.0.0", p2p: 4001, httpHost: "127.0.0.1", http: 5601 };

export interface PortPlan {
  p2pHost: string;
  p2p: number;
  httpHost: string;
  http: number;
  /** Where the ports came from, for the report. */
  from: string;
  /** The ports given as flags (checked even while a node runs elsewhere). */
  explicit: ("p2p" | "http")[];
}

function parsePort(value: unknown, name: string): number {
  const text = String(value);
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port > 65535) {
    throw new InvalidInputError(`Cannot check port ${name} "${text}": not a port number`);
  }
  return port;
}

/** Environment variables that move the node's ports (net/config.ts names them). */
const portEnv = ["ICN_NODE_PROFILE", "ICN_NODE_LISTEN", "ICN_HTTP_LISTEN"];

/**
 * The ports a node started now would take: flags, else what `icn node run` resolves from the
 * data dir's `config.toml`, the `ICN_*` environment and the profile's defaults.
 */
export async function plannedPorts(
  ctx: CliContext,
  options: DoctorOptions,
): Promise<PortPlan> {
  const path = ctx.path("config.toml");
  let text: string | undefined;
  try {
    text = await readInputText(path, "node config");
  } catch (error) {
    // Only a missing file means "not configured"; a directory or unreadable file is reported.
    const exists = await Deno.lstat(path).then(() => true, () => false);
    if (exists) throw error;
    text = undefined;
  }
  const { configEnv, parseHostPort, resolveConfig } = await import("../net/config.ts");
  const env = configEnv(envGet);
  let config;
  try {
    config = resolveConfig(text, { env });
  } catch (error) {
    throw new InvalidInputError(
      `Cannot check the configured ports (${text === undefined ? "" : `${path}, `}ICN_* ` +
        `environment): ${(error as Error).message}`,
    );
  }
  const plan: PortPlan = {
    ...defaultPorts,
    from: portEnv.some((name) => env[name] !== undefined)
      ? "environment"
      : text !== undefined
      ? path
      : "defaults",
    explicit: [],
  };
  for (const address of config.listen) {
    const match = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(address);
    if (match) {
      plan.p2pHost = match[1];
      plan.p2p = Number(match[2]);
      break;
    }
  }
  const http = parseHostPort(config.http, "http.listen");
  plan.httpHost = http.hostname;
  plan.http = http.port;
  if (options.p2pPort !== undefined) {
    plan.p2p = parsePort(options.p2pPort, "--p2p-port");
    plan.explicit.push("p2p");
  }
  if (options.httpPort !== undefined) {
    plan.http = parsePort(options.httpPort, "--http-port");
    plan.explicit.push("http");
  }
  if (plan.explicit.length > 0) plan.from = "flags";
  return plan;
}

/** All findings, in a fixed order. */
/**
 * The joined networks' stores (cli/networks.ts): each one the home store lists is there, and
 * nothing under `networks/` is left from a join that did not finish. Reads only: the entry an
 * old data dir lacks is reported, and recorded by the next command that reads the networks.
 */
async function checkNetworks(ctx: CliContext): Promise<Finding[]> {
  if (!(await ctx.storeExists())) return [];
  const { networksDir, readJoinedNetworks } = await import("./networks.ts");
  let read: Awaited<ReturnType<typeof readJoinedNetworks>>;
  try {
    read = await readJoinedNetworks(ctx);
  } catch (error) {
    return [{
      check: "networks",
      status: "error",
      message: (error as Error).message,
      fix: "restore icn.kv from a backup",
    }];
  }
  const { networks, unlisted } = read;
  if (networks.length === 0) return [];
  const findings: Finding[] = [];
  const files = new Set(networks.map((n) => n.file));
  for (const network of networks) {
    if (network.file === "icn.kv") continue;
    if (!(await statOrNull(ctx.path(network.file)))) {
      findings.push({
        check: "networks",
        status: "error",
        message: `The store of network "${
          terminalSafe(network.name)
        }" (${network.id}) is missing: ${ctx.path(network.file)}`,
        fix: "restore it from a backup of the data dir, or join the network again with its genesis",
      });
    }
  }
  try {
    for await (const entry of Deno.readDir(ctx.path(networksDir))) {
      if (!entry.name.endsWith(".kv") || files.has(`${networksDir}/${entry.name}`)) continue;
      findings.push({
        check: "networks",
        status: "warn",
        message: `${
          ctx.path(`${networksDir}/${terminalSafe(entry.name)}`)
        } is no joined network's store (a join that did not finish)`,
        fix:
          "join that network again (`icn governance join GENESIS`), which replaces it, or remove it",
      });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (findings.length === 0) {
    findings.push({
      check: "networks",
      status: "ok",
      message: `${networks.length} network(s) joined: ${
        networks.map((n) => terminalSafe(n.name)).join(", ")
      }${unlisted ? " (the list is recorded by the next command that reads it)" : ""}`,
    });
  }
  return findings;
}

export async function runDoctor(ctx: CliContext, ports: PortPlan): Promise<Finding[]> {
  const findings = await checkDataDir(ctx);
  const dirUsable = findings.every((f) => f.status !== "error" || f.message.includes("writable"));
  if (dirUsable) {
    findings.push(...await checkKeystore(ctx));
    findings.push(...await checkStoreAndLog(ctx));
    findings.push(...await checkNetworks(ctx));
    findings.push(...await checkKeystoreKeys(ctx));
  }
  const node = await checkNode(ctx);
  findings.push(...node.findings);
  findings.push(...checkPorts(ports, node.node));
  return findings;
}

const marks: Record<FindingStatus, string> = {
  ok: "ok   ",
  warn: "warn ",
  error: "ERROR",
  skip: "skip ",
};

/** `doctor`'s options (declared in cli/tool_commands.ts); the ports are checked by `parsePort`. */
export interface DoctorOptions {
  p2pPort?: string;
  httpPort?: string;
}

export async function doctor(
  ctx: CliContext,
  _args: string[],
  options: DoctorOptions,
): Promise<CommandResult> {
  const ports = await plannedPorts(ctx, options);
  const findings = await runDoctor(ctx, ports);
  const errors = findings.filter((f) => f.status === "error").length;
  const warnings = findings.filter((f) => f.status === "warn").length;
  const text = findings.flatMap((f) => [
    // A finding quotes peers, paths and error messages: each stays on its own line.
    `${marks[f.status]} ${f.check}: ${terminalSafe(f.message)}`,
    ...(f.fix && f.status !== "ok" ? [`      fix: ${terminalSafe(f.fix)}`] : []),
  ]);
  text.push(
    errors > 0 ? `${errors} error(s), ${warnings} warning(s)` : `No errors, ${warnings} warning(s)`,
  );
  return {
    data: { ok: errors === 0, errors, warnings, ports, findings },
    text,
    exitCode: errors > 0 ? exitCodes.failure : exitCodes.ok,
  };
}
