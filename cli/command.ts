/**
 * Glue between commander and handlers: handlers are lazy-imported only when
 * their command runs, so `icn --help` loads nothing but the tree.
 */
import type { Command } from "commander";
import type { CliContext } from "./context.ts";
import type { CommandResult } from "./output.ts";

/** A handler gets the context, the positional arguments and the command's own options. */
export type Handler = (
  ctx: CliContext,
  args: string[],
  options: Record<string, unknown>,
) => Promise<CommandResult>;

export type HandlerModule = Record<string, unknown>;

/** Set by main.ts: runs a handler with the context and prints the result. */
export type Runner = (
  handler: () => Promise<Handler>,
  args: string[],
  command: Command,
) => Promise<void>;

export interface Registrar {
  /** Attaches a lazily-loaded handler `name` of module `load` to `command`. */
  action(command: Command, load: () => Promise<HandlerModule>, name: string): Command;
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
            const module = await load();
            const handler = module[name];
            if (typeof handler !== "function") throw new Error(`Handler ${name} is missing`);
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
          { code: "icn.repeatedOption", exitCode: 2 },
        );
      }
    });
  }
}
