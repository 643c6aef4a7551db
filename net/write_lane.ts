/**
 * The write lane: every write of the node to its store (inbound gossip batches, synced pages,
 * key events from a hello, local submits) runs here, one after another, so only one ingest
 * touches the store at a time and the shared read cache stays valid.
 *
 * One lane per store, and a store per network: a node serving several networks keeps one lane
 * for each (their gossip, sync and submits hold it). A key event log fork found in one lane is
 * reported (`onKelFork`) so that the node replays it into the others: a KEL serves every network.
 */
import {
  ingest,
  type IngestDeps,
  type IngestOutcome,
  type IngestSource,
} from "../core/chain/ingest.ts";
import type { SignatureVerifier } from "../core/chain/verifier.ts";
import { kelNet } from "../core/constants.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { assert } from "../core/errors.ts";
import { countDropped, type NodeMetrics } from "./metrics.ts";

/** Ingests while the caller holds the lane (call it only inside `run`). */
export type IngestInTurn = (
  inputs: SealedEnvelope[],
  source: IngestSource,
  gate?: (sealed: SealedEnvelope) => void,
  /** Checks signatures off the main thread for a large call without a gate (`IngestDeps.verifier`). */
  verifier?: SignatureVerifier,
) => Promise<IngestOutcome[]>;

export interface WriteLaneComponents {
  ingest: IngestDeps;
  metrics: NodeMetrics;
}

export interface WriteLaneInit {
  /** The network whose store this lane writes (the `net` label of the per-network counters). */
  net?: string;
  /**
   * Called with a key event that forked its author's key event log in this store (validly
   * signed, conflicting with the stored event at its seq): the evidence other stores need.
   */
  onKelFork?: (sealed: SealedEnvelope) => void;
  /** Called for every envelope accepted through the lane. */
  onAccepted?: (sealed: SealedEnvelope, source: IngestSource) => void;
  /**
   * Envelopes that were waiting for one of `accepted` as their predecessor (gossip's parked
   * gaps): they are ingested in the same turn, as gossip.
   */
  followUps?: (accepted: SealedEnvelope[]) => Promise<SealedEnvelope[]>;
}

/** Rejections counted as ignored (no fault of the envelope), not as rejected. */
const ignoredReasons: ReadonlySet<string> = new Set(["gap", "rate_limited"]);

export class WriteLane {
  readonly #components: WriteLaneComponents;
  readonly #init: WriteLaneInit;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(components: WriteLaneComponents, init: WriteLaneInit = {}) {
    this.#components = components;
    this.#init = init;
  }

  /** Runs `fn` after every earlier turn; `fn` ingests with the `ingest` it is given. */
  run<T>(fn: (ingest: IngestInTurn) => Promise<T>): Promise<T> {
    const turn = () => fn(this.#ingestHeld);
    const run = this.#tail.then(turn, turn);
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Ingests `inputs` in a turn of their own (with `verifier`, see `IngestDeps.verifier`). */
  ingest(
    inputs: SealedEnvelope[],
    source: IngestSource,
    verifier?: SignatureVerifier,
  ): Promise<IngestOutcome[]> {
    return this.run((ingest) => ingest(inputs, source, undefined, verifier));
  }

  /** Resolves once every turn queued so far has ended (stopping waits for in-flight commits). */
  async settled(): Promise<void> {
    await this.#tail.catch(() => {});
  }

  #ingestHeld: IngestInTurn = async (inputs, source, gate, verifier) => {
    const { metrics } = this.#components;
    const end = metrics.validationSeconds.startTimer({ source });
    const accepted: SealedEnvelope[] = [];
    const deps = verifier ? { ...this.#components.ingest, verifier } : this.#components.ingest;
    const outcomes = await ingest(deps, inputs, {
      source,
      gate,
      onAccepted: (sealed) => accepted.push(sealed),
    });
    end();
    assert(outcomes.length === inputs.length, "ingest returns one outcome per input");
    for (const sealed of accepted) this.#init.onAccepted?.(sealed, source);
    const net = this.#init.net;
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i];
      const kind = inputs[i].envelope.kind;
      if (net !== undefined && outcome.status === "accepted") metrics.networkAccepted.inc({ net });
      if (
        net !== undefined && outcome.status === "rejected" && !ignoredReasons.has(outcome.reason)
      ) {
        metrics.networkRejected.inc({ net });
      }
      if (
        outcome.status === "rejected" && outcome.reason === "fork" &&
        inputs[i].envelope.net === kelNet
      ) {
        this.#init.onKelFork?.(inputs[i]);
      }
      if (outcome.status === "accepted") metrics.accepted.inc({ kind, source });
      else if (outcome.status === "duplicate") {
        metrics.ignored.inc({ reason: "duplicate", source });
        if (source === "gossip" || source === "sync") {
          countDropped(metrics, source, "duplicate");
        }
      } else if (ignoredReasons.has(outcome.reason)) {
        metrics.ignored.inc({ reason: outcome.reason, source });
        // A gossip envelope ahead of its predecessor is parked, not dropped.
        if (outcome.reason === "rate_limited" && (source === "gossip" || source === "sync")) {
          countDropped(metrics, source, "rate_limited");
        }
      } else {
        metrics.rejected.inc({ kind, reason: outcome.reason, source });
        if (source === "gossip" || source === "sync") {
          countDropped(metrics, source, outcome.reason);
        }
      }
    }
    const followUps = accepted.length > 0 && this.#init.followUps
      ? await this.#init.followUps(accepted)
      : [];
    if (followUps.length > 0) await this.#ingestHeld(followUps, "gossip");
    return outcomes;
  };
}
