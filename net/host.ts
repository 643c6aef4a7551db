/**
 * The libp2p host under a node: which transports, services and discovery a configuration
 * turns on (optional ones imported only when on), its connection limits and gater, and the
 * small host chores the node repeats (dialling bootstrap peers, counting connections for the
 * metrics). The protocols themselves (hello, gossip, sync) live in their own files.
 *
 * One host per node, shared by every network it serves.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { gossipsub, type GossipsubOpts } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { Connection, ConnectionGater, Libp2p, PrivateKey } from "@libp2p/interface";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import type { Libp2pOptions } from "libp2p";
import type { Registry } from "prom-client";
import type { Logger } from "../core/ports.ts";
import type { NodeConfig } from "./config.ts";
import { pendingConnectionsMin } from "./limits.ts";
import type { NetworkCounts } from "./metrics.ts";

/** The cooperative's own DHT, apart from the public IPFS one. */
export const dhtProtocol = "/icn/kad/1.0.0";

export type Host = Libp2p<{ pubsub: ReturnType<ReturnType<typeof gossipsub>> }>;

export interface HostInit {
  config: NodeConfig;
  privateKey: PrivateKey;
  /** gossipsub's options (from `Gossip.options()`). */
  pubsub: Partial<GossipsubOpts>;
  /** Banned peers and prefixes over their share are refused here. */
  gater: ConnectionGater;
  /** libp2p's own metrics go to this registry (one node per process only); none when absent. */
  metricsRegistry?: Registry;
  /** How often the connection monitor pings each peer (libp2p's default unless set). */
  pingIntervalMs?: number;
}

/** libp2p's options for a node with this configuration. */
export async function hostOptions(init: HostInit): Promise<Libp2pOptions> {
  const { config } = init;
  const services: Record<string, unknown> = {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsub(init.pubsub),
  };
  if (config.dht) {
    const { kadDHT, passthroughMapper, removePrivateAddressesMapper } = await import(
      "@libp2p/kad-dht"
    );
    services.dht = kadDHT({
      clientMode: false,
      protocol: dhtProtocol,
      peerInfoMapper: config.dhtPrivate ? passthroughMapper : removePrivateAddressesMapper,
    });
  }
  if (config.autonat) {
    const { autoNAT } = await import("@libp2p/autonat");
    services.autonat = autoNAT({ protocolPrefix: "icn" });
  }
  const transports = [tcp()];
  if (config.relayClient) {
    const { circuitRelayTransport } = await import("@libp2p/circuit-relay-v2");
    transports.push(circuitRelayTransport() as never);
  }
  if (config.relayServer) {
    const { circuitRelayServer } = await import("@libp2p/circuit-relay-v2");
    services.relay = circuitRelayServer();
  }
  const peerDiscovery = [];
  if (config.mdns) {
    const { mdns } = await import("@libp2p/mdns");
    peerDiscovery.push(mdns());
  }
  let metrics;
  if (init.metricsRegistry) {
    const { prometheusMetrics } = await import("@libp2p/prometheus-metrics");
    // prom-client's default Node.js metrics break promtool's naming rules; icn_process_* cover them.
    metrics = prometheusMetrics({ registry: init.metricsRegistry, collectDefaultMetrics: false });
  }
  return {
    privateKey: init.privateKey,
    addresses: { listen: config.listen },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    metrics,
    connectionMonitor: init.pingIntervalMs === undefined
      ? undefined
      : { pingInterval: init.pingIntervalMs },
    connectionManager: {
      maxConnections: config.maxConnections,
      inboundConnectionThreshold: config.inboundConnectionThreshold,
      maxIncomingPendingConnections: Math.max(pendingConnectionsMin, config.maxConnections),
    },
    connectionGater: init.gater,
    services: services as never,
  };
}

/** Connections by direction, streams by protocol, and the topic's subscribers and mesh. */
export function networkCounts(host: Host, topic: string): NetworkCounts {
  const connections: Record<string, number> = { inbound: 0, outbound: 0 };
  const streams: Record<string, number> = {};
  for (const connection of host.getConnections()) {
    connections[connection.direction] = (connections[connection.direction] ?? 0) + 1;
    for (const stream of connection.streams) {
      const protocol = stream.protocol ?? "unnegotiated";
      streams[protocol] = (streams[protocol] ?? 0) + 1;
    }
  }
  const pubsub = host.services.pubsub;
  return {
    connections,
    streams,
    topicPeers: pubsub.getSubscribers(topic).length,
    meshPeers: (pubsub as unknown as { getMeshPeers(topic: string): string[] })
      .getMeshPeers(topic).length,
  };
}

/** Dials each bootstrap address not connected yet (a bad one is logged and skipped). */
export function dialBootstrap(
  host: Host,
  addrs: string[],
  options: { logger: Logger; signal: AbortSignal },
): void {
  for (const addr of addrs) {
    if (options.signal.aborted) return;
    let target;
    try {
      target = multiaddr(addr);
    } catch {
      options.logger.warn("bootstrap_invalid", { addr });
      continue;
    }
    const peer = target.getComponents().find((c) => c.name === "p2p")?.value;
    if (peer && host.getConnections().some((c) => c.remotePeer.toString() === peer)) {
      continue;
    }
    host.dial(target).catch((error) =>
      options.logger.debug("bootstrap_dial_failed", { addr, error: (error as Error).message })
    );
  }
}

/**
 * Dials the peers mDNS or the DHT find, while the node has fewer than half of
 * `maxConnections` connections (room is left for peers that dial in).
 */
export function dialDiscovered(
  host: Host,
  options: { maxConnections: number; signal: AbortSignal },
): void {
  host.addEventListener("peer:discovery", (event) => {
    if (options.signal.aborted) return;
    const peer = event.detail.id;
    if (host.getConnections(peer).length > 0) return;
    if (host.getConnections().length >= options.maxConnections / 2) return;
    host.dial(peer).catch(() => {});
  });
}

/** The host's connections as the node's protocols see them, by peer id string. */
export interface HostConnections {
  /** Open connections (none before the host starts). */
  all(): Connection[];
  to(peer: string): Connection | undefined;
  /** Connected peers. */
  count(): number;
  /** Closes every connection to `peer`. */
  hangUp(peer: string): Promise<void>;
}

/** The connections of the host `host()` returns (undefined until it is built). */
export function hostConnections(host: () => Host | undefined): HostConnections {
  const all = () => host()?.getConnections() ?? [];
  const to = (peer: string) => all().find((c) => c.remotePeer.toString() === peer);
  return {
    all,
    to,
    count: () => host()?.getPeers().length ?? 0,
    hangUp: async (peer) => {
      const target = to(peer)?.remotePeer;
      if (target) await host()!.hangUp(target);
    },
  };
}
