/**
 * The unlock agent (`icn id agent serve`, started by `icn id unlock`, never by hand): a detached
 * process that holds one identity's current signing keys for a limited time and signs bytes for
 * the CLI over a Unix socket in the data dir, ssh-agent style.
 *
 * It reads its keys from its stdin (the CLI decrypted the keystore), holds the agent lock for
 * its whole life, and exits — removing its socket and overwriting the seeds it held — at its
 * expiry, on `icn id lock`, on SIGTERM/SIGINT, and as soon as the keystore file changes
 * (rotation, passphrase change, restore): it checks the keystore's digest before every signature
 * and every `keystorePollMs`, so it never signs with keys that are no longer current.
 */
import { toBase64 } from "../core/bytes.ts";
import { KeystoreError } from "../core/errors.ts";
import { ed25519FromSeed, mlDsa65FromSeed } from "../core/identity/keys.ts";
import { createSigner } from "../core/identity/signer.ts";
import {
  agentFiles,
  type AgentInit,
  type AgentRequest,
  decodeLine,
  initBytesMax,
  initShape,
  keystoreDigest,
  lineTimeoutMs,
  readLine,
  requestBytesMax,
  requestShape,
  writeLine,
} from "./agent_protocol.ts";
import type { CliContext } from "./context.ts";
import { type HeldLock, tryLock } from "./lock.ts";
import type { CommandResult } from "./output.ts";

/** How often the agent checks the keystore when nobody asks it anything. */
const keystorePollMs = 1000;
/** Connections served at once; more are closed unanswered (one user's CLI needs one or two). */
const connectionsMax = 16;

/** Makes `dir` a 0700 directory of this user, or refuses. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const info = await Deno.lstat(dir);
  if (!info.isDirectory || info.isSymlink) {
    throw new KeystoreError(`Cannot use ${dir} for the unlock agent: it is not a directory`);
  }
  if (info.uid !== null && info.uid !== Deno.uid()) {
    throw new KeystoreError(
      `Cannot use ${dir} for the unlock agent: it belongs to another user (uid ${info.uid})`,
    );
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) await Deno.chmod(dir, 0o700);
}

/** Reads the init line the CLI writes on stdin, strictly. */
async function readInit(): Promise<AgentInit> {
  const line = await readLine(Deno.stdin, {
    bytesMax: initBytesMax,
    timeoutMs: lineTimeoutMs,
    onTimeout: () => Deno.stdin.close(),
  });
  if (!line) throw new KeystoreError("The unlock agent got no keys on its standard input");
  return decodeLine(line, initShape, "the unlock agent's keys", initBytesMax);
}

function reply(value: unknown): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(value) + "\n"));
}

