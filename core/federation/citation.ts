/**
 * The citation in a `fed.delegates` envelope: the cooperative's executed
 * `delegates` proposal that chose the delegate set it records.
 *
 * The federation accepts `fed.delegates` on a current delegate's signature
 * alone (`kinds.ts`): most federation nodes do not hold the cooperative's
 * network, and a rule that only some nodes could evaluate would split the
 * federation's state. The citation is checked where the cooperative's network
 * is held: the CLI refuses to create a `fed.delegates` whose citation fails,
 * and a node that holds both networks reports a failing one (an audit finding
 * about the delegate who signed it, not a rejection). A node whose copy of the
 * cooperative is behind may not have the cited proposal yet: it reports
 * `unknown_proposal` or `not_executed` until it catches up.
 */
import { type Genesis, genesisId } from "../governance/genesis.ts";
import type {
  DelegatesAction,
  DelegateSet,
  ProposalRecord,
  ProposalState,
} from "../governance/view.ts";
import type { DelegatesRecord } from "./view.ts";

/** What `checkDelegatesCitation` reads of the cooperative: a `GovernanceView` has it all. */
export interface CooperativeReader {
  /** The cooperative's genesis: its CID is the network id the body must name. */
  readonly genesis: Genesis;
  proposal(id: string): Promise<ProposalRecord | undefined>;
  stateOf(record: ProposalRecord, now: number): Promise<ProposalState>;
  delegatesFor(federation: string, at: number): Promise<DelegateSet | undefined>;
  delegatesWereMembers(record: ProposalRecord): Promise<boolean>;
  membersAt(ts: number): Promise<ReadonlySet<string>>;
}

/** The body of a `fed.delegates` envelope (a stored `DelegatesRecord` carries it too). */
export type DelegatesCitation = Pick<
  DelegatesRecord,
  "coop" | "delegates" | "members" | "proposal"
>;

/** Why a citation fails, one reason per check, in the order they are made. */
export const citationFailures = [
  /** The body names another cooperative than the one read. */
  "wrong_cooperative",
  /** The cooperative holds no proposal with the cited id. */
  "unknown_proposal",
  /** The cited proposal is not a `delegates` proposal. */
  "not_delegates_proposal",
  /** It chose delegates to another federation. */
  "other_federation",
  /** It is not executed at the citation's time (open, rejected, cancelled, or in its timelock). */
  "not_executed",
  /** One of its delegates had left the cooperative when it took effect, so it changed nothing. */
  "delegate_left",
  /** A later executed proposal chose other delegates for this federation. */
  "superseded",
  /** The body's delegates are not the ones the proposal chose. */
  "different_delegates",
  /** The body's member count is not the cooperative's at the citation's time. */
  "wrong_member_count",
] as const;
export type CitationFailure = typeof citationFailures[number];

export type CitationCheck =
  | { ok: true; proposal: ProposalRecord }
  | { ok: false; reason: CitationFailure; message: string };

