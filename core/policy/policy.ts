/**
 * Trust policy: one pure function from a trust class to what a member may do.
 * The network (rate limits), the ledger (velocity, credit) and governance
 * (capabilities) consult it instead of keeping their own tables. The table is
 * read from the parameters (`policy.<class>.rate|burst|velocity|creditMultiplier`,
 * `policy.capability.<name>` = least class), so a genesis or an accepted
 * config proposal changes it.
 */
import type { Params } from "../params.ts";
import { numberParam, stringParam } from "../params.ts";
import { capabilityDefaults } from "../trust/params.ts";

export const trustClasses = ["isolated", "known", "partner", "federated"] as const;
export type TrustClass = typeof trustClasses[number];

export interface ClassPolicy {
  /** Token bucket: envelopes per second and burst size. */
  rate: number;
  burst: number;
  /** Outgoing ledger transfers per hour. */
  velocityPerHour: number;
  /** Factor on the trust term of the credit limit. */
  creditMultiplier: number;
  capabilities: readonly string[];
}

/** Known capabilities, in the order they are listed. */
export const capabilities: readonly string[] = Object.keys(capabilityDefaults);

/** Class lower bounds: Isolated < 0.1 ≤ Known < 0.4 ≤ Partner < 0.7 ≤ Federated. */
export const classThresholds = { known: 0.1, partner: 0.4, federated: 0.7 } as const;

/** Isolated < 0.1 ≤ Known < 0.4 ≤ Partner < 0.7 ≤ Federated. */
export function trustClassOf(score: number): TrustClass {
  if (score >= classThresholds.federated) return "federated";
  if (score >= classThresholds.partner) return "partner";
  if (score >= classThresholds.known) return "known";
  return "isolated";
}

/** Rank of a class, 0 (isolated) to 3 (federated). */
export function classRank(trustClass: TrustClass): number {
  return trustClasses.indexOf(trustClass);
}

/** What members of `trustClass` may do under `params` (defaults fill missing keys). */
export function policyFor(params: Params, trustClass: TrustClass): ClassPolicy {
  const rank = classRank(trustClass);
  if (rank < 0) throw new TypeError(`Unknown trust class "${trustClass}"`);
  const key = (name: string) => `policy.${trustClass}.${name}`;
  return {
    rate: numberParam(params, key("rate")),
    burst: numberParam(params, key("burst")),
    velocityPerHour: numberParam(params, key("velocity")),
    creditMultiplier: numberParam(params, key("creditMultiplier")),
    capabilities: capabilities.filter((cap) => {
      const least = stringParam(params, `policy.capability.${cap}`) as TrustClass;
      return classRank(least) <= rank;
    }),
  };
}

/** True when members of `trustClass` hold `capability`. */
export function hasCapability(params: Params, trustClass: TrustClass, capability: string): boolean {
  return policyFor(params, trustClass).capabilities.includes(capability);
}
