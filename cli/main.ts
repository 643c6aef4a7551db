/**
 * The `icn` command: builds the command tree, runs one handler, and decides
 * the exit code (the only place that does): 0 ok, 1 expected failure
 * (IcnError), 2 usage error, 3 a bug.
 */
import { envGet, inScopedIo, stderrIsTerminal, stdoutIsTerminal } from "./io_scope.ts";
import {
  Command,
  CommanderError,
  type CommandUnknownOpts,
  Option,
} from "@commander-js/extra-typings";
import { IcnError } from "../core/errors.ts";
import {
  createRegistrar,
  type Handler,
  isNetworkScoped,
  refuseRepeatedOptions,
  type Registrar,
} from "./command.ts";
import type { CommandSpec } from "./completions.ts";
import type { CliContext, GlobalOptions } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { printError, printResult, writeStderr, writeStdout } from "./output.ts";
import { groupCommands } from "./groups.ts";
import denoJson from "../deno.json" with { type: "json" };

export const icnVersion: string = denoJson.version;

export function exitCodeOf(error: unknown): { exitCode: number; code: string } {
  if (error instanceof CommanderError) return { exitCode: exitCodes.usage, code: "usage" };
  if (error instanceof IcnError) return { exitCode: exitCodes.failure, code: error.code };
  return { exitCode: exitCodes.bug, code: "internal" };
}

function globalOptions(command: CommandUnknownOpts, defaultDataDir: () => string): GlobalOptions {
  const opts = command.optsWithGlobals() as Record<string, unknown>;
  return {
    dataDir: typeof opts.dataDir === "string" ? opts.dataDir : defaultDataDir(),
    json: opts.json === true,
    debug: opts.debug === true,
    color: !envGet("NO_COLOR") && opts.color !== false && stdoutIsTerminal(),
    passphraseFile: typeof opts.passphraseFile === "string" ? opts.passphraseFile : undefined,
  };
}

/** Builds the whole tree. `registrar` attaches handlers; docs and completions pass one that runs nothing. */
export function buildProgram(registrar: Registrar): Command {
  const program = new Command("icn")
    .description("Toolkit for cooperatives that federate without a central operator")
    .version(icnVersion, "-V, --version", "print the icn version")
    .addOption(
      new Option("--data-dir <dir>", "data directory (default: $ICN_HOME or ~/.icn)"),
    )
    .option("--json", "machine-readable output on stdout")
    .option("--debug", "show stack traces and debug logs")
    .option("--no-color", "disable colour (NO_COLOR is honoured too)")
    .option(
      "--passphrase-file <file>",
      "read the keystore passphrase from a file (else ICN_PASSPHRASE or a prompt)",
    )
    .showSuggestionAfterError(true)
    .enablePositionalOptions(false);
  for (const group of groupCommands(registrar)) program.addCommand(group);
  return program;
}

/** The tree with handlers that never run: what docs and completions are made from. */
export async function describeCli(): Promise<CommandSpec> {
  const { describeCommand } = await import("./completions.ts");
  return describeCommand(buildProgram(createRegistrar(() => Promise.resolve())), []);
}

/** Commander's own output (help, version) through the scoped streams, when run in-process. */
const scopedCommanderOutput = {
  writeOut: (text: string) => writeStdout(text),
  writeErr: (text: string) => writeStderr(text),
  // A spawned icn's streams are not terminals, so commander wraps its help at 80 columns.
  getOutHelpWidth: () => 80,
  getErrHelpWidth: () => 80,
  getOutHasColors: () => false,
  getErrHasColors: () => false,
};

function configureRecursively(command: CommandUnknownOpts, capture: (text: string) => void): void {
  command.exitOverride();
  refuseRepeatedOptions(command);
  command.configureOutput({
    ...(inScopedIo() ? scopedCommanderOutput : {}),
    outputError: (text) => capture(text),
  });
  for (const sub of command.commands) configureRecursively(sub, capture);
}

/** Runs the CLI with `argv` (without the program name); returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let exitCode: number = exitCodes.ok;
  let usageMessage = "";
  let ctx: CliContext | undefined;
  const jsonRequested = argv.includes("--json");
  const debugRequested = argv.includes("--debug");
  const colorDefault = !envGet("NO_COLOR") && stderrIsTerminal();
  const registrar = createRegistrar(async (load, args, command) => {
    // Loaded only when a command runs, so `icn --help` never loads the store or the domains.
    const { CliContext, defaultDataDir } = await import("./context.ts");
    const options = globalOptions(command, defaultDataDir);
    // The tree travels with the context: `icn completions` describes it without importing this file.
    ctx = new CliContext(options, program);
    if (isNetworkScoped(command)) ctx.useNetwork(command.opts().net as string | undefined);
    const handler: Handler = await load();
    const result = await handler(ctx, args, command.opts());
    printResult(result, options);
    exitCode = result.exitCode ?? exitCodes.ok;
  });
  const program = buildProgram(registrar);
  configureRecursively(program, (text) => usageMessage += text);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return exitCodes.ok;
    // `icn` or `icn id` without a subcommand: commander printed the help on stderr; a usage error.
    if (error instanceof CommanderError && error.code === "commander.help") return exitCodes.usage;
    const { exitCode: code, code: errorCode } = exitCodeOf(error);
    const message = error instanceof CommanderError
      ? (usageMessage.trim().replace(/^error: /, "") || error.message)
      : error;
    printError(error instanceof CommanderError ? new Error(String(message)) : message, {
      json: jsonRequested,
      color: colorDefault,
      debug: debugRequested,
      code: errorCode,
      exitCode: code,
    });
    if (error instanceof CommanderError) writeStderr("(run `icn --help` for usage)\n");
    exitCode = code;
  } finally {
    try {
      (ctx as CliContext | undefined)?.close();
    } catch {
      // Closing a store that failed to open is not worth a second error.
    }
  }
  return exitCode;
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
