/**
 * Gossip: the topic validator that hears only verified, well-standing peers within their rate,
 * the queue that commits inbound envelopes in batches through the write lane (author rate
 * limits applied there, after the signature), and the parking of envelopes that arrived ahead
 * of their predecessor until it does.
 *
 * One `Gossip` per topic, that is per network: a node serving several networks builds one for
 * each, with its own topic, peers and write lane, and subscribes only to the topics it serves.
 * Its peers are those whose hello announced the network, so gossip on a network a peer did not
 * announce is never heard.
 */
import type { GossipsubOpts, Message } from "@libp2p/gossipsub";
import { StrictNoSign, TopicValidatorResult } from "@libp2p/gossipsub";
import { createTopicScoreParams } from "@libp2p/gossipsub/score";
import { sha256 } from "@noble/hashes/sha2.js";
import type { IngestOutcome } from "../core/chain/ingest.ts";
import { envelopeBytesMax } from "../core/constants.ts";
import { decodeEnvelope, type SealedEnvelope } from "../core/envelope/envelope.ts";
import { assert, RejectedError } from "../core/errors.ts";
import type { TrustClass } from "../core/policy/policy.ts";
import type { Clock, Logger } from "../core/ports.ts";
import type { Profile } from "./config.ts";
import {
  gapBytesMax,
  gapsMax,
  gossipBatchMax,
  gossipInboundBytesMax,
  gossipSeenPairsMax,
} from "./limits.ts";
import { countDropped, gossipsubDropRegister, type NodeMetrics } from "./metrics.ts";
import { invalidReasons, type Peers } from "./peers.ts";
import type { WriteLane } from "./write_lane.ts";

export interface GossipComponents {
  clock: Clock;
  logger: Logger;
  metrics: NodeMetrics;
  lane: WriteLane;
  peers: Peers;
  /** Fetches what a peer has and this node lacks (gaps and unknown authors are fetched so). */
  sync: { soon(peer: string): void };
  /** Aborted when the node stops. */
  signal: AbortSignal;
}

export interface GossipInit {
  /** The gossipsub topic of the network's envelopes. */
  topic: string;
  /** The network (the `net` label of the per-network counters). */
  net?: string;
  /** The `test` profile runs every node on one address: no IP colocation penalty there. */
  profile: Profile;
}

interface Pending {
  sealed: SealedEnvelope;
  trustClass: TrustClass;
  resolve: (outcome: IngestOutcome) => void;
  reject: (error: unknown) => void;
}

const gapKey = (net: string, author: string, seq: number) => `${net}\u0000${author}\u0000${seq}`;

export class Gossip {
  readonly topic: string;
  readonly #components: GossipComponents;
  readonly #init: GossipInit;
  #queue: Pending[] = [];
  #flushing = false;
  /** Envelopes ahead of their predecessor, by (net, author, seq), oldest first. */
  readonly #gaps = new Map<string, Uint8Array>();
  #gapBytes = 0;
  /** (peer, CID) pairs this node has heard by gossip, oldest first (`gossipSeenPairsMax`). */
  readonly #heard = new Set<string>();

  constructor(components: GossipComponents, init: GossipInit) {
    this.#components = components;
    this.#init = init;
    this.topic = init.topic;
  }

