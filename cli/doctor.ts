/**
 * Handler of `icn doctor`: checks what an operator would check by hand, and
 * says how to fix each problem. Reads only; never creates or repairs anything.
 */
import { readLog } from "../core/chain/read.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { decodeEnvelope } from "../core/envelope/envelope.ts";
import { InvalidInputError } from "../core/errors.ts";
import { terminalSafe } from "../core/safe_text.ts";
import type { CliContext } from "./context.ts";
import { checkKeystoreKeys } from "./doctor_keystore.ts";
import { findRunningNode } from "./node_client.ts";
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
    if (error instanceof Deno.errors.NotFound) return null;
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
  const remote = Deno.env.get("ICN_KV_URL");
  if (!remote && !(await statOrNull(ctx.path("icn.kv")))) {
    return [{
      check: "store",
      status: "skip",
      message: `No store yet at ${ctx.path("icn.kv")}`,
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
    message: `Store opens (${remote ? "remote KV" : ctx.path("icn.kv")})`,
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

async function checkNode(ctx: CliContext): Promise<{ running: boolean; findings: Finding[] }> {
  let node = null;
  try {
    node = await findRunningNode(ctx);
  } catch {
    node = null;
  }
  if (!node) {
    const stale = await statOrNull(ctx.path("node.json"));
    return {
      running: false,
      findings: [{
        check: "clock",
        status: "skip",
        message: `No node runs on this data dir${
          stale ? " (node.json is stale)" : ""
        }, so clock skew against peers was not measured`,
      }],
    };
  }
  return { running: true, findings: [await checkPeerClocks(node)] };
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

function checkPort(
  name: string,
  hostname: string,
  port: number,
  nodeRuns: boolean,
): Finding {
  try {
    const listener = Deno.listen({ hostname, port, transport: "tcp" });
    listener.close();
    return { check: `port-${name}`, status: "ok", message: `Port ${hostname}:${port} is free` };
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      if (nodeRuns) {
        return {
          check: `port-${name}`,
          status: "ok",
          message: `Port ${hostname}:${port} is in use, by the node of this data dir`,
        };
      }
      return {
        check: `port-${name}`,
        status: "error",
        message: `Port ${hostname}:${port} is used by another program`,
        fix:
          `find it with \`ss -ltnp 'sport = :${port}'\` and stop it, or configure another ${name} port`,
      };
    }
    return {
      check: `port-${name}`,
      status: "warn",
      message: `Cannot test port ${hostname}:${port}: ${(error as Error).message}`,
      fix: "run doctor with network permission (--allow-net)",
    };
  }
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
}

function parsePort(value: unknown, name: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidInputError(`Cannot check port ${name} "${String(value)}": not a port number`);
  }
  return port;
}

/** Ports from flags, else the data dir's `config.toml` (`node.listen`, `http.listen`), else defaults. */
export async function plannedPorts(
  ctx: CliContext,
  options: Record<string, unknown>,
): Promise<PortPlan> {
  const plan: PortPlan = { ...defaultPorts, from: "defaults" };
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(ctx.path("config.toml"));
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    try {
      const { parse } = await import("smol-toml");
      const config = parse(text) as {
        node?: { listen?: unknown };
        http?: { listen?: unknown };
      };
      const listen = Array.isArray(config.node?.listen) ? config.node!.listen : [];
      for (const address of listen) {
        const match = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(String(address));
        if (match) {
          plan.p2pHost = match[1];
          plan.p2p = Number(match[2]);
          break;
        }
      }
      if (typeof config.http?.listen === "string") {
        const at = config.http.listen.lastIndexOf(":");
        plan.httpHost = config.http.listen.slice(0, at) || plan.httpHost;
        plan.http = parsePort(config.http.listen.slice(at + 1), "http.listen");
      }
      plan.from = ctx.path("config.toml");
    } catch (error) {
      if (error instanceof InvalidInputError) throw error;
      throw new InvalidInputError(
        `Cannot read ${ctx.path("config.toml")}: ${(error as Error).message}`,
      );
    }
  }
  if (options.p2pPort !== undefined) {
    plan.p2p = parsePort(options.p2pPort, "--p2p-port");
    plan.from = "flags";
  }
  if (options.httpPort !== undefined) {
    plan.http = parsePort(options.httpPort, "--http-port");
    plan.from = "flags";
  }
  return plan;
}

/** All findings, in a fixed order. */
export async function runDoctor(ctx: CliContext, ports: PortPlan): Promise<Finding[]> {
  const findings = await checkDataDir(ctx);
  const dirUsable = findings.every((f) => f.status !== "error" || f.message.includes("writable"));
  if (dirUsable) {
    findings.push(...await checkKeystore(ctx));
    findings.push(...await checkStoreAndLog(ctx));
    findings.push(...await checkKeystoreKeys(ctx));
  }
  const node = await checkNode(ctx);
  findings.push(...node.findings);
  for (
    const [name, host, port] of [
      ["p2p", ports.p2pHost, ports.p2p],
      ["http", ports.httpHost, ports.http],
    ] as const
  ) {
    findings.push(
      port === 0
        ? {
          check: `port-${name}`,
          status: "skip",
          message: `The ${name} port is picked at start (0)`,
        }
        : checkPort(name, host, port, node.running),
    );
  }
  return findings;
}

const marks: Record<FindingStatus, string> = {
  ok: "ok   ",
  warn: "warn ",
  error: "ERROR",
  skip: "skip ",
};

export async function doctor(
  ctx: CliContext,
  _args: string[],
  options: Record<string, unknown>,
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
    exitCode: errors > 0 ? 1 : 0,
  };
}
