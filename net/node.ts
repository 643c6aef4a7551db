/**
 * The icn node: a libp2p host (TCP, Noise, Yamux, identify, ping, gossipsub)
 * whose peer id is the identity's Ed25519 key. Every envelope from a peer,
 * by gossip or by sync, goes through the one validation path `ingest`, with
 * rate limits applied by the verified author; all writes to the store are
 * serialized in one lane and inbound gossip is committed in batches.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type {
  Connection,
  Libp2p,
  MultiaddrConnection,
  PeerId,
  PrivateKey,
  Stream,
} from "@libp2p/interface";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { appendLocal } from "../core/chain/append.ts";
import { catchUpRefusal, readCatchUp } from "../core/identity/catch_up.ts";
import { ReadCache } from "../core/chain/cache.ts";
import { type IngestDeps, type IngestOutcome, type IngestSource } from "../core/chain/ingest.ts";
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { readChainBytes } from "../core/chain/read.ts";
import { StateOverlay } from "../core/chain/state.ts";
import { toHex } from "../core/bytes.ts";
import { kelNet, protocolVersion } from "../core/constants.ts";
import { decodeEnvelope, type SealedEnvelope, type Signer } from "../core/envelope/envelope.ts";
import { RejectedError } from "../core/errors.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { membersAt, paramsAt, upgradeRequirement } from "../core/governance/membership.ts";
import { compareVersions } from "../core/governance/view.ts";
import { parseDid } from "../core/identity/did.ts";
import { identityKey, type IdentityRecord, signingKeysAt } from "../core/identity/kel.ts";
import type { Ed25519KeyPair } from "../core/identity/keys.ts";
import type { Logger } from "../core/ports.ts";
import {
  type AddressClassifier,
  admissionPow,
  admissionProtocol,
  answerChallenge,
  challengePeer,
  checkPow,
  Lane,
  type PowParams,
  prefixKey,
  prefixShareAllowed,
  solvePow,
} from "./admission.ts";
import type { NodeConfig } from "./config.ts";
import { Gossip } from "./gossip.ts";
import {
  admissionChecksInFlightMax,
  admissionChecksWaitingMax,
  admissionInboundStreamsMax,
  admissionSolvesInFlightMax,
  admissionSolvesWaitingMax,
  helloClassWaitMs,
  helloSkewMs,
  memberPeersMax,
  pendingConnectionsMin,
  streamOpenTimeoutMs,
  syncInboundStreamsMax,
} from "./limits.ts";
import {
  addNetworkGauges,
  createNodeMetrics,
  type NetworkCounts,
  type NodeMetrics,
} from "./metrics.ts";
import type { MisbehaviourTracker, Offence } from "./misbehaviour.ts";
import { type PeerInfo, Peers } from "./peers.ts";
import {
  type Hello,
  helloBytesMax,
  helloKelBytesMax,
  helloKelEventsMax,
  helloProtocol,
  parseHello,
  request,
  respond,
  signHello,
  syncProtocol,
  verifyHello,
} from "./protocol.ts";
import { askOverStreams, Sync } from "./sync.ts";
import { WriteLane } from "./write_lane.ts";

export type { PeerInfo };

/** The cooperative's own DHT, apart from the public IPFS one. */
const dhtProtocol = "/icn/kad/1.0.0";

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
  readonly #libp2pMetrics: boolean;
  readonly #pingIntervalMs?: number;
  readonly #classify: AddressClassifier;
  /** Ed25519 keys (hex) of current members: exempt from admission checks. */
  #memberKeys = new Set<string>();
  /** DIDs of current members, and peer ids whose verified hello named one of them. */
  #memberDids = new Set<string>();
  /** Bounded by the connections a node keeps; a peer id leaves when its DID stops being a member. */
  #memberPeers = new Map<string, string>();
  #selfMember = false;
  #pow: PowParams | null = null;
  /** Admission of each connected peer (true: may say its hello). */
  readonly #admissions = new Map<string, Promise<boolean>>();
  /** Challenges this node answered, by the asking peer (its hello waits for them). */
  readonly #answered = new Map<
    string,
    { received: PromiseWithResolvers<void>; answered: PromiseWithResolvers<void> }
  >();
  readonly #checks = new Lane({
    inFlightMax: admissionChecksInFlightMax,
    waitingMax: admissionChecksWaitingMax,
  });
  readonly #solves = new Lane({
    inFlightMax: admissionSolvesInFlightMax,
    waitingMax: admissionSolvesWaitingMax,
  });
  libp2p!: Libp2p<{ pubsub: ReturnType<ReturnType<typeof gossipsub>> }>;
  readonly #lane: WriteLane;
  readonly #peers: Peers;
  readonly #gossip: Gossip;
  readonly #sync: Sync;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** Aborted by `stop()`: every protocol stops taking work when it is. */
  readonly #stopping = new AbortController();
  #started = false;
  #minVersion: string | null = null;

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
    this.#classify = options.addressClassifier ?? ((remote) => prefixKey(remote));
    const connectionTo = (peer: string) =>
      this.libp2p?.getConnections().find((c) => c.remotePeer.toString() === peer);
    this.#lane = new WriteLane({ ingest: this.deps, metrics: this.metrics }, {
      onAccepted: options.onAccepted,
      followUps: (accepted) => this.#gossip.takeFollowUps(accepted),
    });
    this.#peers = new Peers({
      store: this.deps.store,
      clock: this.deps.clock,
      logger: this.deps.logger,
      metrics: this.metrics,
      genesis,
      connections: {
        connected: (peer) => connectionTo(peer) !== undefined,
        hangUp: async (peer) => {
          const target = connectionTo(peer)?.remotePeer;
          if (target) await this.libp2p.hangUp(target);
        },
        count: () => this.libp2p.getPeers().length,
      },
    }, { ...config, misbehaviour: config, authorLimits: options.authorLimits });
    this.#sync = new Sync({
      store: this.deps.store,
      logger: this.deps.logger,
      metrics: this.metrics,
      lane: this.#lane,
      peers: this.#peers,
      signal: this.#stopping.signal,
      did: deps.identity.did,
      ask: askOverStreams(() => this.libp2p?.getConnections() ?? []),
    }, { net, pageSize: config.syncPageSize, intervalMs: config.syncIntervalMs });
    this.#gossip = new Gossip({
      clock: this.deps.clock,
      logger: this.deps.logger,
      metrics: this.metrics,
      lane: this.#lane,
      peers: this.#peers,
      sync: this.#sync,
      signal: this.#stopping.signal,
    }, { topic: this.topic, profile: config.profile });
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
    const privateKey: PrivateKey = await generateKeyPairFromSeed(
      "Ed25519",
      this.deps.identity.nodeKey ?? this.deps.identity.ed25519.seed,
    );
    const config = this.config;
    const services: Record<string, unknown> = {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub(this.#gossip.options()),
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
    await this.#refreshAdmission();
    let metrics;
    if (this.#libp2pMetrics) {
      const { prometheusMetrics } = await import("@libp2p/prometheus-metrics");
      // prom-client's default Node.js metrics break promtool's naming rules; icn_process_* cover them.
      metrics = prometheusMetrics({
        registry: this.metrics.libp2pRegistry,
        collectDefaultMetrics: false,
      });
    }
    this.libp2p = await createLibp2p({
      privateKey,
      addresses: { listen: config.listen },
      transports,
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery,
      metrics,
      connectionMonitor: this.#pingIntervalMs === undefined
        ? undefined
        : { pingInterval: this.#pingIntervalMs },
      connectionManager: {
        maxConnections: config.maxConnections,
        inboundConnectionThreshold: config.inboundConnectionThreshold,
        maxIncomingPendingConnections: Math.max(pendingConnectionsMin, config.maxConnections),
      },
      connectionGater: {
        denyDialPeer: (peer: PeerId) => this.#peers.banned(peer.toString()),
        denyInboundEncryptedConnection: (peer: PeerId, connection: MultiaddrConnection) =>
          this.#denyConnection(peer, connection),
        denyOutboundEncryptedConnection: (peer: PeerId, connection: MultiaddrConnection) =>
          this.#denyConnection(peer, connection),
      },
      services: services as never,
    }) as never;
    addNetworkGauges(this.metrics, () => this.#networkCounts());
    const pubsub = this.libp2p.services.pubsub;
    pubsub.topicValidators.set(
      this.topic,
      (peer, message) => this.#gossip.validate(peer.toString(), message.data),
    );
    pubsub.subscribe(this.topic);
    await this.libp2p.handle(
      helloProtocol,
      (stream, connection) => this.#answerHello(stream, connection),
    );
    await this.libp2p.handle(
      admissionProtocol,
      (stream, connection) => this.#answerAdmission(stream, connection),
      { maxInboundStreams: admissionInboundStreamsMax },
    );
    await this.libp2p.handle(
      syncProtocol,
      (stream, connection) => this.#sync.handle(stream, connection),
      {
        maxInboundStreams: syncInboundStreamsMax,
      },
    );
    this.libp2p.addEventListener("connection:open", (event) => this.#onConnection(event.detail));
    this.libp2p.addEventListener("peer:disconnect", (event) => {
      const peer = event.detail.toString();
      this.#peers.forget(peer);
      this.#sync.forget(peer);
      this.#admissions.delete(peer);
      this.#forgetChallenge(peer, "Peer disconnected");
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
    await this.#refreshMinVersion();
    this.#every(this.config.syncIntervalMs, () => {
      this.#dialBootstrap();
      this.#refreshMinVersion().catch(() => {});
      this.#refreshAdmission().catch((error) =>
        this.deps.logger.warn("admission_refresh_failed", { error: (error as Error).message })
      );
      for (const [peer] of this.#peers.entries()) this.#sync.soon(peer);
    });
    this.#dialBootstrap();
    this.deps.logger.info("node_started", {
      did: this.deps.identity.did,
      peer: this.peerId,
      net: this.net,
      listen: this.addrs(),
    });
  }

  #networkCounts(): NetworkCounts {
    const connections: Record<string, number> = { inbound: 0, outbound: 0 };
    const streams: Record<string, number> = {};
    for (const connection of this.libp2p.getConnections()) {
      connections[connection.direction] = (connections[connection.direction] ?? 0) + 1;
      for (const stream of connection.streams) {
        const protocol = stream.protocol ?? "unnegotiated";
        streams[protocol] = (streams[protocol] ?? 0) + 1;
      }
    }
    const pubsub = this.libp2p.services.pubsub;
    return {
      connections,
      streams,
      topicPeers: pubsub.getSubscribers(this.topic).length,
      meshPeers: (pubsub as unknown as { getMeshPeers(topic: string): string[] })
        .getMeshPeers(this.topic).length,
    };
  }

  #every(ms: number, fn: () => void): void {
    const id = setInterval(() => {
      if (!this.#stopping.signal.aborted) fn();
    }, ms);
    this.#timers.add(id);
  }

  #dialBootstrap(): void {
    for (const addr of this.config.bootstrap) {
      if (this.#stopping.signal.aborted) return;
      let target;
      try {
        target = multiaddr(addr);
      } catch {
        this.deps.logger.warn("bootstrap_invalid", { addr });
        continue;
      }
      const peer = target.getComponents().find((c) => c.name === "p2p")?.value;
      if (peer && this.libp2p.getConnections().some((c) => c.remotePeer.toString() === peer)) {
        continue;
      }
      this.libp2p.dial(target).catch((error) =>
        this.deps.logger.debug("bootstrap_dial_failed", { addr, error: (error as Error).message })
      );
    }
  }

  async connect(addr: string): Promise<string> {
    const connection = await this.libp2p.dial(multiaddr(addr));
    return connection.remotePeer.toString();
  }

  // ---- hello ----

  async #ownHello(to: string): Promise<Uint8Array> {
    const { encode } = await import("@ipld/dag-cbor");
    const kel = await this.#ownKelTail();
    const hello = await signHello({
      did: this.deps.identity.did,
      net: this.net,
      version: protocolVersion,
      from: this.peerId,
      to,
      ts: this.deps.clock.now(),
      ...(kel.length > 0 ? { kel } : {}),
    }, this.deps.identity.ed25519);
    return encode(hello);
  }

  /**
   * This identity's newest key events, oldest first, once it has rotated (an identity that
   * never rotated signs with its inception key, which its DID names): as many of the last
   * `helloKelEventsMax` as fit in `helloKelBytesMax`. A peer that missed the rotations learns
   * the hello's key from them instead of refusing it.
   */
  async #ownKelTail(): Promise<Uint8Array[]> {
    const did = this.deps.identity.did;
    const head = (await this.deps.store.get<ChainHead>(chainKeys.head(kelNet, did)))?.value;
    if (!head || head.seq === 0) return [];
    const from = Math.max(0, head.seq - helloKelEventsMax + 1);
    const events = await readChainBytes(this.deps.store, kelNet, did, from, helloKelEventsMax);
    let bytes = 0;
    let first = events.length;
    while (first > 0 && bytes + events[first - 1].length <= helloKelBytesMax) {
      bytes += events[--first].length;
    }
    return events.slice(first);
  }

  #onConnection(connection: Connection): void {
    if (this.#stopping.signal.aborted) return;
    // A relayed connection is limited in time and bytes: no hello, gossip or sync runs on it.
    if (connection.limits) return;
    this.#admit(connection).then((admitted) => {
      if (admitted && !this.#stopping.signal.aborted && connection.status === "open") {
        this.#greet(connection);
      }
    });
  }

  /** After admission: the hello deadline, and the hello itself on outbound connections. */
  #greet(connection: Connection): void {
    const peer = connection.remotePeer.toString();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#peers.has(peer) && connection.status === "open") {
        this.#peers.offence(peer, "bad_hello", "no hello in time");
        this.#peers.hangUp(peer, "no signed hello in time");
      }
    }, this.config.helloTimeoutMs);
    this.#timers.add(timer);
    if (connection.direction !== "outbound") return;
    (async () => {
      // A node that must prove work to this peer says its hello once it has answered.
      if (this.#pow && !this.#selfMember) await this.#challengeAnswered(peer);
      const stream = await connection.newStream(helloProtocol, {
        signal: AbortSignal.timeout(streamOpenTimeoutMs),
      });
      const reply = await request(stream, await this.#ownHello(peer), helloBytesMax) as Hello;
      await this.#acceptHello(peer, connection, reply);
    })().catch((error) =>
      this.deps.logger.debug("hello_failed", { peer, error: (error as Error).message })
    );
  }

  async #answerHello(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    await respond(stream, helloBytesMax, async (message) => {
      await this.#acceptHello(peer, connection, message as Hello);
      return await this.#ownHello(peer);
    });
  }

  /** Checks a peer's hello; disconnects it with a logged reason when it does not belong here. */
  async #acceptHello(peer: string, connection: Connection, raw: unknown): Promise<void> {
    // Before the signature or any store read: a peer that owes a proof of work has shown it.
    if (!(await this.#admit(connection))) {
      throw new RejectedError("admission", "Peer has not passed admission");
    }
    const { encode } = await import("@ipld/dag-cbor");
    const hello = raw instanceof Uint8Array ? parseHello(raw) : parseHello(encode(raw));
    const refuse = (reason: string, offence?: Offence) => {
      if (offence) this.#peers.offence(peer, offence, reason);
      this.#peers.hangUp(peer, reason);
      throw new RejectedError("bad_hello", reason);
    };
    if (!hello) return refuse("malformed hello", "bad_hello");
    // The connection's peer id is authenticated by Noise; the hello binds it to the DID by
    // naming it and being signed by the DID's current key.
    if (hello.from !== peer || hello.to !== this.peerId) {
      return refuse("hello names other peers", "bad_hello");
    }
    if (Math.abs(hello.ts - this.deps.clock.now()) > helloSkewMs) return refuse("hello is stale");
    const signedBy = await this.#helloSigner(peer, hello);
    if (signedBy === "behind") {
      // Our copy of the peer's key log is too old to check it, and its hello could not bring
      // us up to date: not the peer's fault, so no offence (it is never banned for it).
      this.deps.logger.info("hello_key_unknown", { peer, did: hello.did });
      return refuse(`cannot check the key of ${hello.did} yet: its key log is ahead of ours`);
    }
    if (signedBy === "invalid") {
      return refuse(`hello is not signed by a current key of ${hello.did}`, "bad_hello");
    }
    if (hello.net !== this.net) return refuse(`peer is on network ${hello.net}, not ${this.net}`);
    if (this.#minVersion && compareVersions(hello.version, this.#minVersion) < 0) {
      return refuse(`peer runs protocol ${hello.version}, below the required ${this.#minVersion}`);
    }
    // The trust class can take long on a large store: the hello waits for it a moment, then
    // goes on with a provisional class that is replaced when the computation ends.
    const computing = this.#peers.classOf(hello.did);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const computed = await Promise.race([
      computing,
      new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), helloClassWaitMs)),
    ]);
    clearTimeout(timer);
    const trustClass = computed ?? this.#peers.get(peer)?.trustClass ?? "isolated";
    if (computed === null) {
      computing.then((late) => {
        if (!this.#stopping.signal.aborted) this.#peers.setClass(peer, hello.did, late);
      }).catch(() => {});
    }
    if (this.#memberDids.has(hello.did) && this.#memberPeers.size < memberPeersMax) {
      this.#memberPeers.set(peer, hello.did);
    }
    const known = this.#peers.verify(peer, { did: hello.did, version: hello.version, trustClass });
    if (!known) {
      this.deps.logger.info("peer_verified", { peer, did: hello.did, version: hello.version });
      this.#sync.soon(peer);
    }
  }

  /**
   * Whether `hello` is signed by its DID's current key: checked against the key log we hold
   * (or the DID's inception key when we hold none); when that fails and the hello carries key
   * events, they are ingested like synced envelopes (each validated, pre-rotation included)
   * and the check runs again. "behind": the events could not bring our copy up to date.
   */
  async #helloSigner(peer: string, hello: Hello): Promise<"valid" | "invalid" | "behind"> {
    if (await this.#signedByCurrentKey(hello)) return "valid";
    if (!hello.kel) return "invalid";
    const sealed: SealedEnvelope[] = [];
    for (const bytes of hello.kel) {
      try {
        const event = await decodeEnvelope(bytes);
        if (event.envelope.net !== kelNet || event.envelope.author !== hello.did) return "invalid";
        sealed.push(event);
      } catch {
        return "invalid";
      }
    }
    const outcomes = await this.#lane.ingest(sealed, "sync");
    const learned = outcomes.some((o) => o.status === "accepted");
    if (learned) this.deps.logger.info("peer_keys_learned", { peer, did: hello.did });
    if (await this.#signedByCurrentKey(hello)) return "valid";
    return outcomes.some((o) => o.status === "rejected" && o.reason === "gap")
      ? "behind"
      : "invalid";
  }

  async #signedByCurrentKey(hello: Hello): Promise<boolean> {
    let key: Uint8Array;
    try {
      key = parseDid(hello.did);
      const record = (await this.deps.store.get<IdentityRecord>(identityKey(hello.did)))?.value;
      if (record) key = signingKeysAt(record, this.deps.clock.now()).ed25519;
    } catch {
      return false;
    }
    return await verifyHello(hello, key);
  }

  // ---- admission ----

  /** Whether a peer's key is a current member's (members skip diversity and proof of work). */
  #isMember(peerId: PeerId): boolean {
    const key = peerId.publicKey?.raw;
    // A node key is not the DID's key: a member's node is known by the hello it said before.
    if (this.#memberPeers.has(peerId.toString())) return true;
    return key !== undefined && this.#memberKeys.has(toHex(key));
  }

  /** Members' current keys and the proof of work in force, from the store (not per peer). */
  async #refreshAdmission(): Promise<void> {
    const now = this.deps.clock.now();
    const state = new StateOverlay(this.deps.store);
    const keys = new Set<string>();
    const members = await membersAt(state, this.genesis, now);
    this.#memberDids = new Set(members);
    for (const [peer, did] of this.#memberPeers) {
      if (!this.#memberDids.has(did)) this.#memberPeers.delete(peer);
    }
    for (const did of members) {
      try {
        keys.add(toHex(parseDid(did)));
        const record = (await this.deps.store.get<IdentityRecord>(identityKey(did)))?.value;
        if (record) keys.add(toHex(signingKeysAt(record, now).ed25519));
      } catch {
        // A member without a readable key log yet: its inception key stands.
      }
    }
    this.#memberKeys = keys;
    this.#selfMember = keys.has(toHex(this.deps.identity.ed25519.publicKey));
    this.#pow = admissionPow(await paramsAt(state, this.genesis, now));
  }

  /** The connection gater: banned peers, and prefixes over their share of connections. */
  #denyConnection(peerId: PeerId, connection: MultiaddrConnection): boolean {
    const peer = peerId.toString();
    if (this.#peers.banned(peer)) {
      this.metrics.connectionsRefused.inc({ reason: "banned" });
      return true;
    }
    if (this.#isMember(peerId)) return false;
    const prefix = this.#classify(connection.remoteAddr, peer);
    if (prefix === null) return false;
    let samePrefix = 0;
    const open = this.libp2p?.getConnections() ?? [];
    for (const c of open) {
      if (c.remotePeer.equals(peerId) || this.#isMember(c.remotePeer)) continue;
      if (this.#classify(c.remoteAddr, c.remotePeer.toString()) === prefix) samePrefix++;
    }
    if (prefixShareAllowed(samePrefix, open.length, this.config)) return false;
    this.metrics.connectionsRefused.inc({ reason: "prefix_share" });
    this.deps.logger.info("connection_refused", { peer, prefix, reason: "prefix_share" });
    return true;
  }

  /** Resolves true once the peer may say its hello: a member, no proof of work, or one shown. */
  #admit(connection: Connection): Promise<boolean> {
    const peer = connection.remotePeer.toString();
    const known = this.#admissions.get(peer);
    if (known) return known;
    const pow = this.#pow;
    let admitted: Promise<boolean>;
    if (!pow || this.#isMember(connection.remotePeer)) admitted = Promise.resolve(true);
    else {
      admitted = challengePeer(connection, {
        net: this.net,
        verifier: this.peerId,
        pow,
        timeoutMs: this.config.admissionTimeoutMs,
        check: (challenge, counter) =>
          this.#checks.run(() => checkPow(challenge, counter)).catch(() => false),
      }).then((result) => {
        this.metrics.admissionChecks.inc({ result });
        if (result === "passed") return true;
        this.metrics.connectionsRefused.inc({ reason: "admission" });
        this.#peers.hangUp(peer, `admission proof of work ${result}`);
        return false;
      });
    }
    this.#admissions.set(peer, admitted);
    return admitted;
  }

  /** Answers a peer's admission challenge (one solve at a time per lane slot). */
  async #answerAdmission(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    this.#challengeOf(peer).received.resolve();
    const result = await answerChallenge(stream, connection, {
      net: this.net,
      prover: this.peerId,
      pow: this.#pow,
      timeoutMs: this.config.admissionTimeoutMs,
      solve: (challenge, signal) => this.#solves.run(() => solvePow(challenge, { signal })),
    });
    this.metrics.admissionSolves.inc({ result });
    this.#challengeOf(peer).answered.resolve();
  }

  #challengeOf(peer: string) {
    let entry = this.#answered.get(peer);
    if (!entry) {
      entry = { received: Promise.withResolvers<void>(), answered: Promise.withResolvers<void>() };
      entry.received.promise.catch(() => {});
      entry.answered.promise.catch(() => {});
      this.#answered.set(peer, entry);
    }
    return entry;
  }

  #forgetChallenge(peer: string, why: string): void {
    const entry = this.#answered.get(peer);
    entry?.received.reject(new Error(why));
    entry?.answered.reject(new Error(why));
    this.#answered.delete(peer);
  }

  /**
   * Waits until this node answered `peer`'s challenge, so its hello is not read before: the
   * challenge comes at once after the connection (or not at all, if the peer does not ask for
   * work: then the hello goes after half the hello time), the answer within the admission time.
   */
  async #challengeAnswered(peer: string): Promise<void> {
    const entry = this.#challengeOf(peer);
    const within = (promise: Promise<void>, ms: number) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      return Promise.race([
        promise.then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
      ]).finally(() => clearTimeout(timer));
    };
    if (await within(entry.received.promise, this.config.helloTimeoutMs / 2)) {
      await within(entry.answered.promise, this.config.admissionTimeoutMs);
    }
  }

  /** Hook for protocol upgrades: the highest minVersion in force (governance decides). */
  async #refreshMinVersion(): Promise<void> {
    const state = new StateOverlay(this.deps.store);
    this.#minVersion = await upgradeRequirement(state, this.genesis, this.deps.clock.now());
    if (!this.#minVersion) return;
    for (const [peer, info] of this.#peers.entries()) {
      if (compareVersions(info.version, this.#minVersion) < 0) {
        this.#peers.hangUp(
          peer,
          `peer runs protocol ${info.version}, below the required ${this.#minVersion}`,
        );
      }
    }
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

  /** Fetches every envelope the peer has and this node lacks. */
  syncWith(peer: string): Promise<number> {
    return this.#sync.syncWith(peer);
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
    for (const id of this.#timers) clearTimeout(id);
    this.#timers.clear();
    this.#sync.stop();
    for (const peer of [...this.#answered.keys()]) this.#forgetChallenge(peer, "Node stopping");
    await this.#lane.settled();
    try {
      await this.libp2p?.stop();
    } catch {
      // Stopping is best effort; the process exits anyway.
    }
    this.deps.logger.info("node_stopped", {});
  }
}
