/**
 * One network the node serves, over its own store (docs/design.md, "One store per network"): its
 * write lane, peers and their standing, gossip topic, sync and admission, each built from
 * `(components, init)` as the node would build them for a node serving this network alone, and
 * `Networks`, the networks a node serves with what is asked of them together (readiness, lag,
 * gossipsub's topic options, the peer gauges). Also what `create` reads of a store to serve it.
 */
import type { Connection } from "@libp2p/interface";
import type { GossipsubOpts } from "@libp2p/gossipsub";
import { ReadCache } from "../core/chain/cache.ts";
import type { IngestDeps, IngestSource, KindRegistry } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { kelNet } from "../core/constants.ts";
import { appendLocal } from "../core/chain/append.ts";
import type { IngestOutcome } from "../core/chain/ingest.ts";
import type { SealedEnvelope, Signer } from "../core/envelope/envelope.ts";
import { RejectedError } from "../core/errors.ts";
import type { FederationGenesis } from "../core/federation/genesis.ts";
import { federationKeys } from "../core/federation/view.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { readNetworkKind } from "../core/governance/join.ts";
import { catchUpRefusal, readCatchUp } from "../core/identity/catch_up.ts";
import type { Clock, Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { type AddressClassifier, prefixKey } from "./admission.ts";
import type { NodeConfig } from "./config.ts";
import { federationClassifier, type HeldCooperative } from "./federation_class.ts";
import { Gossip } from "./gossip.ts";
import { Admission, type HelloNetwork, type VerifiedHello } from "./hello.ts";
import type { ReplaySource } from "./kel_replay.ts";
import type { Host } from "./host.ts";
import { countDropped, type NodeMetrics } from "./metrics.ts";
import { type PeerConnections, Peers } from "./peers.ts";
import { decodeSyncRequest, networksPerNodeMax, type SyncRequest } from "./protocol.ts";
import { Sync, type SyncAsk } from "./sync.ts";
import { VerifyPool } from "./verify_pool.ts";
import { WriteLane } from "./write_lane.ts";

/** A network the node serves: its id and the store that joined it (one store per network). */
export interface NodeNetwork {
  id: string;
  store: Store;
  /** Its kinds (default: the node's `kinds`). */
  kinds?: KindRegistry;
}

/** A network as `create` read it from its store. */
export interface JoinedNetwork {
  id: string;
  store: Store;
  kinds: KindRegistry;
  genesis: Genesis;
  /** A federation's own genesis (`genesis` is then `asNodeGenesis` of it). */
  federation?: FederationGenesis;
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

/** What a network's services use of the node (js-libp2p's components). */
export interface NetworkComponents {
  clock: Clock;
  logger: Logger;
  metrics: NodeMetrics;
  /** Aborted when the node stops. */
  signal: AbortSignal;
  /** This node's libp2p peer id (known once it started). */
  self: () => string;
  /** This node's DID and key (a member node owes no admission work), and its signer. */
  did: string;
  signer: Signer;
  publicKey: Uint8Array;
  /** The home store's read cache, when this is the home network over the node's own store. */
  cache?: ReadCache;
  /** Open connections (admission counts a prefix's share over them). */
  connections: () => Connection[];
  /** Whether `peer` has an open connection. */
  connected: (peer: string) => boolean;
  /** Connected peers. */
  count: () => number;
  /** Whether any network still hears `peer` (is verified there). */
  heard: (peer: string) => boolean;
  /** Closes the connections to `peer`. */
  hangUp: (peer: string) => Promise<void>;
  /** Sets the node's peer gauges (each peer counted once across networks). */
  updateGauges: () => void;
  /** The node's lag over all its networks. */
  nodeLag: () => number;
  /** A sync request to a peer over libp2p streams. */
  ask: SyncAsk;
  /** The first network a peer announced (requests for it need not name it). */
  firstNetworkOf: (peer: string) => string | undefined;
  /**
   * The cooperative networks the node serves: a federation network classes its peers by the
   * trust between their cooperatives and these (net/federation_class.ts). None when absent.
   */
  cooperatives?: () => readonly HeldCooperative[];
  /** Key events and forks found in this network's store, carried to the node's other stores. */
  kelReplay: {
    event(from: ReplaySource, sealed: SealedEnvelope): void;
    fork(from: ReplaySource, sealed: SealedEnvelope): void;
  };
}

export interface NetworkInit {
  network: JoinedNetwork;
  config: NodeConfig;
  authorLimits?: boolean;
  classify?: AddressClassifier;
  /** Called for every envelope accepted in this network. */
  onAccepted?: (sealed: SealedEnvelope, source: IngestSource) => void;
}

/** What `Networks` uses of the node. */
export type NetworksComponents = Pick<NetworkComponents, "metrics" | "logger" | "hangUp">;

/** The services of one network the node serves. */
export class ServedNetwork {
  readonly id: string;
  readonly genesis: Genesis;
  /** A federation's own genesis; absent for a cooperative. */
  readonly federation?: FederationGenesis;
  readonly deps: IngestDeps;
  readonly topic: string;
  readonly lane: WriteLane;
  readonly peers: Peers;
  readonly sync: Sync;
  readonly gossip: Gossip;
  readonly admission: Admission;
  /** Peers this network hung up on (banned, refused) while another network keeps them. */
  readonly #dropped = new Set<string>();
  readonly #components: NetworkComponents;
  readonly #onAccepted: NetworkInit["onAccepted"];

  constructor(components: NetworkComponents, init: NetworkInit) {
    this.#components = components;
    this.#onAccepted = init.onAccepted;
    const { network, config } = init;
    const { clock, logger, metrics, signal, self, kelReplay } = components;
    this.id = network.id;
    this.genesis = network.genesis;
    this.federation = network.federation;
    this.topic = topicOf(network.id);
    // One read cache per store for every ingest of this node (gossip, sync, control API): it
    // stays valid while only this node writes the store, and is dropped by ingest when
    // anything else did.
    this.deps = {
      store: network.store,
      clock,
      kinds: network.kinds,
      logger,
      cache: components.cache ?? new ReadCache(),
    };
    const base = {
      store: network.store,
      clock,
      logger,
      metrics,
      genesis: network.genesis,
      signal,
      self,
    };
    const source = { id: network.id, store: network.store };
    this.lane = new WriteLane({ ingest: this.deps, metrics }, {
      net: network.id,
      onAccepted: (sealed, from) => {
        init.onAccepted?.(sealed, from);
        if (sealed.envelope.net === kelNet) kelReplay.event(source, sealed);
      },
      followUps: (accepted) => this.gossip.takeFollowUps(accepted),
      onKelFork: (sealed) => kelReplay.fork(source, sealed),
    });
    this.peers = new Peers(
      {
        ...base,
        connections: this.#connections(components),
        updateGauges: components.updateGauges,
        ...(network.federation
          ? {
            classify: federationClassifier({
              store: network.store,
              federation: network.federation,
              did: components.did,
              cooperatives: () => components.cooperatives?.() ?? [],
            }),
          }
          : {}),
      },
      { ...config, misbehaviour: config, authorLimits: init.authorLimits },
    );
    this.sync = new Sync({
      ...base,
      lane: this.lane,
      peers: this.peers,
      did: components.did,
      nodeLag: components.nodeLag,
      // A large sync page verifies its signatures on every core.
      verifier: () => new VerifyPool(),
      // A request for the peer's first network need not name it (older nodes serve one).
      ask: (peer, message) =>
        components.ask(
          peer,
          components.firstNetworkOf(peer) === network.id
            ? message
            : { ...message, network: network.id },
        ),
    }, { net: network.id, pageSize: config.syncPageSize, intervalMs: config.syncIntervalMs });
    this.gossip = new Gossip(
      { ...base, lane: this.lane, peers: this.peers, sync: this.sync },
      { topic: this.topic, net: network.id, profile: config.profile },
    );
    this.admission = new Admission(
      {
        ...base,
        peers: this.peers,
        publicKey: components.publicKey,
        connections: components.connections,
      },
      { ...config, net: network.id, classify: init.classify ?? ((remote) => prefixKey(remote)) },
    );
  }

  /**
   * Signs and stores a local envelope in this network's lane, then `publish`es it (in the same
   * turn). Refused while the restore guard holds (core/identity/catch_up.ts): a completed sync
   * round lifts it.
   */
  submit(
    request: { kind: string; body: unknown },
    publish: (bytes: Uint8Array) => Promise<void>,
  ): Promise<{ sealed: SealedEnvelope; outcome: IngestOutcome }> {
    const { did, signer, metrics } = this.#components;
    return this.lane.run(async () => {
      const marker = await readCatchUp(this.deps.store, did);
      if (marker) throw catchUpRefusal(marker, this.id, "node");
      const result = await appendLocal(this.deps, signer, {
        net: this.id,
        kind: request.kind,
        body: request.body,
      });
      if (result.outcome.status === "accepted") {
        metrics.accepted.inc({ kind: request.kind, source: "local" });
        metrics.networkAccepted.inc({ net: this.id });
        // As for an ingested envelope: the node's listeners (the gateway's event stream, the
        // delegate audit) hear of a write through the control API too.
        this.#onAccepted?.(result.sealed, "local");
        await publish(result.sealed.bytes);
      }
      return result;
    });
  }

  /** This network's store. */
  get store(): Store {
    return this.deps.store;
  }

  /** What the hello needs of this network (it verifies a peer and ingests its key events here). */
  get forHello(): HelloNetwork {
    const { id: net, deps: { store }, genesis, lane, peers, sync } = this;
    return { net, store, genesis, lane, peers, sync };
  }

  /** A peer disconnected: this network forgets it. */
  forget(peer: string): void {
    this.peers.forget(peer);
    this.sync.forget(peer);
    this.#dropped.delete(peer);
  }

  /** Peers verified in this network. */
  peerCount(): number {
    let peers = 0;
    for (const _ of this.peers.entries()) peers++;
    return peers;
  }

  async status(): Promise<NetworkStatus> {
    return {
      id: this.id,
      topic: this.topic,
      envelopes: (await this.deps.store.get<number>(chainKeys.logNext))?.value ?? 0,
      syncLag: this.sync.lag(),
      peers: this.peerCount(),
    };
  }

  /**
   * The connections as this network's peers see them. A network that hangs up on a peer (a ban,
   * a refused hello) stops hearing it; the connection closes only when no other network still
   * hears the peer, so standing in one network does not cut the peer off from another.
   */
  #connections(components: NetworkComponents): PeerConnections {
    return {
      connected: (peer) => components.connected(peer) && !this.#dropped.has(peer),
      hangUp: async (peer) => {
        // Bounded: only connected peers, and a peer leaves on disconnect.
        this.#dropped.add(peer);
        this.peers.forget(peer);
        this.sync.forget(peer);
        if (components.heard(peer)) return;
        await components.hangUp(peer);
      },
      count: components.count,
    };
  }
}

/** The networks a node serves, the home network first. */
export class Networks {
  readonly all: readonly ServedNetwork[];
  readonly home: ServedNetwork;
  readonly #byId: Map<string, ServedNetwork>;
  readonly #byTopic: Map<string, ServedNetwork>;
  readonly #components: NetworksComponents;

  /**
   * One `ServedNetwork` for each network joined, the first the home network; `home.cache`
   * (the node's read cache) serves it when it is over that cache's store.
   */
  static create(
    joined: readonly JoinedNetwork[],
    components: NetworkComponents,
    init: Omit<NetworkInit, "network"> & { home: { store: Store; cache?: ReadCache } },
  ): Networks {
    let all: ServedNetwork[] = [];
    const cooperatives = () =>
      all.filter((s) => !s.federation).map(({ id, store, genesis }) => ({ id, store, genesis }));
    all = joined.map((network, index) => {
      const { cache, store } = init.home;
      const own = index === 0 && store === network.store ? cache : undefined;
      return new ServedNetwork({ ...components, cache: own, cooperatives }, {
        ...init,
        network,
      });
    });
    return new Networks(all, components);
  }

  constructor(all: ServedNetwork[], components: NetworksComponents) {
    this.#components = components;
    this.all = all;
    this.home = all[0];
    this.#byId = new Map(all.map((s) => [s.id, s]));
    this.#byTopic = new Map(all.map((s) => [s.topic, s]));
  }

  get ids(): string[] {
    return this.all.map((s) => s.id);
  }

  /** The network `net`, or undefined when it is not served. */
  find(net: string): ServedNetwork | undefined {
    return this.#byId.get(net);
  }

  /** The network whose gossip topic is `topic`. */
  byTopic(topic: string): ServedNetwork | undefined {
    return this.#byTopic.get(topic);
  }

  /** The network `net`; one not served is refused naming those that are. */
  get(net: string): ServedNetwork {
    const served = this.#byId.get(net);
    if (!served) {
      throw new RejectedError(
        "not_served",
        `Network ${net} is not served by this node: it serves ${this.ids.join(", ")}`,
      );
    }
    return served;
  }

  /**
   * The network a peer's sync request is for (`home` when it names none). One not served, or
   * not among the networks both serve (`shared`, from the peer's verified hello; absent before
   * it, when each network's sync waits for the hello), is refused as `wrong_network`.
   */
  forSync(request: SyncRequest, shared: readonly string[] | undefined): ServedNetwork {
    const net = request.network ?? this.home.id;
    const served = this.#byId.get(net);
    if (!served || (shared && !shared.includes(net))) {
      countDropped(this.#components.metrics, "sync", "wrong_network");
      throw new RejectedError(
        "wrong_network",
        served ? `Peer did not announce network ${net}` : `Network ${net} is not served here`,
      );
    }
    return served;
  }

  /**
   * Answers a sync request from `peer` in the network it names (`forSync`). One that does not
   * decode goes to the home network's sync, which waits for the hello and counts it.
   */
  async answerSync(
    peer: string,
    bytes: Uint8Array,
    shared: readonly string[] | undefined,
  ): Promise<unknown> {
    let request: SyncRequest;
    try {
      request = decodeSyncRequest(bytes);
    } catch {
      return await this.home.sync.serve(peer, bytes);
    }
    return await this.forSync(request, shared).sync.answer(peer, request);
  }

  /**
   * A verified peer subscribed to the topic of a network it did not announce would receive that
   * network's envelopes: it is disconnected. (Before its hello, the hello's check does this.)
   */
  checkSubscriptions(
    peer: string,
    topics: readonly string[],
    hello: VerifiedHello | undefined,
  ): void {
    if (!hello) return;
    const served = this.unannounced(topics, hello.announced);
    if (!served) return;
    this.#components.logger.info("peer_disconnected", {
      peer,
      reason: `subscribed to network ${served.id}, which its hello did not announce`,
    });
    this.#components.hangUp(peer).catch(() => {});
  }

  /** The first network served among `topics` that a peer's hello did not announce. */
  unannounced(topics: readonly string[], announced: readonly string[]): ServedNetwork | undefined {
    for (const topic of topics) {
      const served = this.#byTopic.get(topic);
      if (served && !announced.includes(served.id)) return served;
    }
    return undefined;
  }

  /**
   * Subscribes to the topic of each network served, its gossip validating what arrives there:
   * only these topics, so another network's envelopes never reach this node.
   */
  subscribe(pubsub: Pick<Host["services"]["pubsub"], "topicValidators" | "subscribe">): void {
    for (const s of this.all) {
      pubsub.topicValidators.set(
        s.topic,
        (peer, message) => s.gossip.validate(peer.toString(), message.data),
      );
      pubsub.subscribe(s.topic);
    }
  }

  /** Fetches what the peer has and this node lacks, in every network both serve (else home). */
  async syncWith(peer: string): Promise<number> {
    const shared = this.all.filter((s) => s.peers.has(peer));
    let total = 0;
    for (const s of shared.length > 0 ? shared : [this.home]) total += await s.sync.syncWith(peer);
    return total;
  }

  /** A peer disconnected: every network forgets it. */
  forget(peer: string): void {
    for (const s of this.all) s.forget(peer);
  }

  /** Whether any network hears `peer` (it is verified there). */
  heard(peer: string): boolean {
    return this.all.some((s) => s.peers.has(peer));
  }

  /** Banned in every network: standing in one is not standing in another. */
  bannedEverywhere(peer: string): boolean {
    return this.all.every((s) => s.peers.banned(peer));
  }

  /** Every network's sync lag within `lagMax`. */
  synced(lagMax: number): boolean {
    return this.all.every((s) => s.sync.lag() <= lagMax);
  }

  /** The highest sync lag of any network. */
  syncLag(): number {
    let lag = 0;
    for (const s of this.all) lag = Math.max(lag, s.sync.lag());
    return lag;
  }

  syncLagByNetwork(): Record<string, number> {
    return Object.fromEntries(this.all.map((s) => [s.id, s.sync.lag()]));
  }

  /** gossipsub's options: the home network's, with the topic scoring of every network served. */
  gossipOptions(): Partial<GossipsubOpts> {
    const options = this.home.gossip.options();
    const topics = {};
    for (const s of this.all) Object.assign(topics, s.gossip.options().scoreParams?.topics);
    return {
      ...options,
      metricsTopicStrToLabel: new Map(this.all.map((s) => [s.topic, "envelopes"])),
      scoreParams: { ...options.scoreParams, topics },
    };
  }

  /** Connected peers, and verified peers by protocol version, each counted once. */
  updatePeerGauges(metrics: NodeMetrics, connected: number): void {
    metrics.peers.set(connected);
    metrics.peerVersions.reset();
    const counted = new Set<string>();
    for (const s of this.all) {
      for (const [peer, info] of s.peers.entries()) {
        if (counted.has(peer)) continue;
        counted.add(peer);
        metrics.peerVersions.inc({ version: info.version });
      }
    }
  }
}

