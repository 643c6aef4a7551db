/**
 * The cooperative's view of a member's trust: the mean score over its anchor
 * members (the founders who are still members at `ts`), edges of every graph
 * (highest score per pair, weights 0.7/0.3). Ledger credit limits and network
 * policy use this. Edges expired at `ts` count as absent.
 */
import type { Genesis } from "../governance/genesis.ts";
import { isMember, type StateReader } from "../governance/membership.ts";
import { memberPredicate, scoreFromState } from "./state.ts";

/** The anchor set: founders still members at `ts`, sorted. */
export async function anchorsAt(
  state: StateReader,
  genesis: Genesis,
  ts: number,
): Promise<string[]> {
  const out: string[] = [];
  for (const did of [...genesis.members].sort()) {
    if (await isMember(state, genesis, did, ts)) out.push(did);
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
