/**
 * Hello and admission. A connection is first admitted (members pass; others may owe a proof
 * of work, and a network prefix may hold only its share of connections), then each side says
 * a signed hello binding its libp2p peer id to its DID. A hello signed by a key this node does
 * not know yet carries the sender's newest key events, which are ingested like synced ones
 * before the signature is checked again. A verified hello makes the peer heard by gossip and
 * starts a sync with it.
 *
 * One `Hello` per node: the hello lists every network the node serves and where it sits
 * (topology), and a peer is verified, with its trust class, in each network both serve (its key
 * events are ingested into each of those networks' stores). One `Admission` per network (its
 * members and proof of work), joined by `Admissions` for the one connection gater.
 */
import type { Connection, MultiaddrConnection, PeerId, Stream } from "@libp2p/interface";
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { readChainBytes } from "../core/chain/read.ts";
import { StateOverlay } from "../core/chain/state.ts";
import { toHex } from "../core/bytes.ts";
import { kelNet, protocolVersion } from "../core/constants.ts";
import { decodeEnvelope, type SealedEnvelope } from "../core/envelope/envelope.ts";
import { assert, RejectedError } from "../core/errors.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { membersAt, paramsAt } from "../core/governance/membership.ts";
import { compareVersions } from "../core/governance/view.ts";
import { parseDid } from "../core/identity/did.ts";
import { identityKey, type IdentityRecord, signingKeysAt } from "../core/identity/kel.ts";
import type { Ed25519KeyPair } from "../core/identity/keys.ts";
import type { Clock, Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { classRank, type TrustClass } from "../core/policy/policy.ts";
import {
  type AddressClassifier,
  admissionPow,
  answerChallenge,
  challengePeer,
  checkPow,
  type DiversityLimits,
  Lane,
  type PowParams,
  prefixShareAllowed,
  solvePow,
} from "./admission.ts";
import {
  admissionChecksInFlightMax,
  admissionChecksWaitingMax,
  admissionSolvesInFlightMax,
  admissionSolvesWaitingMax,
  helloClassWaitMs,
  helloSkewMs,
  memberPeersMax,
  streamOpenTimeoutMs,
} from "./limits.ts";
import type { NodeMetrics } from "./metrics.ts";
import type { Offence } from "./misbehaviour.ts";
import type { Peers } from "./peers.ts";
import {
  type Hello as HelloMessage,
  helloBytesMax,
  helloKelBytesMax,
  helloKelEventsMax,
  helloProtocol,
  networksPerNodeMax,
  parseHello,
  request,
  respond,
  signHello,
  verifyHello,
} from "./protocol.ts";
import { parseTopology, type Topology } from "./topology.ts";
import type { WriteLane } from "./write_lane.ts";

// ---- admission ----

export interface AdmissionComponents {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: NodeMetrics;
  genesis: Genesis;
  peers: Peers;
  /** This node's key: a member node skips the proof of work it would owe. */
  publicKey: Uint8Array;
  /** This node's libp2p peer id (known once it started). */
  self: () => string;
  /** Open connections (a prefix's share is counted over them). */
  connections: () => Connection[];
}

export interface AdmissionInit extends DiversityLimits {
  net: string;
  admissionTimeoutMs: number;
  helloTimeoutMs: number;
  /** The network prefix a remote address counts against for connection diversity. */
  classify: AddressClassifier;
}

export class Admission {
  readonly #components: AdmissionComponents;
  readonly #init: AdmissionInit;
  /** Ed25519 keys (hex) of current members: exempt from admission checks. */
  #memberKeys = new Set<string>();
  /** DIDs of current members. */
  #memberDids = new Set<string>();
  /** Peer ids whose verified hello named a member; one leaves when its DID stops being one. */
  readonly #memberPeers = new Map<string, string>();
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

  constructor(components: AdmissionComponents, init: AdmissionInit) {
    this.#components = components;
    this.#init = init;
  }

  /** Whether this node must prove work to peers before its hello is read. */
  get owesWork(): boolean {
    return this.#pow !== null && !this.#selfMember;
  }

  /** Whether a peer's key is a current member's (members skip diversity and proof of work). */
  isMember(peerId: PeerId): boolean {
    const key = peerId.publicKey?.raw;
    // A node key is not the DID's key: a member's node is known by the hello it said before.
    if (this.#memberPeers.has(peerId.toString())) return true;
    return key !== undefined && this.#memberKeys.has(toHex(key));
  }

  /** A verified hello named `did`: its peer counts as a member's node while `did` is one. */
  noteHello(peer: string, did: string): void {
    if (this.#memberDids.has(did) && this.#memberPeers.size < memberPeersMax) {
      this.#memberPeers.set(peer, did);
    }
  }

  /** Members' current keys and the proof of work in force, from the store (not per peer). */
  async refresh(): Promise<void> {
    const { clock, store, genesis, publicKey } = this.#components;
    const now = clock.now();
    const state = new StateOverlay(store);
    const keys = new Set<string>();
    const members = await membersAt(state, genesis, now);
    this.#memberDids = new Set(members);
    for (const [peer, did] of this.#memberPeers) {
      if (!this.#memberDids.has(did)) this.#memberPeers.delete(peer);
    }
    for (const did of members) {
      try {
        keys.add(toHex(parseDid(did)));
        const record = (await store.get<IdentityRecord>(identityKey(did)))?.value;
        if (record) keys.add(toHex(signingKeysAt(record, now).ed25519));
      } catch {
        // A member without a readable key log yet: its inception key stands.
      }
    }
    this.#memberKeys = keys;
    this.#selfMember = keys.has(toHex(publicKey));
    this.#pow = admissionPow(await paramsAt(state, genesis, now));
  }

  /** The connection gater: banned peers, and prefixes over their share of connections. */
  deny(peerId: PeerId, connection: MultiaddrConnection): boolean {
    const { peers, metrics, logger } = this.#components;
    const peer = peerId.toString();
    if (peers.banned(peer)) {
      metrics.connectionsRefused.inc({ reason: "banned" });
      return true;
    }
    if (this.isMember(peerId)) return false;
    const classify = this.#init.classify;
    const prefix = classify(connection.remoteAddr, peer);
    if (prefix === null) return false;
    let samePrefix = 0;
    const open = this.#components.connections();
    for (const c of open) {
      if (c.remotePeer.equals(peerId) || this.isMember(c.remotePeer)) continue;
      if (classify(c.remoteAddr, c.remotePeer.toString()) === prefix) samePrefix++;
    }
    if (prefixShareAllowed(samePrefix, open.length, this.#init)) return false;
    metrics.connectionsRefused.inc({ reason: "prefix_share" });
    logger.info("connection_refused", { peer, prefix, reason: "prefix_share" });
    return true;
  }

  /** Resolves true once the peer may say its hello: a member, no proof of work, or one shown. */
  admit(connection: Connection): Promise<boolean> {
    const { metrics, peers } = this.#components;
    const peer = connection.remotePeer.toString();
    const known = this.#admissions.get(peer);
    if (known) return known;
    const pow = this.#pow;
    let admitted: Promise<boolean>;
    if (!pow || this.isMember(connection.remotePeer)) admitted = Promise.resolve(true);
    else {
      admitted = challengePeer(connection, {
        net: this.#init.net,
        verifier: this.#components.self(),
        pow,
        timeoutMs: this.#init.admissionTimeoutMs,
        check: (challenge, counter) =>
          this.#checks.run(() => checkPow(challenge, counter)).catch(() => false),
      }).then((result) => {
        metrics.admissionChecks.inc({ result });
        if (result === "passed") return true;
        metrics.connectionsRefused.inc({ reason: "admission" });
        peers.hangUp(peer, `admission proof of work ${result}`);
        return false;
      });
    }
    this.#admissions.set(peer, admitted);
    return admitted;
  }

  /** Answers a peer's admission challenge (one solve at a time per lane slot). */
  async answer(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    this.#challengeOf(peer).received.resolve();
    const result = await answerChallenge(stream, connection, {
      net: this.#init.net,
      prover: this.#components.self(),
      pow: this.#pow,
      timeoutMs: this.#init.admissionTimeoutMs,
      solve: (challenge, signal) => this.#solves.run(() => solvePow(challenge, { signal })),
    });
    this.#components.metrics.admissionSolves.inc({ result });
    this.#challengeOf(peer).answered.resolve();
  }

  /**
   * Waits until this node answered `peer`'s challenge, so its hello is not read before: the
   * challenge comes at once after the connection (or not at all, if the peer does not ask for
   * work: then the hello goes after half the hello time), the answer within the admission time.
   */
  async challengeAnswered(peer: string): Promise<void> {
    const entry = this.#challengeOf(peer);
    const within = (promise: Promise<void>, ms: number) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      return Promise.race([
        promise.then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
      ]).finally(() => clearTimeout(timer));
    };
    if (await within(entry.received.promise, this.#init.helloTimeoutMs / 2)) {
      await within(entry.answered.promise, this.#init.admissionTimeoutMs);
    }
  }

  /** A disconnected peer: it is admitted again when it comes back. */
  forget(peer: string, why: string): void {
    this.#admissions.delete(peer);
    this.#forgetChallenge(peer, why);
  }

  /** Releases every hello still waiting on a challenge. */
  stop(): void {
    for (const peer of [...this.#answered.keys()]) this.#forgetChallenge(peer, "Node stopping");
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
}

/**
 * The admissions of every network a node serves, behind its one connection gater and admission
 * protocol: a member of any of them is exempt; a connection is refused only when every network
 * refuses it (a peer banned in one network may still serve another); the proof of work is the
 * first network's.
 */
export class Admissions {
  readonly #all: Admission[];

  constructor(all: Admission[]) {
    assert(all.length > 0, "a node serves at least one network");
    this.#all = all;
  }

  get owesWork(): boolean {
    return this.#all[0].owesWork;
  }

  isMember(peerId: PeerId): boolean {
    return this.#all.some((admission) => admission.isMember(peerId));
  }

  noteHello(peer: string, did: string): void {
    for (const admission of this.#all) admission.noteHello(peer, did);
  }

  async refresh(): Promise<void> {
    await Promise.all(this.#all.map((admission) => admission.refresh()));
  }

  deny(peerId: PeerId, connection: MultiaddrConnection): boolean {
    return this.#all.every((admission) => admission.deny(peerId, connection));
  }

  admit(connection: Connection): Promise<boolean> {
    if (this.#all.length > 1 && this.isMember(connection.remotePeer)) return Promise.resolve(true);
    return this.#all[0].admit(connection);
  }

  answer(stream: Stream, connection: Connection): Promise<void> {
    return this.#all[0].answer(stream, connection);
  }

  challengeAnswered(peer: string): Promise<void> {
    return this.#all[0].challengeAnswered(peer);
  }

  forget(peer: string, why: string): void {
    for (const admission of this.#all) admission.forget(peer, why);
  }

  stop(): void {
    for (const admission of this.#all) admission.stop();
  }
}

// ---- hello ----

/** What a hello needs of admission (the `Admission` above; a fake in tests). */
export interface AdmissionHook {
  admit(connection: Connection): Promise<boolean>;
  readonly owesWork: boolean;
  challengeAnswered(peer: string): Promise<void>;
  noteHello(peer: string, did: string): void;
}

/** One network a node serves, as the hello needs it. */
export interface HelloNetwork {
  net: string;
  store: Store;
  genesis: Genesis;
  lane: WriteLane;
  peers: Peers;
  sync: { soon(peer: string): void };
}

/** A peer's verified hello, as the node keeps it (neighbour sets, sync routing, status). */
export interface VerifiedHello {
  did: string;
  /** The peer's first network (its sync requests for it need not name it). */
  first: string;
  /** Every network the peer announced. */
  announced: string[];
  /** The networks both serve, in which the peer was verified. */
  shared: string[];
  topology?: Topology;
  /** The highest of the peer's trust classes in the shared networks. */
  trustClass: TrustClass;
  /** The protocol version the peer's signed hello named, and the hello's time (absent in fakes). */
  version?: string;
  ts?: number;
}

export interface HelloComponents {
  /** The first (home) network's store, genesis, lane, peers and sync. */
  store: Store;
  clock: Clock;
  logger: Logger;
  genesis: Genesis;
  /** This node's DID and the key that signs its hello (the DID's current one). */
  identity: { did: string; ed25519: Ed25519KeyPair };
  lane: WriteLane;
  peers: Peers;
  admission: AdmissionHook;
  sync: { soon(peer: string): void };
  /** This node's libp2p peer id (known once it started). */
  self: () => string;
  /** Aborted when the node stops. */
  signal: AbortSignal;
  /** Every network this node serves, the first being the one above (default: that one alone). */
  networks?: HelloNetwork[];
  /** Called once a peer's hello is verified. */
  onVerified?: (peer: string, hello: VerifiedHello) => void;
}

export interface HelloInit {
  net: string;
  /** A connected peer that has not said a verified hello by then is disconnected. */
  helloTimeoutMs: number;
  /** Where this node sits, announced in its hello (none: an older node's hello). */
  topology?: Topology;
  /** The protocol version this node announces (default: `protocolVersion`; tests set another). */
  version?: string;
}

export class Hello {
  readonly #components: HelloComponents;
  readonly #init: HelloInit;
  readonly #networks: HelloNetwork[];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #minVersion: string | null = null;

  constructor(components: HelloComponents, init: HelloInit) {
    this.#components = components;
    this.#init = init;
    const { store, genesis, lane, peers, sync } = components;
    this.#networks = components.networks ?? [{ net: init.net, store, genesis, lane, peers, sync }];
    assert(
      this.#networks.length > 0 && this.#networks[0].net === init.net,
      "the hello's first network is the node's first",
    );
    assert(this.#networks.length <= networksPerNodeMax, "a node serves at most networksPerNodeMax");
  }

  /** A new connection: admission, then the hello (relayed, limited connections have neither). */
  onConnection(connection: Connection): void {
    const { signal, admission } = this.#components;
    if (signal.aborted) return;
    // A relayed connection is limited in time and bytes: no hello, gossip or sync runs on it.
    if (connection.limits) return;
    admission.admit(connection).then((admitted) => {
      if (admitted && !signal.aborted && connection.status === "open") this.#greet(connection);
    });
  }

  /** Answers a peer's hello stream with this node's own, once the peer's was accepted. */
  async answer(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    await respond(stream, helloBytesMax, async (message) => {
      await this.accept(connection, message as HelloMessage);
      return await this.own(peer);
    });
  }

  /** This node's signed hello to `to`, encoded. */
  async own(to: string): Promise<Uint8Array> {
    const { encode } = await import("@ipld/dag-cbor");
    const { identity, clock, self } = this.#components;
    const kel = await this.#ownKelTail();
    const topology = this.#init.topology;
    const hello = await signHello({
      did: identity.did,
      net: this.#init.net,
      networks: this.#networks.map((n) => n.net),
      ...(topology ? { topology: { ...topology } } : {}),
      version: this.#init.version ?? protocolVersion,
      from: self(),
      to,
      ts: clock.now(),
      ...(kel.length > 0 ? { kel } : {}),
    }, identity.ed25519);
    return encode(hello);
  }

  /** Whether `peer` is verified in any network this node serves. */
  verified(peer: string): boolean {
    return this.#networks.some((n) => n.peers.has(peer));
  }

  /** Checks a peer's hello; disconnects it with a logged reason when it does not belong here. */
  async accept(connection: Connection, raw: unknown): Promise<void> {
    const { admission, clock, logger, signal } = this.#components;
    const first = this.#networks[0];
    const peer = connection.remotePeer.toString();
    // Before the signature or any store read: a peer that owes a proof of work has shown it.
    if (!(await admission.admit(connection))) {
      throw new RejectedError("admission", "Peer has not passed admission");
    }
    const { encode } = await import("@ipld/dag-cbor");
    const hello = raw instanceof Uint8Array ? parseHello(raw) : parseHello(encode(raw));
    const refuse = (reason: string, offence?: Offence) => {
      // The hello is the node's, not a network's: its offences count in every network served.
      if (offence) { for (const n of this.#networks) n.peers.offence(peer, offence, reason); }
      first.peers.hangUp(peer, reason);
      throw new RejectedError("bad_hello", reason);
    };
    if (!hello) return refuse("malformed hello", "bad_hello");
    // The connection's peer id is authenticated by Noise; the hello binds it to the DID by
    // naming it and being signed by the DID's current key.
    if (hello.from !== peer || hello.to !== this.#components.self()) {
      return refuse("hello names other peers", "bad_hello");
    }
    if (Math.abs(hello.ts - clock.now()) > helloSkewMs) return refuse("hello is stale");
    const announced = hello.networks ?? [hello.net];
    if (!announced.includes(hello.net) || new Set(announced).size !== announced.length) {
      return refuse("hello lists its networks wrongly", "bad_hello");
    }
    let topology: Topology | undefined;
    try {
      topology = hello.topology ? parseTopology(hello.topology) : undefined;
    } catch (error) {
      return refuse(`hello has an invalid topology: ${(error as Error).message}`, "bad_hello");
    }
    const shared = this.#networks.filter((n) => announced.includes(n.net));
    // No network in common: refused before any key log is read or written, and no offence.
    if (shared.length === 0) {
      return refuse(
        `peer is on network ${announced.join(", ")}, not ${
          this.#networks.map((n) => n.net).join(", ")
        }`,
      );
    }
    const signedBy = await this.#signer(peer, hello, shared);
    if (signedBy === "behind") {
      // Our copy of the peer's key log is too old to check it, and its hello could not bring
      // us up to date: not the peer's fault, so no offence (it is never banned for it).
      logger.info("hello_key_unknown", { peer, did: hello.did });
      return refuse(`cannot check the key of ${hello.did} yet: its key log is ahead of ours`);
    }
    if (signedBy === "invalid") {
      return refuse(`hello is not signed by a current key of ${hello.did}`, "bad_hello");
    }
    if (this.#minVersion && compareVersions(hello.version, this.#minVersion) < 0) {
      return refuse(`peer runs protocol ${hello.version}, below the required ${this.#minVersion}`);
    }
    // A peer banned in one network may still serve another: it is heard only where it is not.
    const standing = shared.filter((n) => !n.peers.banned(peer));
    if (standing.length === 0) return refuse("peer is banned in every network both serve");
    // The trust class can take long on a large store: the hello waits for it a moment, then
    // goes on with a provisional class that is replaced when the computation ends.
    const classes = await Promise.all(standing.map(async (n) => {
      const computing = n.peers.classOf(hello.did);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const computed = await Promise.race([
        computing,
        new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), helloClassWaitMs)),
      ]);
      clearTimeout(timer);
      if (computed === null) {
        computing.then((late) => {
          if (!signal.aborted) n.peers.setClass(peer, hello.did, late);
        }).catch(() => {});
      }
      return computed ?? n.peers.get(peer)?.trustClass ?? "isolated";
    }));
    admission.noteHello(peer, hello.did);
    let fresh = false;
    standing.forEach((n, i) => {
      const known = n.peers.verify(peer, {
        did: hello.did,
        version: hello.version,
        trustClass: classes[i],
      });
      if (!known) {
        fresh = true;
        n.sync.soon(peer);
      }
    });
    if (fresh) {
      logger.info("peer_verified", {
        peer,
        did: hello.did,
        version: hello.version,
        networks: standing.map((n) => n.net).join(","),
      });
    }
    const best = classes.reduce((a, b) => classRank(b) > classRank(a) ? b : a);
    this.#components.onVerified?.(peer, {
      did: hello.did,
      first: hello.net,
      announced,
      shared: standing.map((n) => n.net),
      ...(topology ? { topology } : {}),
      trustClass: best,
      version: hello.version,
      ts: hello.ts,
    });
  }

  /**
   * Protocol upgrades (`upgrade.ts`): the highest minVersion in force in any network served, or
   * null. Peers below it are refused from now on, and those connected are hung up on.
   */
  enforce(minVersion: string | null): void {
    this.#minVersion = minVersion;
    if (!minVersion) return;
    for (const n of this.#networks) {
      for (const [peer, info] of n.peers.entries()) {
        if (compareVersions(info.version, minVersion) < 0) {
          n.peers.hangUp(
            peer,
            `peer runs protocol ${info.version}, below the required ${minVersion}`,
          );
        }
      }
    }
  }

  /** Cancels hello deadlines. */
  stop(): void {
    for (const id of this.#timers) clearTimeout(id);
    this.#timers.clear();
  }

  /** After admission: the hello deadline, and the hello itself on outbound connections. */
  #greet(connection: Connection): void {
    const { peers, admission, logger } = this.#components;
    const peer = connection.remotePeer.toString();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.verified(peer) && connection.status === "open") {
        for (const n of this.#networks) n.peers.offence(peer, "bad_hello", "no hello in time");
        peers.hangUp(peer, "no signed hello in time");
      }
    }, this.#init.helloTimeoutMs);
    this.#timers.add(timer);
    if (connection.direction !== "outbound") return;
    (async () => {
      // A node that must prove work to this peer says its hello once it has answered.
      if (admission.owesWork) await admission.challengeAnswered(peer);
      const stream = await connection.newStream(helloProtocol, {
        signal: AbortSignal.timeout(streamOpenTimeoutMs),
      });
      const reply = await request(stream, await this.own(peer), helloBytesMax) as HelloMessage;
      await this.accept(connection, reply);
    })().catch((error) => logger.debug("hello_failed", { peer, error: (error as Error).message }));
  }

  /**
   * This identity's newest key events, oldest first, once it has rotated (an identity that
   * never rotated signs with its inception key, which its DID names): as many of the last
   * `helloKelEventsMax` as fit in `helloKelBytesMax`. A peer that missed the rotations learns
   * the hello's key from them instead of refusing it. Every network store holds the identity's
   * key events; the first network's is read.
   */
  async #ownKelTail(): Promise<Uint8Array[]> {
    const { store, identity } = this.#components;
    const did = identity.did;
    const head = (await store.get<ChainHead>(chainKeys.head(kelNet, did)))?.value;
    if (!head || head.seq === 0) return [];
    const from = Math.max(0, head.seq - helloKelEventsMax + 1);
    const events = await readChainBytes(store, kelNet, did, from, helloKelEventsMax);
    let bytes = 0;
    let first = events.length;
    while (first > 0 && bytes + events[first - 1].length <= helloKelBytesMax) {
      bytes += events[--first].length;
    }
    return events.slice(first);
  }

  /**
   * Whether `hello` is signed by its DID's current key: checked against the key log held in
   * the first shared network's store (or the DID's inception key when it holds none); when that
   * fails and the hello carries key events, they are ingested like synced envelopes into every
   * shared network's store (each validated, pre-rotation included) and the check runs again.
   * "behind": the events could not bring our copy up to date.
   */
  async #signer(
    peer: string,
    hello: HelloMessage,
    shared: HelloNetwork[],
  ): Promise<"valid" | "invalid" | "behind"> {
    const store = shared[0].store;
    if (await this.#signedByCurrentKey(store, hello)) return "valid";
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
    const [outcomes] = await Promise.all(shared.map((n) => n.lane.ingest(sealed, "sync")));
    const learned = outcomes.some((o) => o.status === "accepted");
    if (learned) this.#components.logger.info("peer_keys_learned", { peer, did: hello.did });
    if (await this.#signedByCurrentKey(store, hello)) return "valid";
    return outcomes.some((o) => o.status === "rejected" && o.reason === "gap")
      ? "behind"
      : "invalid";
  }

  async #signedByCurrentKey(store: Store, hello: HelloMessage): Promise<boolean> {
    const { clock } = this.#components;
    let key: Uint8Array;
    try {
      key = parseDid(hello.did);
      const record = (await store.get<IdentityRecord>(identityKey(hello.did)))?.value;
      if (record) key = signingKeysAt(record, clock.now()).ed25519;
    } catch {
      return false;
    }
    return await verifyHello(hello, key);
  }
}
