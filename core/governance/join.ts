/**
 * Joining a network: a store records which network it belongs to, what kind of network it is
 * and that network's genesis, once. The CLI's `icn governance join` and every test fixture that
 * starts from a joined store write exactly these keys, through this one function
 * (`joinFederation` in `core/federation/join.ts` for a federation).
 */
import { chainKeys } from "../chain/keys.ts";
import { AlreadyExistsError, assert } from "../errors.ts";
import type { Store } from "../store/store.ts";
import type { Genesis } from "./genesis.ts";

/** A network's members are people (`cooperative`) or cooperatives (`federation`). */
export const networkKinds = ["cooperative", "federation"] as const;
export type NetworkKind = typeof networkKinds[number];

/**
 * Where a store records the kind of its network, so that a reader picks the kinds it accepts
 * (`kindRegistryFor`). Stores joined before federations existed lack it: they are cooperatives.
 */
export const networkKindKey = ["meta", "netKind"] as const;

/** The kind of network `store` belongs to: as recorded when it joined, else `cooperative`. */
export async function readNetworkKind(store: Pick<Store, "get">): Promise<NetworkKind> {
  const entry = await store.get<NetworkKind>(networkKindKey);
  if (!entry) return "cooperative";
  assert(networkKinds.includes(entry.value), `Store records an unknown network kind`);
  return entry.value;
}

/** What `joinNetwork` found: joined now, joined before, or the store belongs to another network. */
export type JoinResult =
  | { status: "joined" }
  | { status: "already" }
  | { status: "elsewhere"; network: string };

/**
 * Records in `store` that it belongs to network `id` with `genesis` (checked by the caller:
 * `checkGenesisFile`). A store joins one network, once: joining it again is a no-op, and a store
 * of another network is left alone and named. Throws `AlreadyExistsError` if another writer
 * joined a network between the check and the commit.
 *
 * @example Join an empty store
 * ```ts
 * import { didFromPublicKey } from "../identity/did.ts";
 * import { MemoryStore } from "../store/memory_store.ts";
 * import { createGenesis, genesisId } from "./genesis.ts";
 * import { joinNetwork } from "./join.ts";
 *
 * const founder = didFromPublicKey(new Uint8Array(32).fill(7));
 * const genesis = createGenesis({ name: "Bakers", members: [founder], created: 0 });
 * const store = new MemoryStore();
 * const id = await genesisId(genesis);
 * if ((await joinNetwork(store, { id, genesis })).status !== "joined") throw new Error("not joined");
 * if ((await joinNetwork(store, { id, genesis })).status !== "already") throw new Error("joined twice");
 * ```
 */
export async function joinNetwork(
  store: Store,
  network: { id: string; genesis: Genesis },
): Promise<JoinResult> {
  const current = await store.get<string>(chainKeys.network);
  if (current) {
    return current.value === network.id
      ? { status: "already" }
      : { status: "elsewhere", network: current.value };
  }
  // Rewriting the log counter (checked, unchanged) marks the store as changed for every
  // writer's read cache, which is only trusted while that key's versionstamp is unchanged.
  const logNext = await store.get<number>(chainKeys.logNext);
  const ok = await store.commit([
    { key: chainKeys.network, versionstamp: null },
    { key: chainKeys.logNext, versionstamp: logNext?.versionstamp ?? null },
  ], [
    { type: "set", key: chainKeys.genesis(network.id), value: network.genesis },
    { type: "set", key: chainKeys.network, value: network.id },
    { type: "set", key: networkKindKey, value: "cooperative" satisfies NetworkKind },
    { type: "set", key: chainKeys.logNext, value: logNext?.value ?? 0 },
  ]);
  if (!ok) {
    throw new AlreadyExistsError(
      "Another process joined a network at the same time; run join again to see which",
    );
  }
  return { status: "joined" };
}
