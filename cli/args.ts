/**
 * Parsers for option values, attached where an option is declared (commander's `argParser`),
 * so each value is parsed once, into its type, before any handler runs or any store opens;
 * handlers receive the typed value. A bad value is refused with an `InvalidInputError` naming
 * the option and the value: exit 1, the code and message a handler's own check gave before.
 *
 * What needs I/O stays with the handler: an amount's decimals and maximum depend on the
 * currency in the genesis (core's `parseAmount`), a currency code is looked up in the genesis,
 * and a contact name or a DID prefix becomes a DID by reading the contacts and the store
 * (`resolveDid`; `didArg` refuses here what needs no reading).
 */
import { InvalidInputError } from "../core/errors.ts";
import { isTransferId, memoBytesMax, transferIdRule } from "../core/ledger/rules.ts";
import { parseDuration } from "../core/params.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { checkDidText } from "./did_text.ts";
import { isDuration, parseDate } from "./dates.ts";

/**
 * Largest `--offset`: a billion entries is past the end of any list icn keeps, and the value
 * stays a small integer (nine digits are parsed, no more).
 */
export const offsetMax = 1_000_000_000;

/**
 * How long a recovery request or attestation stays valid when `--expires` is not given. A
 * default the handler applies (commander's own default would skip the parser, and the help
 * would show milliseconds).
 */
export const recoveryValidityMsDefault = 7 * 86_400_000;

/** Longest whole number read from the command line, in digits (`offsetMax` has ten). */
const wholeNumberDigitsMax = 10;

/** A parser for a whole number option from `min` to `max` (`--limit`, `--offset`, ports). */
export function wholeNumberArg(flag: string, min: number, max: number): (text: string) => number {
  return (text) => {
    const n = text.length <= wholeNumberDigitsMax && /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidInputError(
        `Cannot use ${flag} "${text}": expected a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/**
 * A parser for a value that names a member (an option or an argument): a whole DID, a contact
 * name or a DID prefix long enough to look up. A malformed DID or a short prefix is refused
 * here, with `resolveDid`'s message; the handler resolves the rest. `what` names the value
 * in messages as the handler's `resolveDid` call does (`--to`, `member`).
 */
export function didArg(what: string): (text: string) => string {
  return (text) => {
    checkDidText(text, { what });
    return text;
  };
}

/** A parser for a duration option (`30s`, `10m`, `7d`) into milliseconds, at least `minMs`. */
export function durationArg(flag: string, minMs = 0): (text: string) => number {
  return (text) => {
    const ms = parseDuration(text);
    if (ms < minMs) {
      throw new InvalidInputError(
        `Cannot use ${flag} "${text}": use at least ${
          minMs < 1000 ? `${minMs}ms` : `${minMs / 1000}s`
        }`,
      );
    }
    return ms;
  };
}

/** A moment given as a date, or as a duration from when the command runs. */
export type When = { at: number } | { afterMs: number };

/** The epoch milliseconds `when` names, with `now` the command's clock. */
export function resolveWhen(when: When, now: number): number {
  return "at" in when ? when.at : now + when.afterMs;
}

/**
 * A parser for options that take a date or a duration from now (`--deadline`, `--expires`):
 * a duration is kept as such (the handler adds it to its clock), a date is checked
 * (`parseDate` refuses impossible ones) and kept as epoch milliseconds.
 */
export function whenArg(flag: string): (text: string) => When {
  return (text) =>
    isDuration(text) ? { afterMs: parseDuration(text) } : { at: parseDate(text, flag) };
}

/**
 * A parser for an option that takes one of `choices`, compared without case when
 * `ignoreCase`; returns the choice as listed.
 */
export function choiceArg<T extends string>(
  what: string,
  choices: readonly T[],
  options: { ignoreCase?: boolean } = {},
): (text: string) => T {
  return (text) => {
    const found = choices.find((c) =>
      options.ignoreCase ? c.toLowerCase() === text.toLowerCase() : c === text
    );
    if (found === undefined) {
      throw new InvalidInputError(`Unknown ${what} "${text}": use one of ${choices.join(", ")}`);
    }
    return found;
  };
}

/** A parser for free text of at most `bytesMax` UTF-8 bytes (a memo). */
export function textBytesArg(what: string, bytesMax: number): (text: string) => string {
  return (text) => {
    if (new TextEncoder().encode(text).length > bytesMax) {
      throw new InvalidInputError(`Cannot use this ${what}: it is longer than ${bytesMax} bytes`);
    }
    return text;
  };
}

/** A parser for free text of at most `lengthMax` characters (a label, a title). */
export function textLengthArg(what: string, lengthMax: number): (text: string) => string {
  return (text) => {
    if (text.length > lengthMax) {
      throw new InvalidInputError(`Cannot use the ${what}: longer than ${lengthMax} characters`);
    }
    return text;
  };
}

/** `ledger transfer --memo`: at most `memoBytesMax` bytes, as the ledger's rules allow. */
export const memoArg: (text: string) => string = textBytesArg("memo", memoBytesMax);

/** `ledger transfer --id`: an idempotency key the ledger's rules accept (`transferIdRule`). */
export function transferIdArg(text: string): string {
  if (!isTransferId(text)) {
    throw new InvalidInputError(`Cannot use transfer id "${text}": use ${transferIdRule}`);
  }
  return text;
}

/** Longest `--net` value: a network id is a CID of about 60 characters; names are short. */
export const netSelectionLengthMax = 200;

/**
 * `--net`: a joined network's name, id or a unique start of its id. Only its shape is checked
 * here; which network it names is looked up in the home store when the command first opens a
 * store (cli/networks.ts), so an unknown one is a usage error listing the joined networks.
 */
export function netArg(text: string): string {
  if (text.length === 0 || text.length > netSelectionLengthMax || terminalSafe(text) !== text) {
    throw new InvalidInputError(
      `Cannot use --net "${
        terminalSafe(text.slice(0, 40))
      }": give a network name or id of 1 to ${netSelectionLengthMax} printable characters`,
    );
  }
  return text;
}
