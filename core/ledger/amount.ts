/**
 * Amounts: integers in a currency's minor units (bigint), parsed from and
 * printed as decimal strings with exactly the currency's decimals. No floats
 * anywhere, so `0.1 + 0.2` problems cannot reach a balance.
 */
import { assert, InvalidInputError } from "../errors.ts";

/**
 * Largest amount of one transfer, in minor units: 10^15 (10 trillion hours at
 * 2 decimals). Below 2^53, so an amount also fits a JSON number exactly, and
 * a million of them still fit a bigint balance with room to spare.
 */
export const amountMinorMax = 1_000_000_000_000_000n;
assert(
  Number.isSafeInteger(Number(amountMinorMax)),
  "amountMinorMax must fit a JSON number exactly",
);

/** `amountMinorMax` as a number, for parameter bounds (parameters are JSON numbers). */
export const amountMinorMaxNumber = Number(amountMinorMax);

/** Longest decimal string we try to parse; keeps hostile input from costing anything. */
const amountTextLengthMax = 40;

/** Parses `12.5` (decimals 2) into 1250n. Rejects zero, negatives, exponents, junk, excess decimals and amounts above the maximum. */
export function parseAmount(text: string, decimals: number, currency = "units"): bigint {
  const fail = (why: string): never => {
    throw new InvalidInputError(`Cannot use amount "${text}" ${currency}: ${why}`);
  };
  if (text.length > amountTextLengthMax) fail("too long");
  const trimmed = text.trim();
  if (trimmed.startsWith("-")) fail("amounts must be positive");
  if (/[eE]/.test(trimmed)) fail("exponent notation is not accepted, write the digits out");
  const match = /^(\d+)(?:\.(\d+))?$/.exec(trimmed);
  if (!match) fail("expected a decimal number like 12.5");
  const whole = match![1];
  const fraction = match![2] ?? "";
  if (fraction.length > decimals) {
    fail(
      decimals === 0
        ? `${currency} has no decimals`
        : `${currency} has ${decimals} decimal${decimals === 1 ? "" : "s"}`,
    );
  }
  const minor = BigInt(whole + fraction.padEnd(decimals, "0"));
  if (minor === 0n) fail("amounts must be greater than zero");
  if (minor > amountMinorMax) fail(`the maximum is ${formatAmount(amountMinorMax, decimals)}`);
  return minor;
}

/** Prints minor units with exactly `decimals` decimals: 1250n → `12.50`, -5n → `-0.05`. */
export function formatAmount(minor: bigint, decimals: number): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals);
  return `${negative ? "-" : ""}${whole}${decimals > 0 ? "." + fraction : ""}`;
}

/** Normalizes an amount from a decoded envelope body (number or bigint) to bigint, or undefined when it is not an integer. */
export function amountFromBody(value: unknown): bigint | undefined {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  return undefined;
}

/** The body form of an amount: a plain integer when it fits, so the encoding is canonical. */
export function amountToBody(minor: bigint): number | bigint {
  return minor <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(minor) : minor;
}
