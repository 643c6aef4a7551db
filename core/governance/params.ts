import type { ParamDef } from "../params.ts";

/**
 * Every kind a cooperative's proposal engine accepts, and `icn governance
 * propose --kind` builds: `delegates` chooses who acts for the cooperative in
 * a federation.
 */
export const proposalKinds = ["text", "membership", "config", "upgrade", "delegates"] as const;
export type ProposalKind = typeof proposalKinds[number];

/** The same list under its earlier name (core's governance and federation modules use it). */
export const cooperativeProposalKinds = proposalKinds;
export type CooperativeProposalKind = ProposalKind;

const day = 86_400_000;
/** When decision methods, secret ballots and late-quorum extension came: genesis files before lack their keys. */
const methodsSince = "2026-12-02";
/** Two days to reveal a secret ballot: long enough for a member away for a weekend. */
const revealWindowDefault = 2 * day;

/** Per-kind defaults (issue: governance): quorum %, approval %, voting period, timelock. */
const ruleDefaults: Record<CooperativeProposalKind, [number, number, number, number]> = {
  text: [50, 50, 7 * day, 0],
  membership: [50, 50, 7 * day, 0],
  config: [50, 67, 7 * day, 2 * day],
  upgrade: [67, 75, 14 * day, 2 * day],
  // Choosing who speaks for the cooperative weighs like a config change.
  delegates: [50, 67, 7 * day, 2 * day],
};

/**
 * Keys of kinds added after networks existed: a genesis without them means
 * the default (see `ParamDef.since`).
 */
const kindSince: Partial<Record<CooperativeProposalKind, string>> = {
  delegates: "2026-12-02",
};

export const governanceParams: readonly ParamDef[] = cooperativeProposalKinds.flatMap((kind) => {
  const [quorum, approval, votingPeriod, timelock] = ruleDefaults[kind];
  const since = kindSince[kind] === undefined ? {} : { since: kindSince[kind] };
  return [
    {
      key: `governance.${kind}.quorum`,
      type: "percent",
      default: quorum,
      description: `Share of eligible members who must vote on a ${kind} proposal, in %`,
      ...since,
    },
    {
      key: `governance.${kind}.approval`,
      type: "percent",
      default: approval,
      description: `Share of votes cast that must be "for" a ${kind} proposal, in %`,
      ...since,
    },
    {
      key: `governance.${kind}.votingPeriod`,
      type: "duration",
      default: votingPeriod,
      min: 1000,
      max: 365 * day,
      description: `How long a ${kind} proposal stays open`,
      ...since,
    },
    {
      key: `governance.${kind}.timelock`,
      type: "duration",
      default: timelock,
      min: 0,
      max: 365 * day,
      description: `Delay between acceptance of a ${kind} proposal and its effect`,
      ...since,
    },
    {
      key: `governance.${kind}.mode`,
      type: "enum",
      default: "majority",
      values: ["majority", "consent"],
      description: `Decision mode of ${kind} proposals (consent adds a blocking vote)`,
      ...since,
    },
    {
      key: `governance.${kind}.revealWindow`,
      type: "duration",
      default: revealWindowDefault,
      min: 1000,
      max: 30 * day,
      description: `How long after a secret ${kind} proposal closes its voters may reveal`,
      since: methodsSince,
    },
    {
      key: `governance.${kind}.extendOnLateQuorum`,
      type: "duration",
      default: 0,
      min: 0,
      max: 30 * day,
      description:
        `Voting on a ${kind} proposal stays open this long after quorum is first reached (0: off)`,
      since: methodsSince,
    },
  ] satisfies ParamDef[];
});

/**
 * When an accepted upgrade takes effect (core/governance/upgrade_readiness.ts): added
 * 2026-12-02, a genesis without them gets these defaults.
 */
export const upgradeParams: readonly ParamDef[] = [
  {
    key: "upgrade.readiness",
    type: "percent",
    default: 80,
    description:
      "Share of active members' nodes that must announce an upgrade's minVersion before it takes effect (after its deadline), in %",
    since: "2026-12-02",
  },
  {
    key: "upgrade.activeWindow",
    type: "duration",
    default: 7 * day,
    min: 60_000,
    max: 365 * day,
    description:
      "A member counts as active for upgrade readiness while its node announced its version within this time",
    since: "2026-12-02",
  },
];
