/**
 * Sybil admission at the connection layer, before a peer costs anything:
 *
 * - Connection diversity: one network prefix (an IPv4 /24, an IPv6 /48) may
 *   hold at most a share of this node's connections, so one host or data
 *   centre cannot fill them. Loopback, private and relayed addresses have no
 *   prefix (a LAN cooperative shares one /24); members are exempt.
 * - An optional memory-hard proof of work (Argon2id, difficulty from the
 *   genesis `network.admissionPow.*`): a peer that is not a member answers a
 *   fresh challenge before its hello is read. Solving takes 2^bits hashes on
 *   average, checking takes one.
 *
 * The proof runs over its own protocol (`/icn/admission/1.0.0`): the verifier
 * opens a stream, sends `{bits, iterations, memoryKib, nonce}` and reads
 * `{counter}`. Both are canonical DAG-CBOR, read bounded in size and time.
 */
import * as dagCbor from "@ipld/dag-cbor";
import type { Connection, Stream } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { argon2idAsync } from "@noble/hashes/argon2.js";
import { lpStream } from "@libp2p/utils";
import { utf8Encode } from "../core/bytes.ts";
import { RejectedError } from "../core/errors.ts";
import type { Params } from "../core/params.ts";
import { bytes, decodeCanonicalCbor, integer, natural, record } from "../core/strict.ts";

export const admissionProtocol = "/icn/admission/1.0.0";

// ---- connection diversity ----

/**
 * The prefix a remote address counts against, or null when it counts against none. Tests
 * inject their own to present loopback peers as coming from other networks.
 */
export type AddressClassifier = (remote: Multiaddr, peer: string) => string | null;

/** IPv4 /24 or IPv6 /48 of a public address; null for loopback, private, link-local, relayed. */
export function prefixKey(remote: Multiaddr): string | null {
  const components = remote.getComponents();
  if (components.some((c) => c.name === "p2p-circuit")) return null;
  const ip = components.find((c) => c.name === "ip4" || c.name === "ip6");
  if (!ip?.value) return null;
  if (ip.name === "ip4") return ipv4Prefix(ip.value);
  const groups = ipv6Groups(ip.value);
  if (!groups) return null;
  // IPv4-mapped (::ffff:a.b.c.d) counts as the IPv4 address.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return ipv4Prefix(
      `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`,
    );
  }
  if (groups.every((g, i) => g === 0 || (i === 7 && g === 1))) return null; // :: and ::1
  if ((groups[0] & 0xfe00) === 0xfc00) return null; // fc00::/7 unique local
  if ((groups[0] & 0xffc0) === 0xfe80) return null; // fe80::/10 link-local
  return `ip6:${groups.slice(0, 3).map((g) => g.toString(16)).join(":")}::/48`;
}

function ipv4Prefix(address: string): string | null {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    return null;
  }
  const [a, b] = parts;
  const local = a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127); // 100.64/10: carrier-grade NAT
  return local ? null : `ip4:${parts.slice(0, 3).join(".")}.0/24`;
}

