/**
 * The icn node: a libp2p host (TCP, Noise, Yamux, identify, ping, gossipsub)
 * whose peer id is the identity's Ed25519 key. Every envelope from a peer,
 * by gossip or by sync, goes through the one validation path `ingest`, with
 * rate limits applied by the verified author; all writes to the store are
 * serialized in one lane and inbound gossip is committed in batches.
 *
 * This file is the composition root, as js-libp2p builds kad-dht: it builds each protocol
 * from `(components, init)`, wires them to libp2p, and starts and stops them. Each protocol's
 * state lives in its own file: `peers.ts` (verified peers, trust, rate limits, standing),
 * `write_lane.ts` (the one writer), `hello.ts` (admission and the signed hello), `gossip.ts`
 * and `sync.ts`. Everything but the lane and libp2p is per network, so a node serving several
 * networks (federation) builds one peers/hello/gossip/sync set per network over one lane.
 */
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type { MultiaddrConnection, PeerId, PrivateKey } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { appendLocal } from "../core/chain/append.ts";
import { catchUpRefusal, readCatchUp } from "../core/identity/catch_up.ts";
import { ReadCache } from "../core/chain/cache.ts";
import type { IngestDeps, IngestOutcome, IngestSource } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { protocolVersion } from "../core/constants.ts";
import type { SealedEnvelope, Signer } from "../core/envelope/envelope.ts";
import { RejectedError } from "../core/errors.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import type { Ed25519KeyPair } from "../core/identity/keys.ts";
import type { Logger } from "../core/ports.ts";
import { type AddressClassifier, admissionProtocol, prefixKey } from "./admission.ts";
import type { NodeConfig } from "./config.ts";
import { Gossip } from "./gossip.ts";
import { Admission, Hello } from "./hello.ts";
import { dialBootstrap, type Host, hostOptions, networkCounts } from "./host.ts";
import { admissionInboundStreamsMax, syncInboundStreamsMax } from "./limits.ts";
import { addNetworkGauges, createNodeMetrics, type NodeMetrics } from "./metrics.ts";
import type { MisbehaviourTracker } from "./misbehaviour.ts";
import { type PeerInfo, Peers } from "./peers.ts";
import { helloProtocol, syncProtocol } from "./protocol.ts";
import { askOverStreams, Sync } from "./sync.ts";
import { WriteLane } from "./write_lane.ts";

export type { PeerInfo };

export interface NodeIdentity {
  did: string;
  signer: Signer;
  /** The identity's current signing key: it signs envelopes and the hello. */
  ed25519: Ed25519KeyPair;
  /**
   * Seed of the node's own libp2p key (its peer id), kept apart from the identity's keys so the
   * peer id stays the same across key rotations. The hello binds it to the DID: it names this
   * peer id and is signed by the DID's current key. Default: the identity key's seed (tests).
   */
  nodeKey?: Uint8Array;
}

export interface NodeDeps extends IngestDeps {
  logger: Logger;
  identity: NodeIdentity;
}

export interface NodeOptions {
  metrics?: NodeMetrics;
  /** Per-author rate limits (on by default; benchmarks of the raw pipeline turn them off). */
  authorLimits?: boolean;
  /** Called for every envelope this node accepts (benchmarks measure propagation with it). */
  onAccepted?: (sealed: SealedEnvelope, source: IngestSource) => void;
  /**
   * libp2p's own metrics (`@libp2p/prometheus-metrics`) in this node's registry. Its metric
   * objects are process-global, so turn it on for one node per process only (`icn node run`).
   */
  libp2pMetrics?: boolean;
  /** How often libp2p's connection monitor pings each peer (its default, 10 s, unless set: tests). */
  pingIntervalMs?: number;
  /**
   * The network prefix a remote address counts against for connection diversity (default
   * `prefixKey`: IPv4 /24, IPv6 /48, none for loopback and private addresses). Tests inject
   * one to present loopback peers as other networks.
   */
  addressClassifier?: AddressClassifier;
}

