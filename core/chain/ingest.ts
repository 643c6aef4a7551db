/**
 * The one validation and commit path for envelopes, used by local submits,
 * bundle import, gossip and sync alike. In order: size → decode → network →
 * chain position (duplicate/replay/gap; a different envelope at a used position
 * is a fork only once its signatures verify as the author's) → clock → signature → gate
 * (rate limits, supplied by the node) → kind rules → atomic commit.
 */
import {
  clockSkewMsDefault,
  commitRetriesMax,
  conflictBackoffMsMax,
  envelopePartBytesMax,
  kelNet,
} from "../constants.ts";
import { bytesEqual, ownBytes } from "../bytes.ts";
import { assert, ConflictError, IcnError, RejectedError } from "../errors.ts";
import {
  decodeEnvelope,
  type Envelope,
  type SealedEnvelope,
  signingBytes,
} from "../envelope/envelope.ts";
import {
  identityKey,
  type IdentityRecord,
  kelSignersAtSeq,
  type KeySet,
  signingKeysAt,
  verifySignatures,
} from "../identity/kel.ts";
import type { Clock, Logger } from "../ports.ts";
import type { Store, StoreKey } from "../store/store.ts";
import { ReadCache } from "./cache.ts";
import {
  type ChainHead,
  chainKeys,
  type ForkEvidence,
  type LogEntry,
  type QuarantineRecord,
  type StoredEnvelope,
} from "./keys.ts";
import {
  assertBatchFitsCommit,
  exceedsCommitLimits,
  type Footprint,
  keySize,
  StateOverlay,
  type StateView,
} from "./state.ts";
import {
  signatureRequests,
  type SignatureVerifier,
  verifyChunk,
  verifyPoolThreshold,
  type VerifyRequest,
} from "./verifier.ts";

/** Envelopes whose store reads are fetched together ahead of validation. */
const prefetchEnvelopes = 128;

/** What a kind handler sees while validating and applying one envelope. */
export interface ApplyContext {
  readonly envelope: Envelope;
  readonly cid: string;
  readonly state: StateView;
  /** Network id of this store (genesis CID), or null before `join`. */
  readonly net: string | null;
  /** Receipt time (the validating node's clock). */
  readonly now: number;
  /** Where the envelope came from. */
  readonly source: IngestSource;
}

/** Rules of one envelope kind. `apply` throws `RejectedError` to reject and writes derived state through `ctx.state`. */
export interface KindHandler {
  /** Keys that must have signed this envelope; default: the author's keys from the KEL at `ts`. */
  signingKeys?(ctx: ApplyContext): Promise<Pick<KeySet, "ed25519" | "mlDsa65">>;
  apply(ctx: ApplyContext): Promise<void> | void;
  /**
   * Store keys `apply` is likely to read for this envelope (`net`: this store's
   * network). Only a hint: they are fetched in one batch before validation.
   */
  readKeys?(envelope: Envelope, net: string): readonly StoreKey[];
}

export type KindRegistry = ReadonlyMap<string, KindHandler>;

export type IngestSource = "local" | "import" | "gossip" | "sync";

export type IngestOutcome =
  | { status: "accepted"; cid: string; envelope: Envelope }
  | { status: "duplicate"; cid: string; envelope: Envelope }
  | { status: "rejected"; reason: string; message: string; cid?: string; envelope?: Envelope };

export interface IngestDeps {
  store: Store;
  clock: Clock;
  kinds: KindRegistry;
  logger?: Logger;
  /**
   * Reads kept between `ingest` calls by a long-lived writer (the node). It is
   * dropped whenever another writer commits, so sharing it is always safe;
   * without it each call caches for its own duration only.
   */
  cache?: ReadCache;
  /**
   * Verifies signatures off the main thread (`VerifyPool`) for calls of at
   * least `verifyPoolThreshold` envelopes without a `gate`: each batch is
   * validated assuming its signatures hold while the pool checks them, and
   * redone on the main thread if any fails (or the pool does), so outcomes
   * are exactly those of verifying one by one. The owner closes it.
   */
  verifier?: SignatureVerifier;
}

export interface IngestOptions {
  source: IngestSource;
  /** `all`: the first rejection aborts everything and nothing is written (bundle import). */
  atomicity?: "each" | "all";
  /** Accepted clock skew for envelope timestamps in the future. */
  skewMs?: number;
  /** Called after signature and chain checks with the verified envelope; throw `RejectedError` to refuse (rate limits). */
  gate?: (sealed: SealedEnvelope) => void;
  /** Called once per accepted envelope after its commit. */
  onAccepted?: (sealed: SealedEnvelope) => void;
}

