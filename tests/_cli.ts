/** Runs `icn` against temporary data dirs: in this process where it can, else as a subprocess. */

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
  /** Working directory: the command runs as its own process (the test process's cwd is shared). */
  cwd?: string;
  /**
   * Run `icn` as its own OS process even where the runner would run it in-process: for
   * tests of process behaviour (kill -9, crash points, two processes racing on a lock,
   * a command that starts a node or an agent).
   */
  process?: boolean;
}

/** What every test command gets on top of the test process's environment. */
const baseEnv = { ICN_PASSPHRASE: "correct horse", ICN_SCRYPT_LOG_N: "10", NO_COLOR: "1" };

/**
 * Commands that start something long-running or own the process (signal handlers,
 * `Deno.exit`, a detached child, closing stdin/stdout): always their own process.
 */
const processCommands: readonly (readonly string[])[] = [
  ["node", "run"],
  ["id", "unlock"],
  ["id", "agent", "serve"],
];

function startsProcessCommand(args: readonly string[]): boolean {
  return processCommands.some((words) =>
    args.some((_, i) => words.every((word, j) => args[i + j] === word))
  );
}

/**
 * `ICN_TEST_CLI=process` runs every `icn()` as its own process (what CI can run to check the
 * real process path); `ICN_TEST_CLI=in-process` runs commands in this process where they can
 * (docs/testing.md).
 */
const forceProcess = Deno.env.get("ICN_TEST_CLI") === "process";

/** Whether `icn(args, options)` runs as its own OS process. */
export function runsAsProcess(args: readonly string[], options: IcnOptions = {}): boolean {
  return forceProcess || options.process === true || options.cwd !== undefined ||
    Object.keys(options.env ?? {}).some((name) => name.startsWith("ICN_TEST_CRASH")) ||
    startsProcessCommand(args);
}

/** Runs `icn` as its own OS process (see `IcnOptions.process`). */
export function icnProcess(args: string[], options: IcnOptions = {}): Promise<CliRun> {
  return icn(args, { ...options, process: true });
}

/**
 * Runs `icn args`: in this process (`runCli()` inside its own scoped environment and captured
 * stdout/stderr, about 10 ms a command), or as its own process where `runsAsProcess()` says so.
 * Either way the result is the same `CliRun`.
 */
export function icn(args: string[], options: IcnOptions = {}): Promise<CliRun> {
  return runsAsProcess(args, options) ? spawnIcn(args, options) : runInProcess(args, options);
}

function cliRun(code: number, stdout: string, stderr: string): CliRun {
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

async function runInProcess(args: string[], options: IcnOptions): Promise<CliRun> {
  const [{ runCli }, { withCliIo }] = await Promise.all([
    import("../cli/main.ts"),
    import("../cli/io_scope.ts"),
  ]);
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  const env = { ...Deno.env.toObject(), ...baseEnv, ...options.env };
  let code: number;
  try {
    code = await withCliIo({
      env,
      // Copies: a writer may reuse its buffer.
      stdout: (bytes) => out.push(bytes.slice()),
      stderr: (bytes) => err.push(bytes.slice()),
      stdin: options.stdin,
    }, () => runCli([...args]));
  } catch (error) {
    // runCli decides every exit code itself; anything escaping it is a bug, as a process's
    // uncaught error would be.
    err.push(new TextEncoder().encode(`uncaught: ${(error as Error)?.stack ?? error}\n`));
    code = 3;
  }
  const decode = (chunks: Uint8Array[]) => {
    const decoder = new TextDecoder();
    return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") +
      decoder.decode();
  };
  return cliRun(code, decode(out), decode(err));
}

async function spawnIcn(args: string[], options: IcnOptions): Promise<CliRun> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", configPath, mainPath, ...args],
    env: { ...baseEnv, ...options.env },
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
  const decoder = new TextDecoder();
  return cliRun(out.code, decoder.decode(out.stdout), decoder.decode(out.stderr));
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
