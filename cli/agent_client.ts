/**
 * The CLI's side of the unlock agent: find it, check it holds this identity's current keys, ask
 * it for signatures, start it, stop it. See cli/agent_server.ts for the agent itself.
 *
 * Only this user can reach the agent: its socket is mode 0600 inside a 0700 directory of theirs,
 * and the CLI refuses a socket or directory owned by anyone else or open to them. Deno does not
 * expose the peer's credentials (SO_PEERCRED), so the agent cannot check the caller's uid
 * itself: the file permissions are the boundary, as for ssh-agent's socket.
 */
import { envObject } from "./io_scope.ts";
import { toBase64 } from "../core/bytes.ts";
import { KeystoreError } from "../core/errors.ts";
import type { EnvelopeSignature, Signer } from "../core/envelope/envelope.ts";
import {
  agentFiles,
  type AgentInit,
  type AgentStatus,
  decodeLine,
  keystoreDigest,
  lineTimeoutMs,
  lockedShape,
  orRefused,
  readLine,
  readyShape,
  requestBytesMax,
  responseBytesMax,
  signedShape,
  socketPathBytesMax,
  statusShape,
  writeLine,
} from "./agent_protocol.ts";
import { buildInfo } from "./build_info.ts";
import type { CliContext, SigningIdentity } from "./context.ts";
import { readLockHolder, tryLock } from "./lock.ts";
import { v8HeapFlags } from "./node_heap.ts";
import type * as strict from "../core/strict.ts";

/** How long `icn id unlock` waits for a new agent to say it listens (a cold Deno start). */
const agentStartTimeoutMs = 30_000;
/** How long `icn id lock` waits for the agent to let go of its lock. */
const agentStopTimeoutMs = 5000;
/** How often a waiting CLI looks at the agent lock again. */
const agentPollMs = 25;

export interface AgentPaths {
  dir: string;
  socket: string;
  lock: string;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

export function agentPaths(ctx: CliContext): AgentPaths {
  const dir = `${absolute(ctx.dataDir)}/${agentFiles.dir}`;
  return { dir, socket: `${dir}/${agentFiles.socket}`, lock: `${dir}/${agentFiles.lock}` };
}

/**
 * Refuses a data dir whose socket path a Unix socket cannot have, and Windows, where file modes
 * (the agent's only access control) do not keep other users out.
 */
export function checkSocketPath(paths: AgentPaths): void {
  if (Deno.build.os === "windows") {
    throw new KeystoreError(
      "Cannot start the unlock agent on Windows: it relies on Unix file modes to keep other users out; run a node (`icn node run`) to write without a passphrase",
    );
  }
  const bytes = new TextEncoder().encode(paths.socket).length;
  if (bytes > socketPathBytesMax) {
    throw new KeystoreError(
      `Cannot start the unlock agent: its socket ${paths.socket} would be ${bytes} bytes long, over the ${socketPathBytesMax}-byte limit of Unix sockets; use a data dir with a shorter path`,
    );
  }
}

/** The socket, if it exists and only this user can reach it; else null. */
async function privateSocket(paths: AgentPaths): Promise<string | null> {
  try {
    const uid = Deno.uid();
    const dir = await Deno.lstat(paths.dir);
    const socket = await Deno.lstat(paths.socket);
    const own = (info: Deno.FileInfo) =>
      (info.uid === null || info.uid === uid) && (info.mode === null || (info.mode & 0o077) === 0);
    if (!dir.isDirectory || !socket.isSocket || !own(dir) || !own(socket)) return null;
    return paths.socket;
  } catch {
    return null;
  }
}

type Refused = strict.ShapeOf<ReturnType<typeof orRefused<never>>>;

/** One request, one reply. Throws when the agent cannot be reached or refuses. */
async function ask<T>(
  socket: string,
  request: Record<string, unknown>,
  shape: strict.Shape<T>,
): Promise<T> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    await writeLine(conn, { v: 1, ...request });
    const line = await readLine(conn, {
      bytesMax: responseBytesMax,
      timeoutMs: lineTimeoutMs,
      onTimeout: () => conn.close(),
    });
    if (!line) throw new KeystoreError("The unlock agent did not answer");
    const reply = decodeLine(line, orRefused(shape), "the unlock agent's reply", responseBytesMax);
    if ((reply as { ok: boolean }).ok === false) {
      throw new KeystoreError(`The unlock agent refused: ${(reply as Refused).error}`);
    }
    return reply as T;
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the timeout.
    }
  }
}

/** The running agent's status, or null when none answers. */
export async function agentStatus(ctx: CliContext): Promise<AgentStatus | null> {
  const socket = await privateSocket(agentPaths(ctx));
  if (!socket) return null;
  try {
    return await ask(socket, { op: "status" }, statusShape);
  } catch (error) {
    ctx.logger.debug("unlock agent not usable", { error: (error as Error).message });
    return null;
  }
}

/**
 * A signer backed by the agent, when one runs for this data dir with the keys of `did` read from
 * the keystore as it is now; else null (the caller asks for the passphrase).
 */
export async function agentSigner(ctx: CliContext, did: string): Promise<SigningIdentity | null> {
  const status = await agentStatus(ctx);
  if (!status) return null;
  const digest = await keystoreDigest(ctx.keystorePath);
  if (status.did !== did || status.keystore !== digest || status.until <= Date.now()) {
    ctx.logger.debug("unlock agent holds other keys", { did: status.did });
    return null;
  }
  const socket = agentPaths(ctx).socket;
  const signer: Signer = {
    did,
    async sign(message: Uint8Array): Promise<EnvelopeSignature[]> {
      const { sigs } = await ask(
        socket,
        { op: "sign", keystore: status.keystore, data: toBase64(message) },
        signedShape,
      );
      return sigs.map((s) => ({ alg: s.alg, sig: s.sig }));
    },
  };
  return { did, signer, via: "agent" };
}

