/**
 * The peers a node knows: those whose signed hello it verified (their DID, protocol version and
 * trust class), the trust class of authors (cached), the rate limits of each peer, and each
 * peer's standing (offences → quarantine → ban, with the hang-up a ban brings). Hello writes
 * verified peers; gossip and sync read them and report offences here.
 *
 * One `Peers` per network this node serves: standing, trust and rate limits are per network
 * (a node serving several networks builds one for each, over the same connections).
 */
import { StateOverlay } from "../core/chain/state.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { policyFor, type TrustClass, trustClassOf } from "../core/policy/policy.ts";
import type { Clock, Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { cooperativeScore } from "../core/trust/view.ts";
import { classCacheMax, classCacheMs, type LimitScope, RateLimiter } from "./limits.ts";
import type { NodeMetrics } from "./metrics.ts";
import {
  type MisbehaviourOptions,
  MisbehaviourTracker,
  type Offence,
  type PeerStanding,
} from "./misbehaviour.ts";

/** Rejection reasons that prove the sending peer forwarded something invalid. */
export const invalidReasons: ReadonlyMap<string, Offence> = new Map<string, Offence>([
  ["invalid_signature", "invalid_signature"],
  ["malformed", "malformed"],
  ["too_large", "too_large"],
  ["wrong_network", "wrong_network"],
  ["bad_prev", "malformed"],
  ["unknown_kind", "malformed"],
  // Not "fork": a fork is two envelopes both validly signed by their author (forgeries are
  // invalid_signature), so the peer that relays one is passing on evidence, not misbehaving.
]);

/** What a node's status shows of a connected peer. */
export interface PeerInfo {
  peer: string;
  did: string | null;
  version: string | null;
  addrs: string[];
  trustClass: TrustClass;
  score: number;
  standing: string;
  misbehaviour: Record<string, number>;
}

export interface VerifiedPeer {
  did: string;
  version: string;
  trustClass: TrustClass;
}

/** The connections under the peers (libp2p in the node, a fake in tests). */
export interface PeerConnections {
  /** Whether `peer` has an open connection. */
  connected(peer: string): boolean;
  /** Closes every connection to `peer`. */
  hangUp(peer: string): Promise<void>;
  /** Peers with an open connection. */
  count(): number;
}

export interface PeersComponents {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: NodeMetrics;
  genesis: Genesis;
  connections: PeerConnections;
  /**
   * The trust class of a DID in this network at `now` (peers and authors alike). Default: member
   * trust (`cooperativeScore`); a federation network classes by the trust between cooperatives
   * (`federationClassifier`, net/federation_class.ts).
   */
  classify?: (did: string, now: number) => Promise<TrustClass>;
  /**
   * Sets the peer gauges for the whole node (a node serving several networks counts each peer
   * once across them); without it these peers set them alone.
   */
  updateGauges?: () => void;
}

export interface PeersInit {
  misbehaviour: MisbehaviourOptions;
  /** Inbound envelopes per second across all peers. */
  globalRate: number;
  /** Inbound envelopes per second of a peer of the highest weight. */
  peerRate: number;
  /** Per-author rate limits (on by default; benchmarks of the raw pipeline turn them off). */
  authorLimits?: boolean;
}

export class Peers {
  readonly misbehaviour: MisbehaviourTracker;
  readonly #components: PeersComponents;
  readonly #limiter: RateLimiter;
  /** Peers whose hello was verified; they leave when they disconnect. */
  readonly #verified = new Map<string, VerifiedPeer>();
  /** Callers waiting for a peer's hello to be verified. */
  readonly #helloWaiters = new Map<string, PromiseWithResolvers<void>>();
  readonly #classes = new Map<string, { trustClass: TrustClass; at: number }>();
  readonly #hangingUp = new Set<string>();
  #refreshing = false;

  constructor(components: PeersComponents, init: PeersInit) {
    this.#components = components;
    this.misbehaviour = new MisbehaviourTracker(init.misbehaviour);
    this.#limiter = new RateLimiter({
      globalRate: init.globalRate,
      peerRate: init.peerRate,
      authorLimits: init.authorLimits,
    }, components.clock.now());
  }

  get(peer: string): VerifiedPeer | undefined {
    return this.#verified.get(peer);
  }

  has(peer: string): boolean {
    return this.#verified.has(peer);
  }

  /** Verified peers, by peer id. */
  entries(): IterableIterator<[string, VerifiedPeer]> {
    return this.#verified.entries();
  }

  /** A connected peer as status shows it; `seen` is what the connections know of it. */
  describe(peer: string, seen: { addrs: string[]; score: number }): PeerInfo {
    const verified = this.#verified.get(peer);
    const record = this.misbehaviour.get(peer);
    return {
      peer,
      did: verified?.did ?? null,
      version: verified?.version ?? null,
      addrs: seen.addrs,
      trustClass: verified?.trustClass ?? "isolated",
      score: seen.score,
      standing: this.misbehaviour.standing(peer, this.#components.clock.now()),
      misbehaviour: { ...(record?.counts ?? {}) },
    };
  }

  /** Records a verified hello; returns whether the peer was verified before. */
  verify(peer: string, info: VerifiedPeer): boolean {
    const known = this.#verified.has(peer);
    this.#verified.set(peer, info);
    this.#helloWaiters.get(peer)?.resolve();
    this.#helloWaiters.delete(peer);
    this.#limiter.setPeer(peer, info.trustClass, this.#components.clock.now());
    this.updateGauges();
    return known;
  }

  /** A trust class computed after the hello went on with a provisional one. */
  setClass(peer: string, did: string, trustClass: TrustClass): void {
    const verified = this.#verified.get(peer);
    if (verified?.did !== did) return;
    verified.trustClass = trustClass;
    this.#limiter.setPeer(peer, trustClass, this.#components.clock.now());
  }

  /**
   * Recomputes the trust class of every verified peer (`classOf`, so at most once per DID per
   * `classCacheMs`) and applies it to its rate limits: a vouch, a revocation or a delegate change
   * made while a peer stays connected reaches its limits. Bounded by the verified peers (each a
   * connection); a class that fails to compute keeps the one the peer has.
   */
  async refreshClasses(): Promise<void> {
    // One refresh at a time: a slow one (a large store) is not joined by the next round's.
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      for (const [peer, { did }] of [...this.#verified]) {
        try {
          this.setClass(peer, did, await this.classOf(did));
        } catch (error) {
          this.#components.logger.debug("peer_class_failed", {
            peer,
            error: (error as Error).message,
          });
        }
      }
    } finally {
      this.#refreshing = false;
    }
  }

  /** A disconnected peer: it says its hello again when it comes back. */
  forget(peer: string): void {
    this.#verified.delete(peer);
    this.#helloWaiters.get(peer)?.resolve();
    this.#helloWaiters.delete(peer);
    this.#limiter.removePeer(peer);
    this.updateGauges();
  }

  /** Resolves when `peer`'s hello is verified, or after `ms`. */
  async helloFrom(peer: string, ms: number): Promise<boolean> {
    if (this.#verified.has(peer)) return true;
    let waiter = this.#helloWaiters.get(peer);
    if (!waiter) {
      waiter = Promise.withResolvers<void>();
      this.#helloWaiters.set(peer, waiter);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      waiter.promise,
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
    ]);
    clearTimeout(timer);
    return this.#verified.has(peer);
  }

  /** The trust class of a DID (an author, a peer's), cached for `classCacheMs`. */
  async classOf(did: string): Promise<TrustClass> {
    const { clock, store, genesis, classify } = this.#components;
    const now = clock.now();
    const cached = this.#classes.get(did);
    if (cached && now - cached.at < classCacheMs) return cached.trustClass;
    const trustClass = classify
      ? await classify(did, now)
      : trustClassOf(await cooperativeScore(new StateOverlay(store), genesis, did, now));
    if (this.#classes.size >= classCacheMax) {
      this.#classes.delete(this.#classes.keys().next().value!);
    }
    this.#classes.set(did, { trustClass, at: now });
    return trustClass;
  }

  /** Per-peer rate checks, before any decoding: null when allowed, else the scope that refused. */
  admitPeer(peer: string, now: number): LimitScope | null {
    return this.#limiter.admitPeer(peer, now);
  }

  /** Per-author rate check by the author's trust class, after its signature was verified. */
  admitAuthor(author: string, trustClass: TrustClass, now: number): boolean {
    return this.#limiter.admitAuthor(
      author,
      policyFor(this.#components.genesis.params, trustClass),
      now,
    );
  }

  standing(peer: string, now: number): PeerStanding {
    return this.misbehaviour.standing(peer, now);
  }

  banned(peer: string): boolean {
    return this.misbehaviour.standing(peer, this.#components.clock.now()) === "banned";
  }

  /** Records an offence; a peer it bans is disconnected. */
  offence(peer: string, offence: Offence, detail: string): void {
    const { metrics, clock, logger } = this.#components;
    metrics.misbehaviour.inc({ offence });
    const standing = this.misbehaviour.record(peer, offence, detail, clock.now());
    logger.debug("peer_misbehaviour", { peer, offence, detail, standing });
    if (standing === "banned") {
      logger.warn("peer_banned", { peer, offence });
      this.hangUp(peer, `banned after ${offence}`);
    }
  }

  hangUp(peer: string, reason: string): void {
    const { connections, logger } = this.#components;
    // Messages already in flight from this peer would hang up again: once is enough.
    if (!connections.connected(peer) || this.#hangingUp.has(peer)) return;
    this.#hangingUp.add(peer);
    logger.info("peer_disconnected", { peer, reason });
    connections.hangUp(peer).catch(() => {}).finally(() => this.#hangingUp.delete(peer));
  }

  updateGauges(): void {
    const { metrics, connections, updateGauges } = this.#components;
    if (updateGauges) return updateGauges();
    metrics.peers.set(connections.count());
    metrics.peerVersions.reset();
    for (const v of this.#verified.values()) metrics.peerVersions.inc({ version: v.version });
  }
}
