/**
 * Expected failures. An `IcnError` is something a caller handles (rejected,
 * not found, invalid); anything else escaping a command is a bug. Each has a
 * stable `code` that `--json` output carries.
 */
import { terminalSafe } from "./safe_text.ts";

export class IcnError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IcnError";
    this.code = code;
  }
}

/** Input that does not parse or is out of range: bad DID, bad amount, bad flag value. */
export class InvalidInputError extends IcnError {
  constructor(message: string, options?: ErrorOptions) {
    super("invalid_input", message, options);
    this.name = "InvalidInputError";
  }
}

/** Something looked up does not exist. */
export class NotFoundError extends IcnError {
  constructor(message: string, options?: ErrorOptions) {
    super("not_found", message, options);
    this.name = "NotFoundError";
  }
}

/** An existing thing would be overwritten. */
export class AlreadyExistsError extends IcnError {
  constructor(message: string, options?: ErrorOptions) {
    super("already_exists", message, options);
    this.name = "AlreadyExistsError";
  }
}

/** A signature does not verify. */
export class InvalidSignatureError extends IcnError {
  constructor(message: string, options?: ErrorOptions) {
    super("invalid_signature", message, options);
    this.name = "InvalidSignatureError";
  }
}

/** An envelope or bundle breaks a rule; `reason` is a stable machine-readable tag. */
export class RejectedError extends IcnError {
  readonly reason: string;
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super("rejected", message, options);
    this.name = "RejectedError";
    this.reason = reason;
  }
}

/** Two different envelopes at one (author, seq). */
export class ForkDetectedError extends RejectedError {
  constructor(message: string, options?: ErrorOptions) {
    super("fork", message, options);
    this.name = "ForkDetectedError";
  }
}

/** Wrong passphrase or a keystore that does not decrypt. */
export class KeystoreError extends IcnError {
  constructor(message: string, options?: ErrorOptions) {
    super("keystore", message, options);
    this.name = "KeystoreError";
  }
}

/** A DID with no known key event log. */
export class UnknownIdentityError extends NotFoundError {
  constructor(did: string) {
    super(`Unknown DID "${did}": no key event log for it in this store`);
    this.name = "UnknownIdentityError";
  }
}

/** A payer would pass their credit limit. */
export class InsufficientCreditError extends RejectedError {
  constructor(message: string) {
    super("credit_limit", message);
    this.name = "InsufficientCreditError";
  }
}

/** A concurrent writer won; the operation may be retried. */
export class ConflictError extends IcnError {
  constructor(message: string, options?: ErrorOptions) {
    super("conflict", message, options);
    this.name = "ConflictError";
  }
}

/** The store cannot be written: the disk is full, the file system is read-only. */
export class StoreUnavailableError extends IcnError {
  constructor(message: string, options?: ErrorOptions) {
    super("store_unavailable", message, options);
    this.name = "StoreUnavailableError";
  }
}

/** A failed invariant: a bug, never an expected condition. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Invariant check. Throws `AssertionError` (a bug) when `condition` is false. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Characters of a value an error message shows by default: a DID or a file name fits, on one line. */
const shownLengthDefault = 64;

/**
 * A value as error messages show it: `String(value)` cut to `max` characters,
 * with what a terminal would act on (escape sequences, bidi controls,
 * newlines) made visible (`terminalSafe()`), and never throwing (objects
 * without a prototype, or with a throwing `toString`, come from untrusted
 * input too).
 */
export function shown(value: unknown, max = shownLengthDefault): string {
  let text: string;
  try {
    text = String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  if (text.length <= max) return terminalSafe(text);
  // Cut before escaping (an escape is never cut in half), and not inside a surrogate pair.
  const end = /[\ud800-\udbff]/.test(text[max - 1]) ? max - 1 : max;
  return `${terminalSafe(text.slice(0, end))}...`;
}
