/**
 * Glue between commander and handlers: handlers are lazy-imported only when
 * their command runs, so `icn --help` loads nothing but the tree.
 */
import { type Command, Option } from "commander";
import { netArg } from "./args.ts";
import type { CliContext } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import type { CommandResult } from "./output.ts";

/**
 * A handler gets the context, the positional arguments and its command's options, each
 * already parsed into its type where the command declares it (`cli/args.ts`). `O` is the
 * handler's own options interface.
 */
export type Handler<O = Record<string, unknown>> = (
  ctx: CliContext,
  args: string[],
  options: O,
) => Promise<CommandResult>;

/**
 * The exports of handler module `M` that are handlers: what `Registrar.action` accepts as a
 * name, so a misspelled or missing handler is a compile error, not a runtime one. A handler
 * may take fewer parameters, and any options type (`never` accepts every one).
 */
export type HandlerName<M> =
  & {
    [K in keyof M]: M[K] extends (ctx: CliContext, args: string[], options: never) => Promise<
      CommandResult
    > ? K
      : never;
  }[keyof M]
  & string;

/** Set by main.ts: runs a handler with the context and prints the result. */
export type Runner = (
  handler: () => Promise<Handler>,
  args: string[],
  command: Command,
) => Promise<void>;

export interface Registrar {
  /** Attaches the lazily-loaded handler `name` of module `load` to `command`. */
  action<M>(command: Command, load: () => Promise<M>, name: NoInfer<HandlerName<M>>): Command;
}

export function createRegistrar(run: Runner): Registrar {
  return {
    action(command, load, name) {
      return command.action(async (...params: unknown[]) => {
        const cmd = params[params.length - 1] as Command;
        const positional = params.slice(0, params.length - 2).flatMap((p) =>
          Array.isArray(p) ? p.map(String) : p === undefined ? [] : [String(p)]
        );
        await run(
          async () => {
            const handler = (await load())[name];
            // The name is checked by the compiler; a module that changed under it is a bug.
            if (typeof handler !== "function") throw new Error(`Handler ${name} is missing`);
            // The one unchecked step: commander hands over the options each command declares,
            // parsed by their argParsers, which is what the handler's options type says.
            return handler as Handler;
          },
          positional,
          cmd,
        );
      });
    },
  };
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Makes a second value for a single-value option a usage error on `command`
 * (commander keeps the last one silently, so `--to A --to B` paid B). Options
 * that collect their values (`collect`) or are variadic stay repeatable.
 */
export function refuseRepeatedOptions(command: Command): void {
  for (const option of command.options) {
    if (
      !(option.required || option.optional) || option.variadic ||
      (option.parseArg as unknown) === collect
    ) {
      continue;
    }
    let seen = 0;
    command.on(`option:${option.name()}`, () => {
      seen++;
      if (seen > 1) {
        command.error(
          `option '${option.flags}' was given more than once: it takes one value`,
          { code: "icn.repeatedOption", exitCode: exitCodes.usage },
        );
      }
    });
  }
}

/**
 * `--net NAME|ID`, declared once here for every network-scoped command (ledger, trust,
 * governance, node export/import): the runner scopes the context to the network it names
 * (`CliContext.useNetwork`), so the handler's `store()` and `network()` are that network's.
 */
export function netOption(): Option {
  return new Option(
    "--net <net>",
    "network to work on: its name, id or a unique start of the id (default: the only joined network, else default_net)",
  ).argParser(netArg);
}

/** Adds `--net` to each of `commands` (a group's network-scoped subcommands). */
export function takeNetOption(commands: readonly Command[]): void {
  for (const command of commands) command.addOption(netOption());
}

/** Whether `command` declares `--net`, i.e. works on one network's store. */
export function isNetworkScoped(command: Command): boolean {
  return command.options.some((option) => option.long === "--net");
}
