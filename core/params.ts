/**
 * Cooperative parameters: one flat, validated key space (`credit.baseline`,
 * `governance.text.quorum`, ...). The genesis holds every key with its value;
 * `genesis create --set` and accepted config proposals change them through
 * `parseParamValue`, the one parser. Each domain declares its own keys.
 */
import { InvalidInputError } from "./errors.ts";
import { governanceParams, upgradeParams } from "./governance/params.ts";
import { ledgerParams } from "./ledger/params.ts";
import { networkParams } from "./network_params.ts";
import { trustParams } from "./trust/params.ts";

export type ParamValue = number | string;

export interface ParamDef {
  key: string;
  /** int: integer; number: finite decimal; percent: 0–100; duration: ms from `30s`/`10m`/`7d`; enum: one of `values`. */
  type: "int" | "number" | "percent" | "duration" | "enum";
  default: ParamValue;
  min?: number;
  max?: number;
  values?: readonly string[];
  description: string;
  /**
   * When the key was added, for keys added after networks already existed: a genesis
   * without it means the default, which must be what those networks did before (so a
   * genesis made earlier still validates and keeps its meaning). Keys without it are
   * required in every genesis.
   */
  since?: string;
}

export type Params = Record<string, ParamValue>;

export const paramDefs: readonly ParamDef[] = [
  ...ledgerParams,
  ...trustParams,
  ...governanceParams,
  ...upgradeParams,
  ...networkParams,
];

/**
 * Digits of a parameter's whole part, and of its fraction: 15 digits always parse to the exact
 * integer (below 2^53), 6 decimals are finer than any parameter needs.
 */
const paramDigitsMax = 15;
const paramDecimalsMax = 6;
const intPattern = new RegExp(`^-?\\d{1,${paramDigitsMax}}$`);
const decimalPattern = new RegExp(`^-?\\d{1,${paramDigitsMax}}(\\.\\d{1,${paramDecimalsMax}})?$`);

const byKey = new Map(paramDefs.map((def) => [def.key, def]));

const durationUnitsMs: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Parses `30s`, `10m`, `2h`, `7d`, `1w`, `250ms`, or a plain number of seconds; returns milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,12})(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!match) {
    throw new InvalidInputError(
      `Cannot parse duration "${text}": use a whole number with a unit, like 30s, 10m, 2h or 7d`,
    );
  }
  const ms = Number(match[1]) * durationUnitsMs[match[2] ?? "s"];
  if (!Number.isSafeInteger(ms)) {
    throw new InvalidInputError(`Cannot parse duration "${text}": too long`);
  }
  return ms;
}

/** Renders milliseconds in the largest whole unit (`7d`, `90m`, `1500ms`). */
export function formatDuration(ms: number): string {
  for (const unit of ["w", "d", "h", "m", "s"]) {
    const size = durationUnitsMs[unit];
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms === 0 ? "0s" : `${ms}ms`;
}

export function getParamDef(key: string): ParamDef {
  const def = byKey.get(key);
  if (!def) {
    throw new InvalidInputError(
      `Unknown parameter "${key}": see \`icn governance genesis keys\` for the list`,
    );
  }
  return def;
}

/** Parses and validates a textual value for `key`. */
export function parseParamValue(key: string, text: string): ParamValue {
  const def = getParamDef(key);
  const fail = (why: string): never => {
    throw new InvalidInputError(`Cannot set "${key}" to "${text}": ${why}`);
  };
  let value: ParamValue;
  switch (def.type) {
    case "enum":
      if (!def.values?.includes(text)) fail(`expected one of ${def.values?.join(", ")}`);
      return text;
    case "duration":
      value = parseDuration(text);
      break;
    case "int":
      if (!intPattern.test(text)) fail("expected a whole number");
      value = Number(text);
      break;
    case "number":
    case "percent":
      if (!decimalPattern.test(text)) fail("expected a decimal number like 0.3");
      value = Number(text);
      break;
  }
  checkParamValue(def, value, fail);
  return value;
}

/** Checks `value` against `def` (type, range, enum values); `fail` builds the error. */
export function checkParamValue(
  def: ParamDef,
  value: ParamValue,
  fail: (why: string) => never,
): void {
  if (def.type === "enum") {
    if (typeof value !== "string" || !def.values?.includes(value)) {
      fail(`expected one of ${def.values?.join(", ")}`);
    }
    return;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) fail("expected a number");
  const n = value as number;
  if ((def.type === "int" || def.type === "duration") && !Number.isSafeInteger(n)) {
    fail("expected a whole number");
  }
  const min = def.min ?? (def.type === "percent" ? 0 : undefined);
  const max = def.max ?? (def.type === "percent" ? 100 : undefined);
  if (min !== undefined && n < min) fail(`must be at least ${min}`);
  if (max !== undefined && n > max) fail(`must be at most ${max}`);
}

/** Checks a stored value (from a genesis or proposal), throwing `InvalidInputError`. */
export function validateParam(key: string, value: unknown): ParamValue {
  const def = getParamDef(key);
  checkParamValue(def, value as ParamValue, (why) => {
    throw new InvalidInputError(
      `Parameter "${key}" has invalid value ${JSON.stringify(value)}: ${why}`,
    );
  });
  return value as ParamValue;
}

/** Keys every genesis must hold (those that existed before any network did). */
export function requiredParamKeys(): string[] {
  return paramDefs.filter((def) => def.since === undefined).map((def) => def.key);
}

/** Every key at its default value. */
export function defaultParams(): Params {
  const out: Params = {};
  for (const def of paramDefs) out[def.key] = def.default;
  return out;
}

/** Typed accessors that fail loudly on a missing key (a bug: genesis always holds every key). */
export function numberParam(params: Params, key: string): number {
  const value = params[key] ?? byKey.get(key)?.default;
  if (typeof value !== "number") throw new TypeError(`Parameter "${key}" is not a number`);
  return value;
}

export function stringParam(params: Params, key: string): string {
  const value = params[key] ?? byKey.get(key)?.default;
  if (typeof value !== "string") throw new TypeError(`Parameter "${key}" is not a string`);
  return value;
}
