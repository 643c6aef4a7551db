/**
 * File helpers shared by command handlers: one wording for unreadable input and
 * for unwritable output, one existence check, one atomic writer.
 */
import { concatBytes } from "../core/bytes.ts";
import { IcnError, InvalidInputError } from "../core/errors.ts";
import type { SignedContent } from "../core/identity/minisign.ts";
import { writeStdoutBytes } from "./io_scope.ts";

/** True when something exists at `path` (without following a final symlink). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    // Nothing exists under a regular file (a --data-dir that names a file, say).
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/**
 * Largest input file read whole unless a caller sets its own limit: every read
 * is bounded before it starts, so `/dev/zero` or an endless pipe is refused
 * instead of filling memory.
 */
export const inputBytesMaxDefault = 16 * 1024 * 1024;
/** Files above this size get progress lines on stderr while they are hashed. */
const progressBytesMin = 64 * 1024 * 1024;
/** At most one progress line per this many milliseconds. */
const progressIntervalMs = 1_000;
/** Read size when streaming a file through a hash. */
const streamChunkBytes = 1024 * 1024;

export interface ReadInputOptions {
  /** Refuse a file larger than this, before reading more of it than that. */
  bytesMax?: number;
}

/** Reads a user-named input file; a failure is an `InvalidInputError` naming the file. */
export async function readInputFile(
  path: string,
  what = "",
  options: ReadInputOptions = {},
): Promise<Uint8Array> {
  const name = `${what ? what + " " : ""}${path}`;
  const bytesMax = options.bytesMax ?? inputBytesMaxDefault;
  const tooLarge = (size: string) =>
    new InvalidInputError(`Cannot read ${name}: ${size} bytes, the limit is ${bytesMax}`);
  try {
    using file = await Deno.open(path);
    const size = (await file.stat()).size;
    if (size > bytesMax) throw tooLarge(String(size));
    // The size may be 0 (a pipe) or grow while we read: read at most one byte past the limit.
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (total <= bytesMax) {
      const chunk = new Uint8Array(Math.min(Math.max(size, 64 * 1024), bytesMax + 1 - total));
      const n = await file.read(chunk);
      if (n === null) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
    }
    if (total > bytesMax) throw tooLarge(`over ${bytesMax}`);
    return concatBytes(...chunks);
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw new InvalidInputError(`Cannot read ${name}: ${(error as Error).message}`);
  }
}

/** Text variant of `readInputFile` (strict UTF-8: a file that is not text is refused). */
export async function readInputText(
  path: string,
  what = "",
  options: ReadInputOptions = {},
): Promise<string> {
  const bytes = await readInputFile(path, what, options);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidInputError(
      `Cannot read ${what ? what + " " : ""}${path}: it is not UTF-8 text`,
    );
  }
}

/** A file the user named could not be written; the message names that path and the cause. */
export class OutputError extends IcnError {
  constructor(message: string, options?: ErrorOptions) {
    super("write_failed", message, options);
    this.name = "OutputError";
  }
}

/** The OS's reason without Deno's "(os error N): open '…'" tail, which names our temp file. */
function causeOf(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (error instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM") {
    return "permission denied";
  }
  if (code === "ENOSPC") return "no space left on the device";
  if (code === "EROFS") return "the file system is read-only";
  if (code === "EDQUOT") return "the disk quota is exceeded";
  if (error instanceof Deno.errors.IsADirectory || code === "EISDIR") return "it is a directory";
  const message = (error as Error)?.message ?? String(error);
  return message.replace(/ \(os error \d+\).*$/s, "").toLowerCase();
}

async function writeAll(
  file: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < data.length) written += await file.write(data.subarray(written));
}

