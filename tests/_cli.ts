/** Runs `icn` as a subprocess against temporary data dirs. */

// Tests that need an independent tool (minisign, promtool, ...) go through `./_tools.ts`.
export { hasCommand, ignoreWithout, needsTools, requireTool } from "./_tools.ts";
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { KvStore } from "../core/store/kv_store.ts";

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;
const configPath = new URL("../deno.json", import.meta.url).pathname;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

export interface IcnOptions {
  env?: Record<string, string>;
  stdin?: string;
  cwd?: string;
  /**
   * Run `icn` as its own OS process even where the runner would run it in-process: for
   * tests of process behaviour (kill -9, crash points, two processes racing on a lock,
   * a command that starts a node or an agent).
   */
  process?: boolean;
}

/** Runs `icn` as its own OS process (see `IcnOptions.process`). */
export function icnProcess(args: string[], options: IcnOptions = {}): Promise<CliRun> {
  return icn(args, { ...options, process: true });
}

export async function icn(args: string[], options: IcnOptions = {}): Promise<CliRun> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", configPath, mainPath, ...args],
    env: { ICN_PASSPHRASE: "correct horse", ICN_SCRYPT_LOG_N: "10", NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
  });
  const child = command.spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  return {
    code: out.code,
    stdout,
    stderr,
    json<T>() {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new Error(`stdout is not JSON (exit ${out.code}):\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

/** Runs icn and fails the test unless it exits with `code`. */
export async function icnExpect(
  code: number,
  args: string[],
  options: Parameters<typeof icn>[1] = {},
): Promise<CliRun> {
  const run = await icn(args, options);
  if (run.code !== code) {
    throw new Error(
      `icn ${
        args.join(" ")
      } exited ${run.code}, expected ${code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`,
    );
  }
  return run;
}

/** Snapshot of every file (path → bytes hash) under a dir, to prove nothing changed. */
export async function snapshotDir(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(path: string) {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(full);
      // KV's shared-memory/WAL files and lock files (holder's pid) are bookkeeping, not state.
      else if (entry.isFile && !/\.kv-(shm|wal)$|\.lock$/.test(entry.name)) {
        const bytes = await Deno.readFile(full);
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        out.set(full, [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
      }
    }
  }
  await walk(dir);
  return out;
}

export function sameSnapshot(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

export function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message} expected ${e}, got ${a}`);
}

export function assertMatch(text: string, pattern: RegExp): void {
  if (!pattern.test(text)) throw new Error(`"${text}" does not match ${pattern}`);
}

/** The head seq of `did`'s chain in the data dir's joined network, read from its store (-1: none). */
export async function netHead(home: string, did: string): Promise<number> {
  const store = await KvStore.open(`${home}/icn.kv`);
  try {
    const net = (await store.get<string>(chainKeys.network))!.value;
    return (await store.get<ChainHead>(chainKeys.head(net, did)))?.value.seq ?? -1;
  } finally {
    store.close();
  }
}