/** Thrown by `ingest` in `all` mode: the whole batch was refused. */
export class BatchRejectedError extends RejectedError {
  readonly index: number;
  constructor(index: number, inner: { reason: string; message: string }) {
    super(inner.reason, `Rejected envelope ${index + 1}: ${inner.message}`);
    this.name = "BatchRejectedError";
    this.index = index;
  }
}

type Input = Uint8Array | SealedEnvelope;

function outcomeOf(error: unknown, sealed?: SealedEnvelope): IngestOutcome {
  if (error instanceof RejectedError) {
    return {
      status: "rejected",
      reason: error.reason,
      message: error.message,
      cid: sealed?.cid,
      envelope: sealed?.envelope,
    };
  }
  if (error instanceof IcnError) {
    return {
      status: "rejected",
      reason: error.code,
      message: error.message,
      cid: sealed?.cid,
      envelope: sealed?.envelope,
    };
  }
  throw error;
}

/** Stores an accepted envelope at its chain position, split into parts when above the KV value limit. */
export function writeEnvelope(
  state: StateView,
  envelope: Envelope,
  cid: string,
  bytes: Uint8Array,
): void {
  const { net, author, seq } = envelope;
  const key = chainKeys.position(net, author, seq);
  if (bytes.length <= envelopePartBytesMax) {
    state.set(key, { cid, bytes } satisfies StoredEnvelope);
    return;
  }
  const parts = Math.ceil(bytes.length / envelopePartBytesMax);
  state.set(key, { cid, parts } satisfies StoredEnvelope);
  for (let i = 0; i < parts; i++) {
    const part = bytes.subarray(i * envelopePartBytesMax, (i + 1) * envelopePartBytesMax);
    assertPartFits(part.length, i, parts);
    state.set(chainKeys.part(net, author, seq, i), ownBytes(part));
  }
}

/**
 * Asserts that part `index` of `parts` is a proper piece of a split encoding: no larger than a
 * part may be, and not empty. Checked when writing and again when reading back.
 */
function assertPartFits(length: number, index: number, parts: number): void {
  assert(
    parts >= 2 && length > 0 && length <= envelopePartBytesMax,
    `Envelope part ${index} of ${parts} holds ${length} bytes (1 to ${envelopePartBytesMax} expected, in 2 parts or more)`,
  );
}