/**
 * Writes a file the user named, atomically where it can be: a temp file in the
 * same directory (mode set before any data), fsync, rename. `-` is standard
 * output; a device or pipe (`/dev/stdout`, `/dev/null`) is written in place,
 * never replaced. Every failure is an `OutputError` naming `path` (not the temp
 * file) and the cause, and leaves no temp file behind.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, mode = 0o600): Promise<void> {
  const fail = (cause: string, error?: unknown): never => {
    throw new OutputError(`Cannot write "${path}": ${cause}`, { cause: error });
  };
  if (path === "-") {
    try {
      return writeStdoutBytes(data);
    } catch (error) {
      return fail(causeOf(error), error);
    }
  }
  let existing: Deno.FileInfo | null = null;
  try {
    existing = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) fail(causeOf(error), error);
  }
  if (existing?.isDirectory) fail("it is a directory");
  if (existing && !existing.isFile) {
    // A device or a pipe: renaming a temp file over it would replace the device node.
    try {
      using file = await Deno.open(path, { write: true });
      return await writeAll(file, data);
    } catch (error) {
      return fail(causeOf(error), error);
    }
  }
  if (existing && existing.mode !== null && (existing.mode & 0o222) === 0) {
    fail("the file is read-only (chmod u+w it, or choose another path)");
  }
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) fail(`"${dir}" is not a directory`);
  } catch (error) {
    if (error instanceof OutputError) throw error;
    if (error instanceof Deno.errors.NotFound) fail(`the directory "${dir}" does not exist`);
    fail(causeOf(error), error);
  }
  const tmp = `${dir}/.${path.slice(slash + 1)}.${crypto.randomUUID()}.tmp`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode });
  } catch (error) {
    return fail(
      `${causeOf(error)} (cannot create a file in "${dir}")`,
      error,
    );
  }
  try {
    try {
      await writeAll(file, data);
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    fail(causeOf(error), error);
  }
}

/**
 * Copies the file at `path` to `PATH.<ISO time>.bak` beside it (mode `mode`) before a `--force`
 * replaces it, and returns the copy's path; a failure is an `OutputError` naming the copy.
 */
export async function keepBackup(path: string, now: number, mode = 0o600): Promise<string> {
  const backup = `${path}.${new Date(now).toISOString().replace(/[:.]/g, "-")}.bak`;
  try {
    await Deno.copyFile(path, backup);
    await Deno.chmod(backup, mode);
  } catch (error) {
    throw new OutputError(`Cannot keep a backup of "${path}" as "${backup}": ${causeOf(error)}`, {
      cause: error,
    });
  }
  return backup;
}

export interface HashInputOptions {
  /** Keep the bytes too when the file is at most this large (legacy minisign needs them). */
  keepBytesMax?: number;
  /** Called at most once a second while a large file is hashed. */
  onProgress?: (done: number, total: number) => void;
  /** Milliseconds now, for pacing progress (injected; defaults to the wall clock). */
  now?: () => number;
}

/**
 * Streams a user-named regular file through BLAKE2b-512 in bounded memory (a
 * 2 GiB file is never held whole), for signing and verifying. Devices and pipes
 * are refused: `/dev/zero` would never end. Failures name the file.
 */
export async function hashInputFile(
  path: string,
  what: string,
  options: HashInputOptions = {},
): Promise<SignedContent> {
  const name = `${what ? what + " " : ""}${path}`;
  const keepBytesMax = options.keepBytesMax ?? inputBytesMaxDefault;
  const now = options.now ?? Date.now;
  try {
    using file = await Deno.open(path);
    const info = await file.stat();
    if (!info.isFile) {
      throw new InvalidInputError(`Cannot read ${name}: it is not a regular file`);
    }
    // node:crypto's native BLAKE2b-512: ~4x @noble/hashes' here, which matters for GiB files.
    // Loaded here: node:crypto costs every command's start-up ~20-90 ms of CPU, and few hash files.
    const { createHash } = await import("node:crypto");
    const hash = createHash("blake2b512");
    const kept: Uint8Array[] = [];
    let total = 0;
    let lastReport = now();
    const buffer = new Uint8Array(streamChunkBytes);
    for (;;) {
      const n = await file.read(buffer);
      if (n === null) break;
      const chunk = buffer.subarray(0, n);
      hash.update(chunk);
      total += n;
      if (total <= keepBytesMax) kept.push(chunk.slice());
      else kept.length = 0;
      if (info.size >= progressBytesMin && now() - lastReport >= progressIntervalMs) {
        lastReport = now();
        options.onProgress?.(total, info.size);
      }
    }
    const prehash = new Uint8Array(hash.digest());
    return total <= keepBytesMax ? { prehash, data: concatBytes(...kept) } : { prehash };
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw new InvalidInputError(`Cannot read ${name}: ${causeOf(error)}`);
  }
}

/**
 * Runs `decode` over a file's contents; an expected refusal (`IcnError`) names the file too,
 * keeping its class, code and reason (the decoders in core/ only know the bytes).
 */
export async function namingFile<T>(
  path: string,
  what: string,
  decode: () => T | Promise<T>,
): Promise<T> {
  try {
    return await decode();
  } catch (error) {
    if (error instanceof IcnError && !error.message.includes(path)) {
      const prefix = `Cannot read ${what}: `;
      error.message = error.message.startsWith(prefix)
        ? `Cannot read ${what} ${path}: ${error.message.slice(prefix.length)}`
        : `Cannot use ${what} ${path}: ${error.message}`;
    }
    throw error;
  }
}
