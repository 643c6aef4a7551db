/**
 * Trust and policy parameters, held in the genesis like every other key and
 * changeable by config proposals. The policy table (`policy.<class>.*`), the
 * capability thresholds (`policy.capability.*`) and the anomaly thresholds
 * (`trust.anomaly.*`) live here; `core/policy/policy.ts` reads them.
 */
import type { ParamDef } from "../params.ts";

export const trustClassNames = ["isolated", "known", "partner", "federated"] as const;

/** Defaults from docs/design.md, Trust: token buckets 10/2, 50/10, 100/20, 200/50 msg/s / burst. */
const classDefaults: Record<string, { rate: number; burst: number; velocity: number }> = {
  isolated: { rate: 10, burst: 2, velocity: 10 },
  known: { rate: 50, burst: 10, velocity: 50 },
  partner: { rate: 100, burst: 20, velocity: 100 },
  federated: { rate: 200, burst: 50, velocity: 200 },
};

/** The least class that holds each capability (capabilities grow with the class). */
export const capabilityDefaults: Record<string, string> = {
  "read-ledger": "isolated",
  "write-ledger": "known",
  "vote": "known",
  "vouch": "known",
  "propose": "partner",
};

const day = 86_400_000;
/**
 * Upper bound of rate, count and ratio parameters: far above any sane setting, it only keeps a
 * typo (or a hostile proposal) from setting a bound so large that it stops bounding anything.
 */
const countParamMax = 1_000_000;

const policyParams: ParamDef[] = trustClassNames.flatMap((cls): ParamDef[] => [
  {
    key: `policy.${cls}.rate`,
    type: "number",
    default: classDefaults[cls].rate,
    min: 0,
    max: countParamMax,
    description: `Token bucket refill for ${cls} members, envelopes per second`,
  },
  {
    key: `policy.${cls}.burst`,
    type: "int",
    default: classDefaults[cls].burst,
    min: 0,
    max: countParamMax,
    description: `Token bucket size for ${cls} members, envelopes`,
  },
  {
    key: `policy.${cls}.velocity`,
    type: "int",
    default: classDefaults[cls].velocity,
    min: 0,
    max: countParamMax,
    description: `Outgoing ledger transfers per hour for ${cls} members`,
  },
  {
    key: `policy.${cls}.creditMultiplier`,
    type: "number",
    default: 1,
    min: 0,
    max: 100,
    description: `Factor on the trust term of the credit limit for ${cls} members`,
  },
]);

const capabilityParams: ParamDef[] = Object.entries(capabilityDefaults).map(([cap, cls]) => ({
  key: `policy.capability.${cap}`,
  type: "enum",
  default: cls,
  values: trustClassNames,
  description: `Least trust class that may ${cap.replace("-", " ")}`,
}));

const anomalyParams: ParamDef[] = [
  {
    key: "trust.anomaly.ringSizeMax",
    type: "int",
    default: 5,
    min: 2,
    max: 100,
    description: "Largest strongly connected component reported as circular vouching",
  },
  {
    key: "trust.anomaly.ringScoreMin",
    type: "number",
    default: 0.8,
    min: 0,
    max: 1,
    description: "Least mean internal edge score of a circular-vouching ring",
  },
  {
    key: "trust.anomaly.sybilDensityRatio",
    type: "number",
    default: 5,
    min: 1,
    max: countParamMax,
    description:
      "Least ratio of internal to external edge density (edges per member) of a Sybil cluster",
  },
  {
    key: "trust.anomaly.sybilSizeMin",
    type: "int",
    default: 3,
    min: 2,
    max: countParamMax,
    description: "Least number of members of a community reported as a Sybil cluster",
  },
  {
    key: "trust.anomaly.growthPercent",
    type: "number",
    default: 50,
    min: 0,
    max: countParamMax,
    description: "Score rise, in % of the earlier score, reported as rapid growth",
  },
  {
    key: "trust.anomaly.growthWindow",
    type: "duration",
    default: 7 * day,
    min: 1,
    max: 3650 * day,
    description: "Time window of the rapid-growth check",
  },
  {
    key: "trust.anomaly.growthFloor",
    type: "number",
    default: 0.1,
    min: 0,
    max: 1,
    description: "Least earlier score a rapid-growth finding starts from (new members start at 0)",
  },
];

/** Trust policy parameters; the trust module owns this list. */
export const trustParams: readonly ParamDef[] = [
  ...policyParams,
  ...capabilityParams,
  ...anomalyParams,
];
