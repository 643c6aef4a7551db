/**
 * One run of a handler and the exit code of a failed run: shared by the commander path
 * (`cli/program.ts`) and the fast path (`cli/fast_path.ts`), so both build the same context,
 * print the same result and report a failure with the same message and exit code. Imports
 * neither commander nor any domain module: the fast path loads only what its command uses.
 */
import { envGet, stderrIsTerminal, stdoutIsTerminal } from "./io_scope.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { IcnError } from "../core/errors.ts";
import type { Handler } from "./command.ts";
import type { CliContext, GlobalOptions } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { printError, printResult, writeStderr } from "./output.ts";
import { UsageError } from "./usage_error.ts";

/** The global options from their values as commander's `optsWithGlobals()` gives them. */
export function globalOptionsOf(
  opts: Record<string, unknown>,
  defaultDataDir: () => string,
): GlobalOptions {
  return {
    dataDir: typeof opts.dataDir === "string" ? opts.dataDir : defaultDataDir(),
    json: opts.json === true,
    debug: opts.debug === true,
    color: !envGet("NO_COLOR") && opts.color !== false && stdoutIsTerminal(),
    passphraseFile: typeof opts.passphraseFile === "string" ? opts.passphraseFile : undefined,
  };
}

/** A parsed command line: which handler runs, with what. */
export interface Invocation {
  /** The global options' values (`--data-dir`, `--json`, ...), as commander gives them. */
  globals: Record<string, unknown>;
  /** Whether the command declares `--net` (its store is one network's). */
  networkScoped: boolean;
  load: () => Promise<Handler>;
  args: string[];
  /** The command's own options, parsed, with their defaults (commander's `opts()`). */
  options: Record<string, unknown>;
  /** The command tree, for `icn completions`; the fast path has none. */
  tree?: CommandUnknownOpts;
}

/**
 * Runs the handler of `invocation`; returns its exit code. The context is handed to
 * `opened` as soon as it exists, so the caller closes it whatever happens.
 */
export async function runInvocation(
  invocation: Invocation,
  opened: (ctx: CliContext) => void,
): Promise<number> {
  // Loaded only when a command runs, so `icn --help` never loads the store or the domains.
  const { CliContext, defaultDataDir } = await import("./context.ts");
  const options = globalOptionsOf(invocation.globals, defaultDataDir);
  // The tree travels with the context: `icn completions` describes it without importing main.ts.
  const ctx = new CliContext(options, invocation.tree);
  opened(ctx);
  if (invocation.networkScoped) ctx.useNetwork(invocation.options.net as string | undefined);
  const handler = await invocation.load();
  const result = await handler(ctx, invocation.args, invocation.options);
  printResult(result, options);
  return result.exitCode ?? exitCodes.ok;
}

/** What a failed run prints with, read from the raw arguments (the parse may have failed). */
export interface FailureOutput {
  json: boolean;
  debug: boolean;
  color: boolean;
}

export function failureOutputOf(argv: readonly string[]): FailureOutput {
  return {
    json: argv.includes("--json"),
    debug: argv.includes("--debug"),
    color: !envGet("NO_COLOR") && stderrIsTerminal(),
  };
}

/** The class commander throws usage errors with (passed in: this module does not load commander). */
export type CommanderErrorClass = abstract new (...args: never[]) => Error & {
  exitCode: number;
  code: string;
};

/**
 * Prints `error` and returns the exit code: 0 after `--help`/`--version`, 2 for a usage error
 * (commander's, or a handler's `UsageError` or `CommanderError`), 1 for an `IcnError`, 3 for a
 * bug. `usageMessage` is what commander wrote for its own usage error, if anything.
 */
export function failureExit(
  error: unknown,
  output: FailureOutput,
  usageMessage: string,
  commanderError: CommanderErrorClass,
): number {
  const isUsage = error instanceof commanderError || error instanceof UsageError;
  if (isUsage && error.exitCode === 0) return exitCodes.ok;
  // `icn` or `icn id` without a subcommand: commander printed the help on stderr; a usage error.
  if (isUsage && error.code === "commander.help") return exitCodes.usage;
  const { exitCode, code } = isUsage
    ? { exitCode: exitCodes.usage, code: "usage" }
    : error instanceof IcnError
    ? { exitCode: exitCodes.failure, code: error.code }
    : { exitCode: exitCodes.bug, code: "internal" };
  const message = isUsage ? (usageMessage.trim().replace(/^error: /, "") || error.message) : error;
  printError(isUsage ? new Error(String(message)) : message, {
    json: output.json,
    color: output.color,
    debug: output.debug,
    code,
    exitCode,
  });
  if (isUsage) writeStderr("(run `icn --help` for usage)\n");
  return exitCode;
}
