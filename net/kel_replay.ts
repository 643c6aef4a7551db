/**
 * Key event logs serve every network, but each network has its own store: a key event or a key
 * event log fork the node learns in one store is carried to its other stores here. This object
 * owns what that takes: the queue of replays (one at a time, so a chain's events stay in order)
 * and the fork CIDs already replayed.
 */
import type { IngestOutcome, IngestSource } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { readChainBytes } from "../core/chain/read.ts";
import { kelNet } from "../core/constants.ts";
import { decodeEnvelope, type SealedEnvelope } from "../core/envelope/envelope.ts";
import type { Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { kelForkReplaysMax, kelReplaysPendingMax } from "./limits.ts";

/** A network's store as a replay sees it: read it, and write through its lane. */
export interface ReplayStore {
  id: string;
  store: Store;
  lane: { ingest(inputs: SealedEnvelope[], source: IngestSource): Promise<IngestOutcome[]> };
}

/** The store a key event was found in. */
export type ReplaySource = Pick<ReplayStore, "id" | "store">;

export interface KelReplayComponents {
  logger: Logger;
  /** Aborted when the node stops: no replay starts after it. */
  signal: AbortSignal;
  /** Every network's store, the home network first. */
  networks: () => readonly ReplayStore[];
}

export class KelReplay {
  readonly #components: KelReplayComponents;
  /** CIDs of key events whose fork was replayed into every network (the oldest go first). */
  readonly #forksReplayed = new Set<string>();
  /** Replays between stores, one after another (a chain's events stay in order). */
  #replays: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(components: KelReplayComponents) {
    this.#components = components;
  }

  /** Replays waiting or running. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves once every replay queued so far has finished. */
  settled(): Promise<void> {
    return this.#replays;
  }

  /**
   * A key event accepted in one network's store is replayed into the other stores that already
   * hold its author's key event log: a rotation learnt in one network reaches every network that
   * knows the identity, and identities a network does not know stay out of its store.
   */
  event(from: ReplaySource, sealed: SealedEnvelope): void {
    const { networks, signal } = this.#components;
    if (networks().length < 2 || signal.aborted) return;
    const { author } = sealed.envelope;
    this.#replay(async () => {
      for (const s of networks()) {
        if (s.id === from.id || signal.aborted) continue;
        if (!(await s.store.get(chainKeys.head(kelNet, author)))) continue;
        // Duplicates where it is already known: that ends the replay, nothing loops.
        await s.lane.ingest([sealed], "sync");
      }
    });
  }

  /**
   * A key event log fork found in one network's store is replayed into every other network's:
   * the stored event at that seq and the conflicting one, so each store records the fork and
   * quarantines the author there too (a KEL serves every network). A chain fork stays where it is.
   */
  fork(from: ReplaySource, sealed: SealedEnvelope): void {
    const { networks, signal, logger } = this.#components;
    if (networks().length < 2 || signal.aborted) return;
    if (this.#forksReplayed.has(sealed.cid)) return;
    const remember = (cid: string) => {
      if (this.#forksReplayed.size >= kelForkReplaysMax) {
        this.#forksReplayed.delete(this.#forksReplayed.values().next().value!);
      }
      this.#forksReplayed.add(cid);
    };
    remember(sealed.cid);
    const { author, seq } = sealed.envelope;
    this.#replay(async () => {
      const evidence: SealedEnvelope[] = [];
      const [stored] = await readChainBytes(from.store, kelNet, author, seq, 1);
      if (stored) {
        const existing = await decodeEnvelope(stored);
        remember(existing.cid);
        evidence.push(existing);
      }
      evidence.push(sealed);
      logger.warn("kel_fork_replayed", { author, seq, from: from.id });
      for (const s of networks()) {
        if (s.id !== from.id && !signal.aborted) await s.lane.ingest(evidence, "sync");
      }
    });
  }

  /** Runs replays one after another, after every earlier one; a failure is logged. */
  #replay(job: () => Promise<void>): void {
    const { logger } = this.#components;
    // Bounded: past the limit a replay is dropped; the other network's sync brings it later.
    if (this.#pending >= kelReplaysPendingMax) {
      logger.warn("kel_replay_dropped", { pending: this.#pending });
      return;
    }
    this.#pending++;
    this.#replays = this.#replays.then(job).catch((error) =>
      logger.warn("kel_replay_failed", { error: (error as Error).message })
    ).finally(() => this.#pending--);
  }
}
