/**
 * The icn node: a libp2p host (TCP, Noise, Yamux, identify, ping, gossipsub)
 * whose peer id is the node's own key. It serves one or several networks, each
 * over its own store (one Deno KV file per network, docs/design.md "One store per
 * network"): every envelope from a peer, by gossip or by sync, goes through the
 * one validation path `ingest` of that network's store, with rate limits applied
 * by the verified author; all writes to a store are serialized in its one lane
 * and inbound gossip is committed in batches.
 *
 * This file is the composition root, as js-libp2p builds kad-dht: it builds each protocol
 * from `(components, init)`, wires them to libp2p, and starts and stops them. Each protocol's
 * state lives in its own file: `peers.ts` (verified peers, trust, rate limits, standing),
 * `write_lane.ts` (the one writer of a store), `hello.ts` (admission and the signed hello),
 * `gossip.ts`, `sync.ts` and `topology.ts` (neighbour sets). Per network: peers, lane, gossip
 * topic, sync and admission; per node: libp2p, the hello (it lists the networks served), the
 * neighbour sets, and the replay of key event log forks into every network's store.
 */
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type {
  Connection,
  MultiaddrConnection,
  PeerId,
  PrivateKey,
  Stream,
} from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { appendLocal } from "../core/chain/append.ts";
import { catchUpRefusal, readCatchUp } from "../core/identity/catch_up.ts";
import { ReadCache } from "../core/chain/cache.ts";
import type {
  IngestDeps,
  IngestOutcome,
  IngestSource,
  KindRegistry,
} from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { kelNet, protocolVersion } from "../core/constants.ts";
import { type SealedEnvelope, type Signer } from "../core/envelope/envelope.ts";
import { RejectedError } from "../core/errors.ts";
import type { FederationGenesis } from "../core/federation/genesis.ts";
import { federationKeys } from "../core/federation/view.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { readNetworkKind } from "../core/governance/join.ts";
import type { Ed25519KeyPair } from "../core/identity/keys.ts";
import type { Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { type AddressClassifier, admissionProtocol, prefixKey } from "./admission.ts";
import { neighbourSetsInit, type NodeConfig } from "./config.ts";
import { Gossip } from "./gossip.ts";
import { KelReplay } from "./kel_replay.ts";
import { Neighbours } from "./neighbours.ts";
import { Admission, Admissions, Hello, type VerifiedHello } from "./hello.ts";
import { dialBootstrap, type Host, hostOptions, networkCounts } from "./host.ts";
import {
  admissionInboundStreamsMax,
  maintenanceIntervalMs,
  syncInboundStreamsMax,
} from "./limits.ts";
import { addNetworkGauges, countDropped, createNodeMetrics, type NodeMetrics } from "./metrics.ts";
import type { MisbehaviourTracker, PeerStanding } from "./misbehaviour.ts";
import { type PeerConnections, type PeerInfo, Peers } from "./peers.ts";
import {
  decodeSyncRequest,
  helloProtocol,
  networksPerNodeMax,
  respond,
  syncProtocol,
  type SyncRequest,
  syncRequestBytesMax,
} from "./protocol.ts";
import { askOverStreams, Sync } from "./sync.ts";
import { type NeighbourSetName, type Topology } from "./topology.ts";
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

/** A network the node serves: its id and the store that joined it (one store per network). */
export interface NodeNetwork {
  id: string;
  store: Store;
  /** Its kinds (default: the node's `kinds`). */
  kinds?: KindRegistry;
}

export interface NodeDeps extends IngestDeps {
  logger: Logger;
  identity: NodeIdentity;
  /**
   * Every network to serve, the first being the home network (its id is the hello's `net` and
   * the default topology cluster). Default: the one network `store` joined. Each store must hold
   * the identity's key event log.
   */
  networks?: NodeNetwork[];
}

export interface NodeOptions {
  metrics?: NodeMetrics;
  /** Per-author rate limits (on by default; benchmarks of the raw pipeline turn them off). */
  authorLimits?: boolean;
  /** Called for every envelope this node accepts, in any network (benchmarks measure propagation with it). */
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
  /** How often the neighbour sets are refreshed and evicted peers disconnected (tests: less). */
  maintenanceIntervalMs?: number;
}

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

/** One served network in the node's status. */
export interface NetworkStatus {
  id: string;
  topic: string;
  /** Envelopes in the network's store (its key event logs included). */
  envelopes: number;
  syncLag: number;
  /** Peers verified in this network. */
  peers: number;
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
}

/** The services of one network the node serves. */
interface Served {
  id: string;
  genesis: Genesis;
  deps: IngestDeps;
  topic: string;
  lane: WriteLane;
  peers: Peers;
  sync: Sync;
  gossip: Gossip;
  admission: Admission;
  /** Peers this network hung up on (banned, refused) while another network keeps them. */
  dropped: Set<string>;
}

/** A network this node serves, as `create` read it from its store. */
interface Joined {
  id: string;
  store: Store;
  kinds: KindRegistry;
  genesis: Genesis;
}

export class IcnNode {
  /** The home network's deps (its store), with the node's identity and logger. */
  readonly deps: NodeDeps;
  readonly config: NodeConfig;
  /** The home network (the first served). */
  readonly net: string;
  readonly genesis: Genesis;
  readonly metrics: NodeMetrics;
  /** The home network's gossip topic. */
  readonly topic: string;
  /** Every network served, the home network first. */
  readonly networks: readonly string[];
  libp2p!: Host;
  readonly #libp2pMetrics: boolean;
  readonly #pingIntervalMs?: number;
  /** Aborted by `stop()`: every protocol stops taking work when it is. */
  readonly #stopping = new AbortController();
  /** The periodic round: bootstrap dials, governance refreshes, a sync with every peer. */
  #every?: ReturnType<typeof setInterval>;
  #started = false;
  readonly #served: Served[];
  readonly #byId: Map<string, Served>;
  readonly #byTopic: Map<string, Served>;
  readonly #admissions: Admissions;
  readonly #hello: Hello;
  /** Verified hellos of connected peers and the neighbour sets they are in. */
  readonly #neighbours: Neighbours;
  readonly #kelReplay: KelReplay;

  private constructor(
    deps: NodeDeps,
    config: NodeConfig,
    joined: Joined[],
    options: NodeOptions,
  ) {
    const home = joined[0];
    this.config = config;
    this.net = home.id;
    this.genesis = home.genesis;
    this.networks = joined.map((n) => n.id);
    this.metrics = options.metrics ?? createNodeMetrics();
    this.topic = topicOf(home.id);
    this.#libp2pMetrics = options.libp2pMetrics ?? false;
    this.#pingIntervalMs = options.pingIntervalMs;
    const { clock, logger, identity } = deps;
    const signal = this.#stopping.signal;
    const metrics = this.metrics;
    const self = () => this.peerId;
    const connections = () => this.libp2p?.getConnections() ?? [];
    const connectionTo = (peer: string) =>
      connections().find((c) => c.remotePeer.toString() === peer);
    const ask = askOverStreams(connections);
    const nodeLag = () => this.syncLag();
    this.#kelReplay = new KelReplay({
      logger,
      signal,
      networks: () => this.#served.map((s) => ({ id: s.id, store: s.deps.store, lane: s.lane })),
    });
    this.#served = joined.map((network, index) => {
      // One read cache per store for every ingest of this node (gossip, sync, control API): it
      // stays valid while only this node writes the store, and is dropped by ingest when
      // anything else did.
      const networkDeps: IngestDeps = {
        store: network.store,
        clock,
        kinds: network.kinds,
        logger,
        cache: index === 0 && deps.cache && deps.store === network.store
          ? deps.cache
          : new ReadCache(),
      };
      const served = { id: network.id, genesis: network.genesis, deps: networkDeps } as Served;
      served.topic = topicOf(network.id);
      served.dropped = new Set();
      const replayStore = { id: network.id, store: network.store };
      // What every protocol of this network may use (js-libp2p's components).
      const base = {
        store: network.store,
        clock,
        logger,
        metrics,
        genesis: network.genesis,
        signal,
        self,
      };
      served.lane = new WriteLane({ ingest: networkDeps, metrics }, {
        net: network.id,
        onAccepted: (sealed, source) => {
          options.onAccepted?.(sealed, source);
          if (sealed.envelope.net === kelNet) this.#kelReplay.event(replayStore, sealed);
        },
        followUps: (accepted) => served.gossip.takeFollowUps(accepted),
        onKelFork: (sealed) => this.#kelReplay.fork(replayStore, sealed),
      });
      served.peers = new Peers(
        {
          ...base,
          connections: this.#networkConnections(served, connectionTo),
          updateGauges: () => this.#updatePeerGauges(),
        },
        { ...config, misbehaviour: config, authorLimits: options.authorLimits },
      );
      served.sync = new Sync({
        ...base,
        lane: served.lane,
        peers: served.peers,
        did: identity.did,
        nodeLag,
        // A request for the peer's first network need not name it (older nodes serve one).
        ask: (peer, message) =>
          ask(
            peer,
            this.#neighbours.hello(peer)?.first === network.id
              ? message
              : { ...message, network: network.id },
          ),
      }, { net: network.id, pageSize: config.syncPageSize, intervalMs: config.syncIntervalMs });
      served.gossip = new Gossip(
        { ...base, lane: served.lane, peers: served.peers, sync: served.sync },
        { topic: served.topic, net: network.id, profile: config.profile },
      );
      served.admission = new Admission(
        {
          ...base,
          peers: served.peers,
          publicKey: identity.ed25519.publicKey,
          connections,
        },
        {
          ...config,
          net: network.id,
          classify: options.addressClassifier ?? ((remote) => prefixKey(remote)),
        },
      );
      return served;
    });
    const first = this.#served[0];
    this.deps = { ...deps, ...first.deps, logger, identity };
    this.#byId = new Map(this.#served.map((s) => [s.id, s]));
    this.#byTopic = new Map(this.#served.map((s) => [s.topic, s]));
    this.#admissions = new Admissions(this.#served.map((s) => s.admission));
    this.#neighbours = new Neighbours({
      clock,
      logger,
      metrics,
      signal,
      networks: () => this.#served,
      connectionTo,
      hangUp: (peer) => {
        const target = connectionTo(peer)?.remotePeer;
        if (target) this.libp2p.hangUp(target).catch(() => {});
      },
    }, {
      ...neighbourSetsInit(config, home.id),
      bootstrap: config.bootstrap,
      maintenanceIntervalMs: options.maintenanceIntervalMs ?? maintenanceIntervalMs,
    });
    this.#hello = new Hello({
      store: first.deps.store,
      clock,
      logger,
      genesis: first.genesis,
      identity,
      lane: first.lane,
      peers: first.peers,
      admission: this.#admissions,
      sync: first.sync,
      self,
      signal,
      networks: this.#served.map((s) => ({
        net: s.id,
        store: s.deps.store,
        genesis: s.genesis,
        lane: s.lane,
        peers: s.peers,
        sync: s.sync,
      })),
      onVerified: (peer, hello) => this.#onVerified(peer, hello),
    }, { net: home.id, helloTimeoutMs: config.helloTimeoutMs, topology: this.#neighbours.local });
  }

  /**
   * Builds a node for the networks it is given (`deps.networks`), or for the one network its
   * store joined. Each store must have joined its network; at most `networksPerNodeMax`.
   */
  static async create(
    deps: NodeDeps,
    config: NodeConfig,
    options: NodeOptions = {},
  ): Promise<IcnNode> {
    const given = deps.networks ?? [];
    if (given.length > networksPerNodeMax) {
      throw new RangeError(
        `Cannot serve ${given.length} networks: a node serves at most ${networksPerNodeMax}`,
      );
    }
    if (new Set(given.map((n) => n.id)).size !== given.length) {
      throw new RangeError("Cannot serve a network twice: the networks given repeat an id");
    }
    const joined: Joined[] = [];
    if (given.length === 0) {
      const net = (await deps.store.get<string>(chainKeys.network))?.value;
      if (!net) {
        throw new RejectedError(
          "not_joined",
          "This data dir has not joined a cooperative: run `icn governance join GENESIS_FILE` first",
        );
      }
      joined.push(await readJoined({ id: net, store: deps.store, kinds: deps.kinds }));
    } else {
      for (const network of given) {
        const net = (await network.store.get<string>(chainKeys.network))?.value;
        if (net !== network.id) {
          throw new RejectedError(
            "not_joined",
            net
              ? `The store given for network ${network.id} belongs to network ${net}`
              : `The store given for network ${network.id} has not joined it`,
          );
        }
        joined.push(await readJoined({ ...network, kinds: network.kinds ?? deps.kinds }));
      }
    }
    return new IcnNode(deps, config, joined, options);
  }

  /** Peer standing in the home network: offences, quarantine and bans (`peers.ts` owns it). */
  get misbehaviour(): MisbehaviourTracker {
    return this.#served[0].peers.misbehaviour;
  }

  /** Peer standing in network `net` (each network keeps its own). */
  misbehaviourIn(net: string): MisbehaviourTracker {
    return this.#network(net).peers.misbehaviour;
  }

  /** The store of network `net`. */
  storeOf(net: string): Store {
    return this.#network(net).deps.store;
  }

  /** The gossip topic of network `net`. */
  topicOf(net: string): string {
    return this.#network(net).topic;
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  addrs(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  /** Started, not stopping, and every network's sync lag within `readyLagMax`. */
  get ready(): boolean {
    return this.#started && !this.#stopping.signal.aborted &&
      this.#served.every((s) => s.sync.lag() <= this.config.readyLagMax);
  }

  /** The highest sync lag of any network served. */
  syncLag(): number {
    let lag = 0;
    for (const s of this.#served) lag = Math.max(lag, s.sync.lag());
    return lag;
  }

  /** The sync lag of each network served. */
  syncLagByNetwork(): Record<string, number> {
    return Object.fromEntries(this.#served.map((s) => [s.id, s.sync.lag()]));
  }

  async start(): Promise<void> {
    const config = this.config;
    const privateKey: PrivateKey = await generateKeyPairFromSeed(
      "Ed25519",
      this.deps.identity.nodeKey ?? this.deps.identity.ed25519.seed,
    );
    await this.#admissions.refresh();
    this.libp2p = await createLibp2p(
      await hostOptions({
        config,
        privateKey,
        pubsub: this.#gossipOptions(),
        gater: {
          // Refused only when banned in every network: standing in one is not standing in another.
          denyDialPeer: (peer: PeerId) =>
            this.#served.every((s) => s.peers.banned(peer.toString())),
          denyInboundEncryptedConnection: (peer: PeerId, connection: MultiaddrConnection) =>
            this.#admissions.deny(peer, connection),
          denyOutboundEncryptedConnection: (peer: PeerId, connection: MultiaddrConnection) =>
            this.#admissions.deny(peer, connection),
        },
        metricsRegistry: this.#libp2pMetrics ? this.metrics.libp2pRegistry : undefined,
        pingIntervalMs: this.#pingIntervalMs,
      }),
    ) as never;
    addNetworkGauges(this.metrics, () => networkCounts(this.libp2p, this.topic));
    const pubsub = this.libp2p.services.pubsub;
    // Only the topics of networks served: another network's envelopes never reach this node.
    for (const s of this.#served) {
      pubsub.topicValidators.set(
        s.topic,
        (peer, message) => s.gossip.validate(peer.toString(), message.data),
      );
      pubsub.subscribe(s.topic);
    }
    pubsub.addEventListener("subscription-change", (event) => {
      const peer = event.detail.peerId.toString();
      const topics = event.detail.subscriptions.filter((s) => s.subscribe).map((s) => s.topic);
      this.#checkSubscriptions(peer, topics);
    });
    await this.libp2p.handle(
      helloProtocol,
      (stream, connection) => this.#hello.answer(stream, connection),
    );
    await this.libp2p.handle(
      admissionProtocol,
      (stream, connection) => this.#admissions.answer(stream, connection),
      { maxInboundStreams: admissionInboundStreamsMax },
    );
    await this.libp2p.handle(
      syncProtocol,
      (stream, connection) => this.#serveSync(stream, connection),
      { maxInboundStreams: syncInboundStreamsMax },
    );
    this.libp2p.addEventListener(
      "connection:open",
      (event) => this.#hello.onConnection(event.detail),
    );
    this.libp2p.addEventListener("peer:disconnect", (event) => {
      const peer = event.detail.toString();
      for (const s of this.#served) {
        s.peers.forget(peer);
        s.sync.forget(peer);
        s.dropped.delete(peer);
      }
      this.#admissions.forget(peer, "Peer disconnected");
      this.#neighbours.disconnected(peer);
    });
    this.libp2p.addEventListener("peer:connect", () => this.#served[0].peers.updateGauges());
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
      this.#admissions.refresh().catch((error) =>
        this.deps.logger.warn("admission_refresh_failed", { error: (error as Error).message })
      );
      for (const s of this.#served) {
        for (const [peer] of s.peers.entries()) s.sync.soon(peer);
      }
    }, this.config.syncIntervalMs);
    this.#neighbours.start();
    this.#dialBootstrap();
    this.deps.logger.info("node_started", {
      did: this.deps.identity.did,
      peer: this.peerId,
      net: this.net,
      networks: this.networks.join(","),
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

  /** Fetches every envelope the peer has and this node lacks, in every network both serve. */
  async syncWith(peer: string): Promise<number> {
    const shared = this.#served.filter((s) => s.peers.has(peer));
    let total = 0;
    for (const s of shared.length > 0 ? shared : [this.#served[0]]) {
      total += await s.sync.syncWith(peer);
    }
    return total;
  }

  /**
   * Signs and stores a local envelope in network `net` (default: the home network), then
   * publishes it on that network's topic. A network this node does not serve is refused.
   */
  submit(
    request: { kind: string; body: unknown; net?: string },
  ): Promise<{ sealed: SealedEnvelope; outcome: IngestOutcome }> {
    if (this.#stopping.signal.aborted) {
      return Promise.reject(new RejectedError("stopping", "Node is shutting down"));
    }
    const net = request.net ?? this.net;
    const served = this.#byId.get(net);
    if (!served) {
      return Promise.reject(
        new RejectedError(
          "not_served",
          net === kelNet
            ? "Cannot submit a key event through the node: key events are written by `icn id`, which takes the node lock"
            : `Cannot submit to network ${net}: this node serves ${this.networks.join(", ")}`,
        ),
      );
    }
    return served.lane.run(async () => {
      const { store } = served.deps;
      // The restore guard (core/identity/catch_up.ts): lifted by a completed sync round.
      const marker = await readCatchUp(store, this.deps.identity.did);
      if (marker) throw catchUpRefusal(marker, net, "node");
      const result = await appendLocal(served.deps, this.deps.identity.signer, {
        net,
        kind: request.kind,
        body: request.body,
      });
      if (result.outcome.status === "accepted") {
        this.metrics.accepted.inc({ kind: request.kind, source: "local" });
        this.metrics.networkAccepted.inc({ net });
        await this.publish(result.sealed.bytes, net);
      }
      return result;
    });
  }

  /** Publishes envelope bytes already in the store of `net` (default: home) on its topic. */
  async publish(bytes: Uint8Array, net: string = this.net): Promise<void> {
    if (!this.#started || this.#stopping.signal.aborted) return;
    try {
      await this.libp2p.services.pubsub.publish(this.#network(net).topic, bytes);
      this.metrics.published.inc();
    } catch (error) {
      this.deps.logger.debug("publish_failed", { error: (error as Error).message });
    }
  }

  // ---- status ----

  peers(): NodePeerInfo[] {
    const pubsub = this.libp2p.services.pubsub as unknown as { getScore(peer: string): number };
    const now = this.deps.clock.now();
    return this.libp2p.getPeers().map((peerId) => {
      const peer = peerId.toString();
      const hello = this.#neighbours.hello(peer);
      const shared = this.#served.filter((s) => hello?.shared.includes(s.id));
      const info = (shared[0] ?? this.#served[0]).peers.describe(peer, {
        addrs: this.libp2p.getConnections(peerId).map((c) => c.remoteAddr.toString()),
        score: pubsub.getScore(peer),
      });
      return {
        ...info,
        networks: shared.map((s) => s.id),
        standings: Object.fromEntries(shared.map((s) => [s.id, s.peers.standing(peer, now)])),
        set: this.#neighbours.setOf(peer),
        topology: hello?.topology ?? null,
      };
    });
  }

  async status(): Promise<NodeStatus> {
    const networks: NetworkStatus[] = [];
    for (const s of this.#served) {
      let peers = 0;
      for (const _ of s.peers.entries()) peers++;
      networks.push({
        id: s.id,
        topic: s.topic,
        envelopes: (await s.deps.store.get<number>(chainKeys.logNext))?.value ?? 0,
        syncLag: s.sync.lag(),
        peers,
      });
    }
    return {
      did: this.deps.identity.did,
      peerId: this.peerId,
      net: this.net,
      version: protocolVersion,
      listen: this.addrs(),
      peers: this.peers(),
      envelopes: networks[0].envelopes,
      syncLag: this.syncLag(),
      ready: this.ready,
      networks,
      topology: { ...this.#neighbours.local },
      neighbours: this.#neighbours.sets(),
    };
  }

  /** Stops accepting, lets in-flight commits finish, stops libp2p. The caller closes the stores. */
  async stop(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    this.#stopping.abort();
    clearInterval(this.#every);
    this.#neighbours.stop();
    this.#hello.stop();
    for (const s of this.#served) s.sync.stop();
    this.#admissions.stop();
    await this.#kelReplay.settled();
    await Promise.all(this.#served.map((s) => s.lane.settled()));
    try {
      await this.libp2p?.stop();
    } catch {
      // Stopping is best effort; the process exits anyway.
    }
    this.deps.logger.info("node_stopped", {});
  }

  // ---- wiring ----

  #network(net: string): Served {
    const served = this.#byId.get(net);
    if (!served) {
      throw new RejectedError(
        "not_served",
        `Network ${net} is not served by this node: it serves ${this.networks.join(", ")}`,
      );
    }
    return served;
  }

  /**
   * The connections as one network's peers see them. A network that hangs up on a peer (a ban,
   * a refused hello) stops hearing it; the connection closes only when no other network still
   * hears the peer, so standing in one network does not cut the peer off from another.
   */
  #networkConnections(
    served: Served,
    connectionTo: (peer: string) => Connection | undefined,
  ): PeerConnections {
    return {
      connected: (peer) => connectionTo(peer) !== undefined && !served.dropped.has(peer),
      hangUp: async (peer) => {
        // Bounded: only connected peers, and a peer leaves on disconnect.
        served.dropped.add(peer);
        served.peers.forget(peer);
        served.sync.forget(peer);
        if (this.#served.some((s) => s.peers.has(peer))) return;
        const target = connectionTo(peer)?.remotePeer;
        if (target) await this.libp2p.hangUp(target);
      },
      count: () => this.libp2p?.getPeers().length ?? 0,
    };
  }

  /** Connected peers, and verified peers by protocol version, each counted once. */
  #updatePeerGauges(): void {
    const { metrics } = this;
    metrics.peers.set(this.libp2p?.getPeers().length ?? 0);
    metrics.peerVersions.reset();
    const counted = new Set<string>();
    for (const s of this.#served ?? []) {
      for (const [peer, info] of s.peers.entries()) {
        if (counted.has(peer)) continue;
        counted.add(peer);
        metrics.peerVersions.inc({ version: info.version });
      }
    }
  }

  /** gossipsub's options: the home network's, with the topic scoring of every network served. */
  #gossipOptions() {
    const options = this.#served[0].gossip.options();
    const topics = {};
    for (const s of this.#served) Object.assign(topics, s.gossip.options().scoreParams?.topics);
    return {
      ...options,
      metricsTopicStrToLabel: new Map(this.#served.map((s) => [s.topic, "envelopes"])),
      scoreParams: { ...options.scoreParams, topics },
    };
  }

  /** Routes a sync request to the network it names, refusing one not served or not shared. */
  async #serveSync(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    await respond<Uint8Array>(stream, syncRequestBytesMax, async (bytes) => {
      let request: SyncRequest;
      try {
        request = decodeSyncRequest(bytes);
      } catch {
        // The home network's sync waits for the hello and counts the malformed request.
        return await this.#served[0].sync.serve(peer, bytes);
      }
      const net = request.network ?? this.net;
      const served = this.#byId.get(net);
      const hello = this.#neighbours.hello(peer);
      if (!served || (hello && !hello.shared.includes(net))) {
        countDropped(this.metrics, "sync", "wrong_network");
        throw new RejectedError(
          "wrong_network",
          served ? `Peer did not announce network ${net}` : `Network ${net} is not served here`,
        );
      }
      return await served.sync.answer(peer, request);
    }, (bytes) => bytes);
  }

  #onVerified(peer: string, hello: VerifiedHello): void {
    if (this.#stopping.signal.aborted) return;
    this.#neighbours.verified(peer, hello);
    const subscribed = this.#served
      .filter((s) =>
        this.libp2p?.services.pubsub.getSubscribers(s.topic).some((p) => p.toString() === peer)
      )
      .map((s) => s.topic);
    this.#checkSubscriptions(peer, subscribed);
  }

  /**
   * A verified peer subscribed to the topic of a network it did not announce would receive that
   * network's envelopes: it is disconnected. (Before its hello, the hello's check does this.)
   */
  #checkSubscriptions(peer: string, topics: string[]): void {
    const hello = this.#neighbours.hello(peer);
    if (!hello) return;
    for (const topic of topics) {
      const served = this.#byTopic.get(topic);
      if (!served || hello.announced.includes(served.id)) continue;
      this.deps.logger.info("peer_disconnected", {
        peer,
        reason: `subscribed to network ${served.id}, which its hello did not announce`,
      });
      const target = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peer);
      if (target) this.libp2p.hangUp(target.remotePeer).catch(() => {});
      return;
    }
  }
}

/** The gossip topic of a network's envelopes. */
export function topicOf(net: string): string {
  return `/icn/${net}/envelopes/1`;
}

/**
 * The genesis of a network its store joined. A federation has no cooperative genesis: the node
 * reads its federation genesis as one (`asNodeGenesis`).
 */
async function readJoined(network: NodeNetwork & { kinds: KindRegistry }): Promise<Joined> {
  const { id, store, kinds } = network;
  if ((await readNetworkKind(store)) === "federation") {
    const federation = (await store.get<FederationGenesis>(federationKeys.genesis))?.value;
    if (federation) return { id, store, kinds, genesis: asNodeGenesis(federation) };
  } else {
    const genesis = (await store.get<Genesis>(chainKeys.genesis(id)))?.value;
    if (genesis) return { id, store, kinds, genesis };
  }
  throw new RejectedError("not_joined", `Genesis of network ${id} is missing from the store`);
}

/**
 * What the node's per-network services read of a genesis (rate-limit policy from its params,
 * members exempt from admission work, the protocol version), for a federation: its params and
 * currencies, and as members the founding cooperatives' delegates, whose nodes are the
 * federation's. No governance envelope of a cooperative is ever in a federation's store, so the
 * membership and parameters read over it stay these.
 */
export function asNodeGenesis(federation: FederationGenesis): Genesis {
  return {
    v: 1,
    name: federation.name,
    created: federation.created,
    members: [...new Set(federation.coops.flatMap((coop) => coop.delegates))].sort(),
    currencies: federation.currencies,
    params: federation.params,
    protocolVersion: federation.protocolVersion,
  };
}
