/**
 * The load generator: simulated members sign in (challenge → EdDSA JWT), then each loops
 * "pick an operation by the mix, do it, think", while a controller ramps the number of active
 * members phase by phase. Writes are prepare → Ed25519 signature with the member's own key →
 * submit, as an app does. Everything is bounded: each request by a timeout, the run by its
 * phases plus a grace period after which in-flight requests are aborted.
 */
import { fromBase64, toBase64 } from "../../core/bytes.ts";
import { signEd25519 } from "../../core/identity/keys.ts";
import type { TestIdentity } from "../../core/testing.ts";
import { type Operation, pickOperation, thinkTime } from "./mix.ts";
import type { Scenario } from "./scenarios.ts";
import type { PhaseWindow, Sample } from "./stats.ts";

const encoder = new TextEncoder();
export const scopes = ["read", "ledger:write", "trust:write"];

/** A distinct client address for member `i`, sent as `X-Forwarded-For` (see cluster.ts). */
export function clientAddress(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

export interface Member {
  index: number;
  identity: TestIdentity;
  /** The gateway's API base, `http://HOST:PORT/api/v1`. */
  api: string;
  token: string;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  /** The `Retry-After` header in seconds, when the answer carried one. */
  retryAfterS?: number;
}

/**
 * Retries per operation after a retryable answer: `409 stale_chain` (the member's chain moved on
 * since the envelope was prepared: prepare again and sign the new one) and `503 overloaded` (the
 * gateway shed the request before doing anything). Bounded so a saturated gateway still shows up
 * as failures rather than as an ever longer operation.
 */
export const retriesMax = 3;
/** First backoff, ms; doubled on each retry, with jitter, and at least the answer's Retry-After. */
export const retryBackoffBaseMs = 200;
/** Longest single backoff, ms (a `Retry-After` above it is capped here too). */
export const retryBackoffMaxMs = 2000;

/** The retryable answers, named as the report counts them; undefined for any other answer. */
export function retryableCode(status: number, code: string | undefined): string | undefined {
  if (status === 409 && code === "stale_chain") return "409 stale_chain";
  if (status === 503 && code === "overloaded") return "503 overloaded";
  return undefined;
}

/** The wait before retry number `attempt` (0-based): exponential, jittered, honours Retry-After. */
export function backoffMs(attempt: number, retryAfterS: number | undefined, random: () => number) {
  const exponential = Math.min(retryBackoffMaxMs, retryBackoffBaseMs * 2 ** attempt);
  const jittered = exponential * (0.5 + random() / 2);
  const floor = retryAfterS === undefined ? 0 : Math.min(retryBackoffMaxMs, retryAfterS * 1000);
  return Math.max(jittered, floor);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

async function call(
  url: string,
  init: { method?: string; token?: string; body?: unknown; address?: string },
  signal: AbortSignal,
): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.address !== undefined) headers["x-forwarded-for"] = init.address;
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal,
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept empty
  }
  const retryAfter = Number(response.headers.get("retry-after") ?? NaN);
  return {
    status: response.status,
    body,
    ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterS: retryAfter } : {}),
  };
}

function codeOf(answer: Answer): string | undefined {
  const error = answer.body.error as { code?: unknown } | undefined;
  return typeof error?.code === "string" ? error.code : undefined;
}

function errorCode(answer: Answer): string {
  const code = codeOf(answer);
  return code === undefined ? "" : ` ${code}`;
}

/**
 * Signs member `index` in at `api`: asks a challenge, signs its message, redeems it. A 429 is
 * waited out (its `Retry-After`) until `deadline`; anything else that fails throws.
 */
