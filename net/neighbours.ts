/**
 * The neighbour sets (`topology.ts`, a pure module) wired into a running node: the verified
 * hellos of connected peers, what the sets know of each peer (its topology, its trust class and
 * standing across the networks both serve, its round trip and connection age), the maintenance
 * tick that refreshes them and disconnects the peers no set keeps, and the `icn_neighbors{set}`
 * gauges. One set of neighbour sets per node, not one per network.
 */
import { multiaddr } from "@multiformats/multiaddr";
import { classRank, type TrustClass } from "../core/policy/policy.ts";
import type { Clock, Logger } from "../core/ports.ts";
import type { VerifiedHello } from "./hello.ts";
import { type NodeMetrics, recordNeighbourSets } from "./metrics.ts";
import type { PeerStanding } from "./misbehaviour.ts";
import {
  createNeighbourSets,
  latencyMsMax,
  type NeighbourSetName,
  type NeighbourSets,
  type NeighbourSetsInit,
  type Topology,
} from "./topology.ts";

/** A network's peers as the neighbour sets read them. */
export interface NeighbourNetwork {
  id: string;
  peers: {
    get(peer: string): { trustClass: TrustClass } | undefined;
    standing(peer: string, now: number): PeerStanding;
  };
}

/** What the sets read of a connection (libp2p's `Connection` in the node). */
export interface NeighbourConnection {
  /** Round trip measured by libp2p's connection monitor, ms. */
  rtt?: number;
  timeline: { open: number };
}

export interface NeighboursComponents {
  clock: Clock;
  logger: Logger;
  metrics: NodeMetrics;
  /** Aborted when the node stops: the tick then does nothing. */
  signal: AbortSignal;
  /** Every network served. */
  networks: () => readonly NeighbourNetwork[];
  connectionTo: (peer: string) => NeighbourConnection | undefined;
  /** Closes the connections to `peer` (best effort). */
  hangUp: (peer: string) => void;
}

export interface NeighboursInit extends NeighbourSetsInit {
  /** The node's bootstrap multiaddrs: the peers they name are never evicted. */
  bootstrap: readonly string[];
  /** How often `maintain()` runs once started. */
  maintenanceIntervalMs: number;
}

export class Neighbours {
  readonly #components: NeighboursComponents;
  readonly #sets: NeighbourSets;
  readonly #bootstrap: Set<string>;
  readonly #intervalMs: number;
  /** Verified hellos of connected peers (they leave on disconnect). */
  readonly #hellos = new Map<string, VerifiedHello>();
  #maintenance?: ReturnType<typeof setInterval>;

  constructor(components: NeighboursComponents, init: NeighboursInit) {
    this.#components = components;
    this.#sets = createNeighbourSets({ clock: components.clock }, init);
    this.#bootstrap = new Set(init.bootstrap.map(peerIdOf).filter((p) => p !== null));
    this.#intervalMs = init.maintenanceIntervalMs;
  }

  /** Where this node sits (the hello announces it). */
  get local(): Topology {
    return this.#sets.local;
  }

  /** The verified hello of a connected peer. */
  hello(peer: string): VerifiedHello | undefined {
    return this.#hellos.get(peer);
  }

  /** Verified hellos of connected peers, by peer id. */
  hellos(): IterableIterator<[string, VerifiedHello]> {
    return this.#hellos.entries();
  }

  /**
   * Room left in each set (its limit less the peers in it): how many more peers of each kind the
   * node may dial before the sets start evicting (the rendezvous client spends it).
   */
  room(): Record<NeighbourSetName, number> {
    const counts = this.#sets.counts();
    const limits = this.#sets.limits;
    return {
      cluster: Math.max(0, limits.cluster - counts.cluster),
      regional: Math.max(0, limits.regional - counts.regional),
      backbone: Math.max(0, limits.backbone - counts.backbone),
      trusted: Math.max(0, limits.trusted - counts.trusted),
    };
  }

