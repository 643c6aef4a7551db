/**
 * The shapes of strict decoding (see `strict.ts`) and the strict UTF-8 and JSON decoders:
 * everything of it but DAG-CBOR, so a reader of JSON files (the CLI's read path) does not load
 * the CBOR codec. `strict.ts` re-exports all of it; import from there unless that matters.
 */
import { fromBase64, toBase64 } from "./bytes.ts";
import { InvalidInputError, shown } from "./errors.ts";
import { isDid } from "./identity/did.ts";

/** Checks an untrusted value and returns it typed; throws `ShapeError` naming the path. */
export type Shape<T> = (value: unknown, path: string) => T;

/** The type a shape produces. */
export type ShapeOf<S> = S extends Shape<infer T> ? T : never;

/** A value that does not match its shape; `path` names the field (`$.sigs[0].alg`). */
export class ShapeError extends InvalidInputError {
  readonly path: string;
  constructor(path: string, why: string) {
    super(`${path} ${why}`);
    this.name = "ShapeError";
    this.path = path;
  }
}

function mismatch(path: string, why: string): never {
  throw new ShapeError(path, why);
}

/** A string of `min`..`max` UTF-16 code units, optionally matching `pattern`. */
export function string(
  options: { max: number; min?: number; pattern?: RegExp } = { max: 1024 },
): Shape<string> {
  return (value, path) => {
    if (typeof value !== "string") return mismatch(path, "must be a string");
    if (value.length < (options.min ?? 0) || value.length > options.max) {
      return mismatch(path, `must be ${options.min ?? 0} to ${options.max} characters`);
    }
    if (options.pattern && !options.pattern.test(value)) {
      return mismatch(path, `has an unexpected form ("${shown(value, 40)}")`);
    }
    return value;
  };
}

/** A safe integer in [min, max] (a JavaScript number: DAG-CBOR decodes larger ones as bigint). */
export function integer(options: { min: number; max: number }): Shape<number> {
  return (value, path) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      return mismatch(path, "must be an integer");
    }
    if (value < options.min || value > options.max) {
      return mismatch(path, `must be from ${options.min} to ${options.max}`);
    }
    return value;
  };
}

/** A non-negative safe integer: a time in ms since the epoch, a count, a position. */
export const natural: Shape<number> = integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

/** Largest time a JavaScript Date holds (ms since the epoch, ECMA-262): later ones cannot be shown. */
export const timeMsMax = 8_640_000_000_000_000;

/** A time in ms since the epoch that can be shown as a date (`toISOString()` throws past `timeMsMax`). */
export const timestamp: Shape<number> = integer({ min: 0, max: timeMsMax });

export const boolean: Shape<boolean> = (value, path) =>
  typeof value === "boolean" ? value : mismatch(path, "must be true or false");

/** Bytes of exactly `length`, or of at most `max`. */
export function bytes(options: { length?: number; max?: number }): Shape<Uint8Array> {
  return (value, path) => {
    if (!(value instanceof Uint8Array)) return mismatch(path, "must be bytes");
    if (options.length !== undefined && value.length !== options.length) {
      return mismatch(path, `must be ${options.length} bytes`);
    }
    if (options.max !== undefined && value.length > options.max) {
      return mismatch(path, `must be at most ${options.max} bytes`);
    }
    return value;
  };
}

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Standard padded base64 text of at most `max` bytes (or exactly `length`),
 * decoded; only the canonical spelling (no whitespace, zero padding bits).
 */
export function base64(options: { length?: number; max?: number }): Shape<Uint8Array> {
  const max = options.length ?? options.max ?? Infinity;
  return (value, path) => {
    if (typeof value !== "string") return mismatch(path, "must be base64 text");
    if (value.length > Math.ceil(max / 3) * 4) {
      return mismatch(path, `must be at most ${max} bytes`);
    }
    if (!base64Pattern.test(value)) return mismatch(path, "is not canonical base64");
    const decoded = fromBase64(value);
    if (toBase64(decoded) !== value) return mismatch(path, "is not canonical base64");
    return bytes(options)(decoded, path);
  };
}

/** Exactly one of the given primitive values. */
export function literal<const T extends readonly (string | number | boolean | null)[]>(
  ...values: T
): Shape<T[number]> {
  return (value, path) =>
    values.includes(value as T[number])
      ? value as T[number]
      : mismatch(path, `must be ${values.map((v) => JSON.stringify(v)).join(" or ")}`);
}

/** A canonical `did:icn:z…` DID. */
export const did: Shape<string> = (value, path) =>
  isDid(value) ? value : mismatch(path, `is not a valid DID ("${shown(value, 80)}")`);

export function nullable<T>(shape: Shape<T>): Shape<T | null> {
  return (value, path) => value === null ? null : shape(value, path);
}

/** An array of `min`..`max` items, each matching `item`. */
export function array<T>(item: Shape<T>, options: { max: number; min?: number }): Shape<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) return mismatch(path, "must be a list");
    if (value.length < (options.min ?? 0) || value.length > options.max) {
      return mismatch(path, `must hold ${options.min ?? 0} to ${options.max} items`);
    }
    return value.map((v, i) => item(v, `${path}[${i}]`));
  };
}

