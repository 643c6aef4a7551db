/**
 * The one validation and commit path for envelopes, used by local submits,
 * bundle import, gossip and sync alike. In order: size → decode → network →
 * duplicate → chain position (fork/replay/gap) → clock → signature → gate
 * (rate limits, supplied by the node) → kind rules → atomic commit.
 */
import { clockSkewMsDefault, commitEnvelopesMax, commitRetriesMax, kelNet } from "../constants.ts";
import { ConflictError, IcnError, RejectedError } from "../errors.ts";
import {
  decodeEnvelope,
  type Envelope,
  type SealedEnvelope,
  signingBytes,
} from "../envelope/envelope.ts";
import {
  identityKey,
  type IdentityRecord,
  type KeySet,
  signingKeysAt,
  verifySignatures,
} from "../identity/kel.ts";
import type { Clock, Logger } from "../ports.ts";
import type { Store } from "../store/store.ts";
import {
  type ChainHead,
  chainKeys,
  type ForkEvidence,
  type LogEntry,
  type QuarantineRecord,
} from "./keys.ts";
import { StateOverlay, type StateView } from "./state.ts";

/** Largest total of envelope bytes in one commit; Deno KV caps an atomic operation near 800 KiB. */
const commitBytesMax = 512 * 1024;
/** Deno KV caps one value at 64 KiB; larger envelope encodings are split. */
const valueBytesMax = 60_000;

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

/** Writes envelope bytes, split into parts when above the KV value limit. */
export function writeEnvelopeBytes(state: StateView, cid: string, bytes: Uint8Array): void {
  if (bytes.length <= valueBytesMax) {
    state.set(chainKeys.envelope(cid), bytes);
    return;
  }
  const parts = Math.ceil(bytes.length / valueBytesMax);
  state.set(chainKeys.envelope(cid), { parts });
  for (let i = 0; i < parts; i++) {
    state.set(["envpart", cid, i], bytes.slice(i * valueBytesMax, (i + 1) * valueBytesMax));
  }
}

/** Reads envelope bytes by CID (undefined when unknown). */
export async function readEnvelopeBytes(
  state: Pick<StateView, "get">,
  cid: string,
): Promise<Uint8Array | undefined> {
  const value = await state.get<Uint8Array | { parts: number }>(chainKeys.envelope(cid));
  if (value === undefined || value instanceof Uint8Array) return value;
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < value.parts; i++) {
    const part = await state.get<Uint8Array>(["envpart", cid, i]);
    if (!part) return undefined;
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
}