  /** Envelopes parked, and their bytes. */
  get parked(): { count: number; bytes: number } {
    return { count: this.#gaps.size, bytes: this.#gapBytes };
  }

  /** Remembers that `peer` gossiped `cid`; false when it had already. */
  #hear(peer: string, cid: string): boolean {
    const key = `${peer}\u0000${cid}`;
    if (this.#heard.has(key)) return false;
    this.#heard.add(key);
    if (this.#heard.size > gossipSeenPairsMax) {
      const oldest = this.#heard.values().next().value;
      if (oldest !== undefined) this.#heard.delete(oldest);
    }
    return true;
  }

  /** The topic validator: whether gossipsub forwards `data` from `peer`, and what it scores. */
  async validate(peer: string, data: Uint8Array): Promise<TopicValidatorResult> {
    const { clock, signal, peers, metrics, logger, sync } = this.#components;
    const now = clock.now();
    if (signal.aborted) return TopicValidatorResult.Ignore;
    const standing = peers.standing(peer, now);
    if (standing !== "ok") {
      metrics.ignored.inc({ reason: standing, source: "gossip" });
      countDropped(metrics, "gossip", `${standing}_peer`);
      if (standing === "banned") peers.hangUp(peer, "banned");
      // A quarantined peer that keeps sending beyond its rate escalates to a ban (and is
      // disconnected); one that stays within it recovers as its points decay.
      else if (peers.admitPeer(peer, now)) peers.offence(peer, "rate_abuse", "quarantined");
      return TopicValidatorResult.Ignore;
    }
    // Before any decoding: only a peer that proved its identity with a signed hello is heard.
    // An honest peer's gossip that races its hello is fetched by the sync that follows it.
    if (!peers.has(peer)) {
      countDropped(metrics, "gossip", "no_hello");
      return TopicValidatorResult.Ignore;
    }
    metrics.received.inc({ source: "gossip" });
    if (this.#init.net !== undefined) metrics.networkReceived.inc({ net: this.#init.net });
    if (data.length > envelopeBytesMax) {
      metrics.rejected.inc({ kind: "unknown", reason: "too_large", source: "gossip" });
      countDropped(metrics, "gossip", "oversized");
      peers.offence(peer, "too_large", `${data.length} bytes`);
      return TopicValidatorResult.Reject;
    }
    const peerClass = peers.get(peer)?.trustClass ?? "isolated";
    const limited = peers.admitPeer(peer, now);
    if (limited) {
      metrics.rateLimited.inc({ scope: limited, class: peerClass });
      metrics.ignored.inc({ reason: "rate_limited", source: "gossip" });
      countDropped(metrics, "gossip", "rate_limited");
      peers.offence(peer, "rate_abuse", `${limited} limit`);
      return TopicValidatorResult.Ignore;
    }
    let sealed: SealedEnvelope;
    try {
      sealed = await decodeEnvelope(data);
    } catch (error) {
      const reason = error instanceof RejectedError ? error.reason : "malformed";
      metrics.rejected.inc({ kind: "unknown", reason, source: "gossip" });
      countDropped(metrics, "gossip", reason);
      peers.offence(peer, invalidReasons.get(reason) ?? "malformed", (error as Error).message);
      return TopicValidatorResult.Reject;
    }
    const trustClass = await peers.classOf(sealed.envelope.author);
    let outcome: IngestOutcome;
    try {
      outcome = await new Promise<IngestOutcome>((resolve, reject) => {
        this.#queue.push({ sealed, trustClass, resolve, reject });
        this.#flushSoon();
      });
    } catch (error) {
      logger.warn("ingest_failed", { error: (error as Error).message });
      countDropped(metrics, "gossip", "other");
      return TopicValidatorResult.Ignore;
    }
    const firstFromPeer = this.#hear(peer, sealed.cid);
    if (outcome.status === "accepted") return TopicValidatorResult.Accept;
    if (outcome.status === "duplicate") {
      // Gossip that arrives after sync (or another peer) brought the same envelope is honest
      // and common under load; only the same peer sending it again is a replay.
      if (!firstFromPeer) peers.offence(peer, "replay", sealed.cid);
      return TopicValidatorResult.Ignore;
    }
    if (outcome.reason === "gap") {
      this.#park(sealed, data);
      sync.soon(peer);
      return TopicValidatorResult.Ignore;
    }
    if (outcome.reason === "rate_limited") {
      metrics.rateLimited.inc({ scope: "author", class: trustClass });
      return TopicValidatorResult.Ignore;
    }
    const offence = invalidReasons.get(outcome.reason);
    if (offence) {
      peers.offence(peer, offence, outcome.message);
      return TopicValidatorResult.Reject;
    }
    // Kind rules may fail only because a dependency has not arrived yet; sync retries later.
    if (outcome.reason === "unknown_author") sync.soon(peer);
    return TopicValidatorResult.Ignore;
  }

  /**
   * Takes out the parked envelopes whose predecessor is among `accepted` (the write lane
   * ingests them in the same turn).
   */
  async takeFollowUps(accepted: SealedEnvelope[]): Promise<SealedEnvelope[]> {
    const followUps: SealedEnvelope[] = [];
    for (const sealed of accepted) {
      const { net, author, seq } = sealed.envelope;
      const key = gapKey(net, author, seq + 1);
      const bytes = this.#gaps.get(key);
      if (bytes) {
        this.#gaps.delete(key);
        this.#gapBytes -= bytes.length;
        try {
          followUps.push(await decodeEnvelope(bytes));
        } catch {
          // Bytes were decoded before being parked; nothing to do if that changed.
        }
      }
    }
    return followUps;
  }

  /** gossipsub's options for this topic: no signatures, content ids, size limit, scoring. */
  options(): Partial<GossipsubOpts> {
    const { topic, profile } = this.#init;
    const { metrics } = this.#components;
    return {
      emitSelf: false,
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
      globalSignaturePolicy: StrictNoSign,
      msgIdFn: (message: Message) => sha256(message.data),
      fastMsgIdFn: (message) => {
        let hash = 0;
        const data = message.data ?? new Uint8Array();
        for (let i = 0; i < data.length; i++) hash = (Math.imul(hash, 31) + data[i]) | 0;
        return `${data.length}:${hash}`;
      },
      maxInboundDataLength: gossipInboundBytesMax,
      // Only to count what gossipsub drops before the topic validator (icn_messages_dropped_total).
      metricsRegister: gossipsubDropRegister((reason, n) =>
        countDropped(metrics, "gossip", reason, n)
      ),
      metricsTopicStrToLabel: new Map([[topic, "envelopes"]]),
      scoreParams: {
        IPColocationFactorWeight: profile === "test" ? 0 : -10,
        topics: {
          [topic]: createTopicScoreParams({
            topicWeight: 1,
            timeInMeshWeight: 0.1,
            timeInMeshQuantum: 1000,
            timeInMeshCap: 10,
            firstMessageDeliveriesWeight: 0.1,
            firstMessageDeliveriesCap: 100,
            // Quiet cooperatives send little; under-delivery is not misbehaviour here.
            meshMessageDeliveriesWeight: 0,
            meshFailurePenaltyWeight: 0,
            invalidMessageDeliveriesWeight: -10,
            invalidMessageDeliveriesDecay: 0.99,
          }),
        },
      },
      scoreThresholds: { gossipThreshold: -100, publishThreshold: -200, graylistThreshold: -400 },
    } as Partial<GossipsubOpts>;
  }

  /** Keeps an envelope that arrived ahead of its predecessor, within count and byte bounds. */
  #park(sealed: SealedEnvelope, data: Uint8Array): void {
    const { net, author, seq } = sealed.envelope;
    const key = gapKey(net, author, seq);
    if (this.#gaps.has(key)) return;
    while (
      this.#gaps.size > 0 &&
      (this.#gaps.size >= gapsMax || this.#gapBytes + data.length > gapBytesMax)
    ) {
      const [oldest, bytes] = this.#gaps.entries().next().value!;
      this.#gaps.delete(oldest);
      this.#gapBytes -= bytes.length;
    }
    this.#gaps.set(key, data);
    this.#gapBytes += data.length;
    // Fits: validate() refused anything over envelopeBytesMax, which fits gapBytesMax (limits.ts).
    assert(
      this.#gaps.size <= gapsMax && this.#gapBytes <= gapBytesMax,
      "parked gossip stays within its count and bytes",
    );
  }

  #flushSoon(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    const { lane, clock, peers } = this.#components;
    lane.run(async (ingest) => {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, gossipBatchMax);
        const classes = new Map(batch.map((p) => [p.sealed, p.trustClass]));
        const now = clock.now();
        try {
          const outcomes = await ingest(batch.map((p) => p.sealed), "gossip", (sealed) => {
            const trustClass = classes.get(sealed) ?? "isolated";
            if (!peers.admitAuthor(sealed.envelope.author, trustClass, now)) {
              throw new RejectedError(
                "rate_limited",
                `Author "${sealed.envelope.author}" is over the ${trustClass} rate`,
              );
            }
          });
          batch.forEach((p, i) => p.resolve(outcomes[i]));
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    }).finally(() => {
      this.#flushing = false;
      if (this.#queue.length > 0) this.#flushSoon();
    });
  }
}