/** A fixed-length array whose items match `items` in order. */
export function tuple<const T extends readonly Shape<unknown>[]>(
  ...items: T
): Shape<{ -readonly [K in keyof T]: ShapeOf<T[K]> }> {
  return (value, path) => {
    if (!Array.isArray(value) || value.length !== items.length) {
      return mismatch(path, `must be a list of ${items.length} items`);
    }
    return items.map((shape, i) => shape(value[i], `${path}[${i}]`)) as {
      -readonly [K in keyof T]: ShapeOf<T[K]>;
    };
  };
}

/** True for the maps JSON.parse and DAG-CBOR produce (no arrays, bytes, CIDs or class instances). */
export function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

type Fields = Record<string, Shape<unknown>>;
type Required<F extends Fields> = { [K in keyof F]: ShapeOf<F[K]> };
type Optional<F extends Fields> = { [K in keyof F]?: ShapeOf<F[K]> };

/**
 * A map with exactly the `required` fields and any of the `optional` ones:
 * an unknown field is refused, so a signed or hashed value cannot carry
 * anything its checks did not look at.
 */
export function record<R extends Fields, O extends Fields = Record<never, never>>(
  required: R,
  optional?: O,
): Shape<Required<R> & Optional<O>> {
  return (value, path) => {
    if (!isPlainMap(value)) return mismatch(path, "must be a map");
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(required, key) && !(optional && Object.hasOwn(optional, key))) {
        mismatch(path, `has an unexpected field "${shown(key, 40)}"`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, shape] of Object.entries(required)) {
      if (!Object.hasOwn(value, key)) mismatch(path, `is missing the field "${key}"`);
      out[key] = shape(value[key], `${path}.${key}`);
    }
    for (const [key, shape] of Object.entries(optional ?? {})) {
      if (Object.hasOwn(value, key) && value[key] !== undefined) {
        out[key] = shape(value[key], `${path}.${key}`);
      }
    }
    return out as Required<R> & Optional<O>;
  };
}

/** One of several record shapes, chosen by the string in field `tag`. */
export function variant<T extends Record<string, Shape<unknown>>>(
  tag: string,
  shapes: T,
): Shape<ShapeOf<T[keyof T]>> {
  return (value, path) => {
    if (!isPlainMap(value)) return mismatch(path, "must be a map");
    const name = value[tag];
    if (typeof name !== "string" || !Object.hasOwn(shapes, name)) {
      return mismatch(`${path}.${tag}`, `must be one of ${Object.keys(shapes).join(", ")}`);
    }
    return shapes[name](value, path) as ShapeOf<T[keyof T]>;
  };
}

/** Options of the strict decoders: what the input is (for messages) and how to refuse it. */
export interface StrictOptions {
  /** Named in messages: "Cannot read {what}: ...". */
  what: string;
  /** Builds the error for a refusal; `InvalidInputError` by default. */
  refuse?: (message: string) => Error;
}

/** Refuses input with `options`' error: "Cannot read {what}: {why}" (for `strict.ts`'s decoders too). */
export function refusal(options: StrictOptions, why: string): never {
  const message = `Cannot read ${options.what}: ${why}`;
  throw options.refuse ? options.refuse(message) : new InvalidInputError(message);
}

/** Checks `value` against `shape`; a mismatch is refused with the path and reason. */
export function checkShape<T>(shape: Shape<T>, value: unknown, options: StrictOptions): T {
  try {
    return shape(value, "$");
  } catch (error) {
    if (error instanceof ShapeError) refusal(options, error.message);
    throw error;
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Decodes UTF-8 text strictly: at most `bytesMax` bytes (checked before
 * decoding) and well-formed (no U+FFFD substituted for bad bytes).
 */
export function decodeUtf8Strict(input: Uint8Array, options: StrictOptions & { bytesMax: number }) {
  if (input.length > options.bytesMax) {
    refusal(options, `${input.length} bytes, the limit is ${options.bytesMax}`);
  }
  try {
    return strictUtf8.decode(input);
  } catch {
    return refusal(options, "not valid UTF-8 text");
  }
}

/**
 * Parses JSON strictly: at most `bytesMax` bytes of UTF-8 (checked before
 * parsing; a string is measured by its UTF-8 length) and matching `shape`.
 */
export function parseJsonStrict<T>(
  input: Uint8Array | string,
  shape: Shape<T>,
  options: StrictOptions & { bytesMax: number },
): T {
  let text: string;
  if (typeof input === "string") {
    // A UTF-16 code unit is at most 3 UTF-8 bytes: only long strings need measuring exactly.
    if (input.length * 3 > options.bytesMax) {
      const size = new TextEncoder().encode(input).length;
      if (size > options.bytesMax) {
        refusal(options, `${size} bytes, the limit is ${options.bytesMax}`);
      }
    }
    text = input;
  } else {
    text = decodeUtf8Strict(input, options);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    refusal(options, `not valid JSON (${shown((error as Error)?.message, 120)})`);
  }
  return checkShape(shape, value, options);
}
