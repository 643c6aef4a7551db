/**
 * Discovery by region: a node with `topology.role = rendezvous` answers `/icn/rendezvous/1.0.0`
 * with the peers it knows in the asker's region, and the other nodes of the region ask the
 * rendezvous nodes they are connected to (a bootstrap peer, typically) and dial what they learn,
 * as far as their neighbour sets have room (docs/federation.md, "Topology").
 *
 * ## The protocol
 *
 * One request and one reply per stream, strict canonical DAG-CBOR, both bounded in bytes:
 *
 * - request `{ t: "peers", max }`, `max` 1..`rendezvousPeersMax`;
 * - reply `{ peers: [{ peer, addrs, region, cluster, role }] }`, at most `max` peers, each with
 *   at most `rendezvousAddrsMax` addresses of at most `rendezvousAddrBytesMax` bytes.
 *
 * The rendezvous node answers only a peer whose hello it verified, and only with the region that
 * hello announced: a node learns the peers of its own region, not of any region it names. It lists
 * connected peers whose hello it verified, that announced that region, that serve at least one
 * network the asker announced (others would refuse the asker's hello), and that stand well (`ok`)
 * in a network both serve; the asker's cluster first, then by peer id. Region, cluster and role
 * are those of each peer's signed hello; the addresses are those libp2p's identify learned (the
 * peer's listen addresses, signed peer records first). A peer asking more often than
 * `rendezvousAnswerIntervalMs` is refused (the stream is reset): the answer is a scan of every
 * verified peer.
 *
 * ## The asking side
 *
 * A node that is not itself a rendezvous node asks, on each round (every `intervalMs`, and as soon
 * as a rendezvous node of its region is verified), each connected rendezvous node of its region
 * whose last answer is at least `intervalMs` old, at most `rendezvousAsksPerRoundMax` of them. Of
 * the peers returned it dials those it is not connected to and has not tried for
 * `rendezvousRetryMs`, in order, while the neighbour set each would join (cluster when it shares
 * the node's cluster, else regional; backbone for a rendezvous or archive node) has room left
 * (`Neighbours.room()`, spent as dials go out), at most `rendezvousDialsPerRoundMax` a round. A
 * dialled peer says its hello as any other; the neighbour sets then keep or evict it.
 *
 * Everything is bounded: answers in peers and bytes, asks and dials per round, the peers
 * remembered as tried (`rendezvousTriedMax`, oldest forgotten first), the clock injected.
 *
 * @module
 */
import type { Libp2p } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { RejectedError } from "../core/errors.ts";
import type { Clock, Logger } from "../core/ports.ts";
import { array, decodeCanonicalCbor, integer, literal, record, string } from "../core/strict.ts";
import type { VerifiedHello } from "./hello.ts";
import { streamOpenTimeoutMs, TokenBucket } from "./limits.ts";
import type { PeerStanding } from "./misbehaviour.ts";
import { request, respond } from "./protocol.ts";
import {
  eligibleSets,
  type NeighbourSetName,
  parseTopology,
  type Topology,
  topologyNameBytesMax,
  topologyRoles,
} from "./topology.ts";

export const rendezvousProtocol = "/icn/rendezvous/1.0.0";

/** Most peers one answer lists. */
export const rendezvousPeersMax = 32;
/** Most addresses listed per peer. */
export const rendezvousAddrsMax = 4;
/** Longest address listed, in bytes (a DNS or IPv6 multiaddr with a peer id is well under). */
export const rendezvousAddrBytesMax = 256;
/** Largest request. */
export const rendezvousRequestBytesMax = 64;
/** Largest reply: every peer at its largest, with room for the CBOR framing. */
export const rendezvousReplyBytesMax = rendezvousPeersMax *
  (rendezvousAddrsMax * (rendezvousAddrBytesMax + 8) + 3 * (topologyNameBytesMax + 16) + 256);
/** How often a node asks each rendezvous node of its region (default; `icn node run` uses it). */
export const rendezvousIntervalMs = 60_000;
/** Rendezvous nodes asked in one round. */
export const rendezvousAsksPerRoundMax = 2;
/** Peers dialled in one round. */
export const rendezvousDialsPerRoundMax = 8;
/** A peer dialled from an answer is not dialled again for this long. */
export const rendezvousRetryMs = 5 * 60_000;
/** Peers remembered as tried; beyond this the oldest is forgotten. */
export const rendezvousTriedMax = 1024;
/** A rendezvous node answers one peer at most this often. */
export const rendezvousAnswerIntervalMs = 1000;
/**
 * Answers a rendezvous node gives per second across all askers (burst as many): each scans every
 * verified peer, so many askers at once cannot make it scan without end.
 */
