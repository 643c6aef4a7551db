/**
 * Hello and admission. A connection is first admitted (members pass; others may owe a proof
 * of work, and a network prefix may hold only its share of connections), then each side says
 * a signed hello binding its libp2p peer id to its DID. A hello signed by a key this node does
 * not know yet carries the sender's newest key events, which are ingested like synced ones
 * before the signature is checked again. A verified hello makes the peer heard by gossip and
 * starts a sync with it.
 *
 * One `Hello` and one `Admission` per network: the hello names the network, and members are
 * that network's (federation builds them per network).
 */
import type { Connection, MultiaddrConnection, PeerId, Stream } from "@libp2p/interface";
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { readChainBytes } from "../core/chain/read.ts";
import { StateOverlay } from "../core/chain/state.ts";
import { toHex } from "../core/bytes.ts";
import { kelNet, protocolVersion } from "../core/constants.ts";
import { decodeEnvelope, type SealedEnvelope } from "../core/envelope/envelope.ts";
import { RejectedError } from "../core/errors.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { membersAt, paramsAt, upgradeRequirement } from "../core/governance/membership.ts";
import { compareVersions } from "../core/governance/view.ts";
import { parseDid } from "../core/identity/did.ts";
import { identityKey, type IdentityRecord, signingKeysAt } from "../core/identity/kel.ts";
import type { Ed25519KeyPair } from "../core/identity/keys.ts";
import type { Clock, Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
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
  parseHello,
  request,
  respond,
  signHello,
  verifyHello,
} from "./protocol.ts";
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

// ---- hello ----

/** What a hello needs of admission (the `Admission` above; a fake in tests). */
export interface AdmissionHook {
  admit(connection: Connection): Promise<boolean>;
  readonly owesWork: boolean;
  challengeAnswered(peer: string): Promise<void>;
  noteHello(peer: string, did: string): void;
}

export interface HelloComponents {
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
}

export interface HelloInit {
  net: string;
  /** A connected peer that has not said a verified hello by then is disconnected. */
  helloTimeoutMs: number;
}

export class Hello {
  readonly #components: HelloComponents;
  readonly #init: HelloInit;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #minVersion: string | null = null;

  constructor(components: HelloComponents, init: HelloInit) {
    this.#components = components;
    this.#init = init;
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
    const hello = await signHello({
      did: identity.did,
      net: this.#init.net,
      version: protocolVersion,
      from: self(),
      to,
      ts: clock.now(),
      ...(kel.length > 0 ? { kel } : {}),
    }, identity.ed25519);
    return encode(hello);
  }

  /** Checks a peer's hello; disconnects it with a logged reason when it does not belong here. */
  async accept(connection: Connection, raw: unknown): Promise<void> {
    const { admission, peers, clock, logger, signal, sync } = this.#components;
    const peer = connection.remotePeer.toString();
    // Before the signature or any store read: a peer that owes a proof of work has shown it.
    if (!(await admission.admit(connection))) {
      throw new RejectedError("admission", "Peer has not passed admission");
    }
    const { encode } = await import("@ipld/dag-cbor");
    const hello = raw instanceof Uint8Array ? parseHello(raw) : parseHello(encode(raw));
    const refuse = (reason: string, offence?: Offence) => {
      if (offence) peers.offence(peer, offence, reason);
      peers.hangUp(peer, reason);
      throw new RejectedError("bad_hello", reason);
    };
    if (!hello) return refuse("malformed hello", "bad_hello");
    // The connection's peer id is authenticated by Noise; the hello binds it to the DID by
    // naming it and being signed by the DID's current key.
    if (hello.from !== peer || hello.to !== this.#components.self()) {
      return refuse("hello names other peers", "bad_hello");
    }
    if (Math.abs(hello.ts - clock.now()) > helloSkewMs) return refuse("hello is stale");
    const signedBy = await this.#signer(peer, hello);
    if (signedBy === "behind") {
      // Our copy of the peer's key log is too old to check it, and its hello could not bring
      // us up to date: not the peer's fault, so no offence (it is never banned for it).
      logger.info("hello_key_unknown", { peer, did: hello.did });
      return refuse(`cannot check the key of ${hello.did} yet: its key log is ahead of ours`);
    }
    if (signedBy === "invalid") {
      return refuse(`hello is not signed by a current key of ${hello.did}`, "bad_hello");
    }
    const net = this.#init.net;
    if (hello.net !== net) return refuse(`peer is on network ${hello.net}, not ${net}`);
    if (this.#minVersion && compareVersions(hello.version, this.#minVersion) < 0) {
      return refuse(`peer runs protocol ${hello.version}, below the required ${this.#minVersion}`);
    }
    // The trust class can take long on a large store: the hello waits for it a moment, then
    // goes on with a provisional class that is replaced when the computation ends.
    const computing = peers.classOf(hello.did);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const computed = await Promise.race([
      computing,
      new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), helloClassWaitMs)),
    ]);
    clearTimeout(timer);
    const trustClass = computed ?? peers.get(peer)?.trustClass ?? "isolated";
    if (computed === null) {
      computing.then((late) => {
        if (!signal.aborted) peers.setClass(peer, hello.did, late);
      }).catch(() => {});
    }
    admission.noteHello(peer, hello.did);
    const known = peers.verify(peer, { did: hello.did, version: hello.version, trustClass });
    if (!known) {
      logger.info("peer_verified", { peer, did: hello.did, version: hello.version });
      sync.soon(peer);
    }
  }

  /** Hook for protocol upgrades: the highest minVersion in force (governance decides). */
  async refreshMinVersion(): Promise<void> {
    const { store, genesis, clock, peers } = this.#components;
    const state = new StateOverlay(store);
    this.#minVersion = await upgradeRequirement(state, genesis, clock.now());
    if (!this.#minVersion) return;
    for (const [peer, info] of peers.entries()) {
      if (compareVersions(info.version, this.#minVersion) < 0) {
        peers.hangUp(
          peer,
          `peer runs protocol ${info.version}, below the required ${this.#minVersion}`,
        );
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
      if (!peers.has(peer) && connection.status === "open") {
        peers.offence(peer, "bad_hello", "no hello in time");
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
   * the hello's key from them instead of refusing it.
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
   * Whether `hello` is signed by its DID's current key: checked against the key log we hold
   * (or the DID's inception key when we hold none); when that fails and the hello carries key
   * events, they are ingested like synced envelopes (each validated, pre-rotation included)
   * and the check runs again. "behind": the events could not bring our copy up to date.
   */
  async #signer(peer: string, hello: HelloMessage): Promise<"valid" | "invalid" | "behind"> {
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
    const outcomes = await this.#components.lane.ingest(sealed, "sync");
    const learned = outcomes.some((o) => o.status === "accepted");
    if (learned) this.#components.logger.info("peer_keys_learned", { peer, did: hello.did });
    if (await this.#signedByCurrentKey(hello)) return "valid";
    return outcomes.some((o) => o.status === "rejected" && o.reason === "gap")
      ? "behind"
      : "invalid";
  }

  async #signedByCurrentKey(hello: HelloMessage): Promise<boolean> {
    const { store, clock } = this.#components;
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
