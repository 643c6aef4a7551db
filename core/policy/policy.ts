/**
 * Trust policy: one pure function from a trust class to what a member may do.
 * The network (rate limits), the ledger (velocity, credit) and governance
 * (capabilities) consult it instead of keeping their own tables. The trust
 * module owns this file and makes the table configurable from the genesis.
 */
import type { Params } from "../params.ts";

export const trustClasses = ["isolated", "known", "partner", "federated"] as const;
export type TrustClass = typeof trustClasses[number];

export interface ClassPolicy {
  /** Token bucket: envelopes per second and burst size. */
  rate: number;
  burst: number;
  /** Outgoing ledger transfers per hour. */
  velocityPerHour: number;
  capabilities: readonly string[];
}

/** Isolated < 0.1 ≤ Known < 0.4 ≤ Partner < 0.7 ≤ Federated. */
export function trustClassOf(score: number): TrustClass {
  if (score >= 0.7) return "federated";
  if (score >= 0.4) return "partner";
  if (score >= 0.1) return "known";
  return "isolated";
}

const defaults: Record<TrustClass, ClassPolicy> = {
  isolated: { rate: 10, burst: 2, velocityPerHour: 10, capabilities: ["read-ledger"] },
  known: {
    rate: 50,
    burst: 10,
    velocityPerHour: 50,
    capabilities: ["read-ledger", "write-ledger", "vote"],
  },
  partner: {
    rate: 100,
    burst: 20,
    velocityPerHour: 100,
    capabilities: ["read-ledger", "write-ledger", "vote", "propose"],
  },
  federated: {
    rate: 200,
    burst: 50,
    velocityPerHour: 200,
    capabilities: ["read-ledger", "write-ledger", "vote", "propose"],
  },
};

export function policyFor(_params: Params, trustClass: TrustClass): ClassPolicy {
  return defaults[trustClass];
}