export const rendezvousAnswersPerSecond = 20;
/** Askers whose last answer time is remembered (they leave on disconnect; the oldest go first). */
const answeredMax = 10_000;
/** Inbound rendezvous streams at once per connection. */
export const rendezvousInboundStreamsMax = 2;

const peerIdText = string({ min: 1, max: 128, pattern: /^[1-9A-HJ-NP-Za-km-z]+$/ });
const nameText = string({ min: 1, max: topologyNameBytesMax });

const requestShape = record({
  t: literal("peers"),
  max: integer({ min: 1, max: rendezvousPeersMax }),
});

const replyShape = record({
  peers: array(
    record({
      peer: peerIdText,
      addrs: array(string({ min: 1, max: rendezvousAddrBytesMax }), {
        min: 1,
        max: rendezvousAddrsMax,
      }),
      region: nameText,
      cluster: nameText,
      role: literal(...topologyRoles),
    }),
    { max: rendezvousPeersMax },
  ),
});

export interface RendezvousRequest {
  t: "peers";
  max: number;
}

/** A peer as a rendezvous node lists it. */
export interface RendezvousPeer extends Topology {
  peer: string;
  addrs: string[];
}

export interface RendezvousReply {
  peers: RendezvousPeer[];
}

function malformed(message: string): Error {
  return new RejectedError("malformed", message);
}

/** Decodes a request strictly; throws `RejectedError("malformed")`. */
export function decodeRendezvousRequest(bytes: Uint8Array): RendezvousRequest {
  return decodeCanonicalCbor(bytes, requestShape, {
    what: "rendezvous request",
    bytesMax: rendezvousRequestBytesMax,
    refuse: malformed,
  });
}

/**
 * Decodes a reply strictly; throws `RejectedError("malformed")`. Names are checked as a hello's
 * are (`parseTopology`).
 */
export function decodeRendezvousReply(bytes: Uint8Array): RendezvousReply {
  const reply = decodeCanonicalCbor(bytes, replyShape, {
    what: "rendezvous reply",
    bytesMax: rendezvousReplyBytesMax,
    refuse: malformed,
  });
  for (const peer of reply.peers) {
    try {
      parseTopology(peer);
    } catch (error) {
      throw malformed(`Cannot read rendezvous reply: ${(error as Error).message}`);
    }
  }
  return reply;
}

/** What the rendezvous reads of the node's neighbours (`Neighbours` in the node). */
export interface RendezvousNeighbours {
  /** Where this node sits. */
  readonly local: Topology;
  hello(peer: string): VerifiedHello | undefined;
  hellos(): Iterable<[string, VerifiedHello]>;
  standing(peer: string): { standing: PeerStanding };
  room(): Record<NeighbourSetName, number>;
}

/** What the rendezvous uses of libp2p (`hostRendezvous` in the node, fakes in tests). */
export interface RendezvousHost {
  connected(peer: string): boolean;
  /** Up to `rendezvousAddrsMax` dialable addresses of a connected peer. */
  addrsOf(peer: string): Promise<string[]>;
  /** Asks a connected rendezvous node; the reply decoded strictly. */
  ask(peer: string, request: RendezvousRequest): Promise<RendezvousReply>;
  /** Dials `peer` at `addrs`. */
  dial(peer: string, addrs: readonly string[]): Promise<void>;
}

export interface RendezvousComponents {
  clock: Clock;
  logger: Logger;
  /** Aborted when the node stops: rounds and answers then do nothing. */
  signal: AbortSignal;
  /** This node's peer id. */
  self: () => string;
  neighbours: RendezvousNeighbours;
  host: RendezvousHost;
}

export interface RendezvousInit {
  /** How often each rendezvous node of the region is asked (`rendezvousIntervalMs`). */
  intervalMs: number;
}

/** What one round did (for tests and logs). */
export interface RendezvousRound {
  asked: string[];
  dialled: string[];
}

export class Rendezvous {
  readonly #components: RendezvousComponents;
  readonly #init: RendezvousInit;
  /** When each rendezvous node was last asked (connected ones only). */
  readonly #asked = new Map<string, number>();
  /** When each peer was last dialled from an answer (at most `rendezvousTriedMax`). */
  readonly #tried = new Map<string, number>();
  /** When each peer was last answered (connected ones only). */
  readonly #answered = new Map<string, number>();
  /** All answers, `rendezvousAnswersPerSecond`. */
  readonly #answers: TokenBucket;
  #timer?: ReturnType<typeof setInterval>;
  #running = false;

