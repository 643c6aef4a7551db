/**
 * The fuzzer's input generator: a seeded PRNG and mutations of valid
 * samples (bit flips, interesting bytes, truncation, deletion, duplication,
 * splicing of two samples), structure-aware mutations of decoded DAG-CBOR
 * and JSON values (a field dropped, added, or given a value of another type
 * or an edge value), and random bytes. Everything follows from the seed, so
 * a finding is reproduced by its seed and input number.
 */
import * as dagCbor from "@ipld/dag-cbor";

/** sfc32: small, fast, good enough for fuzzing, and seedable from one 32-bit number. */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d = 1;
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = seed >>> 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** How a target's samples are encoded, for structure-aware mutation. */
export type InputFormat = "cbor" | "json" | "text" | "bytes";

/** Bytes decoders tend to treat specially: CBOR headers, sign and length edges, ASCII syntax. */
const interestingBytes = [
  0x00,
  0x01,
  0x7f,
  0x80,
  0xff,
  0x18,
  0x19,
  0x1a,
  0x1b,
  0x1f,
  0x3b,
  0x5f,
  0x7b,
  0x9f,
  0xbf,
  0xd8,
  0x2a,
  0xf4,
  0xf5,
  0xf6,
  0xf7,
  0xf9,
  0xfa,
  0xfb,
  0x22,
  0x5c,
  0x5b,
  0x5d,
  0x7d,
  0x0a,
  0x3d,
  0x2d,
];

/** Text that parsers of JSON, TOML and line formats have got wrong before. */
const interestingText = [
  '"__proto__"',
  '{"__proto__":{}}',
  "null",
  "[]",
  "{}",
  "-1",
  "-0",
  "1e400",
  "9007199254740993",
  "0.5",
  '""',
  '"\u202e"',
  "\u001b[2J",
  "\r\n",
  "[".repeat(2000),
  "true",
  "=",
  "[[a]]",
  "\uFEFF",
  "\\u0000",
];

function spliceBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One byte-level mutation of `input` (a new array; `input` is left alone). */
function mutateBytesOnce(random: Random, input: Uint8Array, other: Uint8Array): Uint8Array {
  const n = input.length;
  const at = random.below(n + 1);
  switch (random.below(9)) {
    case 0: { // flip 1-8 bits
      const out = input.slice();
      if (n === 0) return out;
      for (let i = 1 + random.below(8); i > 0; i--) {
        out[random.below(n)] ^= 1 << random.below(8);
      }
      return out;
    }
    case 1: { // interesting bytes
      const out = input.slice();
      if (n === 0) return Uint8Array.of(random.pick(interestingBytes));
      for (let i = 1 + random.below(3); i > 0; i--) {
        out[random.below(n)] = random.pick(interestingBytes);
      }
      return out;
    }
    case 2: // truncate
      return input.slice(0, random.below(n));
    case 3: { // delete a range
      const length = 1 + random.below(Math.max(1, n >> 3));
      return spliceBytes(input.subarray(0, at), input.subarray(at + length));
    }
    case 4: { // duplicate a range in place
      const length = 1 + random.below(Math.min(256, Math.max(1, n)));
      const from = random.below(Math.max(1, n - length));
      return spliceBytes(
        input.subarray(0, at),
        input.subarray(from, from + length),
        input.subarray(at),
      );
    }
    case 5: { // splice with another sample
      const cut = random.below(other.length + 1);
      return spliceBytes(input.subarray(0, at), other.subarray(cut));
    }
    case 6: // insert random bytes
      return spliceBytes(
        input.subarray(0, at),
        random.bytes(1 + random.below(16)),
        input.subarray(at),
      );
    case 7: { // insert interesting text
      const text = new TextEncoder().encode(random.pick(interestingText));
      return spliceBytes(input.subarray(0, at), text, input.subarray(at));
    }
    default: { // overwrite a 32- or 64-bit field with an edge value
      const out = input.slice();
      if (n < 8) return out;
      const offset = random.below(n - 7);
      const edge = random.pick([0x00, 0xff, 0x7f, 0x80]);
      out.fill(edge, offset, offset + random.pick([4, 8]));
      return out;
    }
  }
}

/** 1-4 stacked byte-level mutations. */
export function mutateBytes(random: Random, input: Uint8Array, other: Uint8Array): Uint8Array {
  let out = input;
  for (let i = 1 + random.below(4); i > 0; i--) out = mutateBytesOnce(random, out, other);
  return out;
}