export interface NodeStatus {
  did: string;
  peerId: string;
  net: string;
  version: string;
  listen: string[];
  peers: PeerInfo[];
  envelopes: number;
  syncLag: number;
  ready: boolean;
}

export class IcnNode {
  readonly deps: NodeDeps;
  readonly config: NodeConfig;
  readonly net: string;
  readonly genesis: Genesis;
  readonly metrics: NodeMetrics;
  readonly topic: string;
  libp2p!: Host;
  readonly #libp2pMetrics: boolean;
  readonly #pingIntervalMs?: number;
  /** Aborted by `stop()`: every protocol stops taking work when it is. */
  readonly #stopping = new AbortController();
  /** The periodic round: bootstrap dials, governance refreshes, a sync with every peer. */
  #every?: ReturnType<typeof setInterval>;
  #started = false;
  readonly #lane: WriteLane;
  readonly #peers: Peers;
  readonly #admission: Admission;
  readonly #hello: Hello;
  readonly #gossip: Gossip;
  readonly #sync: Sync;

  private constructor(
    deps: NodeDeps,
    config: NodeConfig,
    net: string,
    genesis: Genesis,
    options: NodeOptions,
  ) {
    // One read cache for every ingest of this node (gossip, sync, control API): it stays valid
    // while only this node writes the store, and is dropped by ingest when anything else did.
    this.deps = deps.cache ? deps : { ...deps, cache: new ReadCache() };
    this.config = config;
    this.net = net;
    this.genesis = genesis;
    this.metrics = options.metrics ?? createNodeMetrics();
    this.topic = `/icn/${net}/envelopes/1`;
    this.#libp2pMetrics = options.libp2pMetrics ?? false;
    this.#pingIntervalMs = options.pingIntervalMs;
    // What every protocol may use; each adds what only it needs (js-libp2p's components).
    const base = {
      store: this.deps.store,
      clock: this.deps.clock,
      logger: this.deps.logger,
      metrics: this.metrics,
      genesis,
      signal: this.#stopping.signal,
      self: () => this.peerId,
    };
    const connections = () => this.libp2p?.getConnections() ?? [];
    const connectionTo = (peer: string) =>
      connections().find((c) => c.remotePeer.toString() === peer);
    let gossip: Gossip | undefined;
    const lane = this.#lane = new WriteLane({ ingest: this.deps, metrics: this.metrics }, {
      onAccepted: options.onAccepted,
      followUps: (accepted) => gossip?.takeFollowUps(accepted) ?? Promise.resolve([]),
    });
    const peers = this.#peers = new Peers({
      ...base,
      connections: {
        connected: (peer) => connectionTo(peer) !== undefined,
        hangUp: async (peer) => {
          const target = connectionTo(peer)?.remotePeer;
          if (target) await this.libp2p.hangUp(target);
        },
        count: () => this.libp2p.getPeers().length,
      },
    }, { ...config, misbehaviour: config, authorLimits: options.authorLimits });
    const sync = this.#sync = new Sync(
      { ...base, lane, peers, did: deps.identity.did, ask: askOverStreams(connections) },
      { net, pageSize: config.syncPageSize, intervalMs: config.syncIntervalMs },
    );
    this.#gossip = gossip = new Gossip(
      { ...base, lane, peers, sync },
      { topic: this.topic, profile: config.profile },
    );
    this.#admission = new Admission(
      { ...base, peers, publicKey: deps.identity.ed25519.publicKey, connections },
      { ...config, net, classify: options.addressClassifier ?? ((remote) => prefixKey(remote)) },
    );
    this.#hello = new Hello(
      { ...base, identity: deps.identity, lane, peers, admission: this.#admission, sync },
      { net, helloTimeoutMs: config.helloTimeoutMs },
    );
  }

  /** Builds a node for the network this store joined. */
  static async create(
    deps: NodeDeps,
    config: NodeConfig,
    options: NodeOptions = {},
  ): Promise<IcnNode> {
    const net = (await deps.store.get<string>(chainKeys.network))?.value;
    if (!net) {
      throw new RejectedError(
        "not_joined",
        "This data dir has not joined a cooperative: run `icn governance join GENESIS_FILE` first",
      );
    }
    const genesis = (await deps.store.get<Genesis>(chainKeys.genesis(net)))?.value;
    if (!genesis) {
      throw new RejectedError("not_joined", `Genesis of network ${net} is missing from the store`);
    }
    return new IcnNode(deps, config, net, genesis, options);
  }

  /** Peer standing: offences, quarantine and bans (`peers.ts` owns it). */
  get misbehaviour(): MisbehaviourTracker {
    return this.#peers.misbehaviour;
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  addrs(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  get ready(): boolean {
    return this.#started && !this.#stopping.signal.aborted &&
      this.syncLag() <= this.config.readyLagMax;
  }

  syncLag(): number {
    return this.#sync.lag();
  }

  async start(): Promise<void> {
    const config = this.config;
    const privateKey: PrivateKey = await generateKeyPairFromSeed(
      "Ed25519",
      this.deps.identity.nodeKey ?? this.deps.identity.ed25519.seed,
    );
    await this.#admission.refresh();
    this.libp2p = await createLibp2p(
      await hostOptions({
        config,
        privateKey,
        pubsub: this.#gossip.options(),
        gater: {
          denyDialPeer: (peer: PeerId) => this.#peers.banned(peer.toString()),
          denyInboundEncryptedConnection: (peer: PeerId, connection: MultiaddrConnection) =>
            this.#admission.deny(peer, connection),
          denyOutboundEncryptedConnection: (peer: PeerId, connection: MultiaddrConnection) =>
            this.#admission.deny(peer, connection),
        },
        metricsRegistry: this.#libp2pMetrics ? this.metrics.libp2pRegistry : undefined,
        pingIntervalMs: this.#pingIntervalMs,
      }),
    ) as never;
    addNetworkGauges(this.metrics, () => networkCounts(this.libp2p, this.topic));
    const pubsub = this.libp2p.services.pubsub;
    pubsub.topicValidators.set(
      this.topic,
      (peer, message) => this.#gossip.validate(peer.toString(), message.data),
    );
    pubsub.subscribe(this.topic);
    await this.libp2p.handle(
      helloProtocol,
      (stream, connection) => this.#hello.answer(stream, connection),
    );
    await this.libp2p.handle(
      admissionProtocol,
      (stream, connection) => this.#admission.answer(stream, connection),
      { maxInboundStreams: admissionInboundStreamsMax },
    );
    await this.libp2p.handle(
      syncProtocol,
      (stream, connection) => this.#sync.handle(stream, connection),
      { maxInboundStreams: syncInboundStreamsMax },
    );
    this.libp2p.addEventListener(
      "connection:open",
      (event) => this.#hello.onConnection(event.detail),
    );
    this.libp2p.addEventListener("peer:disconnect", (event) => {
      const peer = event.detail.toString();
      this.#peers.forget(peer);
      this.#sync.forget(peer);
      this.#admission.forget(peer, "Peer disconnected");
    });
    this.libp2p.addEventListener("peer:connect", () => this.#peers.updateGauges());
    if (config.mdns || config.dht) {
      // Peers found by mDNS or the DHT are dialled while there is room for them.
      this.libp2p.addEventListener("peer:discovery", (event) => {
        if (this.#stopping.signal.aborted) return;
        const peer = event.detail.id;
        if (this.libp2p.getConnections(peer).length > 0) return;
        if (this.libp2p.getConnections().length >= config.maxConnections / 2) return;
        this.libp2p.dial(peer).catch(() => {});
      });
    }
    this.#started = true;
    await this.#hello.refreshMinVersion();
    this.#every = setInterval(() => {
      if (this.#stopping.signal.aborted) return;
      this.#dialBootstrap();
      this.#hello.refreshMinVersion().catch(() => {});
      this.#admission.refresh().catch((error) =>
        this.deps.logger.warn("admission_refresh_failed", { error: (error as Error).message })
      );
      for (const [peer] of this.#peers.entries()) this.#sync.soon(peer);
    }, this.config.syncIntervalMs);
    this.#dialBootstrap();
    this.deps.logger.info("node_started", {
      did: this.deps.identity.did,
      peer: this.peerId,
      net: this.net,
      listen: this.addrs(),
    });
  }

  #dialBootstrap(): void {
    const { logger } = this.deps;
    dialBootstrap(this.libp2p, this.config.bootstrap, { logger, signal: this.#stopping.signal });
  }

  async connect(addr: string): Promise<string> {
    const connection = await this.libp2p.dial(multiaddr(addr));
    return connection.remotePeer.toString();
  }

  /** Fetches every envelope the peer has and this node lacks. */
  syncWith(peer: string): Promise<number> {
    return this.#sync.syncWith(peer);
  }

  /** Signs and stores a local envelope, then publishes it. */
  submit(
    request: { kind: string; body: unknown },
  ): Promise<{ sealed: SealedEnvelope; outcome: IngestOutcome }> {
    if (this.#stopping.signal.aborted) {
      return Promise.reject(new RejectedError("stopping", "Node is shutting down"));
    }
    return this.#lane.run(async () => {
      // The restore guard (core/identity/catch_up.ts): lifted by a completed sync round.
      const marker = await readCatchUp(this.deps.store, this.deps.identity.did);
      if (marker) throw catchUpRefusal(marker, this.net, "node");
      const result = await appendLocal(this.deps, this.deps.identity.signer, {
        net: this.net,
        ...request,
      });
      if (result.outcome.status === "accepted") {
        this.metrics.accepted.inc({ kind: request.kind, source: "local" });
        await this.publish(result.sealed.bytes);
      }
      return result;
    });
  }

  /** Publishes envelope bytes already in the store (local writes, imports). */
  async publish(bytes: Uint8Array): Promise<void> {
    if (!this.#started || this.#stopping.signal.aborted) return;
    try {
      await this.libp2p.services.pubsub.publish(this.topic, bytes);
      this.metrics.published.inc();
    } catch (error) {
      this.deps.logger.debug("publish_failed", { error: (error as Error).message });
    }
  }

  // ---- status ----

  peers(): PeerInfo[] {
    const pubsub = this.libp2p.services.pubsub as unknown as { getScore(peer: string): number };
    return this.libp2p.getPeers().map((peerId) =>
      this.#peers.describe(peerId.toString(), {
        addrs: this.libp2p.getConnections(peerId).map((c) => c.remoteAddr.toString()),
        score: pubsub.getScore(peerId.toString()),
      })
    );
  }

  async status(): Promise<NodeStatus> {
    const envelopes = (await this.deps.store.get<number>(chainKeys.logNext))?.value ?? 0;
    return {
      did: this.deps.identity.did,
      peerId: this.peerId,
      net: this.net,
      version: protocolVersion,
      listen: this.addrs(),
      peers: this.peers(),
      envelopes,
      syncLag: this.syncLag(),
      ready: this.ready,
    };
  }

  /** Stops accepting, lets in-flight commits finish, stops libp2p. The caller closes the store. */
  async stop(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    this.#stopping.abort();
    clearInterval(this.#every);
    this.#hello.stop();
    this.#sync.stop();
    this.#admission.stop();
    await this.#lane.settled();
    try {
      await this.libp2p?.stop();
    } catch {
      // Stopping is best effort; the process exits anyway.
    }
    this.deps.logger.info("node_stopped", {});
  }
}