/** `icn id agent serve`: runs the agent until it expires, is locked or its keys go stale. */
export async function serve(ctx: CliContext): Promise<CommandResult> {
  let init: AgentInit;
  try {
    init = await readInit();
  } catch (error) {
    reply({ ok: false, error: (error as Error).message });
    throw error;
  }
  const seeds = [init.ed25519, ...(init.mlDsa65 ? [init.mlDsa65] : [])];
  let lock: HeldLock | null = null;
  let listener: Deno.Listener<Deno.Conn<Deno.UnixAddr>> | null = null;
  const dir = ctx.path(agentFiles.dir);
  const socketPath = `${dir}/${agentFiles.socket}`;
  try {
    await ensurePrivateDir(dir);
    lock = await tryLock(`${dir}/${agentFiles.lock}`, {
      pid: Deno.pid,
      command: "icn id agent serve",
      since: Date.now(),
      did: init.did,
      until: init.until,
    });
    if (!lock) throw new KeystoreError(`Another unlock agent already runs for ${ctx.dataDir}`);
    if (await keystoreDigest(ctx.keystorePath) !== init.keystore) {
      throw new KeystoreError("The keystore changed while it was being unlocked: unlock again");
    }
    // The lock is ours, so a socket left here is a dead agent's.
    await Deno.remove(socketPath).catch(() => {});
    listener = Deno.listen({ transport: "unix", path: socketPath });
    await Deno.chmod(socketPath, 0o600);
  } catch (error) {
    listener?.close();
    lock?.release();
    for (const bytes of seeds) bytes.fill(0);
    reply({ ok: false, error: (error as Error).message });
    throw error;
  }
  const ed25519 = await ed25519FromSeed(init.ed25519);
  const mlDsa65 = init.mlDsa65 ? await mlDsa65FromSeed(init.mlDsa65) : undefined;
  const signer = createSigner(init.did, ed25519, mlDsa65);
  const since = Date.now();
  reply({ ok: true, pid: Deno.pid, until: init.until });
  // Nothing else goes to the CLI that started us: it has gone, and its pipes with it.
  Deno.stdout.close();
  Deno.stdin.close();

  const connections = new Set<Deno.Conn>();
  let stopping = false;
  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  const shutDown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    stop(reason);
  };
  const onSignal = () => shutDown("signal");
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  // Detached (its own session), but a terminal's hangup must not take the keys down uncleanly.
  const onHangup = () => {};
  Deno.addSignalListener("SIGHUP", onHangup);
  const expiry = setTimeout(() => shutDown("expired"), Math.max(0, init.until - Date.now()));
  const current = async () => await keystoreDigest(ctx.keystorePath) === init.keystore;
  const poll = setInterval(async () => {
    if (!(await current())) shutDown("keystore changed");
  }, keystorePollMs);

  const answer = async (request: AgentRequest): Promise<unknown> => {
    if (request.op === "status") {
      return {
        ok: true,
        did: init.did,
        pid: Deno.pid,
        since,
        until: init.until,
        keystore: init.keystore,
        pq: !!mlDsa65,
      };
    }
    if (request.op === "lock") {
      shutDown("locked");
      return { ok: true, locked: true };
    }
    if (!(await current())) {
      shutDown("keystore changed");
      return { ok: false, error: "the keystore changed since `icn id unlock`: the agent stopped" };
    }
    if (request.keystore !== init.keystore) {
      return { ok: false, error: "the agent holds the keys of another keystore version" };
    }
    if (Date.now() >= init.until) {
      shutDown("expired");
      return { ok: false, error: "the unlock expired" };
    }
    const sigs = await signer.sign(request.data);
    return { ok: true, sigs: sigs.map((s) => ({ alg: s.alg, sig: toBase64(s.sig) })) };
  };

  const handle = async (conn: Deno.Conn) => {
    try {
      const line = await readLine(conn, {
        bytesMax: requestBytesMax,
        timeoutMs: lineTimeoutMs,
        onTimeout: () => conn.close(),
      });
      let response: unknown;
      if (!line) {
        response = { ok: false, error: `no request line within ${requestBytesMax} bytes` };
      } else {
        try {
          const request = decodeLine(line, requestShape, "the request", requestBytesMax);
          response = await answer(request);
        } catch (error) {
          response = { ok: false, error: (error as Error).message.slice(0, 500) };
        }
      }
      await writeLine(conn, response);
    } catch {
      // A client that went away or sent garbage costs the agent nothing.
    } finally {
      connections.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed (timeout).
      }
    }
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        if (stopping || connections.size >= connectionsMax) {
          conn.close();
          continue;
        }
        connections.add(conn);
        handle(conn);
      }
    } catch {
      // The listener closed.
    }
  })();

  const reason = await stopped;
  clearTimeout(expiry);
  clearInterval(poll);
  for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  Deno.removeSignalListener("SIGHUP", onHangup);
  // Let a `lock` reply reach its client before the socket goes.
  const deadline = Date.now() + lineTimeoutMs;
  while (connections.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (const conn of connections) conn.close();
  listener.close();
  await accepting;
  await Deno.remove(socketPath).catch(() => {});
  // JavaScript cannot promise the bytes are gone from memory; the process exits right after.
  for (const bytes of [...seeds, ed25519.seed, ...(mlDsa65 ? [mlDsa65.seed] : [])]) bytes.fill(0);
  lock.release();
  return { data: { stopped: reason }, text: [] };
}