/**
 * The networks a node is to serve, read from their stores: those given (`networks`, checked:
 * at most `networksPerNodeMax`, no id twice, each store joined to its id), or else the one
 * network `store` joined.
 */
export async function readJoinedNetworks(
  deps: { store: Store; kinds: KindRegistry; networks?: NodeNetwork[] },
): Promise<JoinedNetwork[]> {
  const given = deps.networks ?? [];
  if (given.length > networksPerNodeMax) {
    throw new RangeError(
      `Cannot serve ${given.length} networks: a node serves at most ${networksPerNodeMax}`,
    );
  }
  if (new Set(given.map((n) => n.id)).size !== given.length) {
    throw new RangeError("Cannot serve a network twice: the networks given repeat an id");
  }
  if (given.length === 0) {
    const net = (await deps.store.get<string>(chainKeys.network))?.value;
    if (!net) {
      throw new RejectedError(
        "not_joined",
        "This data dir has not joined a cooperative: run `icn governance join GENESIS_FILE` first",
      );
    }
    return [await readJoined({ id: net, store: deps.store, kinds: deps.kinds })];
  }
  const joined: JoinedNetwork[] = [];
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
  return joined;
}

/** The gossip topic of a network's envelopes. */
export function topicOf(net: string): string {
  return `/icn/${net}/envelopes/1`;
}

/**
 * The genesis of a network its store joined. A federation has no cooperative genesis: the node
 * reads its federation genesis as one (`asNodeGenesis`).
 */
async function readJoined(network: NodeNetwork & { kinds: KindRegistry }): Promise<JoinedNetwork> {
  const { id, store, kinds } = network;
  if ((await readNetworkKind(store)) === "federation") {
    const federation = (await store.get<FederationGenesis>(federationKeys.genesis))?.value;
    if (federation) {
      return { id, store, kinds, genesis: asNodeGenesis(federation), federation };
    }
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
