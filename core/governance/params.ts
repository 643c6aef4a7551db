import type { ParamDef } from "../params.ts";

export const proposalKinds = ["text", "membership", "config", "upgrade"] as const;
export type ProposalKind = typeof proposalKinds[number];

const day = 86_400_000;

/** Per-kind defaults (issue: governance): quorum %, approval %, voting period, timelock, mode. */
const ruleDefaults: Record<ProposalKind, [number, number, number, number]> = {
  text: [50, 50, 7 * day, 0],
  membership: [50, 50, 7 * day, 0],
  config: [50, 67, 7 * day, 2 * day],
  upgrade: [67, 75, 14 * day, 2 * day],
};

export const governanceParams: readonly ParamDef[] = proposalKinds.flatMap((kind) => {
  const [quorum, approval, votingPeriod, timelock] = ruleDefaults[kind];
  return [
    {
      key: `governance.${kind}.quorum`,
      type: "percent",
      default: quorum,
      description: `Share of eligible members who must vote on a ${kind} proposal, in %`,
    },
    {
      key: `governance.${kind}.approval`,
      type: "percent",
      default: approval,
      description: `Share of votes cast that must be "for" a ${kind} proposal, in %`,
    },
    {
      key: `governance.${kind}.votingPeriod`,
      type: "duration",
      default: votingPeriod,
      min: 1000,
      max: 365 * day,
      description: `How long a ${kind} proposal stays open`,
    },
    {
      key: `governance.${kind}.timelock`,
      type: "duration",
      default: timelock,
      min: 0,
      max: 365 * day,
      description: `Delay between acceptance of a ${kind} proposal and its effect`,
    },
    {
      key: `governance.${kind}.mode`,
      type: "enum",
      default: "majority",
      values: ["majority", "consent"],
      description: `Decision mode of ${kind} proposals (consent adds a blocking vote)`,
    },
  ] satisfies ParamDef[];
});
