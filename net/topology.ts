/**
 * Topology: where a node sits (region, cluster, role) and which of its peers it keeps as
 * neighbours. Pure: the node feeds it what it knows of each peer (announced topology, trust
 * class, standing, measured latency, connection time) and asks which set each peer is in and
 * which peers to disconnect. Nothing here dials, disconnects or reads a clock other than the
 * `Clock` it is given.
 *
 * ## Membership rules
 *
 * A peer is *eligible* for a set by these rules (`eligibleSets()`):
 *
 * - **trusted**: its trust class is `partner` or `federated` (`trustedClassMin`), whatever its
 *   topology, and even when it announced none.
 * - **cluster**: it announced the local node's cluster.
 * - **regional**: it announced the local node's region and another cluster.
 * - **backbone**: it announced the role `rendezvous` or `archive`, or another region.
 *
 * A peer whose standing is not `ok` (quarantined or banned) is eligible for no set. A peer that
 * announced no topology (no hello yet, or an older node) is eligible for `trusted` only.
 *
 * Each peer is in at most one set. The sets are filled in the order trusted, cluster, regional,
 * backbone: each takes, among the peers eligible for it and not placed in an earlier set, the
 * best-ranked up to its limit. So the trusted set always holds the node's most trusted peers,
 * wherever they are, and a peer that does not fit in one set falls through to the next one it
 * is eligible for (a rendezvous node of the local cluster that the cluster set has no room for
 * can still be a backbone neighbour). Peers placed in no set are the eviction candidates.
 *
 * ## Rank and eviction
 *
 * Peers are ranked for keeping by, in order:
 *
 * 1. trust class, higher first;
 * 2. measured latency, lower first, compared in steps of `latencyResolutionMs` so that jitter
 *    does not reshuffle the sets; a peer with no measurement yet ranks after every measured one;
 * 3. connection age, older first (a long-lived connection has proven itself, and keeping it
 *    avoids churn);
 * 4. peer id, in code-unit order, so that the result never depends on insertion order.
 *
 * Over its limit a set therefore evicts lower trust first, then higher latency, then the younger
 * connection. The assignment is a function of the current peers alone: the same peers give the
 * same sets whatever order they were added, removed or updated in.
 *
 * `evictionCandidates()` lists the peers to disconnect, worst first: peers whose standing is not
 * `ok`, then peers placed in no set whose connection is older than `evictionGraceMs` (a new
 * connection gets time to send its hello and have its latency measured). At most
 * `evictionsPerCallMax` per call.
 *
 * @module
 */
import { assert } from "../core/errors.ts";
import type { Clock } from "../core/ports.ts";
import { classRank, type TrustClass, trustClasses } from "../core/policy/policy.ts";
import type { PeerStanding } from "./misbehaviour.ts";

export const topologyRoles = ["edge", "rendezvous", "archive"] as const;
/** `edge`: an ordinary node; `rendezvous`: serves discovery for its region; `archive`: keeps full history. */
export type TopologyRole = typeof topologyRoles[number];

/** The set names, in the order they are shown (`icn node peers`, `/metrics`). */
export const neighbourSetNames = ["cluster", "regional", "backbone", "trusted"] as const;
export type NeighbourSetName = typeof neighbourSetNames[number];

/** The order in which sets choose their peers (see the module comment). */
const fillOrder: readonly NeighbourSetName[] = ["trusted", "cluster", "regional", "backbone"];

/** Where a node sits, as configured and as announced in its hello. */
export interface Topology {
  /** Operator-chosen name, e.g. `eu-west`; nodes that leave it unset share the region `default`. */
  region: string;
  /** Operator-chosen name; defaults to the node's home (first) network id. */
  cluster: string;
  role: TopologyRole;
}

/** Most peers in each set. */
export type NeighbourLimits = Record<NeighbourSetName, number>;

