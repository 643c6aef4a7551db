/**
 * The one argument parser of the scripts a user runs (`deno task release`,
 * `deno task bench`, `deno run -A scripts/sbom.ts`, ...): node:util's
 * `parseArgs` in strict mode, with the conventions of the `icn` command:
 *
 * - `--help` / `-h` prints the usage on stdout and exits 0;
 * - an unknown option, a missing value, a surplus argument or a bad number
 *   prints `error: ...` and the usage on stderr and exits 2 (a usage error);
 * - options are declared once, with their help line, and parsed into typed
 *   values.
 *
 * @example
 * ```ts
 * const spec = scriptSpec({
 *   usage: "deno run -A scripts/sbom.ts [options]",
 *   description: "Writes a CycloneDX SBOM of icn",
 *   options: { out: { type: "string", value: "FILE", description: "write here" } },
 * });
 * const { values } = parseScriptArgs(spec); // values.out: string | undefined
 * ```
 */
import { parseArgs } from "node:util";

export interface ScriptOption {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[];
  /** The value's name in the usage (`--out FILE`); strings only. */
  value?: string;
  description: string;
}

export interface ScriptPositional {
  name: string;
  description: string;
}

export interface ScriptSpec<T extends Record<string, ScriptOption>> {
  /** The command line, e.g. `deno task release [options]`. */
  usage: string;
  /** What the script does, in a sentence or two. */
  description: string;
  options?: T;
  /** Optional positional arguments, in order; more than these is a usage error. */
  positionals?: readonly ScriptPositional[];
  /** Lines after the options (environment variables, examples). */
  notes?: readonly string[];
}

type OptionValue<O extends ScriptOption> = O["type"] extends "boolean"
  ? (O["multiple"] extends true ? boolean[] : boolean)
  : (O["multiple"] extends true ? string[] : string);

/** Parsed values: an option with a default always has a value. */
export type ScriptValues<T extends Record<string, ScriptOption>> = {
  [K in keyof T]: T[K] extends { default: unknown } ? OptionValue<T[K]>
    : OptionValue<T[K]> | undefined;
};

export interface ParsedScriptArgs<T extends Record<string, ScriptOption>> {
  values: ScriptValues<T>;
  positionals: string[];
}

const encoder = new TextEncoder();
const helpOption: ScriptOption = { type: "boolean", short: "h", description: "show this help" };

function optionLabel(name: string, option: ScriptOption): string {
  const short = option.short ? `-${option.short}, ` : "    ";
  const value = option.type === "string" ? ` ${option.value ?? "VALUE"}` : "";
  return `${short}--${name}${value}`;
}

/** Declares a script's arguments once, keeping the option types for `parseScriptArgs()`. */
export function scriptSpec<const T extends Record<string, ScriptOption>>(
  spec: ScriptSpec<T>,
): ScriptSpec<T> {
  return spec;
}

/** The help text: usage line, description, arguments, options, notes. */
export function usageText<T extends Record<string, ScriptOption>>(spec: ScriptSpec<T>): string {
  const options: [string, ScriptOption][] = [
    ...Object.entries(spec.options ?? {}),
    ["help", helpOption],
  ];
  const rows: [string, string][] = options.map(([name, option]) => {
    const shown = option.default === undefined || option.default === false ||
        (Array.isArray(option.default) && option.default.length === 0)
      ? ""
      : ` (default: ${Array.isArray(option.default) ? option.default.join(",") : option.default})`;
    return [optionLabel(name, option), `${option.description}${shown}`];
  });
  const positionals = (spec.positionals ?? []).map((
    p,
  ): [string, string] => [p.name, p.description]);
  const width = Math.max(...[...rows, ...positionals].map(([label]) => label.length));
  const table = (entries: [string, string][]) =>
    entries.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`);
  return [
    `Usage: ${spec.usage}`,
    "",
    spec.description,
    ...(positionals.length > 0 ? ["", "Arguments:", ...table(positionals)] : []),
    "",
    "Options:",
    ...table(rows),
    ...(spec.notes && spec.notes.length > 0 ? ["", ...spec.notes] : []),
  ].join("\n") + "\n";
}

/** Prints `error: MESSAGE` and the usage on stderr and exits 2. */
export function usageError<T extends Record<string, ScriptOption>>(
  spec: ScriptSpec<T>,
  message: string,
): never {
  Deno.stderr.writeSync(encoder.encode(`error: ${message}\n\n${usageText(spec)}`));
  Deno.exit(2);
}

/** Parses `args` (default `Deno.args`) by `spec`; handles `--help` and usage errors itself. */
export function parseScriptArgs<const T extends Record<string, ScriptOption>>(
  spec: ScriptSpec<T>,
  args: string[] = Deno.args,
): ParsedScriptArgs<T> {
  const config: Record<string, Omit<ScriptOption, "description" | "value">> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, option] of Object.entries(spec.options ?? {})) {
    const { description: _description, value: _value, ...rest } = option;
    config[name] = rest;
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args,
      // deno-lint-ignore no-explicit-any
      options: config as any,
      strict: true,
      allowPositionals: (spec.positionals?.length ?? 0) > 0,
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_")) {
      usageError(spec, (error as Error).message);
    }
    throw error;
  }
  if (parsed.values.help === true) {
    Deno.stdout.writeSync(encoder.encode(usageText(spec)));
    Deno.exit(0);
  }
  const allowed = spec.positionals?.length ?? 0;
  if (parsed.positionals.length > allowed) {
    usageError(spec, `Unexpected argument "${parsed.positionals[allowed]}"`);
  }
  delete parsed.values.help;
  return { values: parsed.values as ScriptValues<T>, positionals: parsed.positionals };
}

/**
 * A whole number from the command line, from `min` (default 1) to `max`
 * (default none); anything else is a usage error naming it. `undefined` gives
 * `fallback`.
 */
export function wholeNumberArg<T extends Record<string, ScriptOption>>(
  spec: ScriptSpec<T>,
  text: string | undefined,
  options: { name: string; fallback: number; min?: number; max?: number },
): number {
  if (text === undefined) return options.fallback;
  const min = options.min ?? 1;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const value = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    const range = options.max === undefined ? `≥ ${min}` : `from ${min} to ${max}`;
    usageError(spec, `Cannot use ${options.name} "${text}": expected a whole number ${range}`);
  }
  return value;
}
