/**
 * Joining a federation: the store of a federation network records its id,
 * that it is a federation, the federation genesis and the founders' member
 * counts, once, after the federation file verified. The CLI's
 * `icn federation join` and the test fixtures write exactly these keys,
 * through this one function (`joinNetwork` does the same for a cooperative).
 */
import { chainKeys } from "../chain/keys.ts";
import { AlreadyExistsError } from "../errors.ts";
import { type JoinResult, type NetworkKind, networkKindKey } from "../governance/join.ts";
import type { Store, StoreMutation } from "../store/store.ts";
import {
  checkFederationFile,
  type FederationCheck,
  type FederationFile,
  type MembersOf,
} from "./genesis.ts";
import { federationJoinWrites } from "./view.ts";

export interface JoinFederationOptions {
  /** Current members of a cooperative whose network the caller holds (see `checkFederationFile`). */
  membersOf?: MembersOf;
}

/** What `joinFederation` found, with the verified file and how it was checked. */
export type FederationJoinResult = JoinResult & { file: FederationFile; check: FederationCheck };

/**
 * Verifies a federation file in full (`checkFederationFile`: content id,
 * embedded cooperative geneses, delegates are members, every founder signed)
 * and records in `store` that it belongs to that federation. A bad file
 * throws (`InvalidInputError`, `InvalidSignatureError`) and writes nothing; a
 * store of another network is left alone and named (`elsewhere`); joining the
 * same federation again is a no-op (`already`). Throws `AlreadyExistsError` if
 * another writer joined a network between the check and the commit.
 *
 * @example Join a store to a federation file, once
 * ```ts
 * import { joinFederation } from "./join.ts";
 * import { MemoryStore } from "../store/memory_store.ts";
 *
 * async function join(text: string) {
 *   const store = new MemoryStore();
 *   const result = await joinFederation(store, text);
 *   if (result.status === "elsewhere") throw new Error(`store is in ${result.network}`);
 *   return result.check.id;
 * }
 * ```
 */
export async function joinFederation(
  store: Store,
  file: FederationFile | string | Uint8Array,
  options: JoinFederationOptions = {},
): Promise<FederationJoinResult> {
  const verified = await checkFederationFile(file, { membersOf: options.membersOf });
  const { id } = verified.check;
  const current = await store.get<string>(chainKeys.network);
  if (current) {
    return current.value === id
      ? { status: "already", ...verified }
      : { status: "elsewhere", network: current.value, ...verified };
  }
  // Rewriting the log counter (checked, unchanged) marks the store as changed for every
  // writer's read cache, as `joinNetwork` does.
  const logNext = await store.get<number>(chainKeys.logNext);
  const writes: StoreMutation[] = federationJoinWrites(verified.file).map((w) => ({
    type: "set",
    ...w,
  }));
  const ok = await store.commit([
    { key: chainKeys.network, versionstamp: null },
    { key: chainKeys.logNext, versionstamp: logNext?.versionstamp ?? null },
  ], [
    ...writes,
    { type: "set", key: chainKeys.network, value: id },
    { type: "set", key: networkKindKey, value: "federation" satisfies NetworkKind },
    { type: "set", key: chainKeys.logNext, value: logNext?.value ?? 0 },
  ]);
  if (!ok) {
    throw new AlreadyExistsError(
      "Another process joined a network at the same time; run join again to see which",
    );
  }
  return { status: "joined", ...verified };
}
