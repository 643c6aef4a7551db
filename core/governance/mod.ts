/**
 * Governance: the genesis document, proposals, votes, delegation, the
 * outcome rule, and what accepted proposals change (membership, parameters,
 * protocol upgrades) at each point in time.
 *
 * @example Decide a proposal with the outcome rule
 * ```ts
 * import { tally } from "./mod.ts";
 *
 * // 5 eligible, quorum 50 % → 2 must vote; approval 50 % of 4 cast → more than 2 "for".
 * const result = tally({
 *   eligible: ["a", "b", "c", "d", "e"],
 *   votes: new Map([["a", "for"], ["b", "for"], ["c", "against"]]),
 *   delegations: new Map([["d", "a"]]), // d follows the vote of a
 *   rules: { quorum: 50, approval: 50, mode: "majority" },
 * });
 * if (result.outcome !== "Accepted" || result.for !== 3) throw new Error("unexpected tally");
 * ```
 *
 * @example Count a ranked-choice proposal (instant-runoff and Schulze)
 * ```ts
 * import { tallyMethod } from "./mod.ts";
 *
 * const t = tallyMethod({
 *   spec: { name: "ranked", options: ["Ann", "Bo", "Cy"], seats: 1 },
 *   eligible: ["a", "b", "c"],
 *   votes: new Map([["a", [1, 0]], ["b", [2, 1]], ["c", [1]]]),
 *   delegations: new Map(),
 *   quorum: 50,
 * });
 * if (t.result.method !== "ranked" || t.result.elected[0] !== 1) throw new Error("Bo wins");
 * ```
 *
 * @module
 */
export {
  addGenesisSignature,
  checkGenesisFile,
  createGenesis,
  type CreateGenesisOptions,
  type Currency,
  encodeGenesis,
  type Genesis,
  type GenesisCheck,
  type GenesisFile,
  genesisId,
  type GenesisSignature,
  genesisSigningBytes,
  parseCurrency,
  serializeGenesisFile,
  validateGenesis,
} from "./genesis.ts";
export {
  joinNetwork,
  type JoinResult,
  type NetworkKind,
  networkKindKey,
  networkKinds,
  readNetworkKind,
} from "./join.ts";
export {
  admittedAt,
  creditOverride,
  isMember,
  membersAt,
  paramsAt,
  upgradeRequirement,
} from "./membership.ts";
export {
  type CooperativeProposalKind,
  cooperativeProposalKinds,
  governanceParams,
  type ProposalKind,
  proposalKinds,
} from "./params.ts";
export {
  type Ballot,
  type Choice,
  choices,
  decide,
  delegationDepthMax,
  type Mode,
  type Outcome,
  type Rules,
  type Tally,
  tally,
  type TallyInput,
} from "./tally.ts";
export {
  bodyBytesMax,
  checkConfigSet,
  type DelegateBody,
  governanceKinds,
  type ProposalBody,
  type RevealBody,
  titleLengthMax,
  type VoteBody,
} from "./kinds.ts";
export {
  checkBallot,
  checkMethodSpec,
  countBallots,
  type MethodBallot,
  type MethodName,
  methodNames,
  type MethodResult,
  type MethodSpec,
  type MethodTally,
  tallyMethod,
} from "./methods/mod.ts";
export { ballotCommitment, type BallotOpening } from "./secret.ts";
export {
  compareVersions,
  type ConfigAction,
  creditOverridePrefix,
  type DelegatesAction,
  type DelegateSet,
  type DelegationRecord,
  GovernanceView,
  govKeys,
  type IndexEntry,
  type MembershipAction,
  type ProposalAction,
  type ProposalRecord,
  type ProposalState,
  proposalStates,
  type ProposalTally,
  type RevealRecord,
  rulesFor,
  type StateReader,
  type Timing,
  type UpgradeAction,
  type VoteRecord,
} from "./view.ts";
