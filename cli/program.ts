/**
 * The command tree (commander) and a run through it: every command line the fast path
 * (`cli/fast_path.ts`) does not take, and the help, usage and version output.
 */
import {
  Command,
  CommanderError,
  type CommandUnknownOpts,
  Option,
} from "@commander-js/extra-typings";
import {
  createRegistrar,
  isNetworkScoped,
  refuseRepeatedOptions,
  type Registrar,
} from "./command.ts";
import type { CommandSpec } from "./completions.ts";
import type { CliContext } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { inScopedIo } from "./io_scope.ts";
import { writeStderr, writeStdout } from "./output.ts";
import { groupCommands } from "./groups.ts";
import { failureExit, failureOutputOf, runInvocation } from "./run.ts";
import denoJson from "../deno.json" with { type: "json" };

export const icnVersion: string = denoJson.version;

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

/**
 * Makes commander throw instead of exiting, refuse repeated single-value options, and hand its
 * usage messages to `capture` (main prints them in icn's error format).
 */
export function configureRecursively(
  command: CommandUnknownOpts,
  capture: (text: string) => void,
): void {
  command.exitOverride();
  refuseRepeatedOptions(command);
  command.configureOutput({
    ...(inScopedIo() ? scopedCommanderOutput : {}),
    outputError: (text) => capture(text),
  });
  for (const sub of command.commands) configureRecursively(sub, capture);
}

/** Runs the CLI with `argv` (without the program name) through commander; returns the exit code. */
export async function runProgram(argv: string[]): Promise<number> {
  let exitCode: number = exitCodes.ok;
  let usageMessage = "";
  let ctx: CliContext | undefined;
  const registrar = createRegistrar(async (load, args, command) => {
    exitCode = await runInvocation({
      globals: command.optsWithGlobals() as Record<string, unknown>,
      networkScoped: isNetworkScoped(command),
      load,
      args,
      options: command.opts() as Record<string, unknown>,
      tree: program,
    }, (opened) => ctx = opened);
  });
  const program = buildProgram(registrar);
  configureRecursively(program, (text) => usageMessage += text);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    exitCode = failureExit(error, failureOutputOf(argv), usageMessage, CommanderError);
  } finally {
    try {
      (ctx as CliContext | undefined)?.close();
    } catch {
      // Closing a store that failed to open is not worth a second error.
    }
  }
  return exitCode;
}
