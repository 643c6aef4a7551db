/**
 * Federation: a network whose members are cooperatives. Its genesis lists
 * the founding cooperatives (by network id) with their delegates and is
 * signed by a delegate of each; its governance is the cooperative proposal
 * engine with the cooperative as the voting principal (the latest vote by any
 * of its delegates, weighted equally or by member count); cooperatives vouch
 * for each other with the member trust formula and classes.
 *
 * @example Count a federation vote: one vote per cooperative, the latest by any delegate
 * ```ts
 * import { tallyFederation } from "./mod.ts";
 *
 * const result = tallyFederation({
 *   cooperatives: new Map([
 *     ["bafyalpha", { delegates: ["did:a1", "did:a2"], members: 40 }],
 *     ["bafybeta", { delegates: ["did:b1"], members: 12 }],
 *   ]),
 *   votes: [
 *     { coop: "bafyalpha", did: "did:a1", choice: "against", ts: 1 },
 *     { coop: "bafyalpha", did: "did:a2", choice: "for", ts: 2 }, // replaces a1's vote
 *     { coop: "bafybeta", did: "did:b1", choice: "for", ts: 1 },
 *   ],
 *   weight: "equal",
 *   rules: { quorum: 50, approval: 50, mode: "majority" },
 * });
 * if (result.outcome !== "Accepted" || result.for !== 2) throw new Error("unexpected tally");
 * ```
 *
 * @example Score one cooperative from another
 * ```ts
 * import { CooperativeTrust } from "./mod.ts";
 *
 * const trust = CooperativeTrust.build(
 *   [{ from: "bafyalpha", to: "bafybeta", score: 800, ts: 1 }],
 *   { coops: ["bafyalpha", "bafybeta"], ts: 2 },
 * );
 * const { score, class: trustClass } = trust.score("bafyalpha", "bafybeta"); // 0.8 × 0.7
 * if (trustClass !== "partner" || Math.abs(score - 0.56) > 1e-9) throw new Error("unexpected");
 * ```
 *
 * @example Check a fed.delegates citation against the cooperative's own governance
 * ```ts
 * import { checkDelegatesCitation } from "./mod.ts";
 * import { StateOverlay } from "../chain/state.ts";
 * import { createGenesis, genesisId, GovernanceView } from "../governance/mod.ts";
 * import { didFromPublicKey } from "../identity/did.ts";
 * import { MemoryStore } from "../store/memory_store.ts";
 *
 * const founder = didFromPublicKey(new Uint8Array(32).fill(7));
 * const genesis = createGenesis({ name: "Bakers", members: [founder], created: 0 });
 * const bakers = new GovernanceView(new StateOverlay(new MemoryStore()), genesis);
 * const body = { coop: await genesisId(genesis), delegates: [founder], members: 1, proposal: "bafyx" };
 * const result = await checkDelegatesCitation(bakers, body, { federation: "bafyfed", at: 1 });
 * if (result.ok || result.reason !== "unknown_proposal") throw new Error("unexpected");
 * ```
 *
 * @module
 */
export {
  checkDelegatesCitation,
  type CitationCheck,
  type CitationCheckOptions,
  type CitationFailure,
  citationFailures,
  type CooperativeReader,
  type DelegatesCitation,
  delegatesCitationFor,
} from "./citation.ts";
export { type FederationJoinResult, joinFederation, type JoinFederationOptions } from "./join.ts";
export {
  addFederationSignature,
  checkFederationFile,
  createFederationGenesis,
  type CreateFederationOptions,
  delegatesPerCoopMax,
  encodeFederationGenesis,
  type FederationCheck,
  type FederationCheckOptions,
  type FederationCoop,
  type FederationFile,
  federationFileBytesMax,
  type FederationGenesis,
  federationId,
  federationNameLengthMax,
  type FederationSignature,
  federationSigningBytes,
  federationSigningDomain,
  type FounderInput,
  foundersMax,
  type MembersOf,
  parseFederationFile,
  serializeFederationFile,
  validateFederationGenesis,
} from "./genesis.ts";
export {
  defaultFederationParams,
  federationParams,
  type FederationProposalKind,
  federationProposalKinds,
  federationRulesFor,
  validateFederationParam,
  type VoteWeight,
  voteWeightOf,
  voteWeights,
} from "./params.ts";
export {
  type CoopBallot,
  type CoopVoters,
  type DelegateVote,
  type FederationTally,
  type FederationTallyInput,
  type IgnoredVote,
  tallyFederation,
} from "./tally.ts";
export {
  type CoopEdge,
  CooperativeTrust,
  type CooperativeTrustOptions,
  type CoopScore,
} from "./trust.ts";
export {
  type AdmitAction,
  type DelegatesRecord,
  type FederationAction,
  type FederationConfigAction,
  type FederationIndexEntry,
  federationJoinWrites,
  federationKeys,
  type FederationMember,
  type FederationProposalRecord,
  FederationView,
  type FederationVoteRecord,
  type RemoveAction,
  type VouchRecord,
} from "./view.ts";
export {
  bodyBytesMax,
  configKeysMax,
  coopMembersMax,
  federationKinds,
  reasonLengthMax,
  titleLengthMax,
} from "./kinds.ts";
