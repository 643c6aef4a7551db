/**
 * Inbound rate limits, applied after signature verification so a peer can
 * never spend someone else's budget: a token bucket per verified author
 * (sized by the author's trust class through `policyFor`), one per peer
 * (weighted by the trust class of the peer's hello DID), and a global budget
 * shared among connected peers in proportion to their trust weight, so many
 * low-trust peers together cannot starve trusted ones.
 */
import { envelopeBytesMax } from "../core/constants.ts";
import { assert } from "../core/errors.ts";
import type { ClassPolicy, TrustClass } from "../core/policy/policy.ts";
import {
  helloBytesMax,
  helloKelBytesMax,
  pageBytesMax,
  streamTimeoutMs,
  syncBytesMax,
} from "./protocol.ts";

// ---- The node's limits, one name each (units last). The protocols read them from here. ----

/** Networks one node serves, at most (defined with the hello, whose list it bounds). */
export { networksPerNodeMax } from "./protocol.ts";

/** Envelopes per inbound gossip commit: one store transaction stays well within commit limits. */
export const gossipBatchMax = 150;
/**
 * (peer, envelope) pairs remembered from gossip, so that only a peer sending the same envelope
 * twice is charged with a replay: a copy that arrives by gossip after sync (or another peer)
 * already brought it is ordinary under load and costs nothing. 65,536 pairs of ~100 bytes each
 * stay under ~7 MiB; the oldest go first.
 */
export const gossipSeenPairsMax = 65_536;
/** Out-of-order gossip envelopes kept until their predecessor arrives (the oldest go first). */
export const gapsMax = 10_000;
/** Bytes of those parked envelopes: a flood of out-of-order gossip cannot grow memory further. */
export const gapBytesMax = 16 * 1024 * 1024;
/**
 * Gossipsub's own framing around one envelope (RPC protobuf, topic, message id, piggybacked
 * control): generous, so that no valid envelope is refused by gossipsub before the validator.
 */
export const gossipFramingBytesMax = 4096;
/** Largest inbound gossipsub message: one envelope and its framing. */
export const gossipInboundBytesMax = envelopeBytesMax + gossipFramingBytesMax;
/** Sync rounds per peer per attempt (dependencies across authors may need a few). */
export const syncRoundsMax = 6;
/** First retry delay after a failed sync round (doubles per failure, up to the sync interval). */
export const syncRetryMs = 1000;
/** Time to open a hello or sync stream on a connection; the exchange then has its own limit. */
export const streamOpenTimeoutMs = 5000;
/** Sync requests served to one connection at once: a peer asks one page ahead, so a few. */
export const syncInboundStreamsMax = 64;
/** Admission challenges answered on one connection at once (one challenge per connection). */
export const admissionInboundStreamsMax = 2;
/** Inbound connections mid-handshake, at least: a small `maxConnections` still accepts peers. */
export const pendingConnectionsMin = 10;
/** Peer ids remembered as members' nodes (admission exemptions); a bound, not a policy. */
export const memberPeersMax = 10_000;
/** How long a hello waits for the peer's trust class before going on with a provisional one. */
export const helloClassWaitMs = 500;
/** How long a sync request waits for the asker's hello to be verified. */
export const helloWaitMs = 3000;
/** Hello timestamps must be this fresh: clocks of honest nodes differ by less. */
export const helloSkewMs = 300_000;
/** How long an author's trust class is reused before it is computed again. */
export const classCacheMs = 30_000;
/** Authors whose trust class is cached (the oldest go first). */
export const classCacheMax = 50_000;
/**
 * Admission hashes at once, and waiting: each holds `network.admissionPow.memoryKib` while it
 * runs, so these bound the memory a flood of challenges or answers can claim.
 */
export const admissionChecksInFlightMax = 4;
export const admissionChecksWaitingMax = 64;
export const admissionSolvesInFlightMax = 2;
export const admissionSolvesWaitingMax = 8;
/**
 * Key event log forks remembered as replayed into every network's store (the oldest go first):
 * a fork found again in another store is not replayed back.
 */
export const kelForkReplaysMax = 1024;
/**
 * Key event replays between a node's network stores waiting their turn; past it one is dropped
 * (that network's sync brings the event later), so a burst of key events cannot grow memory.
 */
export const kelReplaysPendingMax = 10_000;
/**
 * How often the node refreshes its neighbour sets (late trust classes, standing, ping latency)
 * and disconnects the peers they evict: a few per tick (`evictionsPerCallMax`), never in a burst.
 */
export const maintenanceIntervalMs = 10_000;

