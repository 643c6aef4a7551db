/**
 * The unlock agent's files and wire format, shared by the agent (cli/agent_server.ts) and the
 * CLI (cli/agent_client.ts).
 *
 * Files, in `$ICN_HOME/agent/` (mode 0700, owned by the user): `agent.sock` (the Unix socket,
 * mode 0600) and `agent.lock` (the OS lock the agent holds while it runs; it says who holds it).
 *
 * Protocol: one request per connection, one line of JSON each way (`\n`-terminated), decoded
 * strictly (exact shapes, size checked before parsing). The CLI sends the bytes to sign and
 * gets signatures back: seeds never cross the socket.
 */
import { InvalidInputError } from "../core/errors.ts";
import { envelopeBytesMax } from "../core/constants.ts";
import { formatDuration, parseDuration } from "../core/params.ts";
import * as strict from "../core/strict.ts";

export const agentFiles = { dir: "agent", socket: "agent.sock", lock: "agent.lock" } as const;

/** `icn id unlock` without `--for`: long enough for a session of work, short enough to forget. */
export const unlockForMsDefault = 15 * 60_000;
/** The longest unlock: a working day. Past that, ask for the passphrase again. */
export const unlockForMsMax = 12 * 3_600_000;
/** The shortest unlock worth starting a process for. */
export const unlockForMsMin = 1000;

/**
 * Longest Unix socket path: `sun_path` holds 108 bytes on Linux (104 on macOS) including the
 * terminating NUL; 103 fits both.
 */
export const socketPathBytesMax = 103;

/** The largest message the agent signs: envelope signing bytes are smaller than an envelope. */
export const signBytesMax = envelopeBytesMax;
/** A request line: the base64 of `signBytesMax` bytes plus a few fields. */
export const requestBytesMax = Math.ceil(signBytesMax / 3) * 4 + 1024;
/** A response line: an Ed25519 (64 B) and an ML-DSA-65 (3,309 B) signature in base64, and fields. */
export const responseBytesMax = 16 * 1024;
/** The first line the CLI writes to a starting agent: two 32-byte seeds in base64 and fields. */
export const initBytesMax = 4096;
/** How long one side waits for the other's line before giving up on the connection. */
export const lineTimeoutMs = 5000;

/** `--for` as the shared duration parser reads it, within the unlock limits. */
export function parseUnlockFor(text: string): number {
  const ms = parseDuration(text);
  if (ms < unlockForMsMin || ms > unlockForMsMax) {
    throw new InvalidInputError(
      `Cannot unlock for "${text}": it must be from ${formatDuration(unlockForMsMin)} to ${
        formatDuration(unlockForMsMax)
      } (default ${formatDuration(unlockForMsDefault)})`,
    );
  }
  return ms;
}

/** SHA-256 of the keystore file, base64: what the agent's keys were read from. */
const digestText = strict.string({ min: 44, max: 44, pattern: /^[A-Za-z0-9+/]{43}=$/ });
const seed = strict.base64({ length: 32 });

/** What the CLI hands a starting agent on its stdin (never in argv or the environment). */
export const initShape = strict.record({
  v: strict.literal(1),
  did: strict.did,
  ed25519: seed,
  keystore: digestText,
  until: strict.timestamp,
}, { mlDsa65: seed });
export type AgentInit = strict.ShapeOf<typeof initShape>;

export const requestShape = strict.variant("op", {
  status: strict.record({ v: strict.literal(1), op: strict.literal("status") }),
  lock: strict.record({ v: strict.literal(1), op: strict.literal("lock") }),
  sign: strict.record({
    v: strict.literal(1),
    op: strict.literal("sign"),
    /** The keystore digest the CLI checked: the agent refuses when its own differs. */
    keystore: digestText,
    data: strict.base64({ max: signBytesMax }),
  }),
});
export type AgentRequest = strict.ShapeOf<typeof requestShape>;

export const statusShape = strict.record({
  ok: strict.literal(true),
  did: strict.did,
  pid: strict.natural,
  since: strict.timestamp,
  until: strict.timestamp,
  keystore: digestText,
  pq: strict.boolean,
});
export type AgentStatus = strict.ShapeOf<typeof statusShape>;

export const signedShape = strict.record({
  ok: strict.literal(true),
  sigs: strict.array(
    strict.record({
      alg: strict.literal("ed25519", "ml-dsa-65"),
      sig: strict.base64({ max: 4096 }),
    }),
    { min: 1, max: 2 },
  ),
});

export const lockedShape = strict.record({
  ok: strict.literal(true),
  locked: strict.literal(true),
});

export const refusedShape = strict.record({
  ok: strict.literal(false),
  error: strict.string({ max: 1000 }),
});

/** A reply that is either `ok` (matching `shape`) or a refusal with its reason. */
export function orRefused<T>(
  shape: strict.Shape<T>,
): strict.Shape<T | strict.ShapeOf<typeof refusedShape>> {
  return (value, path) =>
    strict.isPlainMap(value) && value.ok === false ? refusedShape(value, path) : shape(value, path);
}

/** The agent's first line on stdout once it listens (or why it could not). */
export const readyShape = orRefused(
  strict.record({ ok: strict.literal(true), pid: strict.natural, until: strict.timestamp }),
);

/** SHA-256 (base64) of `bytes`. */
export async function digestOf(bytes: Uint8Array): Promise<string> {
  const { toBase64 } = await import("../core/bytes.ts");
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return toBase64(new Uint8Array(digest));
}

/** The keystore's digest now, or null when it cannot be read (gone, unreadable). */
export async function keystoreDigest(path: string): Promise<string | null> {
  try {
    return await digestOf(await Deno.readFile(path));
  } catch {
    return null;
  }
}

const newline = 10;

/**
 * Reads one `\n`-terminated line from `reader`: at most `bytesMax` bytes, within `timeoutMs`.
 * Null at end of input before a newline, on a timeout, or past the limit (the caller refuses).
 */
export async function readLine(
  reader: { read(p: Uint8Array): Promise<number | null> },
  options: { bytesMax: number; timeoutMs: number; onTimeout: () => void },
): Promise<Uint8Array | null> {
  const buffer = new Uint8Array(options.bytesMax + 1);
  let length = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    options.onTimeout();
  }, options.timeoutMs);
  try {
    while (length < buffer.length) {
      let n: number | null;
      try {
        n = await reader.read(buffer.subarray(length));
      } catch {
        return null;
      }
      if (n === null || timedOut) return null;
      const end = buffer.subarray(length, length + n).indexOf(newline);
      if (end >= 0) return buffer.slice(0, length + end);
      length += n;
    }
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `value` as one JSON line (to a connection, which may write part, or a stream writer). */
export async function writeLine(
  writer: { write(p: Uint8Array): Promise<number | void> },
  value: unknown,
): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(value) + "\n");
  let written = 0;
  while (written < bytes.length) {
    const n = await writer.write(bytes.subarray(written));
    written += typeof n === "number" ? n : bytes.length - written;
  }
}

/** Parses a line against `shape`; throws `InvalidInputError` naming `what`. */
export function decodeLine<T>(
  line: Uint8Array,
  shape: strict.Shape<T>,
  what: string,
  bytesMax: number,
): T {
  return strict.parseJsonStrict(line, shape, { what, bytesMax });
}
