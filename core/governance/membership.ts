/**
 * Who is a member, and which parameters apply, at a given time: the genesis
 * plus the effects of accepted membership and config proposals whose
 * effective time (close + timelock) is ≤ ts. Ledger, trust and the node call
 * only these functions, never governance tables.
 */
import type { Params } from "../params.ts";
import type { Genesis } from "./genesis.ts";
import { creditOverridePrefix, GovernanceView, type StateReader } from "./view.ts";

export type { StateReader } from "./view.ts";

/** True when `did` is a member of the cooperative at time `ts`. */
export function isMember(
  state: StateReader,
  genesis: Genesis,
  did: string,
  ts: number,
): Promise<boolean> {
  return new GovernanceView(state, genesis).isMember(did, ts);
}

/** All members at time `ts`, sorted. */
export async function membersAt(
  state: StateReader,
  genesis: Genesis,
  ts: number,
): Promise<string[]> {
  return [...await new GovernanceView(state, genesis).membersAt(ts)].sort();
}

/** Parameters in force for an envelope dated `ts`. */
export function paramsAt(state: StateReader, genesis: Genesis, ts: number): Promise<Params> {
  return new GovernanceView(state, genesis).paramsAt(ts);
}

/**
 * When `did` was admitted by an executed membership proposal (its effective
 * time), as of `ts`; undefined for founders and non-members. Starts the
 * ledger's new-member ramp.
 */
export function admittedAt(
  state: StateReader,
  genesis: Genesis,
  did: string,
  ts: number,
): Promise<number | undefined> {
  return new GovernanceView(state, genesis).admittedAt(did, ts);
}

/**
 * The per-member credit limit override in force for `did` (minor units), set
 * by an accepted config proposal `--set credit.override.<did>=<amount>`, or
 * undefined when none applies.
 */
export function creditOverride(params: Params, did: string): number | undefined {
  const value = params[creditOverridePrefix + did];
  return typeof value === "number" ? value : undefined;
}

/**
 * The lowest protocol version a peer must run at `now`: the highest
 * `minVersion` of accepted, executed upgrade proposals whose deadline has
 * passed; null when no upgrade is in force. The node refuses older peers.
 */
export function upgradeRequirement(
  state: StateReader,
  genesis: Genesis,
  now: number,
): Promise<string | null> {
  return new GovernanceView(state, genesis).upgradeRequirement(now);
}
