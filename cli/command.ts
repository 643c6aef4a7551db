/**
 * Glue between commander and handlers: handlers are lazy-imported only when
 * their command runs, so `icn --help` loads nothing but the tree.
 */
import { type Command, type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
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
 * The options a command declares, as commander will hand them over: each option's name, whether
 * it is always there (required or with a default) and its value's type (the return type of its
 * `argParser`, e.g. `number` for `wholeNumberArg`, `string[]` for `collect`). Inferred by
 * `@commander-js/extra-typings` from the declaration in cli/*_commands.ts.
 */
// deno-lint-ignore no-explicit-any
export type OptionsOf<C> = C extends Command<any, infer O, any> ? O : never;

/** A command of any arguments and options (extra-typings' `Command` is generic in both). */
// deno-lint-ignore no-explicit-any
export type AnyCommand = Command<any, any, any>;

/**
 * Whether handler `H` can take options `O`: every option `H`'s options type names is one `O`
 * declares (an optional property would otherwise be met by a missing option and always read
 * `undefined`), and `O` is assignable to it (each value of the type the parser gives, required
 * options not declared optional by the command). A handler may take fewer parameters.
 */
type TakesOptions<H, O> = H extends (ctx: CliContext, args: string[], options: infer P) => Promise<
  CommandResult
> ? [Exclude<keyof P, keyof O>] extends [never] ? [O] extends [P] ? true : false : false
  : false;

/**
 * The exports of handler module `M` that are handlers taking options `O`: what
 * `Registrar.action` accepts as a name, so a misspelled or missing handler, or one whose options
 * interface does not match what its command declares, is a compile error, not a runtime one.
 */
export type HandlerNameFor<M, O> =
  & { [K in keyof M]: TakesOptions<M[K], O> extends true ? K : never }[keyof M]
  & string;

/** Set by main.ts: runs a handler with the context and prints the result. */
export type Runner = (
  handler: () => Promise<Handler>,
  args: string[],
  command: CommandUnknownOpts,
) => Promise<void>;

export interface Registrar {
  /**
   * Attaches the lazily-loaded handler `name` of module `load` to `command`. The handler's
   * options type must accept the options `command` declares (`HandlerNameFor`).
   */
  action<C extends AnyCommand, M>(
    command: C,
    load: () => Promise<M>,
    name: NoInfer<HandlerNameFor<M, OptionsOf<C>>>,
  ): C;
}

export function createRegistrar(run: Runner): Registrar {
  return {
    action(command, load, name) {
      return command.action(async (...params: unknown[]) => {
        const cmd = params[params.length - 1] as CommandUnknownOpts;
        const positional = params.slice(0, params.length - 2).flatMap((p) =>
          Array.isArray(p) ? p.map(String) : p === undefined ? [] : [String(p)]
        );
        await run(
          async () => {
            const handler = (await load())[name];
            // The name is checked by the compiler; a module that changed under it is a bug.
            if (typeof handler !== "function") throw new Error(`Handler ${name} is missing`);
            // Checked by the compiler too (`HandlerNameFor`): the handler's options type accepts
            // the options its command declares, as their argParsers give them.
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
export function refuseRepeatedOptions(command: CommandUnknownOpts): void {
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
export function netOption(): Option<"--net <net>", undefined, undefined, string> {
  return new Option(
    "--net <net>",
    "network to work on: its name, id or a unique start of the id (default: the only joined network, else default_net)",
  ).argParser(netArg);
}

/**
 * Adds `--net` to each of `commands` (a group's network-scoped subcommands), after their
 * handlers are attached: so `net` is not in those handlers' options type, and none can read it
 * (the runner applies it). A handler that needs to know whether `--net` was given declares it
 * in its command's chain with `.addOption(netOption())` (`node import`).
 */
export function takeNetOption(commands: readonly CommandUnknownOpts[]): void {
  for (const command of commands) command.addOption(netOption());
}

/** Whether `command` declares `--net`, i.e. works on one network's store. */
export function isNetworkScoped(command: CommandUnknownOpts): boolean {
  return command.options.some((option) => option.long === "--net");
}