/** What the node knows of one connected peer. */
export interface NeighbourPeer {
  peerId: string;
  /** From the peer's hello; absent until it arrives or when an older peer announces none. */
  topology?: Topology;
  /** Trust class of the peer's DID, from this node's trust view. */
  trustClass: TrustClass;
  /** From peer standing (misbehaviour); `ok` when absent. */
  standing?: PeerStanding;
  /** Measured round trip (ping); absent until measured. */
  latencyMs?: number;
  /** When the current connection was opened, ms since the epoch. */
  connectedAtMs: number;
}

/** Least trust class that makes a peer eligible for the trusted set: `known` is one vouch away from anyone. */
export const trustedClassMin: TrustClass = "partner";
/**
 * Latencies are compared in steps of this many ms: a ping that wavers by a few ms must not swap
 * two neighbours back and forth.
 */
export const latencyResolutionMs = 10;
/** A connection younger than this is never an eviction candidate: time for its hello and a ping. */
export const evictionGraceMs = 30_000;
/**
 * Most peers `evictionCandidates()` returns per call: the node disconnects a few at a time and
 * asks again, so a wrong trust view or a burst of arrivals cannot empty its connections at once.
 */
export const evictionsPerCallMax = 8;
/**
 * Most peers tracked, and most peers in one set: `limits.max_connections` allows at most 10,000
 * connections, and each tracked peer is a connection.
 */
export const neighbourPeersMax = 10_000;
/** Longest region or cluster name, in bytes (a cooperative network id, a CID, is about 60). */
export const topologyNameBytesMax = 128;
/** Longest measured latency accepted, in ms: anything slower is not a working connection. */
export const latencyMsMax = 600_000;

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** What is wrong with a region or cluster name, or null when it is a good one. */
export function topologyNameProblem(name: string): string | null {
  if (name.length === 0) return "expected a non-empty string";
  if (name.length > topologyNameBytesMax || !namePattern.test(name)) {
    return `expected at most ${topologyNameBytesMax} letters, digits, ".", "_", ":" or "-", starting with a letter or digit, got ${
      JSON.stringify(name.slice(0, 40))
    }`;
  }
  return null;
}

/** Checks a region or cluster name; `what` names it in the error. */
export function checkTopologyName(name: unknown, what: string): string {
  if (typeof name !== "string") throw new TypeError(`Invalid ${what}: expected a string`);
  const problem = topologyNameProblem(name);
  if (problem !== null) throw new RangeError(`Invalid ${what}: ${problem}`);
  return name;
}

/** A topology from a hello or a config, checked; throws TypeError or RangeError naming the field. */
export function parseTopology(value: unknown): Topology {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Invalid topology: expected an object with region, cluster and role");
  }
  const { region, cluster, role } = value as Record<string, unknown>;
  if (typeof role !== "string" || !(topologyRoles as readonly string[]).includes(role)) {
    throw new RangeError(
      `Invalid topology role ${JSON.stringify(String(role).slice(0, 40))}: expected one of ${
        topologyRoles.join(", ")
      }`,
    );
  }
  return {
    region: checkTopologyName(region, "topology region"),
    cluster: checkTopologyName(cluster, "topology cluster"),
    role: role as TopologyRole,
  };
}

/** Checks limits: each an integer from 1 to `neighbourPeersMax`. */
export function checkNeighbourLimits(limits: NeighbourLimits): NeighbourLimits {
  for (const name of neighbourSetNames) {
    const limit = limits[name];
    if (!Number.isInteger(limit) || limit < 1 || limit > neighbourPeersMax) {
      throw new RangeError(
        `Invalid neighbour limit "${name}": ${limit}, expected an integer from 1 to ${neighbourPeersMax}`,
      );
    }
  }
  return { ...limits };
}

/** The sets `peer` may be placed in, seen from `local`, in fill order (see the module comment). */
export function eligibleSets(local: Topology, peer: NeighbourPeer): NeighbourSetName[] {
  if ((peer.standing ?? "ok") !== "ok") return [];
  const eligible: NeighbourSetName[] = [];
  if (classRank(peer.trustClass) >= classRank(trustedClassMin)) eligible.push("trusted");
  const topology = peer.topology;
  if (topology === undefined) return eligible;
  if (topology.cluster === local.cluster) eligible.push("cluster");
  else if (topology.region === local.region) eligible.push("regional");
  if (topology.role !== "edge" || topology.region !== local.region) eligible.push("backbone");
  return eligible;
}