  constructor(components: RendezvousComponents, init: RendezvousInit) {
    if (!Number.isInteger(init.intervalMs) || init.intervalMs < 1) {
      throw new RangeError(
        `Invalid rendezvous interval ${init.intervalMs}: expected a positive integer of ms`,
      );
    }
    this.#components = components;
    this.#init = init;
    this.#answers = new TokenBucket(
      rendezvousAnswersPerSecond,
      rendezvousAnswersPerSecond,
      components.clock.now(),
    );
  }

  /** Whether this node answers the protocol. */
  get serving(): boolean {
    return this.#components.neighbours.local.role === "rendezvous";
  }

  /** The answer to `peer`'s request (see the module comment); throws `RejectedError` to refuse. */
  answer(peer: string, request: RendezvousRequest): RendezvousReply {
    const { neighbours, clock, signal } = this.#components;
    if (signal.aborted) throw new RejectedError("stopping", "Node is shutting down");
    if (!this.serving) {
      throw new RejectedError("not_rendezvous", "This node is not a rendezvous node");
    }
    const asker = neighbours.hello(peer);
    if (!asker) throw new RejectedError("not_verified", "Peer has not said a verified hello");
    const now = clock.now();
    const last = this.#answered.get(peer);
    if (last !== undefined && now - last < rendezvousAnswerIntervalMs) {
      throw new RejectedError("rate_limited", "Peer asks the rendezvous too often");
    }
    if (!this.#answers.take(now)) {
      throw new RejectedError("rate_limited", "The rendezvous node is answering too many peers");
    }
    this.#answered.delete(peer);
    if (this.#answered.size >= answeredMax) {
      this.#answered.delete(this.#answered.keys().next().value!);
    }
    this.#answered.set(peer, now);
    const region = asker.topology?.region;
    if (region === undefined) return { peers: [] };
    const candidates: { peer: string; topology: Topology }[] = [];
    for (const [other, hello] of neighbours.hellos()) {
      if (other === peer || hello.topology?.region !== region) continue;
      if (!hello.announced.some((net) => asker.announced.includes(net))) continue;
      if (neighbours.standing(other).standing !== "ok") continue;
      candidates.push({ peer: other, topology: hello.topology });
    }
    const cluster = asker.topology!.cluster;
    candidates.sort((a, b) => {
      const local = Number(b.topology.cluster === cluster) - Number(a.topology.cluster === cluster);
      return local !== 0 ? local : a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0;
    });
    return {
      peers: candidates.slice(0, request.max).map(({ peer, topology }) => ({
        peer,
        addrs: [],
        region: topology.region,
        cluster: topology.cluster,
        role: topology.role,
      })),
    };
  }

  /** `answer` with each listed peer's addresses; peers with none are left out. */
  async answerWithAddrs(peer: string, request: RendezvousRequest): Promise<RendezvousReply> {
    const reply = this.answer(peer, request);
    const peers: RendezvousPeer[] = [];
    for (const listed of reply.peers) {
      const addrs = (await this.#components.host.addrsOf(listed.peer))
        .filter((addr) => new TextEncoder().encode(addr).length <= rendezvousAddrBytesMax)
        .slice(0, rendezvousAddrsMax);
      if (addrs.length > 0) peers.push({ ...listed, addrs });
    }
    this.#components.logger.debug("rendezvous_answered", {
      peer,
      peers: peers.map((p) => p.peer).join(","),
    });
    return { peers };
  }

  /**
   * One round of asking (see the module comment): never throws; a failed ask or dial is logged
   * (debug) and the rendezvous node is asked again after `intervalMs`.
   */
  async round(): Promise<RendezvousRound> {
    const done: RendezvousRound = { asked: [], dialled: [] };
    const { neighbours, clock, signal, host, logger, self } = this.#components;
    const local = neighbours.local;
    if (signal.aborted || this.serving || this.#running) return done;
    this.#running = true;
    try {
      const due: string[] = [];
      for (const [peer, hello] of neighbours.hellos()) {
        const at = this.#asked.get(peer);
        if (
          hello.topology?.role === "rendezvous" && hello.topology.region === local.region &&
          host.connected(peer) && (at === undefined || clock.now() - at >= this.#init.intervalMs)
        ) due.push(peer);
      }
      due.sort();
      const room = neighbours.room();
      for (const rendezvous of due.slice(0, rendezvousAsksPerRoundMax)) {
        if (signal.aborted) break;
        this.#asked.set(rendezvous, clock.now());
        done.asked.push(rendezvous);
        let reply: RendezvousReply;
        try {
          reply = await host.ask(rendezvous, { t: "peers", max: rendezvousPeersMax });
        } catch (error) {
          logger.debug("rendezvous_ask_failed", {
            peer: rendezvous,
            error: (error as Error).message,
          });
          continue;
        }
        for (const listed of reply.peers) {
          if (done.dialled.length >= rendezvousDialsPerRoundMax || signal.aborted) break;
          const { peer } = listed;
          if (peer === self() || host.connected(peer) || listed.region !== local.region) continue;
          const tried = this.#tried.get(peer);
          if (tried !== undefined && clock.now() - tried < rendezvousRetryMs) continue;
          const set = eligibleSets(local, {
            peerId: peer,
            topology: listed,
            trustClass: "isolated",
            connectedAtMs: 0,
          }).find((name) => room[name] > 0);
          if (set === undefined) continue;
          room[set]--;
          this.#remember(peer, clock.now());
          done.dialled.push(peer);
          host.dial(peer, listed.addrs).catch((error) =>
            logger.debug("rendezvous_dial_failed", { peer, error: (error as Error).message })
          );
        }
      }
      if (done.dialled.length > 0) {
        logger.info("rendezvous_dialled", {
          asked: done.asked.join(","),
          peers: done.dialled.length,
        });
      }
      return done;
    } finally {
      this.#running = false;
    }
  }

  /** A peer's hello was verified: a rendezvous node of this node's region is asked at once. */
  verified(_peer: string, hello: VerifiedHello): void {
    const local = this.#components.neighbours.local;
    if (
      !this.serving && hello.topology?.role === "rendezvous" &&
      hello.topology.region === local.region
    ) void this.round();
  }

  /** A peer disconnected: its ask and answer times go (it is asked afresh when it comes back). */
  forget(peer: string): void {
    this.#asked.delete(peer);
    this.#answered.delete(peer);
  }

  /**
   * Runs `round()` four times an interval until `stop()`, so that each rendezvous node is asked
   * within a quarter interval of being due.
   */
  start(): void {
    if (this.serving) return;
    const tickMs = Math.max(1, Math.floor(this.#init.intervalMs / 4));
    this.#timer = setInterval(() => void this.round(), tickMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #remember(peer: string, at: number): void {
    this.#tried.delete(peer);
    if (this.#tried.size >= rendezvousTriedMax) {
      this.#tried.delete(this.#tried.keys().next().value!);
    }
    this.#tried.set(peer, at);
  }
}

/** The rendezvous's view of a libp2p host (the node's `libp2p`, once started). */
export function hostRendezvous(host: () => Libp2p | undefined): RendezvousHost {
  const connection = (peer: string) =>
    host()?.getConnections().find((c) => c.remotePeer.toString() === peer);
  return {
    connected: (peer) => connection(peer) !== undefined,
    async addrsOf(peer) {
      const libp2p = host();
      if (!libp2p) return [];
      let addresses;
      try {
        addresses = (await libp2p.peerStore.get(peerIdFromString(peer))).addresses;
      } catch {
        return [];
      }
      // Signed peer records first: the peer itself vouched for those.
      const sorted = [...addresses].sort((a, b) => Number(b.isCertified) - Number(a.isCertified));
      const out: string[] = [];
      for (const { multiaddr: addr } of sorted) {
        const text = addr.toString();
        if (text.includes("/p2p-circuit")) continue;
        out.push(text);
        if (out.length >= rendezvousAddrsMax) break;
      }
      return out;
    },
    async ask(peer, message) {
      const open = connection(peer);
      if (!open) throw new Error(`Not connected to ${peer}`);
      const stream = await open.newStream(rendezvousProtocol, {
        signal: AbortSignal.timeout(streamOpenTimeoutMs),
      });
      return await request(stream, message, rendezvousReplyBytesMax, decodeRendezvousReply);
    },
    async dial(peer, addrs) {
      const libp2p = host();
      if (!libp2p) throw new Error("The node has not started");
      const suffix = `/p2p/${peer}`;
      const targets = addrs.map((addr) => multiaddr(addr.endsWith(suffix) ? addr : addr + suffix));
      await libp2p.dial(targets, { signal: AbortSignal.timeout(streamOpenTimeoutMs) });
    },
  };
}

/** Registers the protocol on `libp2p` when this node is a rendezvous node. */
export async function handleRendezvous(libp2p: Libp2p, rendezvous: Rendezvous): Promise<void> {
  if (!rendezvous.serving) return;
  await libp2p.handle(
    rendezvousProtocol,
    (stream, connection) =>
      respond<RendezvousRequest>(
        stream,
        rendezvousRequestBytesMax,
        (message) => rendezvous.answerWithAddrs(connection.remotePeer.toString(), message),
        decodeRendezvousRequest,
      ),
    { maxInboundStreams: rendezvousInboundStreamsMax },
  );
}