// How the limits fit each other: checked once, at load, as a failure here is a bug in them.
assert(
  envelopeBytesMax + gossipFramingBytesMax <= gossipInboundBytesMax,
  "the envelope size plus framing fits gossip's inbound limit",
);
assert(envelopeBytesMax <= gapBytesMax, "a parked envelope fits the parking bytes");
assert(envelopeBytesMax <= pageBytesMax, "a range page holds at least one envelope");
assert(pageBytesMax < syncBytesMax, "a range page fits one sync message");
assert(helloKelBytesMax < helloBytesMax, "a hello's key events leave room for its fields");
assert(helloWaitMs < streamTimeoutMs, "a sync request waits for the hello within its stream time");
assert(
  helloClassWaitMs < streamTimeoutMs,
  "a hello waits for a trust class within its stream time",
);

/** Bound on tracked buckets; the oldest idle ones are dropped first. */
const bucketsMax = 10_000;

export class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(public rate: number, public burst: number, now: number) {
    this.#tokens = burst;
    this.#at = now;
  }

  take(now: number, count = 1): boolean {
    const elapsed = Math.max(0, now - this.#at) / 1000;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate);
    this.#at = now;
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }
}

/** Relative weight of a peer's trust class in the per-peer and global budgets. */
export const classWeight: Record<TrustClass, number> = {
  isolated: 1,
  known: 2,
  partner: 4,
  federated: 8,
};

export type LimitScope = "author" | "peer" | "global";

export interface RateLimiterOptions {
  /** Inbound envelopes per second across all peers. */
  globalRate: number;
  /** Inbound envelopes per second of a peer of the highest weight. */
  peerRate: number;
  /** Per-author buckets on or off (benchmarks of the raw pipeline turn them off). */
  authorLimits?: boolean;
}

export class RateLimiter {
  readonly #authors = new Map<string, TokenBucket>();
  readonly #peers = new Map<string, { bucket: TokenBucket; share: TokenBucket; weight: number }>();
  readonly #global: TokenBucket;
  readonly #options: RateLimiterOptions;

  constructor(options: RateLimiterOptions, now: number) {
    this.#options = options;
    this.#global = new TokenBucket(options.globalRate, options.globalRate, now);
  }

  /** Registers or updates a connected peer's trust class; rebalances the global shares. */
  setPeer(peer: string, trustClass: TrustClass, now: number): void {
    const weight = classWeight[trustClass];
    const rate = (this.#options.peerRate * weight) / classWeight.federated;
    const existing = this.#peers.get(peer);
    if (existing) {
      existing.weight = weight;
      existing.bucket.rate = rate;
      existing.bucket.burst = Math.max(1, rate);
    } else {
      if (this.#peers.size >= bucketsMax) this.#peers.delete(this.#peers.keys().next().value!);
      this.#peers.set(peer, {
        bucket: new TokenBucket(rate, Math.max(1, rate), now),
        share: new TokenBucket(1, 1, now),
        weight,
      });
    }
    this.#rebalance();
  }

  removePeer(peer: string): void {
    this.#peers.delete(peer);
    this.#rebalance();
  }

  #rebalance(): void {
    let total = 0;
    for (const p of this.#peers.values()) total += p.weight;
    for (const p of this.#peers.values()) {
      const rate = total === 0 ? 0 : (this.#options.globalRate * p.weight) / total;
      p.share.rate = rate;
      p.share.burst = Math.max(1, rate);
    }
  }

  /** Per-peer checks, before any decoding work: null when allowed, else the scope that refused. */
  admitPeer(peer: string, now: number): LimitScope | null {
    const p = this.#peers.get(peer);
    if (!p) {
      this.setPeer(peer, "isolated", now);
      return this.admitPeer(peer, now);
    }
    if (!p.bucket.take(now)) return "peer";
    // A peer within its trust-weighted share always passes; beyond it, only spare global capacity.
    if (!p.share.take(now) && !this.#global.take(now)) return "global";
    return null;
  }

  /** Per-author check, after the author's signature was verified. */
  admitAuthor(author: string, policy: ClassPolicy, now: number): boolean {
    if (this.#options.authorLimits === false) return true;
    let bucket = this.#authors.get(author);
    if (!bucket) {
      if (this.#authors.size >= bucketsMax) {
        this.#authors.delete(this.#authors.keys().next().value!);
      }
      bucket = new TokenBucket(policy.rate, policy.burst, now);
      this.#authors.set(author, bucket);
    }
    bucket.rate = policy.rate;
    bucket.burst = policy.burst;
    return bucket.take(now);
  }
}