export async function signIn(
  api: string,
  identity: TestIdentity,
  index: number,
  deadline: number,
): Promise<string> {
  const address = clientAddress(index);
  for (;;) {
    const signal = AbortSignal.timeout(Math.max(1000, Math.min(30_000, deadline - Date.now())));
    const challenge = await call(`${api}/auth/challenge`, {
      body: { did: identity.did, scopes },
      address,
    }, signal);
    let answer = challenge;
    if (challenge.status === 200) {
      const sig = await signEd25519(
        identity.ed25519,
        encoder.encode(String(challenge.body.message)),
      );
      answer = await call(`${api}/auth/token`, {
        body: { did: identity.did, nonce: challenge.body.nonce, signature: toBase64(sig) },
        address,
      }, signal);
      if (answer.status === 200) return String(answer.body.token);
    }
    if (answer.status !== 429 || Date.now() >= deadline) {
      throw new Error(
        `sign-in of member ${index} (${identity.did}) at ${api}: ${answer.status}${
          errorCode(answer)
        } ${JSON.stringify(answer.body)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Does one operation of the mix for `member`; the sample's `t` is set by the caller. A retryable
 * answer (`retryableCode`) is retried up to `retriesMax` times after `backoffMs`, a write from a
 * fresh prepare; the retries are counted in the sample, and the latency covers them all. Each
 * HTTP request has its own timeout (`limits.requestTimeoutMs`, `timeout` when it passes); `run`
 * aborts everything, backoffs included.
 */
export async function runOperation(
  op: Operation,
  member: Member,
  others: readonly TestIdentity[],
  currency: string,
  limits: { run: AbortSignal; requestTimeoutMs: number },
  random: () => number = Math.random,
): Promise<Omit<Sample, "t">> {
  const signal = limits.run;
  /** A fresh timeout for each request, on top of the run's abort. */
  const requestSignal = () =>
    AbortSignal.any([signal, AbortSignal.timeout(limits.requestTimeoutMs)]);
  const started = performance.now();
  let requests = 0;
  const retries: Record<string, number> = {};
  const done = (status: string): Omit<Sample, "t"> => ({
    op,
    ms: performance.now() - started,
    status,
    requests,
    ...(Object.keys(retries).length > 0 ? { retries } : {}),
  });
  const failed = (answer: Answer) => done(`${answer.status}${errorCode(answer)}`);
  /** One attempt: the final answer, or the 200 body of a submit. */
  const attempt = async (): Promise<Answer> => {
    if (op === "balance") {
      requests++;
      return await call(
        `${member.api}/accounts/${member.identity.did}/balance`,
        { token: member.token },
        requestSignal(),
      );
    }
    const to = others[Math.floor(random() * others.length)].did;
    const request = op === "trust.edge"
      ? { kind: op, body: { to, score: 500 + Math.floor(random() * 501), graph: "economic" } }
      : { kind: op, body: { to, amount: 1 + Math.floor(random() * 100), currency } };
    requests++;
    const prepared = await call(
      `${member.api}/prepare`,
      { token: member.token, body: request },
      requestSignal(),
    );
    if (prepared.status !== 200) return prepared;
    const sig = await signEd25519(
      member.identity.ed25519,
      fromBase64(String(prepared.body.signingBytes)),
    );
    requests++;
    return await call(`${member.api}/envelopes`, {
      token: member.token,
      body: {
        envelope: {
          ...(prepared.body.envelope as Record<string, unknown>),
          sigs: [{ alg: "ed25519", sig: toBase64(sig) }],
        },
      },
    }, requestSignal());
  };
  try {
    for (let tries = 0;; tries++) {
      const answer = await attempt();
      const retryable = retryableCode(answer.status, codeOf(answer));
      if (retryable !== undefined && tries < retriesMax) {
        retries[retryable] = (retries[retryable] ?? 0) + 1;
        await pause(backoffMs(tries, answer.retryAfterS, random), signal);
        continue;
      }
      if (answer.status !== 200) return failed(answer);
      if (op === "balance") return done("ok");
      const outcome = (answer.body.outcome as { status?: string } | undefined)?.status;
      return outcome === "accepted" ? done("ok") : done(`200 ${outcome ?? "no outcome"}`);
    }
  } catch (error) {
    const name = (error as Error).name;
    return done(name === "TimeoutError" || name === "AbortError" ? "timeout" : "network");
  }
}

export interface DriveOptions {
  scenario: Scenario;
  members: Member[];
  currency: string;
  /** Each request's timeout, ms. */
  requestTimeoutMs: number;
  /** After the last phase, how long in-flight operations may finish before they are aborted. */
  graceMs: number;
  log: (line: string) => void;
}

export interface DriveResult {
  samples: Sample[];
  windows: PhaseWindow[];
  /** Run length, ms (the last phase's end). */
  endMs: number;
  /** Active members over time: [ms, users] at every change. */
  users: [number, number][];
}

function sleep(ms: number, stop: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
    stop,
  ]).finally(() => clearTimeout(timer));
}

/** Runs the scenario's phases; returns every operation's sample. */
export async function drive(options: DriveOptions): Promise<DriveResult> {
  const { scenario, members } = options;
  const samples: Sample[] = [];
  const windows: PhaseWindow[] = [];
  const users: [number, number][] = [[0, 0]];
  const abort = new AbortController();
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const identities = members.map((m) => m.identity);

  interface Worker {
    index: number;
    stop: () => void;
    done: Promise<void>;
  }
  const active: Worker[] = [];
  // Members not driven now, lowest index first: a member is never driven by two workers at once
  // (its chain takes one write at a time), also when a scenario goes down and up again.
  const free = members.map((_, i) => i).reverse();
  /** Starts driving a free member; false when every member is busy (one still stopping). */
  const startWorker = (): boolean => {
    const index = free.pop();
    if (index === undefined) return false;
    const member = members[index];
    const others = identities.filter((id) => id.did !== member.identity.did);
    let stopped = false;
    let wake!: () => void;
    const stopSignal = new Promise<void>((resolve) => wake = resolve);
    const done = (async () => {
      // Locust starts a user's first task at once; the think time follows each task.
      while (!stopped && !abort.signal.aborted) {
        const t = now();
        const result = await runOperation(
          pickOperation(Math.random()),
          member,
          others,
          options.currency,
          { run: abort.signal, requestTimeoutMs: options.requestTimeoutMs },
        );
        samples.push({ t, ...result });
        await sleep(thinkTime(Math.random(), scenario.thinkMs), stopSignal);
      }
    })();
    active.push({
      index,
      stop: () => {
        stopped = true;
        wake();
      },
      done,
    });
    return true;
  };
  const stopping: Promise<void>[] = [];
  const setUsers = (count: number) => {
    // When members are still finishing their last operation, the rest start at the next tick.
    while (active.length < count && startWorker());
    while (active.length > count) {
      const worker = active.pop()!;
      worker.stop();
      // Free again once its current operation is done.
      stopping.push(worker.done.then(() => {
        free.push(worker.index);
        free.sort((a, b) => b - a);
      }));
    }
    users.push([now(), active.length]);
  };

  let phaseStart = 0;
  for (const phase of scenario.phases) {
    const phaseEnd = phaseStart + phase.seconds * 1000;
    windows.push({ name: phase.name, users: phase.users, start: phaseStart, end: phaseEnd });
    const from = active.length;
    options.log(`phase ${phase.name}: ${from} → ${phase.users} members for ${phase.seconds} s`);
    // Ramp: every 100 ms, move toward the target at rampPerS.
    while (now() < phaseEnd) {
      const elapsedS = (now() - phaseStart) / 1000;
      const step = Number.isFinite(phase.rampPerS)
        ? Math.floor(elapsedS * phase.rampPerS) + 1
        : Infinity;
      const target = phase.users >= from
        ? Math.min(phase.users, from + step)
        : Math.max(phase.users, from - step);
      if (target !== active.length) setUsers(target);
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, phaseEnd - now())));
    }
    phaseStart = phaseEnd;
  }
  const endMs = phaseStart;
  setUsers(0);
  const all = Promise.all(stopping);
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const finished = await Promise.race([
    all.then(() => true),
    new Promise<boolean>((resolve) =>
      graceTimer = setTimeout(() => resolve(false), options.graceMs)
    ),
  ]);
  clearTimeout(graceTimer);
  if (!finished) {
    options.log(`aborting operations still running ${options.graceMs} ms after the last phase`);
    abort.abort();
    await all;
  }
  return { samples, windows, endMs, users };
}

/** Active members at `ms` from the [ms, users] change list. */
export function usersAt(changes: readonly [number, number][], ms: number): number {
  let users = 0;
  for (const [at, count] of changes) {
    if (at > ms) break;
    users = count;
  }
  return users;
}