function latencyStep(peer: NeighbourPeer): number {
  return peer.latencyMs === undefined
    ? Number.POSITIVE_INFINITY
    : Math.floor(peer.latencyMs / latencyResolutionMs);
}

/**
 * Orders peers best first for keeping: higher trust class, lower latency, older connection,
 * then peer id. A total order, so sorting by it is deterministic.
 */
export function compareForKeeping(a: NeighbourPeer, b: NeighbourPeer): number {
  const trust = classRank(b.trustClass) - classRank(a.trustClass);
  if (trust !== 0) return trust;
  const latencyA = latencyStep(a);
  const latencyB = latencyStep(b);
  if (latencyA !== latencyB) return latencyA < latencyB ? -1 : 1;
  if (a.connectedAtMs !== b.connectedAtMs) return a.connectedAtMs < b.connectedAtMs ? -1 : 1;
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0;
}

function checkPeer(peer: NeighbourPeer): NeighbourPeer {
  if (typeof peer.peerId !== "string" || peer.peerId.length === 0) {
    throw new TypeError("Invalid neighbour: expected a non-empty peer id");
  }
  const id = JSON.stringify(peer.peerId.slice(0, 60));
  if (!(trustClasses as readonly string[]).includes(peer.trustClass)) {
    throw new RangeError(`Invalid neighbour ${id}: unknown trust class ${peer.trustClass}`);
  }
  const standing = peer.standing ?? "ok";
  if (!["ok", "quarantined", "banned"].includes(standing)) {
    throw new RangeError(`Invalid neighbour ${id}: unknown standing ${standing}`);
  }
  const latency = peer.latencyMs;
  if (latency !== undefined && !(latency >= 0 && latency <= latencyMsMax)) {
    throw new RangeError(
      `Invalid neighbour ${id}: latency ${latency} ms is outside 0..${latencyMsMax}`,
    );
  }
  if (!Number.isFinite(peer.connectedAtMs)) {
    throw new RangeError(
      `Invalid neighbour ${id}: connection time ${peer.connectedAtMs} is not a time`,
    );
  }
  const topology = peer.topology === undefined ? undefined : parseTopology(peer.topology);
  return {
    peerId: peer.peerId,
    ...(topology ? { topology } : {}),
    trustClass: peer.trustClass,
    standing,
    ...(latency !== undefined ? { latencyMs: latency } : {}),
    connectedAtMs: peer.connectedAtMs,
  };
}

/** The neighbour sets of one node. */
export interface NeighbourSets {
  /** Adds a peer or replaces what is known of it. Throws RangeError past `neighbourPeersMax` peers. */
  upsert(peer: NeighbourPeer): void;
  /** Forgets a peer (disconnected); true when it was known. */
  remove(peerId: string): boolean;
  /** Peer ids of each set, best ranked first. */
  sets(): Record<NeighbourSetName, string[]>;
  /** Peers in each set, for `recordNeighbourSets()`. */
  counts(): Record<NeighbourSetName, number>;
  /** The set a peer is in; null when it is in none or unknown. */
  setOf(peerId: string): NeighbourSetName | null;
  /** Peers the node should disconnect, worst first, at most `evictionsPerCallMax`. */
  evictionCandidates(): string[];
  /** Peers known. */
  readonly size: number;
  readonly local: Topology;
  readonly limits: Readonly<NeighbourLimits>;
}

export interface NeighbourSetsComponents {
  clock: Clock;
}

export interface NeighbourSetsInit {
  local: Topology;
  limits: NeighbourLimits;
}

