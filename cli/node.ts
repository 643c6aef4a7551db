/**
 * `icn node init|run|status|peers|connect`: the long-running node and the
 * commands that talk to it through its control API.
 */
import { getHeapStatistics } from "node:v8";
import { InvalidInputError } from "../core/errors.ts";
import { toHex } from "../core/bytes.ts";
import {
  configEnv,
  type ConfigOverrides,
  parseHostPort,
  profiles,
  renderConfig,
  resolveConfig,
} from "../net/config.ts";
import type { CliContext } from "./context.ts";
import { writeFileAtomic } from "./keystore.ts";
import { defaultHeapSizing, v8HeapFlags } from "./node_heap.ts";
import { callNode, nodeFiles, requireRunningNode } from "./node_client.ts";
import { type CommandResult, createStderrLogger } from "./output.ts";

const configFile = "config.toml";

export async function init(
  ctx: CliContext,
  _args: string[],
  options: Record<string, unknown>,
): Promise<CommandResult> {
  const profile = String(options.profile ?? "server");
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
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && file === undefined) return undefined;
    throw new InvalidInputError(`Cannot read node config ${path}: ${(error as Error).message}`);
  }
}

export async function run(
  ctx: CliContext,
  _args: string[],
  options: Record<string, unknown>,
): Promise<CommandResult> {
  const flags: ConfigOverrides = {
    listen: options.listen as string[] | undefined,
    bootstrap: options.bootstrap as string[] | undefined,
    http: options.http as string | undefined,
    logFormat: options.logFormat as string | undefined,
    logLevel: options.logLevel as string | undefined,
    profile: options.profile as string | undefined,
  };
  const config = resolveConfig(await readConfigText(ctx, options.config as string | undefined), {
    env: configEnv(),
    flags,
  });
  const logger = createStderrLogger({ format: config.logFormat, level: config.logLevel });
  logHeapSizing(logger);
  const http = parseHostPort(config.http, "http.listen");
  const unlocked = await ctx.unlock();
  const deps = await ctx.ingestDeps();
  const { IcnNode } = await import("../net/node.ts");
  const { serveNode } = await import("../net/http.ts");
  const node = await IcnNode.create(
    {
      ...deps,
      logger,
      identity: { did: unlocked.did, signer: unlocked.signer, ed25519: unlocked.ed25519 },
    },
    config,
    { libp2pMetrics: true },
  );
  await node.start();
  const token = toHex(ctx.rng.bytes(32));
  await writeFileAtomic(ctx.path(nodeFiles.token), new TextEncoder().encode(token + "\n"), 0o600);
  const server = serveNode(node, { ...http, token });
  const info = { pid: Deno.pid, url: server.url, peerId: node.peerId, listen: node.addrs() };
  await writeFileAtomic(
    ctx.path(nodeFiles.info),
    new TextEncoder().encode(JSON.stringify(info) + "\n"),
    0o600,
  );
  logger.info("http_listening", { url: server.url });

  const stopped = Promise.withResolvers<string>();
  let signals = 0;
  const onSignal = (signal: Deno.Signal) => () => {
    signals++;
    if (signals > 1) {
      logger.warn("shutdown_forced", { signal });
      Deno.exit(130);
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
    Deno.exit(1);
  }, config.shutdownTimeoutMs);
  await Promise.all([
    Deno.remove(ctx.path(nodeFiles.info)).catch(() => {}),
    Deno.remove(ctx.path(nodeFiles.token)).catch(() => {}),
  ]);
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
    peers: { peer: string; did: string | null }[];
  };
  return {
    data: s,
    text: [
      `DID       ${s.did}`,
      `Peer id   ${s.peerId}`,
      `Network   ${s.net}`,
      `Listen    ${s.listen.join(" ")}`,
      `Envelopes ${s.envelopes}`,
      `Sync lag  ${s.syncLag}`,
      `Ready     ${s.ready ? "yes" : "no"}`,
      `Peers     ${s.peers.length}`,
      ...s.peers.map((p) => `  ${p.peer} ${p.did ?? "(no hello yet)"}`),
    ],
  };
}

export async function peers(ctx: CliContext): Promise<CommandResult> {
  const node = await requireRunningNode(ctx);
  const list = await callNode(node, "GET", "/control/peers") as {
    peer: string;
    did: string | null;
    trustClass: string;
    score: number;
    standing: string;
    addrs: string[];
  }[];
  return {
    data: list,
    text: list.length === 0
      ? "No peers connected"
      : list.map((p) =>
        `${p.peer} ${p.did ?? "-"} class=${p.trustClass} score=${
          p.score.toFixed(2)
        } ${p.standing} ${p.addrs.join(",")}`
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
