/**
 * What the node's status shows (`icn node status`, `icn node peers`, the control API): a view put
 * together from the owners of each part (each network's peers and standing, the neighbour sets,
 * libp2p's connections), holding no state of its own.
 */
import type { PeerStanding } from "./misbehaviour.ts";
import type { NetworkStatus, ServedNetwork } from "./network.ts";
import type { PeerInfo } from "./peers.ts";
import type { NeighbourSetName, Topology } from "./topology.ts";
import type { VerifiedHello } from "./hello.ts";
import type { UpgradeStatus } from "./upgrade.ts";

/** A connected peer as the node's status shows it. */
export interface NodePeerInfo extends PeerInfo {
  /** The networks this node and the peer both serve, where the peer is verified. */
  networks: string[];
  /** The peer's standing in each of those networks. */
  standings: Record<string, PeerStanding>;
  /** The neighbour set the peer is in (`net/topology.ts`), or null. */
  set: NeighbourSetName | null;
  /** Where the peer sits, as its hello announced it. */
  topology: Topology | null;
}

export interface NodeStatus {
  did: string;
  peerId: string;
  /** The home network (the first served). */
  net: string;
  version: string;
  listen: string[];
  peers: NodePeerInfo[];
  /** Envelopes in the home network's store. */
  envelopes: number;
  /** The highest lag of any network. */
  syncLag: number;
  ready: boolean;
  networks: NetworkStatus[];
  topology: Topology;
  /** Peer ids in each neighbour set, best first. */
  neighbours: Record<NeighbourSetName, string[]>;
  /**
   * Accepted protocol upgrades of every network served: their readiness among active members'
   * nodes, whether in force, and a warning when an operator should act (`net/upgrade.ts`).
   */
  upgrades: UpgradeStatus[];
}

/** A connected peer as libp2p sees it. */
export interface ConnectedPeer {
  peer: string;
  addrs: string[];
  /** Its gossipsub score. */
  score: number;
}

export interface PeerViewComponents {
  /** Every network served, the home network first. */
  networks: readonly Pick<ServedNetwork, "id" | "peers">[];
  neighbours: {
    hello(peer: string): VerifiedHello | undefined;
    setOf(peer: string): NeighbourSetName | null;
  };
}

/**
 * Each connected peer with what every network and the neighbour sets know of it: described by
 * the first network both serve (the home network when none is shared yet).
 */
export function describePeers(
  connected: readonly ConnectedPeer[],
  components: PeerViewComponents,
  now: number,
): NodePeerInfo[] {
  const { networks, neighbours } = components;
  return connected.map(({ peer, addrs, score }) => {
    const hello = neighbours.hello(peer);
    const shared = networks.filter((s) => hello?.shared.includes(s.id));
    const info = (shared[0] ?? networks[0]).peers.describe(peer, { addrs, score });
    return {
      ...info,
      networks: shared.map((s) => s.id),
      standings: Object.fromEntries(shared.map((s) => [s.id, s.peers.standing(peer, now)])),
      set: neighbours.setOf(peer),
      topology: hello?.topology ?? null,
    };
  });
}
