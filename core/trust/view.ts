/**
 * The cooperative's view of a member's trust: the mean score over its anchor
 * members (the founders by default). Ledger credit limits and network policy
 * use this. The trust module implements it; until edges exist it is 0.
 */
import type { StateReader } from "../governance/membership.ts";
import type { Genesis } from "../governance/genesis.ts";

export function cooperativeScore(
  _state: StateReader,
  _genesis: Genesis,
  _did: string,
  _ts: number,
): Promise<number> {
  return Promise.resolve(0);
}
