/**
 * The icn node: a libp2p host (TCP, Noise, Yamux, identify, ping, gossipsub)
 * whose peer id is the node's own key. It serves one or several networks, each
 * over its own store (one Deno KV file per network, docs/design.md "One store per
 * network"): every envelope from a peer, by gossip or by sync, goes through the
 * one validation path `ingest` of that network's store, with rate limits applied
 * by the verified author; all writes to a store are serialized in its one lane
 * and inbound gossip is committed in batches.
 *
 * This file is the composition root, as js-libp2p builds kad-dht: it builds each piece from
 * `(components, init)`, wires them to libp2p, and starts and stops them; each piece of mutable
 * state has one owner. Per network (`network.ts`: one `ServedNetwork` each, `Networks` for all):
 * its lane (`write_lane.ts`), peers and standing (`peers.ts`), gossip topic (`gossip.ts`), sync
 * (`sync.ts`) and admission (`hello.ts`). Per node: libp2p (`host.ts`), the hello (`hello.ts`:
 * it lists the networks served), the verified hellos and neighbour sets (`neighbours.ts` over
 * `topology.ts`), the replay of key events and forks across stores (`kel_replay.ts`), and the
 * status view (`node_status.ts`).
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
import type { IngestOutcome, IngestSource } from "../core/chain/ingest.ts";
import { kelNet, protocolVersion } from "../core/constants.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { StateOverlay } from "../core/chain/state.ts";
import { RejectedError } from "../core/errors.ts";
import { FederationView } from "../core/federation/view.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import type { Store } from "../core/store/store.ts";
import { admissionProtocol } from "./admission.ts";
import { neighbourSetsInit, type NodeConfig } from "./config.ts";
import { Admissions, Hello, type VerifiedHello } from "./hello.ts";
import {
  dialBootstrap,
  dialDiscovered,
  type Host,
  hostConnections,
  hostOptions,
  networkCounts,
} from "./host.ts";
import { auditAccepted, auditCitations } from "./citation_audit.ts";
import { ClearingAgent } from "./clearing_agent.ts";
import { KelReplay } from "./kel_replay.ts";
import {
  admissionInboundStreamsMax,
  maintenanceIntervalMs,
  syncInboundStreamsMax,
} from "./limits.ts";
import { addNetworkGauges, createNodeMetrics, type NodeMetrics } from "./metrics.ts";
import type { MisbehaviourTracker } from "./misbehaviour.ts";
import { Neighbours } from "./neighbours.ts";
import {
  type JoinedNetwork,
  Networks,
  type NetworkStatus,
  type NodeNetwork,
  readJoinedNetworks,
  topicOf,
} from "./network.ts";
import type { NodeDeps, NodeIdentity, NodeOptions } from "./node_options.ts";
import { describePeers, type NodePeerInfo, type NodeStatus } from "./node_status.ts";
import type { PeerInfo } from "./peers.ts";
import { helloProtocol, respond, syncProtocol, syncRequestBytesMax } from "./protocol.ts";
import { askOverStreams } from "./sync.ts";
import {
  handleRendezvous,
  hostRendezvous,
  Rendezvous,
  rendezvousIntervalMs,
} from "./rendezvous.ts";
import { UpgradeTracker } from "./upgrade.ts";

export { asNodeGenesis, topicOf } from "./network.ts";
export type {
  NetworkStatus,
  NodeDeps,
  NodeIdentity,
  NodeNetwork,
  NodeOptions,
  NodePeerInfo,
  NodeStatus,
  PeerInfo,
};

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
  /** `federation.agent`: one clearing agent per served cooperative of a served federation. */
  readonly #clearingAgents: ClearingAgent[] = [];
  #started = false;
  readonly #networks: Networks;
  readonly #admissions: Admissions;
  readonly #hello: Hello;
  /** Verified hellos of connected peers and the neighbour sets they are in. */
  readonly #neighbours: Neighbours;
  readonly #kelReplay: KelReplay;
  /** Listeners of accepted envelopes added after creation (the app gateway's event stream). */
  readonly #acceptedListeners = new Set<(sealed: SealedEnvelope, source: IngestSource) => void>();
  /** Discovery by region: answers as a rendezvous node, else asks those of its region. */
  readonly #rendezvous: Rendezvous;
  /** Members' node versions and the accepted upgrades in force (`upgrade.ts`). */
  readonly #upgrades: UpgradeTracker;
  /** Closes the connections to a peer, best effort. */
  readonly #hangUp: (peer: string) => void;

  private constructor(
    deps: NodeDeps,
    config: NodeConfig,
    joined: JoinedNetwork[],
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
    const connections = hostConnections(() => this.libp2p);
    this.#hangUp = (peer) => connections.hangUp(peer).catch(() => {});
    const kelReplay = new KelReplay({ logger, signal, networks: () => this.#networks.all });
    this.#kelReplay = kelReplay;
    const components = {
      clock,
      logger,
      metrics,
      signal,
      self: () => this.peerId,
      did: identity.did,
      signer: identity.signer,
      publicKey: identity.ed25519.publicKey,
      connections: connections.all,
      connected: (peer: string) => connections.to(peer) !== undefined,
      count: connections.count,
      heard: (peer: string) => this.#networks.heard(peer),
      hangUp: connections.hangUp,
      updateGauges: () => this.#networks?.updatePeerGauges(metrics, connections.count()),
      nodeLag: () => this.syncLag(),
      ask: askOverStreams(connections.all),
      firstNetworkOf: (peer: string) => this.#neighbours.hello(peer)?.first,
      kelReplay,
    };
    this.#networks = Networks.create(joined, components, {
      config,
      authorLimits: options.authorLimits,
      classify: options.addressClassifier,
      onAccepted: (sealed, source) => {
        options.onAccepted?.(sealed, source);
        for (const listener of this.#acceptedListeners) listener(sealed, source);
        // A delegate change recorded in a federation is checked against the cooperative's own
        // governance when this node holds that cooperative too (docs/federation.md).
        void auditAccepted(sealed, this.#networks.all, { metrics, logger, signal });
      },
      home: deps,
    });
    const first = this.#networks.home;
    this.deps = { ...deps, ...first.deps, logger, identity };
    this.#admissions = new Admissions(this.#networks.all.map((s) => s.admission));
    this.#neighbours = new Neighbours({
      clock,
      logger,
      metrics,
      signal,
      networks: () => this.#networks.all,
      connectionTo: connections.to,
      hangUp: this.#hangUp,
    }, {
      ...neighbourSetsInit(config, home.id),
      bootstrap: config.bootstrap,
      maintenanceIntervalMs: options.maintenanceIntervalMs ?? maintenanceIntervalMs,
    });
    this.#rendezvous = new Rendezvous({
      clock,
      logger,
      signal,
      self: components.self,
      neighbours: this.#neighbours,
      host: hostRendezvous(() => this.libp2p),
    }, { intervalMs: options.rendezvousIntervalMs ?? rendezvousIntervalMs });
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
      self: components.self,
      signal,
      networks: this.#networks.all.map((s) => s.forHello),
      onVerified: (peer, hello) => this.#onVerified(peer, hello),
    }, {
      net: home.id,
      helloTimeoutMs: config.helloTimeoutMs,
      topology: this.#neighbours.local,
      version: options.protocolVersion,
    });
    this.#upgrades = new UpgradeTracker({
      clock,
      logger,
      metrics,
      signal,
      identity,
      self: components.self,
      networks: () => this.#networks.all.map((s) => s.forHello),
      publish: async (topic, data) =>
        (await this.libp2p.services.pubsub.publish(topic, data)).recipients.length,
      enforce: (minVersion) => this.#hello.enforce(minVersion),
    }, {
      version: options.protocolVersion ?? protocolVersion,
      announceIntervalMs: options.upgradeAnnounceIntervalMs,
    });
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
    const joined = await readJoinedNetworks(deps);
    return new IcnNode(deps, config, joined, options);
  }

  /** Peer standing in the home network: offences, quarantine and bans (`peers.ts` owns it). */
  get misbehaviour(): MisbehaviourTracker {
    return this.#networks.home.peers.misbehaviour;
  }

  /** Peer standing in network `net` (each network keeps its own). */
  misbehaviourIn(net: string): MisbehaviourTracker {
    return this.#networks.get(net).peers.misbehaviour;
  }

  /** The store of network `net`. */
  storeOf(net: string): Store {
    return this.#networks.get(net).deps.store;
  }

  /** The gossip topic of network `net`. */
  topicOf(net: string): string {
    return this.#networks.get(net).topic;
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
      this.#networks.synced(this.config.readyLagMax);
  }

  /** The highest sync lag of any network served. */
  syncLag(): number {
    return this.#networks.syncLag();
  }

  /** The sync lag of each network served. */
  syncLagByNetwork(): Record<string, number> {
    return this.#networks.syncLagByNetwork();
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
        pubsub: this.#networks.gossipOptions(),
        gater: {
          // Refused only when banned in every network: standing in one is not standing in another.
          denyDialPeer: (peer: PeerId) => this.#networks.bannedEverywhere(peer.toString()),
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
    this.#networks.subscribe(pubsub);
    for (const { net, topic } of this.#upgrades.topics()) {
      pubsub.topicValidators.set(
        topic,
        (peer, message) => this.#upgrades.validate(net, peer.toString(), message.data),
      );
      pubsub.subscribe(topic);
    }
    pubsub.addEventListener("subscription-change", (event) => {
      const peer = event.detail.peerId.toString();
      const topics = event.detail.subscriptions.filter((s) => s.subscribe).map((s) => s.topic);
      this.#networks.checkSubscriptions(peer, topics, this.#neighbours.hello(peer));
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
    await handleRendezvous(this.libp2p, this.#rendezvous);
    this.libp2p.addEventListener(
      "connection:open",
      (event) => this.#hello.onConnection(event.detail),
    );
    this.libp2p.addEventListener("peer:disconnect", (event) => {
      const peer = event.detail.toString();
      this.#networks.forget(peer);
      this.#admissions.forget(peer, "Peer disconnected");
      this.#neighbours.disconnected(peer);
      this.#rendezvous.forget(peer);
    });
    this.libp2p.addEventListener("peer:connect", () => this.#networks.home.peers.updateGauges());
    if (config.mdns || config.dht) {
      const { maxConnections } = config;
      dialDiscovered(this.libp2p, { maxConnections, signal: this.#stopping.signal });
    }
    this.#started = true;
    if (config.federationAgent) await this.#startClearingAgents();
    await this.#upgrades.round();
    this.#every = setInterval(() => {
      if (this.#stopping.signal.aborted) return;
      this.#dialBootstrap();
      this.#upgrades.round().catch((error) =>
        this.deps.logger.warn("upgrade_round_failed", { error: (error as Error).message })
      );
      this.#admissions.refresh().catch((error) =>
        this.deps.logger.warn("admission_refresh_failed", { error: (error as Error).message })
      );
      for (const s of this.#networks.all) {
        for (const [peer] of s.peers.entries()) s.sync.soon(peer);
        // Trust changes while a peer stays connected reach its rate limits (vouches, delegates).
        void s.peers.refreshClasses();
      }
      const { metrics, deps: { logger } } = this;
      auditCitations(this.#networks.all, { metrics, logger, signal: this.#stopping.signal })
        .catch((error) =>
          logger.warn("citation_audit_failed", { error: (error as Error).message })
        );
    }, this.config.syncIntervalMs);
    this.#neighbours.start();
    this.#rendezvous.start();
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
  syncWith(peer: string): Promise<number> {
    return this.#networks.syncWith(peer);
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
    const served = this.#networks.find(net);
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
    return served.submit(request, (bytes) => this.publish(bytes, net));
  }

  /**
   * Ingests an envelope its author signed elsewhere (the app gateway: the node never signs for
   * a member) in network `net` (default: home) through that network's one writer, as a local
   * write, and publishes it when accepted.
   */
  async ingestSigned(sealed: SealedEnvelope, net: string = this.net): Promise<IngestOutcome> {
    if (this.#stopping.signal.aborted) throw new RejectedError("stopping", "Node is shutting down");
    const served = this.#networks.find(net);
    if (!served) {
      throw new RejectedError("not_served", `Cannot ingest into network ${net}: not served here`);
    }
    const [outcome] = await served.lane.ingest([sealed], "local");
    if (outcome.status === "accepted") await this.publish(sealed.bytes, net);
    return outcome;
  }

  /** Calls `listener` for every envelope accepted in any network; returns its removal. */
  onAccepted(listener: (sealed: SealedEnvelope, source: IngestSource) => void): () => void {
    this.#acceptedListeners.add(listener);
    return () => this.#acceptedListeners.delete(listener);
  }

  /** Publishes envelope bytes already in the store of `net` (default: home) on its topic. */
  async publish(bytes: Uint8Array, net: string = this.net): Promise<void> {
    if (!this.#started || this.#stopping.signal.aborted) return;
    try {
      await this.libp2p.services.pubsub.publish(this.#networks.get(net).topic, bytes);
      this.metrics.published.inc();
    } catch (error) {
      this.deps.logger.debug("publish_failed", { error: (error as Error).message });
    }
  }

  // ---- status ----

  /** The newest version claim of each member's node held for network `net` (`upgrade.ts`). */
  memberVersions(net: string = this.net): ReadonlyMap<string, { version: string; ts: number }> {
    return this.#upgrades.table(net);
  }

  peers(): NodePeerInfo[] {
    const pubsub = this.libp2p.services.pubsub as unknown as { getScore(peer: string): number };
    const connected = this.libp2p.getPeers().map((peerId) => ({
      peer: peerId.toString(),
      addrs: this.libp2p.getConnections(peerId).map((c) => c.remoteAddr.toString()),
      score: pubsub.getScore(peerId.toString()),
    }));
    const components = { networks: this.#networks.all, neighbours: this.#neighbours };
    return describePeers(connected, components, this.deps.clock.now());
  }

  async status(): Promise<NodeStatus> {
    const networks: NetworkStatus[] = [];
    for (const s of this.#networks.all) networks.push(await s.status());
    return {
      did: this.deps.identity.did,
      peerId: this.peerId,
      net: this.net,
      version: this.#upgrades.version,
      listen: this.addrs(),
      peers: this.peers(),
      envelopes: networks[0].envelopes,
      syncLag: this.syncLag(),
      ready: this.ready,
      networks,
      topology: { ...this.#neighbours.local },
      neighbours: this.#neighbours.sets(),
      upgrades: this.#upgrades.status(),
    };
  }

  /** Stops accepting, lets in-flight commits finish, stops libp2p. The caller closes the stores. */
  async stop(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    this.#stopping.abort();
    clearInterval(this.#every);
    this.#neighbours.stop();
    this.#rendezvous.stop();
    this.#hello.stop();
    for (const s of this.#networks.all) s.sync.stop();
    this.#admissions.stop();
    await Promise.all(this.#clearingAgents.map((agent) => agent.stop()));
    await this.#kelReplay.settled();
    await Promise.all(this.#networks.all.map((s) => s.lane.settled()));
    try {
      await this.libp2p?.stop();
    } catch {
      // Stopping is best effort; the process exits anyway.
    }
    this.deps.logger.info("node_stopped", {});
  }

  // ---- wiring ----

  /**
   * Starts a clearing agent (net/clearing_agent.ts) for each served cooperative that is in a
   * served federation; each acts only while this node's identity is one of its delegates, and
   * runs when an envelope of either network is accepted.
   */
  async #startClearingAgents(): Promise<void> {
    const served = this.#networks.all;
    const now = this.deps.clock.now();
    const submit = async (net: string, request: { kind: string; body: unknown }) => {
      const { sealed, outcome } = await this.submit({ ...request, net });
      if (outcome.status === "rejected") throw new RejectedError(outcome.reason, outcome.message);
      return { cid: sealed.cid };
    };
    for (const fed of served.filter((s) => s.federation)) {
      const view = new FederationView(new StateOverlay(fed.deps.store), fed.federation!);
      const coops = await view.coopsAt(now);
      for (const coop of served.filter((s) => !s.federation && coops.has(s.id))) {
        const agent = new ClearingAgent({
          fed: { id: fed.id, store: fed.deps.store },
          coop: { id: coop.id, store: coop.deps.store },
          did: this.deps.identity.did,
          clock: this.deps.clock,
          submit,
          logger: this.deps.logger,
          signal: this.#stopping.signal,
        });
        this.#clearingAgents.push(agent);
        this.onAccepted((sealed) => {
          if (sealed.envelope.net === fed.id || sealed.envelope.net === coop.id) {
            agent.notify(sealed.envelope);
          }
        });
        agent.start();
        this.deps.logger.info("clearing_agent_started", { federation: fed.id, coop: coop.id });
      }
    }
  }

  /** The clearing agents' steps done so far (tests). */
  get clearingActions(): number {
    return this.#clearingAgents.reduce((n, agent) => n + agent.actions, 0);
  }

  /** Answers a sync request in the network it names, as the peer's verified hello allows. */
  #serveSync(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    return respond<Uint8Array>(
      stream,
      syncRequestBytesMax,
      (bytes) => this.#networks.answerSync(peer, bytes, this.#neighbours.hello(peer)?.shared),
      (bytes) => bytes,
    );
  }

  #onVerified(peer: string, hello: VerifiedHello): void {
    if (this.#stopping.signal.aborted) return;
    this.#neighbours.verified(peer, hello);
    this.#rendezvous.verified(peer, hello);
    if (hello.version !== undefined && hello.ts !== undefined) {
      this.#upgrades.heard(hello.shared, hello.did, hello.version, hello.ts);
    }
    const subscribed = this.#networks.all
      .filter((s) =>
        this.libp2p?.services.pubsub.getSubscribers(s.topic).some((p) => p.toString() === peer)
      )
      .map((s) => s.topic);
    this.#networks.checkSubscriptions(peer, subscribed, hello);
  }
}
