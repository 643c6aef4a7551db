/**
 * The CLI's process-facing I/O, scoped per invocation: the environment, stdout, stderr,
 * stdin and whether they are terminals. A real `icn` process uses the real ones (`Deno.env`,
 * `Deno.stdout`, ...). A test runs `runCli()` inside `withCliIo()` instead, so many commands
 * run in one test process, each with its own environment and captured output, without
 * touching the process-wide `Deno.env` or file descriptors (test files run concurrently in one
 * process under `deno test --parallel`).
 *
 * Every environment lookup and every write to stdout or stderr in cli/ goes through here, read
 * at call time (never cached at module load), so the scope of the calling command decides.
 * The scope follows the command through its awaits and timers (`AsyncLocalStorage`, loaded by
 * the first `withCliIo()`: a real `icn` process never loads `node:async_hooks` and with it
 * Deno's Node layer, ~20 ms of every run).
 */
import type { AsyncLocalStorage } from "node:async_hooks";

/** One invocation's I/O. */
export interface CliIo {
  /** The whole environment the command sees (not merged with `Deno.env`). */
  env: Readonly<Record<string, string>>;
  stdout: (bytes: Uint8Array) => void;
  stderr: (bytes: Uint8Array) => void;
  /** Standard input's whole text (a command that reads stdin reads this), or none. */
  stdin?: string;
  stdoutIsTerminal?: boolean;
  stderrIsTerminal?: boolean;
  stdinIsTerminal?: boolean;
}

interface Scope {
  io: CliIo;
  /** Per-invocation state made by `perInvocation()`, by its maker. */
  state: Map<object, unknown>;
}

/** The scopes' storage, made once by the first `withCliIo()`; none in a real `icn` process. */
let storage: AsyncLocalStorage<Scope> | undefined;
let storageMade: Promise<AsyncLocalStorage<Scope>> | undefined;

/** Runs `work` (typically `runCli(argv)`) with `io` as its environment and standard streams. */
export async function withCliIo<T>(io: CliIo, work: () => Promise<T>): Promise<T> {
  // One storage for all scopes, even when the first scopes start at once.
  storageMade ??= import("node:async_hooks").then(({ AsyncLocalStorage }) =>
    storage = new AsyncLocalStorage<Scope>()
  );
  return await (await storageMade).run({ io, state: new Map() }, work);
}

/** Whether the caller runs inside `withCliIo()` (in-process), not as a real `icn` process. */
export function inScopedIo(): boolean {
  return storage?.getStore() !== undefined;
}

/** The environment variable `name` as the current command sees it. */
export function envGet(name: string): string | undefined {
  const scope = storage?.getStore();
  return scope ? scope.io.env[name] : Deno.env.get(name);
}

/** The whole environment as the current command sees it (a copy). */
export function envObject(): Record<string, string> {
  const scope = storage?.getStore();
  return scope ? { ...scope.io.env } : Deno.env.toObject();
}

export function writeStdoutBytes(bytes: Uint8Array): void {
  const scope = storage?.getStore();
  if (scope) scope.io.stdout(bytes);
  else writeAllSync(Deno.stdout, bytes);
}

export function writeStderrBytes(bytes: Uint8Array): void {
  const scope = storage?.getStore();
  if (scope) scope.io.stderr(bytes);
  else writeAllSync(Deno.stderr, bytes);
}

function writeAllSync(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

export function stdoutIsTerminal(): boolean {
  const scope = storage?.getStore();
  return scope ? scope.io.stdoutIsTerminal === true : Deno.stdout.isTerminal();
}

export function stderrIsTerminal(): boolean {
  const scope = storage?.getStore();
  return scope ? scope.io.stderrIsTerminal === true : Deno.stderr.isTerminal();
}

export function stdinIsTerminal(): boolean {
  const scope = storage?.getStore();
  return scope ? scope.io.stdinIsTerminal === true : Deno.stdin.isTerminal();
}

/**
 * State that lives as long as one invocation: one value per `withCliIo()` scope, or one for
 * the whole process when `icn` runs as its own process (where process and invocation are the
 * same). For memos that must not leak from one in-process command into the next.
 */
export function perInvocation<T>(make: () => T): () => T {
  let processWide: { value: T } | undefined;
  const key = {};
  return () => {
    const scope = storage?.getStore();
    if (!scope) return (processWide ??= { value: make() }).value;
    if (!scope.state.has(key)) scope.state.set(key, make());
    return scope.state.get(key) as T;
  };
}