/** The eight 16-bit groups of an IPv6 address, or null when it does not parse. */
function ipv6Groups(address: string): number[] | null {
  let text = address.split("%")[0];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const p = v4[1].split(".").map(Number);
    text = text.slice(0, -v4[1].length) +
      `${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return groups.map((g) => parseInt(g, 16));
}

/** Limits of connection diversity (from the node config). */
export interface DiversityLimits {
  /** Largest share of this node's connections one prefix may hold, in percent. */
  connectionsPerPrefixPercentMax: number;
  /** Connections one prefix may always hold, whatever the share (small networks). */
  connectionsPerPrefixMin: number;
}

/**
 * Whether one more connection from a prefix that already holds `samePrefix` of `total` open
 * connections keeps within the limits: after it, the prefix holds at most
 * max(min, ⌊(total + 1) · percent / 100⌋) connections.
 */
export function prefixShareAllowed(
  samePrefix: number,
  total: number,
  limits: DiversityLimits,
): boolean {
  const allowed = Math.max(
    limits.connectionsPerPrefixMin,
    Math.floor((total + 1) * limits.connectionsPerPrefixPercentMax / 100),
  );
  return samePrefix + 1 <= allowed;
}

// ---- proof of work ----

export interface PowParams {
  /** Leading zero bits the hash must have. */
  bits: number;
  /** Argon2id memory, KiB. */
  memoryKib: number;
  /** Argon2id passes. */
  iterations: number;
}

/** The genesis's admission proof of work, or null when it is off (`bits` 0). */
export function admissionPow(params: Params): PowParams | null {
  const bits = params["network.admissionPow.bits"] ?? 0;
  if (typeof bits !== "number" || bits <= 0) return null;
  const memoryKib = params["network.admissionPow.memoryKib"] ?? 4096;
  const iterations = params["network.admissionPow.iterations"] ?? 1;
  if (typeof memoryKib !== "number" || typeof iterations !== "number") {
    throw new TypeError("network.admissionPow parameters are not numbers");
  }
  return { bits, memoryKib, iterations };
}

/** One challenge: who proves to whom, in which network, against which fresh nonce. */
export interface PowChallenge {
  net: string;
  /** Peer id of the node that asks. */
  verifier: string;
  /** Peer id of the node that proves. */
  prover: string;
  /** 32 random bytes from the verifier (the Argon2id salt). */
  nonce: Uint8Array;
  pow: PowParams;
}

const powDomain = "icn/admission/v1\n";
/** Random bytes of a challenge. */
export const powNonceBytes = 32;
/** Largest challenge or answer message (both are under 100 bytes). */
const powMessageBytesMax = 256;
/**
 * Attempts a prover makes before giving up: 2^(bits + 6). The chance that a correct solver
 * needs more is e^-64: giving up means the challenge was not what it claimed.
 */
function attemptsMax(bits: number): number {
  return 2 ** (bits + 6);
}

function powPassword(challenge: PowChallenge, counter: number): Uint8Array {
  const context = dagCbor.encode({
    net: challenge.net,
    verifier: challenge.verifier,
    prover: challenge.prover,
    bits: challenge.pow.bits,
    memoryKib: challenge.pow.memoryKib,
    iterations: challenge.pow.iterations,
  });
  const domain = utf8Encode(powDomain);
  const out = new Uint8Array(domain.length + context.length + 8);
  out.set(domain);
  out.set(context, domain.length);
  new DataView(out.buffer).setBigUint64(domain.length + context.length, BigInt(counter));
  return out;
}

/** Argon2id of the challenge and a counter. */
export function powHash(challenge: PowChallenge, counter: number): Promise<Uint8Array> {
  return argon2idAsync(powPassword(challenge, counter), challenge.nonce, {
    t: challenge.pow.iterations,
    m: challenge.pow.memoryKib,
    p: 1,
    dkLen: 32,
    // Yields to the event loop while hashing, so the node keeps serving its peers.
    asyncTick: 10,
  });
}

export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const byte of hash) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** Whether `counter` solves the challenge: one Argon2id hash. */
export async function checkPow(challenge: PowChallenge, counter: number): Promise<boolean> {
  if (!Number.isSafeInteger(counter) || counter < 0) return false;
  return leadingZeroBits(await powHash(challenge, counter)) >= challenge.pow.bits;
}

/** Finds a counter that solves the challenge; throws when aborted or past the attempt bound. */
export async function solvePow(
  challenge: PowChallenge,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const max = attemptsMax(challenge.pow.bits);
  for (let counter = 0; counter < max; counter++) {
    options.signal?.throwIfAborted();
    if (leadingZeroBits(await powHash(challenge, counter)) >= challenge.pow.bits) return counter;
  }
  throw new RejectedError(
    "admission",
    `No proof of work found in ${max} attempts at ${challenge.pow.bits} bits`,
  );
}

// ---- the wire ----

const challengeShape = record({
  bits: integer({ min: 1, max: 24 }),
  iterations: integer({ min: 1, max: 8 }),
  memoryKib: integer({ min: 8, max: 262_144 }),
  nonce: bytes({ length: powNonceBytes }),
});
const answerShape = record({ counter: natural });

function refuse(message: string): Error {
  return new RejectedError("malformed", message);
}

/** Decodes a challenge strictly; throws `RejectedError("malformed")`. */
export function decodeChallenge(input: Uint8Array): { pow: PowParams; nonce: Uint8Array } {
  const { bits, iterations, memoryKib, nonce } = decodeCanonicalCbor(input, challengeShape, {
    what: "admission challenge",
    bytesMax: powMessageBytesMax,
    refuse,
  });
  return { pow: { bits, iterations, memoryKib }, nonce };
}

/** Decodes an answer strictly; throws `RejectedError("malformed")`. */
export function decodeAnswer(input: Uint8Array): number {
  return decodeCanonicalCbor(input, answerShape, {
    what: "admission answer",
    bytesMax: powMessageBytesMax,
    refuse,
  }).counter;
}

export type PowResult = "passed" | "failed" | "timeout";

/**
 * The verifier's side: sends a fresh challenge on a new stream and checks the answer, within
 * `timeoutMs` for the prover's work. `check` runs the one Argon2id hash (the node bounds how
 * many run at once).
 */
export async function challengePeer(
  connection: Connection,
  options: {
    net: string;
    verifier: string;
    pow: PowParams;
    timeoutMs: number;
    check?: (challenge: PowChallenge, counter: number) => Promise<boolean>;
  },
): Promise<PowResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const nonce = crypto.getRandomValues(new Uint8Array(powNonceBytes));
  const challenge: PowChallenge = {
    net: options.net,
    verifier: options.verifier,
    prover: connection.remotePeer.toString(),
    nonce,
    pow: options.pow,
  };
  let counter: number;
  try {
    const stream = await connection.newStream(admissionProtocol, { signal });
    const lp = lpStream(stream, { maxDataLength: powMessageBytesMax });
    await lp.write(dagCbor.encode({ ...options.pow, nonce }), { signal });
    counter = decodeAnswer((await lp.read({ signal })).subarray());
    await stream.close({ signal }).catch(() => stream.abort(new Error("close failed")));
  } catch {
    // A prover that refuses, resets the stream or answers malformed has failed.
    return signal.aborted ? "timeout" : "failed";
  }
  const ok = await (options.check ?? checkPow)(challenge, counter);
  return ok ? "passed" : "failed";
}

/**
 * The prover's side: answers one challenge on an inbound stream, after checking that it asks
 * for exactly this network's parameters (a verifier cannot make this node work harder).
 */
export async function answerChallenge(
  stream: Stream,
  connection: Connection,
  options: {
    net: string;
    prover: string;
    /** This node's own view of the network's proof of work; null refuses every challenge. */
    pow: PowParams | null;
    timeoutMs: number;
    solve?: (challenge: PowChallenge, signal: AbortSignal) => Promise<number>;
  },
): Promise<"solved" | "refused"> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const lp = lpStream(stream, { maxDataLength: powMessageBytesMax });
  try {
    const { pow, nonce } = decodeChallenge((await lp.read({ signal })).subarray());
    const own = options.pow;
    if (
      !own || own.bits !== pow.bits || own.memoryKib !== pow.memoryKib ||
      own.iterations !== pow.iterations
    ) {
      throw new RejectedError("admission", "Challenge does not match this network's parameters");
    }
    const challenge: PowChallenge = {
      net: options.net,
      verifier: connection.remotePeer.toString(),
      prover: options.prover,
      nonce,
      pow,
    };
    const counter = await (options.solve ?? ((c, s) => solvePow(c, { signal: s })))(
      challenge,
      signal,
    );
    await lp.write(dagCbor.encode({ counter }), { signal });
    await stream.close({ signal });
    return "solved";
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    return "refused";
  }
}

/**
 * Runs at most `inFlightMax` tasks at once (each Argon2id hash holds its memory while it runs);
 * at most `waitingMax` more wait, and any beyond are refused at once.
 */
export class Lane {
  readonly #inFlightMax: number;
  readonly #waitingMax: number;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limits: { inFlightMax: number; waitingMax: number }) {
    this.#inFlightMax = limits.inFlightMax;
    this.#waitingMax = limits.waitingMax;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.#inFlightMax) {
      if (this.#waiting.length >= this.#waitingMax) {
        throw new RejectedError("busy", `${this.#waiting.length} admission tasks already wait`);
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#inFlight++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes to the next task as it is; none waiting frees it.
      if (next) next();
      else this.#inFlight--;
    }
  }
}
