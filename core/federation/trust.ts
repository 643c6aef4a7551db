/**
 * Trust between cooperatives: vouch edges from one cooperative to another
 * (recorded in the federation network by a delegate), scored from the
 * caller's cooperative with the member trust formula (`TrustGraph`, weights
 * of the `all` scope: 0.7 direct, 0.3 through intermediaries) and the same
 * classes (`trustClassOf`). Only cooperatives of the federation count, as
 * ends and as intermediaries. Federation trust sets the class that rate
 * limits traffic between cooperatives' nodes and the clearing limits between
 * them.
 */
import { InvalidInputError, shown } from "../errors.ts";
import { type TrustClass, trustClassOf } from "../policy/policy.ts";
import { scoreScale } from "../trust/edge.ts";
import { TrustGraph } from "../trust/graph.ts";
import type { ScoreExplanation } from "../trust/score.ts";

/** One cooperative's vouch for another, as recorded (scores in thousandths, like member edges). */
export interface CoopEdge {
  /** Network ids of the vouching and the vouched-for cooperative. */
  from: string;
  to: string;
  /** Thousandths, 0..1000; 0 revokes. */
  score: number;
  /** When it was recorded, ms since epoch: the latest edge of a pair replaces earlier ones. */
  ts: number;
  /** Absolute expiry, ms since epoch; the edge counts as absent from then on. */
  expires?: number;
  /** Envelope CID: breaks ties between edges of the same time. */
  cid?: string;
}

export interface CooperativeTrustOptions {
  /** Network ids of the federation's cooperatives at `ts`. */
  coops: Iterable<string>;
  /** The time scored at, ms since epoch: later and expired edges do not count. */
  ts: number;
}

export interface CoopScore {
  coop: string;
  score: number;
  class: TrustClass;
}

function isLater(a: CoopEdge, b: CoopEdge): boolean {
  if (a.ts !== b.ts) return a.ts > b.ts;
  const ac = a.cid ?? "", bc = b.cid ?? "";
  if (ac !== bc) return ac > bc;
  return a.score > b.score;
}

/** Trust between the cooperatives of a federation at one time; build once, query many. */
export class CooperativeTrust {
  readonly ts: number;
  readonly #graph: TrustGraph;
  readonly #index: Map<string, number>;

  private constructor(ts: number, graph: TrustGraph, index: Map<string, number>) {
    this.ts = ts;
    this.#graph = graph;
    this.#index = index;
  }

  /** Builds the graph: per pair the latest edge recorded by `ts`, if live (score > 0, not expired). */
  static build(edges: Iterable<CoopEdge>, options: CooperativeTrustOptions): CooperativeTrust {
    const ids = [...new Set(options.coops)].sort();
    const index = new Map(ids.map((id, i) => [id, i]));
    const latest = new Map<string, CoopEdge>();
    for (const edge of edges) {
      if (!Number.isInteger(edge.score) || edge.score < 0 || edge.score > scoreScale) {
        throw new InvalidInputError(
          `Cannot use the vouch of ${edge.from} for ${edge.to}: score "${
            shown(edge.score)
          }" is not a whole number of thousandths 0..${scoreScale}`,
        );
      }
      if (edge.ts > options.ts || !index.has(edge.from) || !index.has(edge.to)) continue;
      const key = `${edge.from} ${edge.to}`;
      const previous = latest.get(key);
      if (!previous || isLater(edge, previous)) latest.set(key, edge);
    }
    const live = [...latest.values()].filter((e) =>
      e.score > 0 && (e.expires === undefined || e.expires > options.ts)
    );
    const graph = TrustGraph.fromEdges(ids.length, {
      from: Int32Array.from(live, (e) => index.get(e.from)!),
      to: Int32Array.from(live, (e) => index.get(e.to)!),
      score: Uint16Array.from(live, (e) => e.score),
    }, { ids });
    return new CooperativeTrust(options.ts, graph, index);
  }

  #node(coop: string, role: string): number {
    const node = this.#index.get(coop);
    if (node === undefined) {
      throw new InvalidInputError(
        `Cannot score trust ${role} cooperative "${shown(coop)}": it is not in the federation`,
      );
    }
    return node;
  }

  /** Score of `target` seen from `observer`, in [0, 1], with its class. */
  score(observer: string, target: string): CoopScore {
    const score = this.#graph.score(this.#node(observer, "from"), this.#node(target, "of"), "all");
    return { coop: target, score, class: trustClassOf(score) };
  }

  /** The score with its terms (direct edge, each intermediary's contribution), for `--explain`. */
  explain(observer: string, target: string): ScoreExplanation & { class: TrustClass } {
    const explanation = this.#graph.explain(
      this.#node(observer, "from"),
      this.#node(target, "of"),
      "all",
    );
    return { ...explanation, class: trustClassOf(explanation.score) };
  }

  /** Every other cooperative's score from `observer`, highest first (then by network id). */
  scoresFrom(observer: string): CoopScore[] {
    const node = this.#node(observer, "from");
    const scores = this.#graph.scoresFrom(node, "all");
    const out: CoopScore[] = [];
    for (const [coop, i] of this.#index) {
      if (i === node) continue;
      out.push({ coop, score: scores[i], class: trustClassOf(scores[i]) });
    }
    return out.sort((a, b) => b.score - a.score || (a.coop < b.coop ? -1 : 1));
  }
}