/** The encoding of a stored envelope (undefined when a part is missing). */
export async function storedBytes(
  state: Pick<StateView, "get">,
  position: { net: string; author: string; seq: number },
  stored: StoredEnvelope,
): Promise<Uint8Array | undefined> {
  if ("bytes" in stored) return stored.bytes;
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < stored.parts; i++) {
    const part = await state.get<Uint8Array>(
      chainKeys.part(position.net, position.author, position.seq, i),
    );
    if (!part) return undefined;
    assertPartFits(part.length, i, stored.parts);
    chunks.push(part);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

interface Step {
  outcome: IngestOutcome;
  sealed?: SealedEnvelope;
  /** Accepted: the envelope's writes, not yet merged into the commit. */
  writes?: StateOverlay;
}

/** An input decoded once, before any commit attempt. */
interface Prepared {
  sealed?: SealedEnvelope;
  error?: unknown;
}

async function prepare(input: Input): Promise<Prepared> {
  if (!(input instanceof Uint8Array)) return { sealed: input };
  try {
    return { sealed: await decodeEnvelope(input) };
  } catch (error) {
    return { error };
  }
}

type SigningKeys = Pick<KeySet, "ed25519" | "mlDsa65">;

/**
 * Signatures this `ingest` call has seen verify: envelope → copies of the keys
 * they verified against. An all-or-nothing import validates everything before
 * it commits, then validates again batch by batch while committing; the second
 * pass skips an envelope's signature check only when the same envelope must be
 * signed by byte-identical keys, so the check's answer cannot differ (keys
 * that changed in between, say by a rotation another writer committed, are
 * checked again).
 */
class VerifiedSignatures {
  readonly #keys = new WeakMap<SealedEnvelope, SigningKeys>();
  /** Handed to a verifier, not yet answered: kept by `confirm()` once every check passed. */
  readonly #pending: [SealedEnvelope, SigningKeys][] = [];

  holds(sealed: SealedEnvelope, keys: SigningKeys): boolean {
    const seen = this.#keys.get(sealed);
    if (!seen || !bytesEqual(seen.ed25519, keys.ed25519)) return false;
    if (seen.mlDsa65 === undefined || keys.mlDsa65 === undefined) {
      return seen.mlDsa65 === keys.mlDsa65;
    }
    return bytesEqual(seen.mlDsa65, keys.mlDsa65);
  }

  add(sealed: SealedEnvelope, keys: SigningKeys): void {
    const copy: SigningKeys = { ed25519: keys.ed25519.slice() };
    if (keys.mlDsa65) copy.mlDsa65 = keys.mlDsa65.slice();
    this.#keys.set(sealed, copy);
  }

  defer(sealed: SealedEnvelope, keys: SigningKeys): void {
    this.#pending.push([sealed, keys]);
  }

  /** Every deferred check passed. */
  confirm(): void {
    for (const [sealed, keys] of this.#pending) this.add(sealed, keys);
    this.#pending.length = 0;
  }

  /** Deferred checks failed or were abandoned: nothing of them counts as verified. */
  drop(): void {
    this.#pending.length = 0;
  }
}

async function validateOne(
  deps: IngestDeps,
  options: IngestOptions,
  state: StateOverlay,
  net: string | null,
  now: number,
  prepared: Prepared,
  newForks: ForkEvidence[],
  verified: VerifiedSignatures,
  /** When set, signature checks are queued here instead of run (see `IngestDeps.verifier`). */
  deferred?: VerifyRequest[],
): Promise<Step> {
  const sealed = prepared.sealed;
  try {
    if (!sealed) throw prepared.error;
    const { envelope, cid } = sealed;
    if (envelope.net !== kelNet && envelope.net !== net) {
      throw new RejectedError(
        "wrong_network",
        net === null
          ? `Envelope belongs to network ${envelope.net}, and this data dir has not joined a network`
          : `Envelope belongs to network ${envelope.net}, not ${net}`,
      );
    }
    const head = await state.get<ChainHead>(chainKeys.head(envelope.net, envelope.author));
    const expected = head ? head.seq + 1 : 0;
    if (envelope.seq < expected) {
      // (net, author, seq) are part of the content, so the envelope at that position is this
      // one exactly when the CIDs match: a duplicate; any other envelope there is a fork.
      const existing = (await state.get<StoredEnvelope>(
        chainKeys.position(envelope.net, envelope.author, envelope.seq),
      ))?.cid;
      if (existing === cid) return { outcome: { status: "duplicate", cid, envelope }, sealed };
      if (options.source === "local") {
        throw new ConflictError(`Chain of "${envelope.author}" moved on while writing; retry`);
      }
      // Only two envelopes both validly signed by the author are a fork: anything else is a
      // forgery by whoever sent it, and must cost the author nothing (rejected, no evidence kept).
      const record = await state.get<IdentityRecord>(identityKey(envelope.author));
      if (!record) {
        throw new RejectedError(
          "unknown_author",
          `Unknown author "${envelope.author}": no key event log`,
        );
      }
      const keys = envelope.net === kelNet
        ? kelSignersAtSeq(record, envelope)
        : signingKeysAt(record, envelope.ts, isLive(options) ? now : undefined);
      await verifySignatures(envelope, signingBytes(envelope), keys);
      newForks.push({
        net: envelope.net,
        author: envelope.author,
        seq: envelope.seq,
        existing: existing ?? "",
        conflicting: cid,
        bytes: sealed.bytes,
        detectedAt: now,
      });
      throw new RejectedError(
        "fork",
        `Fork by "${envelope.author}": a different envelope already holds seq ${envelope.seq} in ${envelope.net}`,
      );
    }
    if (envelope.seq > expected) {
      throw new RejectedError(
        "gap",
        `Envelope seq ${envelope.seq} by "${envelope.author}" is ahead of the chain (next is ${expected})`,
      );
    }
    if (envelope.prev !== (head ? head.cid : null)) {
      throw new RejectedError(
        "bad_prev",
        `Envelope seq ${envelope.seq} does not link to its predecessor`,
      );
    }
    if (head && envelope.ts < head.ts) {
      throw new RejectedError(
        "clock",
        `Envelope ts goes backwards in the chain of "${envelope.author}"`,
      );
    }
    const skew = options.skewMs ?? clockSkewMsDefault;
    if (envelope.ts > now + skew) {
      throw new RejectedError(
        "clock",
        `Envelope is dated ${envelope.ts - now} ms in the future (allowed skew ${skew} ms)`,
      );
    }
    const handler = deps.kinds.get(envelope.kind);
    if (!handler) {
      throw new RejectedError("unknown_kind", `Unknown envelope kind "${envelope.kind}"`);
    }
    const child = state.child();
    const ctx: ApplyContext = { envelope, cid, state: child, net, now, source: options.source };
    const message = signingBytes(envelope);
    const keys = await authorSigningKeys(handler, ctx, options);
    if (!verified.holds(sealed, keys)) {
      const requests = deferred ? signatureRequests(envelope, message, keys) : null;
      if (requests) {
        deferred!.push(...requests);
        verified.defer(sealed, keys);
      } else {
        await verifySignatures(envelope, message, keys);
        verified.add(sealed, keys);
      }
    }
    const quarantined = await state.get<QuarantineRecord>(chainKeys.quarantine(envelope.author));
    if (quarantined) {
      throw new RejectedError(
        "quarantined",
        `Author "${envelope.author}" is quarantined: ${quarantined.reason}`,
      );
    }
    options.gate?.(sealed);
    await handler.apply(ctx);
    writeEnvelope(child, envelope, cid, sealed.bytes);
    child.set(chainKeys.head(envelope.net, envelope.author), {
      seq: envelope.seq,
      cid,
      ts: envelope.ts,
    });
    return { outcome: { status: "accepted", cid, envelope }, sealed, writes: child };
  } catch (error) {
    if (error instanceof ConflictError) throw error;
    return { outcome: outcomeOf(error, sealed), sealed };
  }
}

/**
 * The keys that must have signed `ctx.envelope`: its kind's own (a key event
 * names them), else the author's keys from the KEL at the envelope's time.
 */
async function authorSigningKeys(
  handler: KindHandler | undefined,
  ctx: ApplyContext,
  options: IngestOptions,
): Promise<Pick<KeySet, "ed25519" | "mlDsa65">> {
  if (handler?.signingKeys) return await handler.signingKeys(ctx);
  const { envelope } = ctx;
  const record = await ctx.state.get<IdentityRecord>(identityKey(envelope.author));
  if (!record) {
    throw new RejectedError(
      "unknown_author",
      `Unknown author "${envelope.author}": no key event log`,
    );
  }
  return signingKeysAt(record, envelope.ts, isLive(options) ? ctx.now : undefined);
}

/**
 * Grace for superseded keys is judged against the receiving clock only for live traffic;
 * sync and import replay history, where old-key envelopes dated before a rotation stay valid.
 */
function isLive(options: IngestOptions): boolean {
  return options.source === "gossip" || options.source === "local";
}

/** The genesis's `network.clockSkew` applies unless the caller set a skew. */
async function withNetworkSkew(
  state: StateOverlay,
  net: string | null,
  options: IngestOptions,
): Promise<IngestOptions> {
  if (options.skewMs !== undefined || net === null) return options;
  const genesis = await state.get<{ params?: Record<string, unknown> }>(chainKeys.genesis(net));
  const skew = genesis?.params?.["network.clockSkew"];
  return typeof skew === "number" ? { ...options, skewMs: skew } : options;
}

/** Store keys every envelope's validation reads, plus its kind's hint. */
function readKeysOf(deps: IngestDeps, sealed: SealedEnvelope, net: string | null): StoreKey[] {
  const { envelope } = sealed;
  const keys: StoreKey[] = [
    chainKeys.head(envelope.net, envelope.author),
    identityKey(envelope.author),
    chainKeys.quarantine(envelope.author),
  ];
  const handler = deps.kinds.get(envelope.kind);
  if (handler?.readKeys && net !== null && envelope.net === net) {
    try {
      keys.push(...handler.readKeys(envelope, net));
    } catch {
      // A malformed body: validation will reject it with the real reason.
    }
  }
  return keys;
}

/** Where a batch's validation starts: the store as last committed, or a batch still being committed. */
interface Base {
  /** Versionstamp of the log counter the commit must find (null: absent); unknown while `parent` commits. */
  marker: string | null;
  logNext: number;
  parent: StateOverlay | null;
  net: string | null;
  now: number;
  options: IngestOptions;
}

/** A validated batch ready to commit (or committing). */
interface Batch {
  start: number;
  steps: Step[];
  root: StateOverlay;
  forks: ForkEvidence[];
  logEnd: number;
  base: Base;
}

/** The store as it is now: log counter, network, clock. Drops the cache when another writer committed. */
async function freshBase(
  deps: IngestDeps,
  cache: ReadCache,
  options: IngestOptions,
): Promise<Base> {
  const marker = await deps.store.get<number>(chainKeys.logNext);
  cache.validate(marker?.versionstamp ?? null);
  const root = new StateOverlay(cache.reader(deps.store));
  const net = (await root.get<string>(chainKeys.network)) ?? null;
  return {
    marker: marker?.versionstamp ?? null,
    logNext: marker?.value ?? 0,
    parent: null,
    net,
    now: deps.clock.now(),
    options: await withNetworkSkew(root, net, options),
  };
}

function add(a: Footprint, b: Footprint): Footprint {
  return {
    mutations: a.mutations + b.mutations,
    keyBytes: a.keyBytes + b.keyBytes,
    bytes: a.bytes + b.bytes,
  };
}

/** Writes of one fork record and its quarantine. */
function forkFootprint(fork: ForkEvidence): Footprint {
  const keys = keySize(chainKeys.fork(fork.net, fork.author, fork.seq, fork.conflicting)) +
    keySize(chainKeys.quarantine(fork.author));
  return { mutations: 2, keyBytes: keys, bytes: keys + fork.bytes.length + forkRecordBytesMax };
}

/** Estimated size of a fork record and its quarantine record besides the conflicting encoding. */
const forkRecordBytesMax = 512;
/** Estimated writes of one log entry (key: `["log", n]`; value: CID, net, author, seq). */
const logEntryFootprint: Footprint = { mutations: 1, keyBytes: 16, bytes: 400 };
/** Estimated writes of the log counter, which every commit rewrites. */
const logCounterFootprint: Footprint = { mutations: 1, keyBytes: 16, bytes: 32 };

function prefetchKeys(
  deps: IngestDeps,
  prepared: readonly Prepared[],
  start: number,
  net: string | null,
): StoreKey[] {
  const keys: StoreKey[] = [];
  const end = Math.min(prepared.length, start + prefetchEnvelopes);
  for (let i = start; i < end; i++) {
    const sealed = prepared[i].sealed;
    if (sealed) keys.push(...readKeysOf(deps, sealed, net));
  }
  return keys;
}

/**
 * Validates envelopes from `start` on, as many as fit in one store
 * transaction, on top of `base`; nothing is written yet.
 */
async function validateBatch(
  deps: IngestDeps,
  cache: ReadCache,
  prepared: readonly Prepared[],
  start: number,
  base: Base,
  verified: VerifiedSignatures,
  verifier?: SignatureVerifier,
): Promise<Batch> {
  if (verifier) {
    const batch = await validateBatchWith(deps, cache, prepared, start, base, verified, verifier);
    if (batch) return batch;
  }
  return (await validateBatchWith(deps, cache, prepared, start, base, verified))!;
}

/**
 * `validateBatch` proper. With a verifier, signature checks go to it in
 * chunks while validation goes on; null when any signature fails (or the
 * verifier does): the caller then validates the batch again on the main thread.
 */
async function validateBatchWith(
  deps: IngestDeps,
  cache: ReadCache,
  prepared: readonly Prepared[],
  start: number,
  base: Base,
  verified: VerifiedSignatures,
  verifier?: SignatureVerifier,
): Promise<Batch | null> {
  verified.drop();
  const deferred: VerifyRequest[] | undefined = verifier ? [] : undefined;
  const checks: Promise<boolean[]>[] = [];
  const send = () => {
    const chunk = deferred!.splice(0, deferred!.length);
    // Rejections are read when the batch ends; until then they must not surface as unhandled.
    const check = verifier!.verify(chunk);
    check.catch(() => {});
    checks.push(check);
  };
  const reader = cache.reader(deps.store);
  const root = new StateOverlay(reader, base.parent);
  let logNext = base.logNext;
  const steps: Step[] = [];
  const forks: ForkEvidence[] = [];
  // The log counter is always written.
  let total: Footprint = logCounterFootprint;
  for (let i = start; i < prepared.length; i++) {
    if ((i - start) % prefetchEnvelopes === 0) {
      await reader.prefetch(prefetchKeys(deps, prepared, i, base.net));
    }
    const forksBefore = forks.length;
    const step = await validateOne(
      deps,
      base.options,
      root,
      base.net,
      base.now,
      prepared[i],
      forks,
      verified,
      deferred,
    );
    if (deferred && deferred.length >= verifyChunk) send();
    let added: Footprint = { mutations: 0, keyBytes: 0, bytes: 0 };
    if (step.writes) added = add(add(added, step.writes.footprint()), logEntryFootprint);
    for (const fork of forks.slice(forksBefore)) added = add(added, forkFootprint(fork));
    if (steps.length > 0 && exceedsCommitLimits(add(total, added))) {
      // Does not fit: this envelope starts the next batch.
      forks.length = forksBefore;
      break;
    }
    total = add(total, added);
    if (step.writes) {
      step.writes.mergeIntoParent();
      const { envelope, cid } = step.outcome as { envelope: Envelope; cid: string };
      const entry: LogEntry = {
        cid,
        net: envelope.net,
        author: envelope.author,
        seq: envelope.seq,
      };
      root.set(chainKeys.log(logNext++), entry);
    }
    steps.push(step);
  }
  const quarantined = new Set<string>();
  for (const fork of forks) {
    root.set(chainKeys.fork(fork.net, fork.author, fork.seq, fork.conflicting), fork);
    const quarantine: QuarantineRecord = {
      reason: `fork at seq ${fork.seq}`,
      since: fork.detectedAt,
      evidence: fork.conflicting,
    };
    if (!quarantined.has(fork.author) && !(await root.get(chainKeys.quarantine(fork.author)))) {
      root.set(chainKeys.quarantine(fork.author), quarantine);
    }
    quarantined.add(fork.author);
  }
  if (root.size > 0) root.set(chainKeys.logNext, logNext);
  assertBatchFitsCommit(total, steps.length);
  if (deferred) {
    if (deferred.length > 0) send();
    try {
      for (const results of await Promise.all(checks)) {
        if (results.some((ok) => !ok)) return null;
      }
    } catch {
      return null;
    }
    verified.confirm();
  }
  return { start, steps, root, forks, logEnd: logNext, base };
}

/**
 * Validates and commits envelopes. In `each` mode every envelope gets an
 * outcome and the accepted ones commit in order; in `all` mode any rejection
 * throws `BatchRejectedError` and nothing is written. Duplicates are never
 * errors. Envelopes commit in as few store transactions as Deno KV's limits
 * allow, and the next batch is validated while the previous one commits
 * (on top of its writes; if that commit loses to another writer, both are
 * redone). Commits retry on conflict with a concurrent writer.
 */
export async function ingest(
  deps: IngestDeps,
  inputs: readonly Input[],
  options: IngestOptions,
): Promise<IngestOutcome[]> {
  const prepared = await Promise.all(inputs.map(prepare));
  const cache = deps.cache ?? new ReadCache();
  const verified = new VerifiedSignatures();
  const verifier = deps.verifier && !options.gate && prepared.length >= verifyPoolThreshold
    ? deps.verifier
    : undefined;
  if (options.atomicity === "all") {
    // Validate everything first without writing; only a fully valid batch is committed,
    // in store-sized chunks (each chunk is a valid prefix, so a crash midway leaves a
    // consistent store and re-importing completes it).
    await validateAll(deps, cache, prepared, options, verified, verifier);
  }
  const outcomes: IngestOutcome[] = [];
  let inflight: { batch: Batch; commit: Promise<string | null> } | null = null;
  let conflicts = 0;
  while (outcomes.length < prepared.length) {
    const next = outcomes.length + (inflight ? inflight.batch.steps.length : 0);
    let batch: Batch | null = null;
    if (next < prepared.length) {
      const base: Base = inflight
        ? {
          ...inflight.batch.base,
          marker: null,
          logNext: inflight.batch.logEnd,
          parent: inflight.batch.root,
        }
        : await freshBase(deps, cache, options);
      try {
        batch = await validateBatch(deps, cache, prepared, next, base, verified, verifier);
      } catch (error) {
        // Let the commit in flight settle (and land in the cache) before giving up.
        if (inflight) {
          const versionstamp = await inflight.commit.catch(() => null);
          if (versionstamp !== null) finish(deps, cache, inflight.batch, versionstamp, options);
        }
        throw error;
      }
    }
    if (inflight) {
      const versionstamp = await inflight.commit;
      if (versionstamp === null) {
        // Another writer got in first: redo from the batch that lost, on a fresh base.
        inflight = null;
        if (++conflicts > commitRetriesMax) break;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(conflictBackoffMsMax, 2 ** conflicts))
        );
        continue;
      }
      conflicts = 0;
      finish(deps, cache, inflight.batch, versionstamp, options);
      outcomes.push(...inflight.batch.steps.map((s) => s.outcome));
      inflight = null;
      if (batch) {
        batch.root.detach();
        batch.base = { ...batch.base, marker: versionstamp, parent: null };
      }
    }
    if (!batch) continue;
    if (batch.root.size === 0) {
      outcomes.push(...batch.steps.map((s) => s.outcome));
      continue;
    }
    // Reads queue behind a write in Deno KV: load what the next batch needs before committing.
    const following = next + batch.steps.length;
    if (following < prepared.length) {
      await cache.reader(deps.store).prefetch(
        prefetchKeys(deps, prepared, following, batch.base.net),
      );
    }
    inflight = {
      batch,
      commit: deps.store.commit(
        [{ key: chainKeys.logNext, versionstamp: batch.base.marker }],
        batch.root.mutations(),
      ),
    };
  }
  if (outcomes.length < prepared.length) {
    throw new ConflictError(
      `Cannot commit: the store kept changing under ${commitRetriesMax} attempts`,
    );
  }
  return outcomes;
}