/** Whether an agent holds the agent lock of this data dir now. */
async function agentLockHeld(paths: AgentPaths): Promise<boolean> {
  try {
    await Deno.lstat(paths.lock);
  } catch {
    return false;
  }
  const probe = await tryLock(paths.lock, { pid: Deno.pid, command: "icn (probe)", since: 0 });
  if (!probe) return true;
  probe.release();
  return false;
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, agentPollMs));
  }
  return await condition();
}

/**
 * Stops the agent of this data dir if one runs: asks it to lock, else (it does not answer)
 * sends SIGTERM to the pid its lock names. Returns the pid it stopped, or null if none ran.
 */
export async function stopAgent(ctx: CliContext): Promise<number | null> {
  const paths = agentPaths(ctx);
  if (!(await agentLockHeld(paths))) return null;
  const holder = await readLockHolder(paths.lock);
  const socket = await privateSocket(paths);
  let asked = false;
  if (socket) {
    try {
      await ask(socket, { op: "lock" }, lockedShape);
      asked = true;
    } catch (error) {
      ctx.logger.debug("unlock agent did not take the lock request", {
        error: (error as Error).message,
      });
    }
  }
  if (!asked && holder && (await agentLockHeld(paths))) {
    try {
      Deno.kill(holder.pid, "SIGTERM");
    } catch {
      // Gone already.
    }
  }
  if (!(await waitUntil(async () => !(await agentLockHeld(paths)), agentStopTimeoutMs))) {
    throw new KeystoreError(
      `Cannot stop the unlock agent${
        holder ? ` (pid ${holder.pid})` : ""
      }: it still holds ${paths.lock} after ${
        agentStopTimeoutMs / 1000
      } s; stop that process by hand`,
    );
  }
  return holder?.pid ?? 0;
}

/**
 * How to run this same icn again: a compiled binary runs itself; from source, the same Deno
 * runs cli/main.ts with this checkout's deno.json, the permissions this process has, the
 * heap flags of every icn process, and no prompts.
 */
export function selfInvocation(): { command: string; args: string[] } {
  if (buildInfo.source === "compiled") return { command: Deno.execPath(), args: [] };
  const main = new URL("./main.ts", import.meta.url);
  const config = new URL("../deno.json", import.meta.url);
  const args = ["run", "--quiet", "--no-prompt", "--unstable-kv", `--v8-flags=${v8HeapFlags}`];
  if (config.protocol === "file:") args.push("--config", decodeURIComponent(config.pathname));
  for (const name of ["read", "write", "env", "net", "sys", "run"] as const) {
    if (Deno.permissions.querySync({ name }).state === "granted") args.push(`--allow-${name}`);
  }
  args.push(main.protocol === "file:" ? decodeURIComponent(main.pathname) : main.href);
  return { command: Deno.execPath(), args };
}

/** The environment for the agent: this one without any passphrase. */
function agentEnvironment(): Record<string, string> {
  const env = envObject();
  for (const name of Object.keys(env)) if (/PASSPHRASE/i.test(name)) delete env[name];
  return env;
}

/**
 * Starts a detached agent holding `init`'s keys and waits until it listens. The keys travel on
 * the agent's stdin, never in its argv or environment.
 */
export async function startAgent(ctx: CliContext, init: AgentInit): Promise<{ pid: number }> {
  const paths = agentPaths(ctx);
  checkSocketPath(paths);
  const self = selfInvocation();
  const child = new Deno.Command(self.command, {
    args: [...self.args, "--data-dir", absolute(ctx.dataDir), "id", "agent", "serve"],
    env: agentEnvironment(),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const reader = child.stdout.getReader();
  const pending: Uint8Array[] = [];
  const source = {
    async read(p: Uint8Array): Promise<number | null> {
      let chunk = pending.shift();
      if (!chunk) {
        const next = await reader.read();
        if (next.done) return null;
        chunk = next.value;
      }
      const n = Math.min(p.length, chunk.length);
      p.set(chunk.subarray(0, n));
      if (n < chunk.length) pending.unshift(chunk.subarray(n));
      return n;
    },
  };
  let line: Uint8Array | null = null;
  try {
    const writer = child.stdin.getWriter();
    await writeLine(writer, {
      ...init,
      ed25519: toBase64(init.ed25519),
      ...(init.mlDsa65 ? { mlDsa65: toBase64(init.mlDsa65) } : {}),
    });
    await writer.close();
    line = await readLine(source, {
      bytesMax: requestBytesMax,
      timeoutMs: agentStartTimeoutMs,
      onTimeout: () => reader.cancel().catch(() => {}),
    });
  } catch (error) {
    ctx.logger.debug("unlock agent start failed", { error: (error as Error).message });
  } finally {
    await reader.cancel().catch(() => {});
    child.unref();
  }
  if (!line) {
    try {
      child.kill("SIGTERM");
    } catch {
      // It exited.
    }
    throw new KeystoreError(
      `Cannot start the unlock agent: it did not say it listens within ${
        agentStartTimeoutMs / 1000
      } s (run with --debug for details)`,
    );
  }
  const ready = decodeLine(line, readyShape, "the unlock agent's start", requestBytesMax);
  if (!ready.ok) throw new KeystoreError(`Cannot start the unlock agent: ${ready.error}`);
  return { pid: ready.pid };
}
