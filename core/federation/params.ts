/**
 * Federation parameters: their own key space (`federation.*`), held in the
 * federation genesis and changed by federation config proposals. They are
 * not cooperative parameters: a cooperative's genesis never holds them and a
 * federation genesis holds nothing else, so neither can set the other's keys.
 * Values are checked by the same rule as cooperative parameters
 * (`checkParamValue`).
 */
import { InvalidInputError, shown } from "../errors.ts";
import { checkParamValue, type ParamDef, type Params, type ParamValue } from "../params.ts";
import type { Mode, Rules } from "../governance/tally.ts";

/**
 * Kinds of federation proposal: admit or remove a cooperative, change parameters, plain text,
 * and a clearing agreement between two cooperatives (core/federation/clearing_kinds.ts).
 */
export const federationProposalKinds = ["admit", "remove", "config", "text", "clearing"] as const;
export type FederationProposalKind = typeof federationProposalKinds[number];

/** How a cooperative's vote counts: 1 each (`equal`), or its member count (`members`). */
export const voteWeights = ["equal", "members"] as const;
export type VoteWeight = typeof voteWeights[number];

const day = 86_400_000;
/** Same default as a cooperative's `governance.<kind>.revealWindow`. */
const revealWindowDefault = 2 * day;
/**
 * When `federation.<kind>.extendOnLateQuorum` came: a federation genesis made
 * before lacks it, which means 0 (off), what those federations did.
 */
const extendSince = "2026-12-02";

/**
 * Per-kind defaults: quorum %, approval %, voting period, timelock. Admission
 * and removal change who decides, so they ask for more than a text; voting
 * periods are longer than inside a cooperative because each cooperative may
 * first decide its own vote.
 */
const ruleDefaults: Record<FederationProposalKind, [number, number, number, number]> = {
  admit: [50, 67, 14 * day, 2 * day],
  remove: [50, 67, 14 * day, 2 * day],
  config: [50, 67, 14 * day, 2 * day],
  text: [50, 50, 14 * day, 0],
  // Decided by the two cooperatives it names alone, both for (see `clearingRules`).
  clearing: [100, 50, 7 * day, 0],
};

/**
 * A clearing agreement binds only the two cooperatives it names: it is
 * accepted when both vote for it (quorum 100 % and more than half for, of the
 * two), whatever the others do, so these are fixed rather than parameters.
 */
export const clearingRules = { quorum: 100, approval: 50, mode: "majority" } as const;

export const federationParams: readonly ParamDef[] = [
  {
    key: "federation.voteWeight",
    type: "enum",
    default: "equal",
    values: voteWeights,
    description: "How a cooperative's vote counts: equal (1 each) or members (its member count)",
  },
  ...federationProposalKinds.flatMap((kind): ParamDef[] => {
    const [quorum, approval, votingPeriod, timelock] = ruleDefaults[kind];
    const fixed = kind === "clearing";
    return [
      ...(fixed ? [] : [{
        key: `federation.${kind}.quorum`,
        type: "percent",
        default: quorum,
        description: `Share of the cooperatives' weight that must vote on a ${kind} proposal, in %`,
      } as ParamDef, {
        key: `federation.${kind}.approval`,
        type: "percent",
        default: approval,
        description: `Share of the weight cast that must be "for" a ${kind} proposal, in %`,
      } as ParamDef]),
      {
        key: `federation.${kind}.votingPeriod`,
        type: "duration",
        default: votingPeriod,
        min: 1000,
        max: 365 * day,
        description: `How long a federation ${kind} proposal stays open`,
      },
      {
        key: `federation.${kind}.timelock`,
        type: "duration",
        default: timelock,
        min: 0,
        max: 365 * day,
        description: `Delay between acceptance of a federation ${kind} proposal and its effect`,
      },
      ...(fixed ? [] : [{
        key: `federation.${kind}.revealWindow`,
        type: "duration",
        default: revealWindowDefault,
        min: 1000,
        max: 365 * day,
        description:
          `Secret federation ${kind} proposals: how long after the close ballots may be revealed`,
      } as ParamDef]),
      ...(fixed ? [] : [{
        key: `federation.${kind}.extendOnLateQuorum`,
        type: "duration",
        default: 0,
        min: 0,
        max: 30 * day,
        description:
          `Voting on a federation ${kind} proposal stays open this long after quorum is first reached (0: off)`,
        since: extendSince,
      } as ParamDef]),
      ...(fixed ? [] : [{
        key: `federation.${kind}.mode`,
        type: "enum",
        default: "majority",
        values: ["majority", "consent"],
        description: `Decision mode of federation ${kind} proposals (consent adds a blocking vote)`,
      } as ParamDef]),
    ];
  }),
];

const byKey = new Map(federationParams.map((def) => [def.key, def]));

/** Every federation key at its default value. */
export function defaultFederationParams(): Params {
  const out: Params = {};
  for (const def of federationParams) out[def.key] = def.default;
  return out;
}

/** Checks one stored federation parameter; throws `InvalidInputError` naming the key. */
export function validateFederationParam(key: string, value: unknown): ParamValue {
  const def = byKey.get(key);
  if (!def) {
    throw new InvalidInputError(
      `Unknown federation parameter "${shown(key)}": federation keys are ${
        [...byKey.keys()].join(", ")
      }`,
    );
  }
  checkParamValue(def, value as ParamValue, (why) => {
    throw new InvalidInputError(
      `Federation parameter "${key}" has invalid value ${shown(JSON.stringify(value))}: ${why}`,
    );
  });
  return value as ParamValue;
}

function federationParam(params: Params, key: string): ParamValue {
  const value = params[key] ?? byKey.get(key)?.default;
  if (value === undefined) throw new TypeError(`Unknown federation parameter "${key}"`);
  return value;
}

/**
 * The rules a federation `kind` proposal gets under `params` (defaults fill
 * absent keys); a secret one also gets its `revealWindow`, and
 * `extendOnLateQuorum` only when the kind's parameter is above 0 (so
 * proposals made before it existed keep their exact rules). A clearing
 * agreement has neither: its two cooperatives vote openly, and its quorum is
 * both of them.
 */
export function federationRulesFor(
  params: Params,
  kind: FederationProposalKind,
  options: { secret?: boolean } = {},
): Rules {
  if (kind === "clearing") {
    return {
      ...clearingRules,
      votingPeriod: federationParam(params, "federation.clearing.votingPeriod") as number,
      timelock: federationParam(params, "federation.clearing.timelock") as number,
    };
  }
  const rules: Rules = {
    quorum: federationParam(params, `federation.${kind}.quorum`) as number,
    approval: federationParam(params, `federation.${kind}.approval`) as number,
    votingPeriod: federationParam(params, `federation.${kind}.votingPeriod`) as number,
    timelock: federationParam(params, `federation.${kind}.timelock`) as number,
    mode: federationParam(params, `federation.${kind}.mode`) as Mode,
  };
  if (options.secret) {
    rules.revealWindow = federationParam(params, `federation.${kind}.revealWindow`) as number;
  }
  const extend = federationParam(params, `federation.${kind}.extendOnLateQuorum`) as number;
  if (extend > 0) rules.extendOnLateQuorum = extend;
  return rules;
}

/** The vote weight in force under `params`. */
export function voteWeightOf(params: Params): VoteWeight {
  return federationParam(params, "federation.voteWeight") as VoteWeight;
}
