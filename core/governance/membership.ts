/**
 * Who is a member, and which parameters apply, at a given time. The
 * foundation answers from the genesis alone; the governance module extends
 * these with executed membership and config proposals. Ledger, trust and the
 * node call only these functions, never their own tables.
 */
import type { StateView } from "../chain/state.ts";
import type { Params } from "../params.ts";
import type { Genesis } from "./genesis.ts";

export type StateReader = Pick<StateView, "get" | "list">;

/** True when `did` is a member of the cooperative at time `ts`. */
export function isMember(
  _state: StateReader,
  genesis: Genesis,
  did: string,
  _ts: number,
): Promise<boolean> {
  return Promise.resolve(genesis.members.includes(did));
}

/** All members at time `ts`, sorted. */
export function membersAt(_state: StateReader, genesis: Genesis, _ts: number): Promise<string[]> {
  return Promise.resolve([...genesis.members]);
}

/** Parameters in force for an envelope dated `ts`. */
export function paramsAt(_state: StateReader, genesis: Genesis, _ts: number): Promise<Params> {
  return Promise.resolve(genesis.params);
}
