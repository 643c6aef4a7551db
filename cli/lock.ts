/**
 * Exclusive locks on files in the data dir, for "one writer where one writer
 * is meant": the keystore lock (`keystore.lock`) and the node lock
 * (`node.lock`).
 *
 * A lock is an OS lock (`Deno.FsFile.lock`, flock(2) on Unix, LockFileEx on
 * Windows) on a small file that also says who holds it (pid, command, since
 * when, and whatever the holder adds: a node writes its addresses). The OS
 * releases the lock when its holder exits by any path, kill -9 included, so
 * a lock left behind by a dead process is never in force: the next process
 * takes it at once and overwrites the stale description. The file itself is
 * never deleted: a process waiting on the old file would otherwise hold a
 * lock on a name nobody else sees. Locks on network file systems (NFS) are
 * as good as that file system's flock.
 */
import { IcnError } from "../core/errors.ts";

/** Who holds a lock, as written in the lock file (for messages; the OS lock is the truth). */
/** The data dir's node lock: held by `icn node run`, and by key changes while they run. */
export const nodeLockFile = "node.lock";

export interface LockHolder {
  pid: number;
  command: string;
  /** Epoch ms when the lock was taken. */
  since: number;
  [more: string]: unknown;
}

export interface HeldLock {
  readonly path: string;
  /** Rewrites the holder description (a node adds its addresses once it listens). */
  describe(holder: LockHolder): Promise<void>;
  /** Releases the lock; idempotent. */
  release(): void;
}

/** How often a waiting process tries the lock again. */
const lockPollMs = 50;
/** A lock file is a line of JSON; anything longer is not ours and is not read whole. */
const lockFileBytesMax = 4096;

/** The holder described in a lock file, or null (missing, empty, damaged). Reads only. */
export async function readLockHolder(path: string): Promise<LockHolder | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return null;
  }
  try {
    const buffer = new Uint8Array(lockFileBytesMax);
    let length = 0;
    while (length < buffer.length) {
      const n = await file.read(buffer.subarray(length));
      if (n === null) break;
      length += n;
    }
    const value = JSON.parse(new TextDecoder().decode(buffer.subarray(0, length)));
    if (
      typeof value !== "object" || value === null || !Number.isSafeInteger(value.pid) ||
      typeof value.command !== "string" || !Number.isSafeInteger(value.since)
    ) return null;
    return value as LockHolder;
  } catch {
    return null;
  } finally {
    file.close();
  }
}

async function writeHolder(file: Deno.FsFile, holder: LockHolder): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(holder) + "\n");
  await file.truncate(0);
  await file.seek(0, Deno.SeekMode.Start);
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

/**
 * Takes the lock at `path` if it is free, else returns null at once. The
 * file is created (mode 0600) when missing.
 */
export async function tryLock(path: string, holder: LockHolder): Promise<HeldLock | null> {
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) return null;
  let released = false;
  const held: HeldLock = {
    path,
    describe: (next) => writeHolder(file, next),
    release() {
      if (released) return;
      released = true;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
  try {
    await writeHolder(file, holder);
  } catch (error) {
    held.release();
    throw error;
  }
  return held;
}

/** Raised when a lock stays taken past the wait; names the holder. */
export class LockBusyError extends IcnError {
  readonly holder: LockHolder | null;
  constructor(message: string, holder: LockHolder | null) {
    super("locked", message);
    this.holder = holder;
  }
}

/**
 * Takes the lock at `path`, waiting up to `waitMs` for its holder to finish
 * (0: refuse at once). `busy` builds the message when it stays taken.
 */
export async function acquireLock(
  path: string,
  holder: LockHolder,
  options: { waitMs: number; busy: (holder: LockHolder | null, waitedMs: number) => string },
): Promise<HeldLock> {
  const started = Date.now();
  while (true) {
    const held = await tryLock(path, holder);
    if (held) return held;
    const waited = Date.now() - started;
    if (waited >= options.waitMs) {
      const current = await readLockHolder(path);
      throw new LockBusyError(options.busy(current, waited), current);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(lockPollMs, options.waitMs)));
  }
}

/** "pid 123 (icn id rotate, for 4 s)" for messages; `command` is written with its "icn". */
export function describeHolder(holder: LockHolder | null, now = Date.now()): string {
  if (!holder) return "another process";
  const seconds = Math.max(0, Math.round((now - holder.since) / 1000));
  return `pid ${holder.pid} (${holder.command}, for ${seconds} s)`;
}
