/**
 * The registry of every envelope kind: the one place where domains plug their
 * rules into the shared validation path.
 */
import type { KindHandler, KindRegistry } from "./chain/ingest.ts";
import { identityKinds } from "./identity/kinds.ts";
import { governanceKinds } from "./governance/kinds.ts";
import { trustKinds } from "./trust/state.ts";
import { ledgerKinds } from "./ledger/kinds.ts";

export function createKindRegistry(): KindRegistry {
  const registry = new Map<string, KindHandler>();
  for (const kinds of [identityKinds, trustKinds, ledgerKinds, governanceKinds]) {
    for (const [kind, handler] of kinds) registry.set(kind, handler);
  }
  return registry;
}