/** A value of a random type, biased to edges (for structure-aware mutation). */
function randomValue(random: Random, format: "cbor" | "json", depth = 0): unknown {
  const choices = format === "cbor" ? 12 : 10;
  switch (random.below(depth > 2 ? 8 : choices)) {
    case 0:
      return random.pick([0, -1, 1, 2 ** 53, -(2 ** 53), 255, 256, 65536, 2 ** 32]);
    case 1:
      return random.pick([0.5, -0.5, 1e300, -1e-300]);
    case 2:
      return random.pick(["", "a", "did:icn:z", "x".repeat(5000), "\u202e", "kel", "1.0.0"]);
    case 3:
      return random.chance(0.5);
    case 4:
      return null;
    case 5:
      return random.pick(["ed25519", "ml-dsa-65", "heads", "range", "icn-identity-backup"]);
    case 6:
      return random.below(1_000_000);
    case 7:
      return String(random.next());
    case 8:
      return Array.from({ length: random.below(4) }, () => randomValue(random, format, depth + 1));
    case 9:
      return Object.fromEntries(
        Array.from(
          { length: random.below(3) },
          (_, i) => [`k${i}`, randomValue(random, format, depth + 1)],
        ),
      );
    case 10:
      return random.bytes(random.pick([0, 1, 31, 32, 33, 64, 65, 1952, 3309]));
    default:
      return BigInt(2 ** 53) * BigInt(1 + random.below(1000));
  }
}

/** Every (container, key) inside a value, for picking one to change. */
function slots(value: unknown, out: [Record<string | number, unknown>, string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push([value as unknown as Record<number, unknown>, i]);
      slots(item, out);
    });
  } else if (
    typeof value === "object" && value !== null && !(value instanceof Uint8Array) &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    for (const [key, item] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, key]);
      slots(item, out);
    }
  }
  return out;
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  return value instanceof Uint8Array ? [...value] : value;
}

/** A structure-aware mutation: decode, change one place, re-encode; null when it does not decode. */
export function mutateStructure(
  random: Random,
  input: Uint8Array,
  format: "cbor" | "json",
): Uint8Array | null {
  let value: unknown;
  try {
    value = format === "cbor" ? dagCbor.decode(input) : JSON.parse(new TextDecoder().decode(input));
  } catch {
    return null;
  }
  const places = slots(value);
  if (places.length === 0) return null;
  for (let i = 1 + random.below(2); i > 0; i--) {
    const [container, key] = random.pick(places);
    const action = random.below(4);
    if (action === 0 && !Array.isArray(container)) {
      delete container[key];
    } else if (action === 1 && !Array.isArray(container)) {
      // defineProperty: "__proto__" becomes an own field, as JSON.parse and DAG-CBOR make it.
      Object.defineProperty(container, random.pick(["extra", "__proto__", "sigs", "v", "t"]), {
        value: randomValue(random, format),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else if (action === 2 && Array.isArray(container)) {
      const list = container as unknown as unknown[];
      if (random.chance(0.5)) list.push(list[random.below(list.length)]);
      else list.splice(random.below(list.length), 1);
    } else {
      container[key] = randomValue(random, format);
    }
  }
  try {
    return format === "cbor"
      ? dagCbor.encode(value)
      : new TextEncoder().encode(JSON.stringify(value, jsonSafe));
  } catch {
    return null;
  }
}

/** One input for a target: mostly mutated samples, some structure-aware, some random bytes. */
export function nextInput(
  random: Random,
  samples: readonly Uint8Array[],
  format: InputFormat,
  structuredShare = 0.35,
): Uint8Array {
  const sample = samples.length > 0 ? random.pick(samples) : new Uint8Array(0);
  const roll = random.below(100);
  if (roll < 5) return random.bytes(random.below(random.chance(0.9) ? 256 : 8192));
  if (roll < 5 + structuredShare * 100 && (format === "cbor" || format === "json")) {
    const structured = mutateStructure(random, sample, format);
    if (structured) {
      return random.chance(0.2) ? mutateBytes(random, structured, sample) : structured;
    }
  }
  const other = samples.length > 0 ? random.pick(samples) : sample;
  return mutateBytes(random, sample, other);
}