async function validateOne(
  deps: IngestDeps,
  options: IngestOptions,
  state: StateOverlay,
  net: string | null,
  now: number,
  input: Input,
  newForks: ForkEvidence[],
): Promise<Step> {
  let sealed: SealedEnvelope | undefined;
  try {
    sealed = input instanceof Uint8Array ? await decodeEnvelope(input) : input;
    const { envelope, cid } = sealed;
    if (envelope.net !== kelNet && envelope.net !== net) {
      throw new RejectedError(
        "wrong_network",
        net === null
          ? `Envelope belongs to network ${envelope.net}, and this data dir has not joined a network`
          : `Envelope belongs to network ${envelope.net}, not ${net}`,
      );
    }
    if (await state.get(chainKeys.envelope(cid)) !== undefined) {
      return { outcome: { status: "duplicate", cid, envelope }, sealed };
    }
    const head = await state.get<ChainHead>(chainKeys.head(envelope.net, envelope.author));
    const expected = head ? head.seq + 1 : 0;
    if (envelope.seq < expected) {
      const existing = await state.get<string>(
        chainKeys.position(envelope.net, envelope.author, envelope.seq),
      );
      if (options.source === "local") {
        throw new ConflictError(`Chain of "${envelope.author}" moved on while writing; retry`);
      }
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
    let keys: Pick<KeySet, "ed25519" | "mlDsa65">;
    if (handler.signingKeys) {
      keys = await handler.signingKeys(ctx);
    } else {
      const record = await state.get<IdentityRecord>(identityKey(envelope.author));
      if (!record) {
        throw new RejectedError(
          "unknown_author",
          `Unknown author "${envelope.author}": no key event log`,
        );
      }
      // Grace for superseded keys is judged against the receiving clock only for live traffic;
      // sync and import replay history, where old-key envelopes dated before a rotation stay valid.
      const live = options.source === "gossip" || options.source === "local";
      keys = signingKeysAt(record, envelope.ts, live ? now : undefined);
    }
    await verifySignatures(envelope, signingBytes(envelope), keys);
    const quarantined = await state.get<QuarantineRecord>(chainKeys.quarantine(envelope.author));
    if (quarantined) {
      throw new RejectedError(
        "quarantined",
        `Author "${envelope.author}" is quarantined: ${quarantined.reason}`,
      );
    }
    options.gate?.(sealed);
    await handler.apply(ctx);
    writeEnvelopeBytes(child, cid, sealed.bytes);
    child.set(chainKeys.position(envelope.net, envelope.author, envelope.seq), cid);
    child.set(chainKeys.head(envelope.net, envelope.author), {
      seq: envelope.seq,
      cid,
      ts: envelope.ts,
    });
    child.mergeIntoParent();
    return { outcome: { status: "accepted", cid, envelope }, sealed };
  } catch (error) {
    if (error instanceof ConflictError) throw error;
    return { outcome: outcomeOf(error, sealed), sealed };
  }
}

/** The genesis's `network.clockSkew` applies unless the caller set a skew. */
async function withNetworkSkew(
  deps: IngestDeps,
  net: string | null,
  options: IngestOptions,
): Promise<IngestOptions> {
  if (options.skewMs !== undefined || net === null) return options;
  const genesis =
    (await deps.store.get<{ params?: Record<string, unknown> }>(chainKeys.genesis(net)))
      ?.value;
  const skew = genesis?.params?.["network.clockSkew"];
  return typeof skew === "number" ? { ...options, skewMs: skew } : options;
}

/** Splits inputs into commit-sized chunks (count and bytes). */
function chunk(inputs: readonly Input[]): Input[][] {
  const out: Input[][] = [];
  let current: Input[] = [];
  let bytes = 0;
  for (const input of inputs) {
    const size = input instanceof Uint8Array ? input.length : input.bytes.length;
    if (
      current.length >= commitEnvelopesMax || (current.length > 0 && bytes + size > commitBytesMax)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(input);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Validates and commits envelopes. In `each` mode every envelope gets an
 * outcome and the accepted ones commit in order; in `all` mode any rejection
 * throws `BatchRejectedError` and nothing is written. Duplicates are never
 * errors. Commits retry on conflict with a concurrent writer.
 */
export async function ingest(
  deps: IngestDeps,
  inputs: readonly Input[],
  options: IngestOptions,
): Promise<IngestOutcome[]> {
  if (options.atomicity === "all") {
    // Validate everything first without writing; only a fully valid batch is committed,
    // in store-sized chunks (each chunk is a valid prefix, so a crash midway leaves a
    // consistent store and re-importing completes it).
    await validateAll(deps, inputs, options);
  }
  const outcomes: IngestOutcome[] = [];
  for (const part of chunk(inputs)) {
    outcomes.push(...await ingestChunk(deps, part, options));
  }
  return outcomes;
}

async function validateAll(
  deps: IngestDeps,
  inputs: readonly Input[],
  options: IngestOptions,
): Promise<void> {
  const root = new StateOverlay(deps.store);
  const net = (await deps.store.get<string>(chainKeys.network))?.value ?? null;
  const now = deps.clock.now();
  const effective = await withNetworkSkew(deps, net, options);
  for (let i = 0; i < inputs.length; i++) {
    const step = await validateOne(deps, effective, root, net, now, inputs[i], []);
    if (step.outcome.status === "rejected") throw new BatchRejectedError(i, step.outcome);
  }
}

async function ingestChunk(
  deps: IngestDeps,
  inputs: readonly Input[],
  options: IngestOptions,
): Promise<IngestOutcome[]> {
  for (let attempt = 0; attempt <= commitRetriesMax; attempt++) {
    const root = new StateOverlay(deps.store);
    const logEntry = await deps.store.get<number>(chainKeys.logNext);
    const net = (await deps.store.get<string>(chainKeys.network))?.value ?? null;
    const now = deps.clock.now();
    const effective = await withNetworkSkew(deps, net, options);
    let logNext = logEntry?.value ?? 0;
    const steps: Step[] = [];
    const forks: ForkEvidence[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const step = await validateOne(deps, effective, root, net, now, inputs[i], forks);
      if (step.outcome.status === "accepted") {
        const { envelope, cid } = step.outcome;
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
    for (const fork of forks) {
      root.set(chainKeys.fork(fork.net, fork.author, fork.seq, fork.conflicting), fork);
      const quarantine: QuarantineRecord = {
        reason: `fork at seq ${fork.seq}`,
        since: fork.detectedAt,
        evidence: fork.conflicting,
      };
      if (!(await root.get(chainKeys.quarantine(fork.author)))) {
        root.set(chainKeys.quarantine(fork.author), quarantine);
      }
      deps.logger?.warn("fork_detected", { author: fork.author, seq: fork.seq, net: fork.net });
    }
    if (root.size === 0) return steps.map((s) => s.outcome);
    root.set(chainKeys.logNext, logNext);
    const ok = await deps.store.commit(
      [{ key: chainKeys.logNext, versionstamp: logEntry?.versionstamp ?? null }],
      root.mutations(),
    );
    if (ok) {
      for (const step of steps) {
        if (step.outcome.status === "accepted" && step.sealed) options.onAccepted?.(step.sealed);
      }
      return steps.map((s) => s.outcome);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 ** attempt)));
  }
  throw new ConflictError(
    `Cannot commit: the store kept changing under ${commitRetriesMax} attempts`,
  );
}