/**
 * Neighbour sets for a node at `init.local`, each holding at most `init.limits[set]` peers.
 * Throws TypeError or RangeError for an invalid topology or a limit that is not a positive
 * integer.
 *
 * @example
 * ```ts
 * import { createNeighbourSets } from "./topology.ts";
 *
 * const neighbours = createNeighbourSets({ clock: { now: () => 0 } }, {
 *   local: { region: "eu", cluster: "coop-a", role: "edge" },
 *   limits: { cluster: 2, regional: 2, backbone: 2, trusted: 2 },
 * });
 * neighbours.upsert({
 *   peerId: "p1",
 *   topology: { region: "eu", cluster: "coop-a", role: "edge" },
 *   trustClass: "known",
 *   connectedAtMs: 0,
 * });
 * neighbours.setOf("p1"); // "cluster"
 * ```
 */
export function createNeighbourSets(
  components: NeighbourSetsComponents,
  init: NeighbourSetsInit,
): NeighbourSets {
  const local = parseTopology(init.local);
  const limits = checkNeighbourLimits(init.limits);
  const peers = new Map<string, NeighbourPeer>();
  let assigned: Map<string, NeighbourSetName> | null = null;
  let members: Record<NeighbourSetName, string[]> | null = null;

  const assign = () => {
    if (assigned && members) return { assigned, members };
    const ranked = [...peers.values()].sort(compareForKeeping);
    const nextAssigned = new Map<string, NeighbourSetName>();
    const nextMembers: Record<NeighbourSetName, string[]> = {
      cluster: [],
      regional: [],
      backbone: [],
      trusted: [],
    };
    const eligible = new Map(ranked.map((peer) => [peer.peerId, eligibleSets(local, peer)]));
    for (const set of fillOrder) {
      const chosen = nextMembers[set];
      for (const peer of ranked) {
        if (chosen.length >= limits[set]) break;
        if (nextAssigned.has(peer.peerId) || !eligible.get(peer.peerId)!.includes(set)) continue;
        chosen.push(peer.peerId);
        nextAssigned.set(peer.peerId, set);
      }
    }
    for (const set of neighbourSetNames) {
      assert(nextMembers[set].length <= limits[set], `neighbour set ${set} is over its limit`);
    }
    assigned = nextAssigned;
    members = nextMembers;
    return { assigned, members };
  };

  const changed = () => {
    assigned = null;
    members = null;
  };

  return {
    local,
    limits,
    get size() {
      return peers.size;
    },
    upsert(peer) {
      const checked = checkPeer(peer);
      if (!peers.has(checked.peerId) && peers.size >= neighbourPeersMax) {
        throw new RangeError(
          `Cannot track neighbour ${
            JSON.stringify(checked.peerId.slice(0, 60))
          }: ${peers.size} peers tracked, at most ${neighbourPeersMax}`,
        );
      }
      peers.set(checked.peerId, checked);
      changed();
    },
    remove(peerId) {
      const removed = peers.delete(peerId);
      if (removed) changed();
      return removed;
    },
    sets() {
      const { members } = assign();
      return {
        cluster: [...members.cluster],
        regional: [...members.regional],
        backbone: [...members.backbone],
        trusted: [...members.trusted],
      };
    },
    counts() {
      const { members } = assign();
      return {
        cluster: members.cluster.length,
        regional: members.regional.length,
        backbone: members.backbone.length,
        trusted: members.trusted.length,
      };
    },
    setOf(peerId) {
      return assign().assigned.get(peerId) ?? null;
    },
    evictionCandidates() {
      const { assigned } = assign();
      const now = components.clock.now();
      const worstFirst = [...peers.values()].sort((a, b) => compareForKeeping(b, a));
      const misbehaving = worstFirst.filter((peer) => peer.standing !== "ok");
      const unplaced = worstFirst.filter((peer) =>
        peer.standing === "ok" && !assigned.has(peer.peerId) &&
        now - peer.connectedAtMs >= evictionGraceMs
      );
      return [...misbehaving, ...unplaced].slice(0, evictionsPerCallMax).map((peer) => peer.peerId);
    },
  };
}
