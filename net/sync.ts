/**
 * Sync: a peer asks for the heads of every chain this node holds, then for the ranges it
 * lacks, page by page; each page is validated by one ingest in the write lane. Serving reads
 * only what this store already validated. A failed round is retried with a doubling delay.
 *
 * One `Sync` per network: it serves and fetches the key event logs and its own network's
 * chains from that network's store. A node serving several networks builds one for each; the
 * node routes each request to the network it names (`network`, absent for the responder's first)
 * and refuses one for a network it does not serve or the asker did not announce.
 */
import type { Connection } from "@libp2p/interface";
import { clearCatchUp } from "../core/identity/catch_up.ts";
import { type ChainHead } from "../core/chain/keys.ts";
import { type SignatureVerifier, verifyPoolThreshold } from "../core/chain/verifier.ts";
import { readChainBytes, readHeads } from "../core/chain/read.ts";
import { kelNet } from "../core/constants.ts";
import { decodeEnvelope, type SealedEnvelope } from "../core/envelope/envelope.ts";
import { assert, RejectedError } from "../core/errors.ts";
import type { Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { helloWaitMs, streamOpenTimeoutMs, syncRetryMs, syncRoundsMax } from "./limits.ts";
import { countDropped, type NodeMetrics } from "./metrics.ts";
import { invalidReasons, type Peers } from "./peers.ts";
import {
  decodeHeadsResponse,
  decodeRangeResponse,
  decodeSyncRequest,
  headsMax,
  type HeadsResponse,
  pageBytesMax,
  type RangeResponse,
  request,
  syncBytesMax,
  syncProtocol,
  type SyncRequest,
} from "./protocol.ts";
import type { WriteLane } from "./write_lane.ts";

export type SyncReply = HeadsResponse | RangeResponse;

/**
 * Range requests one sync page gathers at most, all on the wire at once (short chains share a
 * page). Below the peer's `syncInboundStreamsMax`, leaving room for the next page's heads.
 */
export const syncPageRequestsMax = 32;

/** Sends one sync request to a connected peer and returns its strictly decoded reply. */
export type SyncAsk = (peer: string, message: SyncRequest) => Promise<SyncReply>;

export interface SyncComponents {
  store: Store;
  logger: Logger;
  metrics: NodeMetrics;
  lane: WriteLane;
  peers: Peers;
  ask: SyncAsk;
  /** Aborted when the node stops. */
  signal: AbortSignal;
  /** This node's DID (named in the log when the restore guard lifts). */
  did: string;
  /** The node's lag over all its networks (`icn_sync_lag_envelopes`); this network's alone if absent. */
  nodeLag?: () => number;
  /**
   * Starts a signature verifier (the node: a `VerifyPool`, one worker per core) at the first page
   * of a round with at least `verifyPoolThreshold` envelopes; it serves the rest of the round's
   * large pages and is closed when the round's fetching ends. Without it, or for smaller pages, the
   * main thread verifies alone.
   */
  verifier?: () => SignatureVerifier;
}

export interface SyncInit {
  /** The network whose chains are served and fetched, beside the key event logs. */
  net: string;
  /** Envelopes per range request (`sync.page_size`). */
  pageSize: number;
  /** The periodic sync interval: the longest retry delay. */
  intervalMs: number;
}

interface Range {
  net: string;
  author: string;
  from: number;
  to: number;
}

export class Sync {
  readonly #components: SyncComponents;
  readonly #init: SyncInit;
  readonly #syncing = new Set<string>();
  readonly #lagByPeer = new Map<string, number>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(components: SyncComponents, init: SyncInit) {
    this.#components = components;
    this.#init = init;
  }

  /** Envelopes this node lacks from the peer that has the most it lacks. */
  lag(): number {
    let lag = 0;
    for (const value of this.#lagByPeer.values()) lag = Math.max(lag, value);
    return lag;
  }

  /** Answers one encoded sync request from `peer`. */
  async serve(peer: string, bytes: Uint8Array): Promise<SyncReply> {
    const { metrics } = this.#components;
    let m: SyncRequest;
    try {
      m = decodeSyncRequest(bytes);
    } catch (error) {
      await this.#heard(peer);
      countDropped(metrics, "sync", "malformed");
      throw error;
    }
    return await this.answer(peer, m);
  }

  /** Answers one decoded sync request from `peer` (the node routed it to this network). */
  async answer(peer: string, m: SyncRequest): Promise<SyncReply> {
    const { metrics, store } = this.#components;
    await this.#heard(peer);
    if (m?.t === "heads") {
      const heads: HeadsResponse["heads"] = [];
      for (const net of [kelNet, this.#init.net]) {
        for (const [author, head] of await readHeads(store, net)) {
          if (heads.length >= headsMax) break;
          heads.push([net, author, head.seq]);
        }
      }
      return { heads };
    }
    if (
      m?.t === "range" && (m.net === kelNet || m.net === this.#init.net) &&
      typeof m.author === "string" &&
      typeof m.from === "number" && typeof m.limit === "number"
    ) {
      const limit = Math.max(1, Math.min(this.#init.pageSize, m.limit));
      // Served as stored: this store only holds envelopes it validated.
      const chain = await readChainBytes(store, m.net, m.author, m.from, limit);
      const envs: Uint8Array[] = [];
      let bytes = 0;
      for (const encoded of chain) {
        bytes += encoded.length;
        if (envs.length > 0 && bytes > pageBytesMax) break;
        envs.push(encoded);
      }
      assert(envs.length <= limit, "a range page holds at most the envelopes asked for");
      return { envs } satisfies RangeResponse;
    }
    countDropped(metrics, "sync", "malformed");
    throw new RejectedError("malformed", "Unknown sync request");
  }

  /** Both sides start a sync once they verified the other's hello: wait for the asker's a moment. */
  async #heard(peer: string): Promise<void> {
    if (!(await this.#components.peers.helloFrom(peer, helloWaitMs))) {
      countDropped(this.#components.metrics, "sync", "no_hello");
      throw new RejectedError("bad_hello", "Sync before hello");
    }
  }

  /** Sets this network's lag gauge and the node's. */
  #reportLag(): void {
    const { metrics, nodeLag } = this.#components;
    metrics.networkSyncLag.set({ net: this.#init.net }, this.lag());
    metrics.syncLag.set(nodeLag?.() ?? this.lag());
  }

  /** Starts a sync with `peer` unless one runs; a failure retries it later. */
  soon(peer: string): void {
    const { signal, metrics, logger, peers } = this.#components;
    if (this.#syncing.has(peer) || signal.aborted) return;
    this.#syncing.add(peer);
    this.syncWith(peer).then(() => this.#failures.delete(peer), (error) => {
      metrics.syncRounds.inc({ result: "failed" });
      const failures = (this.#failures.get(peer) ?? 0) + 1;
      this.#failures.set(peer, failures);
      // Retry sooner than the next periodic round: 1 s, 2 s, 4 s, ... up to the interval.
      const delay = Math.min(this.#init.intervalMs, syncRetryMs * 2 ** (failures - 1));
      logger.debug("sync_failed", {
        peer,
        error: (error as Error).message,
        retryMs: delay,
      });
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (peers.has(peer)) this.soon(peer);
      }, delay);
      this.#timers.add(timer);
    }).finally(() => this.#syncing.delete(peer));
  }

  /** Fetches every envelope the peer has and this node lacks, by (author, seq) in pages. */
  async syncWith(peer: string): Promise<number> {
    const { signal, metrics, store, ask, logger } = this.#components;
    let total = 0;
    let caughtUp = false;
    for (let round = 0; round < syncRoundsMax && !signal.aborted; round++) {
      const reply = await ask(peer, { t: "heads" }) as HeadsResponse;
      if (!Array.isArray(reply?.heads)) throw new Error("Malformed heads response");
      const missing: Range[] = [];
      const local = new Map<string, Map<string, ChainHead>>();
      for (const net of [kelNet, this.#init.net]) local.set(net, await readHeads(store, net));
      let lag = 0;
      for (const [net, author, seq] of reply.heads.slice(0, headsMax)) {
        const heads = local.get(net);
        if (!heads || typeof author !== "string" || typeof seq !== "number") continue;
        const have = heads.get(author)?.seq ?? -1;
        if (seq > have) {
          missing.push({ net, author, from: have + 1, to: seq });
          lag += seq - have;
        }
      }
      this.#lagByPeer.set(peer, lag);
      this.#reportLag();
      if (missing.length === 0) {
        caughtUp = true;
        break;
      }
      missing.sort((a, b) => (a.net === kelNet ? 0 : 1) - (b.net === kelNet ? 0 : 1));
      let verifier: SignatureVerifier | undefined;
      const verifierFor = (page: number) =>
        page >= verifyPoolThreshold ? (verifier ??= this.#components.verifier?.()) : undefined;
      const progress = await this.#fetchRanges(peer, missing, verifierFor, (n) => {
        lag -= n;
        this.#lagByPeer.set(peer, Math.max(0, lag));
        this.#reportLag();
      }).finally(() => verifier?.close());
      total += progress;
      if (progress === 0) break;
    }
    metrics.syncRounds.inc({ result: "ok" });
    // This node now holds all the peer holds, its own chain included: the restore guard lifts.
    if (caughtUp && await clearCatchUp(store)) {
      logger.info("caught_up", { peer, did: this.#components.did });
    }
    return total;
  }

  /** A disconnected peer: its lag and failures no longer count. */
  forget(peer: string): void {
    this.#lagByPeer.delete(peer);
    this.#failures.delete(peer);
    this.#reportLag();
  }

  /** Cancels pending retries. */
  stop(): void {
    for (const id of this.#timers) clearTimeout(id);
    this.#timers.clear();
  }

  /**
   * Fetches missing ranges in pages of up to `sync.page_size` envelopes and validates each page
   * with one `ingest` call. A page gathers several chains when they are short (up to
   * `syncPageRequestsMax` range requests, all asked at once, of one network: key event logs
   * first), so that a thousand chains of a hundred cost a few dozen calls, and large enough
   * pages use the verifier. The next page is on the wire while the current one is validated.
   */
  async #fetchRanges(
    peer: string,
    ranges: Range[],
    /** The verifier for a page of this many envelopes, if any (see `SyncComponents.verifier`). */
    verifierFor: (page: number) => SignatureVerifier | undefined,
    onAccepted: (n: number) => void,
  ): Promise<number> {
    const { signal, metrics, peers, lane } = this.#components;
    const pageSize = this.#init.pageSize;
    // What is left to ask of each range (at most one entry per range, in order), where its
    // next page must start, and the ranges given up on (the peer had no more, or a rejection).
    const todo: { range: number; from: number }[] = ranges.map((r, range) => ({
      range,
      from: r.from,
    }));
    const expected = ranges.map((r) => r.from);
    const done = ranges.map(() => false);
    const plan = (): Piece[] => {
      const pieces: Piece[] = [];
      let size = 0;
      while (todo.length > 0 && size < pageSize && pieces.length < syncPageRequestsMax) {
        const item = todo[0];
        const range = ranges[item.range];
        if (pieces.length > 0 && range.net !== ranges[pieces[0].range].net) break;
        const limit = Math.min(pageSize - size, range.to - item.from + 1);
        const reply = this.#components.ask(peer, {
          t: "range",
          net: range.net,
          author: range.author,
          from: item.from,
          limit,
        }) as Promise<RangeResponse>;
        reply.catch(() => {});
        pieces.push({ range: item.range, from: item.from, limit, reply });
        size += limit;
        if (item.from + limit > range.to) todo.shift();
        else item.from += limit;
      }
      return pieces;
    };
    let accepted = 0;
    let next = plan();
    while (next.length > 0 && !signal.aborted) {
      const page: { piece: Piece; envs: Uint8Array[] }[] = [];
      for (const piece of next) {
        const reply: RangeResponse = await piece.reply;
        const envs = Array.isArray(reply?.envs) ? reply.envs.slice(0, piece.limit) : [];
        // A piece of a range given up on, or not where the range stands, is not used.
        if (done[piece.range] || piece.from !== expected[piece.range]) continue;
        if (envs.length === 0) {
          // The peer has no more of this chain than this node.
          this.#giveUp(todo, done, piece.range);
          continue;
        }
        expected[piece.range] += envs.length;
        if (envs.length < piece.limit) {
          // A short page (the peer's page size or byte limit): the rest is asked for next.
          const rest = { range: piece.range, from: expected[piece.range] };
          const at = todo.findIndex((t) => t.range === piece.range);
          if (at >= 0) todo.splice(at, 1);
          todo.unshift(rest);
        }
        page.push({ piece, envs });
      }
      // Ask for what follows before validating this page.
      next = plan();
      if (page.length === 0) continue;
      const count = page.reduce((n, p) => n + p.envs.length, 0);
      metrics.received.inc({ source: "sync" }, count);
      metrics.networkReceived.inc({ net: this.#init.net }, count);
      const sealed: SealedEnvelope[] = [];
      for (const { envs } of page) {
        for (const bytes of envs) {
          try {
            sealed.push(await decodeEnvelope(bytes));
          } catch (error) {
            // A peer that serves undecodable envelopes is not asked for more.
            countDropped(metrics, "sync", "malformed", count - sealed.length);
            peers.offence(peer, "malformed", (error as Error).message);
            return accepted;
          }
        }
      }
      const outcomes = await lane.ingest(sealed, "sync", verifierFor(sealed.length));
      let ok = 0;
      let at = 0;
      for (const { piece, envs } of page) {
        const own = outcomes.slice(at, at + envs.length);
        at += envs.length;
        for (const outcome of own) {
          if (outcome.status === "rejected") {
            const offence = invalidReasons.get(outcome.reason);
            if (offence) peers.offence(peer, offence, outcome.message);
            // The rest of this chain cannot be valid now: the next round may try it again.
            this.#giveUp(todo, done, piece.range);
            break;
          }
          ok++;
        }
      }
      accepted += ok;
      onAccepted(ok);
    }
    return accepted;
  }

  /** No more pages of `range` this round. */
  #giveUp(todo: { range: number }[], done: boolean[], range: number): void {
    done[range] = true;
    const at = todo.findIndex((t) => t.range === range);
    if (at >= 0) todo.splice(at, 1);
  }
}

/** One range request of a page. */
interface Piece {
  range: number;
  from: number;
  limit: number;
  reply: Promise<RangeResponse>;
}

/** Asks over a libp2p sync stream on the open connection to the peer. */
export function askOverStreams(connections: () => Connection[]): SyncAsk {
  return async (peer, message) => {
    const connection = connections().find((c) => c.remotePeer.toString() === peer);
    if (!connection) throw new Error(`Not connected to ${peer}`);
    const stream = await connection.newStream(syncProtocol, {
      signal: AbortSignal.timeout(streamOpenTimeoutMs),
    });
    // Replies are decoded strictly (exact shape, canonical): a malformed one fails the round.
    const decode = (bytes: Uint8Array): SyncReply =>
      message.t === "heads" ? decodeHeadsResponse(bytes) : decodeRangeResponse(bytes);
    return await request(stream, message, syncBytesMax, decode);
  };
}
