/**
 * The registries of envelope kinds: the one place where domains plug their
 * rules into the shared validation path, one registry per kind of network.
 *
 * A federation network never accepts cooperative kinds, nor a cooperative
 * federation kinds: each network's state is judged against its own genesis,
 * and the other kind's rules have nothing true to judge against. A federation's
 * members are cooperatives, so it has no people whose credit limits a
 * `ledger.transfer` could check or whose membership a `gov.vote` could count;
 * a cooperative has no federation genesis, delegates or member counts for a
 * `fed.vote` to be counted by. Accepting one would store state that every
 * node of that network then carries and hashes but that means nothing, and a
 * later handler change could start to act on it. So kinds are refused at the
 * door (`unknown_kind`) rather than by each handler, and a handler added later
 * cannot leak into the wrong network by forgetting a check. Identity kinds
 * (key event logs) serve every network.
 */
import type { KindHandler, KindRegistry } from "./chain/ingest.ts";
import { federationKinds } from "./federation/kinds.ts";
import type { NetworkKind } from "./governance/join.ts";
import { identityKinds } from "./identity/kinds.ts";
import { governanceKinds } from "./governance/kinds.ts";
import { trustKinds } from "./trust/state.ts";
import { ledgerKinds } from "./ledger/kinds.ts";
import { clearingLedgerKinds } from "./ledger/clearing.ts";

export type { NetworkKind } from "./governance/join.ts";

const kindsOf: Record<NetworkKind, readonly ReadonlyMap<string, KindHandler>[]> = {
  cooperative: [identityKinds, trustKinds, ledgerKinds, clearingLedgerKinds, governanceKinds],
  federation: [identityKinds, federationKinds],
};

/** The kinds a network of kind `networkKind` accepts (read it with `readNetworkKind`). */
export function kindRegistryFor(networkKind: NetworkKind): KindRegistry {
  const registry = new Map<string, KindHandler>();
  for (const kinds of kindsOf[networkKind]) {
    for (const [kind, handler] of kinds) registry.set(kind, handler);
  }
  return registry;
}

/** The registry of a cooperative network (every store from before federations). */
export function createKindRegistry(): KindRegistry {
  return kindRegistryFor("cooperative");
}
