/** Handlers of `icn id unlock`, `icn id lock` and `icn id agent status` (see cli/agent_server.ts). */
import { fromBase64 } from "../core/bytes.ts";
import { formatDuration } from "../core/params.ts";
import { agentPaths, agentStatus, checkSocketPath, startAgent, stopAgent } from "./agent_client.ts";
import { digestOf, keystoreDigest, parseUnlockFor, unlockForMsDefault } from "./agent_protocol.ts";
import { withProgress } from "./agent_progress.ts";
import type { CliContext } from "./context.ts";
import { withKeystoreLock } from "./keystore.ts";
import type { CommandResult } from "./output.ts";
import { KeystoreError } from "../core/errors.ts";

function until(ms: number, now: number): string {
  const left = Math.max(0, Math.round((ms - now) / 1000));
  return `${new Date(ms).toISOString()} (${formatDuration(left * 1000)} from now)`;
}

/** `icn id unlock [--for DURATION]`: (re)starts the agent with the keystore's current keys. */
export async function unlock(
  ctx: CliContext,
  _args: string[],
  options: { for?: string },
): Promise<CommandResult> {
  const forMs = options.for !== undefined ? parseUnlockFor(options.for) : unlockForMsDefault;
  const identity = await ctx.readPublicIdentity();
  const paths = agentPaths(ctx);
  checkSocketPath(paths);
  const passphrase = await ctx.passphrase();
  // Under the keystore lock no rotation or passphrase change can slip between reading the keys
  // and taking the digest the agent checks: the digest is of the very keys it holds.
  const { secrets, digest } = await withKeystoreLock(
    ctx.keystorePath,
    "icn id unlock",
    async () => {
      const secrets = await withProgress(
        "Unlocking keystore",
        () => ctx.openKeystore(passphrase),
      );
      return { secrets, digest: await digestOf(await Deno.readFile(ctx.keystorePath)) };
    },
  );
  if (secrets.did !== identity.did) {
    throw new KeystoreError(
      `Cannot unlock: the keystore holds ${secrets.did} but identity.json names ${identity.did} (run \`icn doctor\`)`,
    );
  }
  const replaced = await stopAgent(ctx);
  const now = Date.now();
  const started = await startAgent(ctx, {
    v: 1,
    did: secrets.did,
    ed25519: fromBase64(secrets.ed25519),
    ...(secrets.mlDsa65 ? { mlDsa65: fromBase64(secrets.mlDsa65) } : {}),
    keystore: digest,
    until: now + forMs,
  });
  return {
    data: {
      did: secrets.did,
      pid: started.pid,
      until: new Date(now + forMs).toISOString(),
      socket: paths.socket,
      replaced: replaced !== null,
    },
    text: [
      `Unlocked ${secrets.did} until ${until(now + forMs, now)}`,
      `  agent: pid ${started.pid}, socket ${paths.socket} (mode 0600)`,
      "  writes sign through it without a passphrase; `icn id lock` locks now",
    ],
  };
}

/** `icn id lock`: stops the agent; its keys go with it. Idempotent, like `ssh-add -D`. */
export async function lock(ctx: CliContext): Promise<CommandResult> {
  const pid = await stopAgent(ctx);
  if (pid === null) {
    return {
      data: { locked: true, stopped: null },
      text: `No unlock agent was running for ${ctx.dataDir}`,
    };
  }
  return {
    data: { locked: true, stopped: pid },
    text: `Locked: the unlock agent (pid ${pid}) stopped; writes need the passphrase again`,
  };
}

/** `icn id agent status`. */
export async function status(ctx: CliContext): Promise<CommandResult> {
  const found = await agentStatus(ctx);
  if (!found) {
    return {
      data: { running: false },
      text: `No unlock agent runs for ${ctx.dataDir}: writes ask for the passphrase`,
    };
  }
  const now = Date.now();
  // The agent notices a changed keystore within a second and stops; until then, say so.
  const current = found.keystore === await keystoreDigest(ctx.keystorePath);
  return {
    data: {
      running: true,
      current,
      did: found.did,
      pid: found.pid,
      since: new Date(found.since).toISOString(),
      until: new Date(found.until).toISOString(),
      pq: found.pq,
      socket: agentPaths(ctx).socket,
    },
    text: [
      `Unlock agent running for ${found.did}`,
      `  until: ${until(found.until, now)}`,
      `  pid:   ${found.pid}${found.pq ? " (Ed25519 + ML-DSA-65)" : ""}`,
      ...(current ? [] : [
        "  its keys are no longer the keystore's (rotated or changed): it is stopping; run `icn id unlock` again",
      ]),
    ],
  };
}
