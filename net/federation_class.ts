/**
 * The trust class of a peer (or an author) on a federation network: the federation's trust
 * between cooperatives (core/federation/trust.ts, `CooperativeTrust`), from this node's
 * cooperative to the peer's, in the same classes as member trust (core/policy/policy.ts). The
 * federation network's rate limits (a peer's weight, an author's rate) follow it, as member trust
 * sets them inside a cooperative (docs/federation.md, "Rate limits between cooperatives").
 *
 * Which cooperative each side belongs to, as far as this node can check it:
 *
 * - **this node's cooperatives**: the federation's cooperatives whose network this node serves,
 *   and those whose current delegate this node's DID is;
 * - **the peer's cooperatives**: those whose current delegate the peer's DID is (the federation
 *   records delegates), and, among the cooperatives this node serves, those the DID is a member
 *   of (only a node holding a cooperative's network knows its members).
 *
 * The class is the highest over every pair (mine, the peer's): for two different cooperatives
 * the federation trust class of the pair; for the same cooperative, the member trust class of
 * the DID inside it when this node holds it, else `federated` (the peer is one of the delegates
 * that cooperative chose). A DID placed in no cooperative, or a node placed in none, is
 * `isolated`, which is what member trust gives on a federation network (it holds no member trust
 * edges).
 *
 * Reading only, at one time `now`; pure apart from the store reads.
 */
import { StateOverlay } from "../core/chain/state.ts";
import type { FederationGenesis } from "../core/federation/genesis.ts";
import type { CooperativeTrust } from "../core/federation/trust.ts";
import { FederationView } from "../core/federation/view.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { isMember } from "../core/governance/membership.ts";
import { classRank, type TrustClass, trustClassOf } from "../core/policy/policy.ts";
import type { Store } from "../core/store/store.ts";
import { cooperativeScore } from "../core/trust/view.ts";

/** A cooperative network this node serves beside the federation. */
export interface HeldCooperative {
  id: string;
  store: Store;
  genesis: Genesis;
}

export interface FederationClassComponents {
  /** The federation's store and genesis. */
  store: Store;
  federation: FederationGenesis;
  /** This node's DID. */
  did: string;
  /** The cooperative networks this node serves (read at each call: any of them, or none). */
  cooperatives: () => readonly HeldCooperative[];
}

/** A class, with the cooperatives it was derived from (for logs and tests). */
export interface FederationClass {
  trustClass: TrustClass;
  /** This node's cooperatives in the federation, sorted. */
  local: string[];
  /** The DID's cooperatives in the federation, sorted. */
  peer: string[];
  /** The pair that gave the class (mine, the DID's); absent when no pair was found. */
  from?: [string, string];
}

/** The class of `did` on the federation network at `now` (see the module comment). */
export async function federationClassOf(
  components: FederationClassComponents,
  did: string,
  now: number,
): Promise<FederationClass> {
  const view = new FederationView(new StateOverlay(components.store), components.federation);
  const coops = await view.coopsAt(now);
  const held = components.cooperatives().filter((c) => coops.has(c.id));
  const local = new Set(held.map((c) => c.id));
  const peer = new Set<string>();
  const delegateIn = new Set<string>();
  for (const coop of coops.keys()) {
    const delegates = (await view.delegatesAt(coop, now))?.delegates ?? [];
    if (delegates.includes(components.did)) local.add(coop);
    if (delegates.includes(did)) {
      peer.add(coop);
      delegateIn.add(coop);
    }
  }
  for (const coop of held) {
    if (await isMember(new StateOverlay(coop.store), coop.genesis, did, now)) peer.add(coop.id);
  }
  const result: FederationClass = {
    trustClass: "isolated",
    local: [...local].sort(),
    peer: [...peer].sort(),
  };
  let trust: CooperativeTrust | undefined;
  for (const mine of result.local) {
    for (const theirs of result.peer) {
      let trustClass: TrustClass;
      if (mine === theirs) {
        const coop = held.find((c) => c.id === mine);
        trustClass = coop
          ? trustClassOf(
            await cooperativeScore(new StateOverlay(coop.store), coop.genesis, did, now),
          )
          : delegateIn.has(mine)
          ? "federated"
          : "isolated";
      } else {
        trust ??= await view.trustAt(now);
        trustClass = trust.score(mine, theirs).class;
      }
      if (result.from === undefined || classRank(trustClass) > classRank(result.trustClass)) {
        result.trustClass = trustClass;
        result.from = [mine, theirs];
      }
    }
  }
  return result;
}

/** `federationClassOf` as `Peers` takes it (`PeersComponents.classify`). */
export function federationClassifier(
  components: FederationClassComponents,
): (did: string, now: number) => Promise<TrustClass> {
  return async (did, now) => (await federationClassOf(components, did, now)).trustClass;
}
