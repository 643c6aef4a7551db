/**
 * The cooperative's view of a member's trust: the mean score over its anchor
 * members (the founders who are still members at `ts`), edges of every graph
 * (highest score per pair, weights 0.7/0.3). Ledger credit limits and network
 * policy use this. Edges expired at `ts` count as absent.
 *
 * `meanScore` reads only the target's side of the graph: the edges into the
 * target, and the edges into each of its (member) trusters. Those give every
 * anchor's direct edge to the target and every anchor→intermediary edge that
 * can form a path, so the result is the walk from each anchor
 * (`meanScoreByWalk`, kept as the reference) computed without visiting the
 * anchors: its cost grows with the target's in-edges, not with the number of
 * founders (issue #19: `ledger balance` on a cooperative of 1,000 founders).
 * The same integer sums and the same floating-point operations in the same
 * order, so the two agree exactly (core/trust/view_test.ts checks it on random
 * graphs).
 */
import type { Genesis } from "../governance/genesis.ts";
import { isMember, type StateReader } from "../governance/membership.ts";
import { GovernanceView } from "../governance/view.ts";
import { combineScore, graphWeights } from "./score.ts";
import { listEdgesTo, memberPredicate, scoreFromState } from "./state.ts";

/** The anchor set: founders still members at `ts`, sorted. */
export async function anchorsAt(
  state: StateReader,
  genesis: Genesis,
  ts: number,
): Promise<string[]> {
  // One view for every founder: its memoized governance outcomes are read once.
  const view = new GovernanceView(state, genesis);
  const out: string[] = [];
  for (const did of [...genesis.members].sort()) {
    if (await view.isMember(did, ts)) out.push(did);
  }
  return out;
}

/** Highest live score per truster of `to` (the `all` rule), thousandths. */
async function strongestInto(state: StateReader, to: string, ts: number) {
  const out = new Map<string, number>();
  for (const edge of await listEdgesTo(state, { to, scope: "all", ts })) {
    out.set(edge.from, Math.max(out.get(edge.from) ?? 0, edge.score));
  }
  return out;
}

/** Mean over `anchors` of score(anchor → did); 0 with no anchors. */
export async function meanScore(
  state: StateReader,
  genesis: Genesis,
  did: string,
  options: { ts: number; anchors: readonly string[] },
): Promise<number> {
  const { anchors, ts } = options;
  if (anchors.length === 0) return 0;
  const view = new GovernanceView(state, genesis);
  // Trusters of the target: each anchor's direct edge, and the candidate intermediaries.
  const into = await strongestInto(state, did, ts);
  const vias: { via: string; fromVia: number; trusters: Map<string, number> }[] = [];
  for (const [via, fromVia] of into) {
    if (via === did || !(await view.isMember(via, ts))) continue;
    vias.push({ via, fromVia, trusters: await strongestInto(state, via, ts) });
  }
  const weights = graphWeights.all;
  let sum = 0;
  for (const observer of anchors) {
    if (observer === did) {
      sum += 1;
      continue;
    }
    let products = 0;
    let count = 0;
    for (const { via, fromVia, trusters } of vias) {
      if (via === observer) continue;
      const toVia = trusters.get(observer);
      if (toVia === undefined) continue;
      products += toVia * fromVia;
      count++;
    }
    sum += combineScore(into.get(observer) ?? 0, products, count, weights);
  }
  return Math.min(1, sum / anchors.length);
}

/**
 * The reference computation of `meanScore`: the score from each anchor by
 * `scoreFromState` (two edge lists per anchor). Slow with many anchors; kept
 * for the equivalence test and the benchmark.
 */
export async function meanScoreByWalk(
  state: StateReader,
  genesis: Genesis,
  did: string,
  options: { ts: number; anchors: readonly string[] },
): Promise<number> {
  if (options.anchors.length === 0) return 0;
  const member = memberPredicate(state, genesis, options.ts);
  let sum = 0;
  for (const observer of options.anchors) {
    const { score } = await scoreFromState(state, {
      observer,
      target: did,
      scope: "all",
      ts: options.ts,
      isMember: member,
    });
    sum += score;
  }
  return Math.min(1, sum / options.anchors.length);
}

export async function cooperativeScore(
  state: StateReader,
  genesis: Genesis,
  did: string,
  ts: number,
): Promise<number> {
  return meanScore(state, genesis, did, { ts, anchors: await anchorsAt(state, genesis, ts) });
}

/** `cooperativeScore` by the reference walk from every anchor (tests and benchmarks). */
export async function cooperativeScoreByWalk(
  state: StateReader,
  genesis: Genesis,
  did: string,
  ts: number,
): Promise<number> {
  const anchors: string[] = [];
  for (const founder of [...genesis.members].sort()) {
    if (await isMember(state, genesis, founder, ts)) anchors.push(founder);
  }
  return meanScoreByWalk(state, genesis, did, { ts, anchors });
}
