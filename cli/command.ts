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
