/**
 * The fast path: a command line of the few read commands a member runs most often (`icn ledger
 * balance`, `limit`, `history`), in the plainest form, is parsed here without commander, so the
 * run loads neither commander nor the command tree (with them, Deno's Node compatibility layer:
 * ~30–50 ms of a ~150 ms run). Anything else — help, `--version`, `--opt=value`, short or
 * unknown flags, a repeated flag, `--`, a value that starts with `-` or is empty, a value a
 * parser refuses, a second positional — is declined, and commander parses the line as before
 * (`cli/program.ts`), with its own messages and exit codes.
 *
 * What a taken line gives the handler is what commander would give it (the same positional
 * arguments, options with their defaults, global options): `tests/cli_fast_path_test.ts`
 * compares the two on generated command lines.
 */
import type { Handler } from "./command.ts";
import { netArg } from "./args.ts";
import {
  historyLimitArg,
  historyLimitDefault,
  historyOffsetArg,
  historyOffsetDefault,
  memberArg,
} from "./ledger_read_options.ts";
import type { Invocation } from "./run.ts";

/** An option of a fast route's command: `--flag <value>`, stored under `key`. */
interface ValueOption {
  key: string;
  parse?: (text: string) => unknown;
}

/** A command the fast path takes: `icn GROUP NAME [member] [options]`, network-scoped. */
export interface FastRoute {
  path: readonly [string, string];
  /** The handler's module and export, as `cli/ledger_commands.ts` registers them. */
  load: () => Promise<Record<string, unknown>>;
  handler: string;
  /** The optional positional argument's parser. */
  argument: (text: string) => string;
  options: Readonly<Record<string, ValueOption>>;
  defaults: Readonly<Record<string, unknown>>;
}

const loadLedger = () => import("./ledger.ts") as Promise<Record<string, unknown>>;
const currency: ValueOption = { key: "currency" };
const net: ValueOption = { key: "net", parse: netArg };

/** The routes; each must match its declaration in `cli/ledger_commands.ts` (tested). */
/** `icn ledger NAME [member] [--currency] [--net]`, handled by `ledger.ts`'s export NAME. */
const memberRead = (name: string): FastRoute => ({
  path: ["ledger", name],
  load: loadLedger,
  handler: name,
  argument: memberArg,
  options: { "--currency": currency, "--net": net },
  defaults: {},
});

export const fastRoutes: readonly FastRoute[] = [
  memberRead("balance"),
  memberRead("limit"),
  {
    path: ["ledger", "history"],
    load: loadLedger,
    handler: "history",
    argument: memberArg,
    options: {
      "--currency": currency,
      "--limit": { key: "limit", parse: historyLimitArg },
      "--offset": { key: "offset", parse: historyOffsetArg },
      "--net": net,
    },
    defaults: { limit: historyLimitDefault, offset: historyOffsetDefault },
  },
];

/** The global options (declared on the program in `cli/program.ts`). */
const globalValueOptions: Readonly<Record<string, string>> = {
  "--data-dir": "dataDir",
  "--passphrase-file": "passphraseFile",
};
const globalFlags: Readonly<Record<string, readonly [string, boolean]>> = {
  "--json": ["json", true],
  "--debug": ["debug", true],
  "--no-color": ["color", false],
};

/** What the fast path takes a command line as: the route and its parsed parts. */
export interface FastParse {
  route: FastRoute;
  globals: Record<string, unknown>;
  args: string[];
  options: Record<string, unknown>;
}

function isPlainValue(text: string | undefined): text is string {
  return text !== undefined && text !== "" && !text.startsWith("-");
}

/** Applies `parse` to `text`; `undefined` when it refuses (commander then reports it). */
function parsed(
  parse: ((text: string) => unknown) | undefined,
  text: string,
): { value: unknown } | undefined {
  try {
    return { value: parse ? parse(text) : text };
  } catch {
    return undefined;
  }
}

/** The fast parse of `argv`, or `undefined` when commander must parse it. */
export function parseFast(argv: readonly string[]): FastParse | undefined {
  const globals: Record<string, unknown> = { color: true };
  const seen = new Set<string>();
  const path: string[] = [];
  let route: FastRoute | undefined;
  let options: Record<string, unknown> = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token.startsWith("-")) {
      // Global options before the command's path or after its name, never between.
      if (path.length === 1 || seen.has(token)) return undefined;
      seen.add(token);
      const flag = globalFlags[token];
      const globalKey = globalValueOptions[token];
      const option = route?.options[token];
      if (flag) {
        globals[flag[0]] = flag[1];
      } else if (globalKey !== undefined || option) {
        const text = argv[++i];
        if (!isPlainValue(text)) return undefined;
        const value = parsed(option?.parse, text);
        if (!value) return undefined;
        if (option) options[option.key] = value.value;
        else globals[globalKey] = value.value;
      } else {
        return undefined;
      }
    } else if (!route) {
      path.push(token);
      if (path.length === 2) {
        route = fastRoutes.find((r) => r.path[0] === path[0] && r.path[1] === path[1]);
        if (!route) return undefined;
        options = { ...route.defaults };
      } else if (!fastRoutes.some((r) => r.path[0] === token)) {
        return undefined;
      }
    } else {
      if (args.length > 0 || token === "") return undefined;
      const value = parsed(route.argument, token);
      if (!value) return undefined;
      args.push(String(value.value));
    }
  }
  if (!route) return undefined;
  return { route, globals, args, options };
}

/** The invocation of a fast parse: what `cli/run.ts` runs. */
export function fastInvocation(fast: FastParse): Invocation {
  return {
    globals: fast.globals,
    networkScoped: true,
    load: async () => {
      const handler = (await fast.route.load())[fast.route.handler];
      if (typeof handler !== "function") {
        throw new Error(`Handler ${fast.route.handler} is missing`);
      }
      return handler as Handler;
    },
    args: fast.args,
    options: fast.options,
  };
}
