/**
 * The one place that writes results and errors. stdout carries results only
 * (text or `--json`); errors and logs go to stderr.
 *
 * Text output is made safe for a terminal here, for every command at once:
 * whatever a result's lines quote (another member's memo, a title, a label, a
 * peer's message) cannot move the cursor, clear the screen, retitle the
 * terminal or reorder a line (`terminalSafe()`). The line breaks of a result
 * are icn's own; a handler that quotes someone's free text escapes that value
 * whole (`terminalSafe(value)`), so a newline in it cannot forge a row. `--json`
 * output is exact.
 */
import { IcnError } from "../core/errors.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { toJson } from "../core/json.ts";
import { exitCodes } from "./exit_codes.ts";
import { writeStderrBytes, writeStdoutBytes } from "./io_scope.ts";

/** What a command handler returns: data for `--json`, lines for humans. */
export interface CommandResult {
  data: unknown;
  text: string | string[];
  /** One-line warnings shown on stderr (and under `warnings` in JSON). */
  warnings?: string[];
  /** Non-zero to signal an expected failure that still has a result (e.g. `ledger check` findings). */
  exitCode?: number;
}

export interface OutputOptions {
  json: boolean;
  color: boolean;
}

// Lives in core (net/http.ts serves the same JSON and must not import cli/); exported here too.
export { toJson };

const encoder = new TextEncoder();

export function writeStdout(text: string): void {
  writeStdoutBytes(encoder.encode(text));
}

export function writeStderr(text: string): void {
  writeStderrBytes(encoder.encode(text));
}

export function printResult(result: CommandResult, options: OutputOptions): void {
  for (const warning of result.warnings ?? []) {
    writeStderr(
      `${options.color ? "\x1b[33mwarning:\x1b[0m" : "warning:"} ${terminalSafe(warning)}\n`,
    );
  }
  if (options.json) {
    const data =
      result.warnings?.length && typeof result.data === "object" && result.data !== null &&
        !Array.isArray(result.data)
        ? { ...result.data, warnings: result.warnings }
        : result.data;
    writeStdout(toJson(data) + "\n");
    return;
  }
  const text = terminalSafe(
    Array.isArray(result.text) ? result.text.join("\n") : result.text,
    { keepNewlines: true },
  );
  if (text.length > 0) writeStdout(text.endsWith("\n") ? text : text + "\n");
}

/**
 * Prints an error: one line for expected errors, the stack for bugs or under
 * `--debug`. Messages quote DIDs and values from files and peers, so the text
 * is terminal-safe, newlines included (no icn message has one), except in a
 * usage error (code "usage"), whose lines are the argument parser's own.
 */
export function printError(
  error: unknown,
  options: OutputOptions & { debug: boolean; code: string; exitCode: number },
): void {
  const message = error instanceof Error ? error.message : String(error);
  const safeMessage = terminalSafe(message, { keepNewlines: options.code === "usage" });
  const safeStack = (stack: string) => terminalSafe(stack, { keepNewlines: true });
  if (options.json) {
    const body: Record<string, unknown> = { error: { code: options.code, message } };
    if (error instanceof IcnError && "reason" in error) {
      (body.error as Record<string, unknown>).reason = (error as { reason: string }).reason;
    }
    writeStdout(toJson(body) + "\n");
  }
  const prefix = options.color ? "\x1b[31merror:\x1b[0m" : "error:";
  if (options.exitCode === exitCodes.failure || options.exitCode === exitCodes.usage) {
    writeStderr(`${prefix} ${safeMessage}\n`);
    if (options.debug && error instanceof Error && error.stack) {
      writeStderr(safeStack(error.stack) + "\n");
    }
    return;
  }
  writeStderr(`${prefix} internal error (a bug in icn, please report it): ${safeMessage}\n`);
  if (error instanceof Error && error.stack) writeStderr(safeStack(error.stack) + "\n");
}

/** Logger writing one line per event to stderr, text or JSON. */
export function createStderrLogger(options: { format: "text" | "json"; level: string }) {
  const levels = ["debug", "info", "warn", "error"];
  const min = Math.max(0, levels.indexOf(options.level));
  const log = (level: string) => (event: string, fields: Record<string, unknown> = {}) => {
    if (levels.indexOf(level) < min) return;
    const time = new Date().toISOString();
    if (options.format === "json") {
      writeStderr(
        JSON.stringify(
          { time, level, event, ...fields },
          (_k, v) => typeof v === "bigint" ? v.toString() : v,
        ) + "\n",
      );
    } else {
      const rest = Object.entries(fields).map(([k, v]) =>
        `${k}=${
          typeof v === "string"
            ? v
            : JSON.stringify(v, (_k, x) => typeof x === "bigint" ? x.toString() : x)
        }`
      ).join(" ");
      // Fields carry peers' values (addresses, agent strings, reasons): one safe line per event.
      writeStderr(
        terminalSafe(`${time} ${level.toUpperCase()} ${event}${rest ? " " + rest : ""}`) + "\n",
      );
    }
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}