  /**
   * A verified peer's best standing and trust class across the networks both serve (`banned`
   * and `isolated` when it is verified in none).
   */
  standing(peer: string): { standing: PeerStanding; trustClass: TrustClass } {
    const { clock, networks } = this.#components;
    const hello = this.#hellos.get(peer);
    let trustClass: TrustClass = "isolated";
    let standing: PeerStanding = "banned";
    if (!hello) return { standing, trustClass };
    const now = clock.now();
    const rank = { ok: 2, quarantined: 1, banned: 0 } as const;
    for (const s of networks().filter((s) => hello.shared.includes(s.id))) {
      const known = s.peers.get(peer)?.trustClass;
      if (known && classRank(known) > classRank(trustClass)) trustClass = known;
      const here = s.peers.standing(peer, now);
      if (rank[here] > rank[standing]) standing = here;
    }
    return { standing, trustClass };
  }

  /** The set `peer` is in, or null. */
  setOf(peer: string): NeighbourSetName | null {
    return this.#sets.setOf(peer);
  }

  /** Peer ids in each set, best first. */
  sets(): Record<NeighbourSetName, string[]> {
    return this.#sets.sets();
  }

  /** A peer's hello was verified: it is a candidate neighbour from now on. */
  verified(peer: string, hello: VerifiedHello): void {
    this.#hellos.set(peer, hello);
    this.#upsert(peer);
    recordNeighbourSets(this.#components.metrics, this.#sets.counts());
  }

  /** A peer disconnected: its hello and its place in the sets go. */
  disconnected(peer: string): void {
    this.#hellos.delete(peer);
    if (this.#sets.remove(peer)) recordNeighbourSets(this.#components.metrics, this.#sets.counts());
  }

  /** Runs `maintain()` every `maintenanceIntervalMs` until `stop()`. */
  start(): void {
    this.#maintenance = setInterval(() => this.maintain(), this.#intervalMs);
  }

  stop(): void {
    clearInterval(this.#maintenance);
  }

  /**
   * The maintenance tick: refreshes what the neighbour sets know of each peer (trust classes
   * computed late, standing, ping latency), records the set sizes, and disconnects the
   * eviction candidates (at most `evictionsPerCallMax` a tick), sparing bootstrap peers.
   */
  maintain(): void {
    const { signal, metrics, connectionTo, hangUp, logger } = this.#components;
    if (signal.aborted) return;
    for (const peer of this.#hellos.keys()) this.#upsert(peer);
    recordNeighbourSets(metrics, this.#sets.counts());
    for (const peer of this.#sets.evictionCandidates()) {
      if (this.#bootstrap.has(peer) || !connectionTo(peer)) continue;
      logger.info("peer_disconnected", { peer, reason: "neighbour eviction" });
      hangUp(peer);
    }
  }

  /** What the neighbour sets know of `peer`: its hello, trust, standing, latency, age. */
  #upsert(peer: string): void {
    const { connectionTo, logger } = this.#components;
    const hello = this.#hellos.get(peer);
    const connection = connectionTo(peer);
    if (!hello || !connection) return;
    const { standing, trustClass } = this.standing(peer);
    const rtt = connection.rtt;
    try {
      this.#sets.upsert({
        peerId: peer,
        ...(hello.topology ? { topology: hello.topology } : {}),
        trustClass,
        standing,
        ...(rtt !== undefined && rtt >= 0 && rtt <= latencyMsMax ? { latencyMs: rtt } : {}),
        connectedAtMs: connection.timeline.open,
      });
    } catch (error) {
      logger.debug("neighbour_refused", { peer, error: (error as Error).message });
    }
  }
}

/** The peer id a bootstrap multiaddr names (`/p2p/<id>`), or null. */
export function peerIdOf(addr: string): string | null {
  try {
    return multiaddr(addr).getComponents().find((c) => c.name === "p2p")?.value ?? null;
  } catch {
    return null;
  }
}