/** After a batch's commit landed: the cache takes its writes, listeners hear of each envelope. */
function finish(
  deps: IngestDeps,
  cache: ReadCache,
  batch: Batch,
  versionstamp: string,
  options: IngestOptions,
): void {
  cache.committed(versionstamp, batch.root.mutations());
  for (const fork of batch.forks) {
    deps.logger?.warn("fork_detected", { author: fork.author, seq: fork.seq, net: fork.net });
  }
  for (const step of batch.steps) {
    if (step.outcome.status === "accepted" && step.sealed) options.onAccepted?.(step.sealed);
  }
}

async function validateAll(
  deps: IngestDeps,
  cache: ReadCache,
  prepared: readonly Prepared[],
  options: IngestOptions,
  verified: VerifiedSignatures,
  verifier?: SignatureVerifier,
): Promise<void> {
  // With a verifier: validate assuming the signatures while it checks them; if any fails, the
  // main thread validates again to find (and refuse at) the first envelope at fault.
  if (verifier && await validateAllWith(deps, cache, prepared, options, verified, verifier)) {
    return;
  }
  await validateAllWith(deps, cache, prepared, options, verified);
}

/** `validateAll` proper; false when a deferred signature check failed (nothing is written either way). */
async function validateAllWith(
  deps: IngestDeps,
  cache: ReadCache,
  prepared: readonly Prepared[],
  options: IngestOptions,
  verified: VerifiedSignatures,
  verifier?: SignatureVerifier,
): Promise<boolean> {
  verified.drop();
  const base = await freshBase(deps, cache, options);
  const reader = cache.reader(deps.store);
  const root = new StateOverlay(reader);
  const deferred: VerifyRequest[] | undefined = verifier ? [] : undefined;
  const checks: Promise<boolean[]>[] = [];
  const send = () => {
    const check = verifier!.verify(deferred!.splice(0, deferred!.length));
    check.catch(() => {});
    checks.push(check);
  };
  for (let i = 0; i < prepared.length; i++) {
    if (i % prefetchEnvelopes === 0) {
      await reader.prefetch(prefetchKeys(deps, prepared, i, base.net));
    }
    const step = await validateOne(
      deps,
      base.options,
      root,
      base.net,
      base.now,
      prepared[i],
      [],
      verified,
      deferred,
    );
    if (step.outcome.status === "rejected") {
      // A refusal found while signatures were deferred may stem from an earlier forgery.
      if (deferred) return false;
      throw new BatchRejectedError(i, step.outcome);
    }
    step.writes?.mergeIntoParent();
    if (deferred && deferred.length >= verifyChunk) send();
  }
  if (!deferred) return true;
  if (deferred.length > 0) send();
  try {
    for (const results of await Promise.all(checks)) if (results.includes(false)) return false;
  } catch {
    return false;
  }
  verified.confirm();
  return true;
}