export interface CitationCheckOptions {
  /** The federation's network id. */
  federation: string;
  /**
   * The time the citation is judged at: the `fed.delegates` envelope's
   * timestamp (for a node auditing one) or the time it is about to carry
   * (for the CLI creating one).
   */
  at: number;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/**
 * Checks a `fed.delegates` body against the cooperative it names: the cited
 * proposal exists there, is a `delegates` proposal for this federation, is
 * executed at `at`, took effect (its delegates were all members then), is
 * still the latest for this federation, and names exactly the body's
 * delegates; the body's member count is the cooperative's at `at`. Never
 * throws for a bad citation: the reason comes back.
 *
 * @example Refuse a citation of a proposal the cooperative does not hold
 * ```ts
 * import { checkDelegatesCitation } from "./citation.ts";
 * import { StateOverlay } from "../chain/state.ts";
 * import { createGenesis, genesisId } from "../governance/genesis.ts";
 * import { GovernanceView } from "../governance/view.ts";
 * import { didFromPublicKey } from "../identity/did.ts";
 * import { MemoryStore } from "../store/memory_store.ts";
 *
 * const founder = didFromPublicKey(new Uint8Array(32).fill(7));
 * const genesis = createGenesis({ name: "Bakers", members: [founder], created: 0 });
 * const bakers = new GovernanceView(new StateOverlay(new MemoryStore()), genesis);
 * const result = await checkDelegatesCitation(bakers, {
 *   coop: await genesisId(genesis),
 *   delegates: [founder],
 *   members: 1,
 *   proposal: "bafyunknown",
 * }, { federation: "bafyfederation", at: 1 });
 * if (result.ok || result.reason !== "unknown_proposal") throw new Error("unexpected");
 * ```
 */
export async function checkDelegatesCitation(
  reader: CooperativeReader,
  body: DelegatesCitation,
  options: CitationCheckOptions,
): Promise<CitationCheck> {
  const { federation, at } = options;
  const fail = (reason: CitationFailure, message: string): CitationCheck => ({
    ok: false,
    reason,
    message,
  });
  const coop = await genesisId(reader.genesis);
  if (body.coop !== coop) {
    return fail(
      "wrong_cooperative",
      `Cannot check delegates of cooperative ${body.coop} against "${reader.genesis.name}" (${coop})`,
    );
  }
  const record = await reader.proposal(body.proposal);
  if (!record) {
    return fail(
      "unknown_proposal",
      `Cannot cite proposal "${body.proposal}": "${reader.genesis.name}" holds no such proposal`,
    );
  }
  if (record.kind !== "delegates") {
    return fail(
      "not_delegates_proposal",
      `Cannot cite proposal "${record.id}": it is a ${record.kind} proposal, not a delegates one`,
    );
  }
  const action = record.action as DelegatesAction;
  if (action.federation !== federation) {
    return fail(
      "other_federation",
      `Cannot cite proposal "${record.id}": it chose delegates to federation ${action.federation}, not ${federation}`,
    );
  }
  const state = await reader.stateOf(record, at);
  if (state !== "Executed") {
    return fail(
      "not_executed",
      `Cannot cite proposal "${record.id}": it is ${state}, not Executed, at ${
        new Date(at).toISOString()
      } (it would take effect at ${new Date(record.effective).toISOString()})`,
    );
  }
  if (!(await reader.delegatesWereMembers(record))) {
    return fail(
      "delegate_left",
      `Cannot cite proposal "${record.id}": a delegate it names was no longer a member when it took effect, so it changed nothing`,
    );
  }
  const current = await reader.delegatesFor(federation, at);
  if (current && current.proposal !== record.id) {
    return fail(
      "superseded",
      `Cannot cite proposal "${record.id}": the later proposal "${current.proposal}" chose the delegates in force since ${
        new Date(current.effective).toISOString()
      }`,
    );
  }
  if (!sameList(body.delegates, action.delegates)) {
    return fail(
      "different_delegates",
      `Cannot record delegates ${body.delegates.join(", ")}: proposal "${record.id}" chose ${
        action.delegates.join(", ")
      }`,
    );
  }
  const members = (await reader.membersAt(at)).size;
  if (body.members !== members) {
    return fail(
      "wrong_member_count",
      `Cannot record ${body.members} members for "${reader.genesis.name}": it has ${members}`,
    );
  }
  return { ok: true, proposal: record };
}

/**
 * The `fed.delegates` body that records the cooperative's current delegates
 * for `federation` at `at`: its latest executed `delegates` proposal, its
 * delegates and member count. Undefined when the cooperative has not chosen
 * delegates for that federation. What it returns passes `checkDelegatesCitation`
 * at the same `at`.
 */
export async function delegatesCitationFor(
  reader: CooperativeReader,
  options: CitationCheckOptions,
): Promise<DelegatesCitation | undefined> {
  const current = await reader.delegatesFor(options.federation, options.at);
  if (!current) return undefined;
  return {
    coop: await genesisId(reader.genesis),
    delegates: current.delegates,
    members: (await reader.membersAt(options.at)).size,
    proposal: current.proposal,
  };
}
