/**
 * The `icn` command: parses the command line (the fast path, else the command tree), runs one
 * handler, and returns the exit code `cli/run.ts` decides (the only place that does): 0 ok,
 * 1 expected failure (IcnError), 2 usage error, 3 a bug.
 */
import type { CommandSpec } from "./completions.ts";
import type { CliContext } from "./context.ts";
import { fastInvocation, parseFast } from "./fast_path.ts";
import { failureExit, failureOutputOf, runInvocation } from "./run.ts";

/** The tree with handlers that never run: what docs and completions are made from. */
export async function describeCli(): Promise<CommandSpec> {
  const { describeCli } = await import("./program.ts");
  return await describeCli();
}

/**
 * Runs the CLI with `argv` (without the program name); returns the exit code. A command line
 * the fast path takes (`cli/fast_path.ts`) runs without loading commander; every other goes
 * through the command tree (`cli/program.ts`).
 */
export async function runCli(argv: string[]): Promise<number> {
  const fast = parseFast(argv);
  if (!fast) {
    const { runProgram } = await import("./program.ts");
    return await runProgram(argv);
  }
  let ctx: CliContext | undefined;
  try {
    return await runInvocation(fastInvocation(fast), (opened) => ctx = opened);
  } catch (error) {
    // A handler's usage error may be a CommanderError: commander is loaded to tell, on failure only.
    const { CommanderError } = await import("commander");
    return failureExit(error, failureOutputOf(argv), "", CommanderError);
  } finally {
    try {
      (ctx as CliContext | undefined)?.close();
    } catch {
      // Closing a store that failed to open is not worth a second error.
    }
  }
}

/**
 * `deno task icn` runs in the repository root; its task line passes the caller's directory
 * (deno task's INIT_CWD) so relative paths mean what they mean in the caller's shell. Taken
 * out of the environment so the node or agent icn starts does not inherit it.
 */
function enterCallerDirectory(): void {
  const caller = Deno.env.get("ICN_CALLER_CWD");
  if (!caller) return;
  Deno.env.delete("ICN_CALLER_CWD");
  Deno.chdir(caller);
}

if (import.meta.main) {
  enterCallerDirectory();
  const code = await runCli(Deno.args);
  // Explicit exit: libraries (libp2p, timers) may hold the event loop open after a command is done.
  Deno.exit(code);
}
