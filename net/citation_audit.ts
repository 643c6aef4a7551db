/**
 * The citation audit a node runs over the federations it serves: every `fed.delegates` record
 * (a cooperative's new delegates, citing the cooperative's executed `delegates` proposal) whose
 * cooperative the node also holds is checked against that cooperative's own governance with
 * `checkDelegatesCitation`, at the record's time.
 *
 * The federation accepted each record on its author's signature alone (core/federation/citation.ts
 * says why), so a failing citation is not a rejection: it is an audit finding about the delegate
 * who signed it. Findings come back (reason and message), are logged once as
 * `citation_failed` and counted once per record on `icn_federation_citation_failures_total{reason}`.
 * Records of cooperatives the node does not hold are skipped, and the result says which: their
 * citations can only be checked where the cooperative's network is held.
 *
 * Reading only: nothing is written to any store. A copy of the cooperative that is behind may
 * report `unknown_proposal` or `not_executed` for a record it will later find honest; such a
 * finding is counted once too, and a later audit no longer returns it once the copy caught up.
 */
import { StateOverlay } from "../core/chain/state.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { checkDelegatesCitation, type CitationFailure } from "../core/federation/citation.ts";
import type { FederationGenesis } from "../core/federation/genesis.ts";
import { type DelegatesRecord, federationKeys } from "../core/federation/view.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { readNetworkKind } from "../core/governance/join.ts";
import { GovernanceView } from "../core/governance/view.ts";
import type { Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { federationCitationFailures, type NodeMetrics } from "./metrics.ts";

/**
 * `fed.delegates` records read per federation in one audit. Delegate changes are rare (each one
 * is a cooperative's governance decision), so a federation with more is far beyond any real one;
 * the rest are left for a later audit and the result says `truncated`.
 */
export const citationAuditRecordsMax = 10_000;
/**
 * Findings remembered per node as already counted, so that an audit on every maintenance tick
 * counts each failing record once; beyond this the oldest is forgotten (and would count again).
 */
export const citationCountedMax = 10_000;

/** A network the node serves: its id and store, or the node's own record of it (`deps.store`). */
export type AuditedNetwork =
  | { readonly id: string; readonly store: Store }
  | { readonly id: string; readonly deps: { readonly store: Store } };

function storeOf(network: AuditedNetwork): Store {
  return "store" in network ? network.store : network.deps.store;
}

/** A `fed.delegates` record whose citation failed. */
export interface CitationFinding {
  federation: string;
  coop: string;
  /** The record's envelope. */
  cid: string;
  /** The delegate who signed it. */
  author: string;
  ts: number;
  proposal: string;
  reason: CitationFailure;
  message: string;
}

/** A record the node cannot check: it does not hold the cooperative's network. */
export interface SkippedRecord {
  federation: string;
  coop: string;
  cid: string;
  reason: "cooperative_not_held";
}

export interface CitationAudit {
  /** Records checked (held cooperatives), passed or not. */
  checked: number;
  passed: number;
  failures: CitationFinding[];
  skipped: SkippedRecord[];
  /** Federations with more than `citationAuditRecordsMax` records, of which the rest were not read. */
  truncated: string[];
}

export interface CitationAuditOptions {
  /** Counts each new finding on `icn_federation_citation_failures_total{reason}`. */
  metrics?: Pick<NodeMetrics, "registry">;
  /** Logs each new finding (`citation_failed`, a warning). */
  logger?: Logger;
  /** Only this cooperative's records (after accepting a `fed.delegates` for it). */
  coop?: string;
  /** Stops between records (the node stopping). */
  signal?: AbortSignal;
}

/** The prefix of `federationKeys.delegates(coop, ts, cid)` for every cooperative. */
const allDelegatesPrefix = federationKeys.delegatesPrefix("").slice(0, -1);

/** Findings already counted, per metrics registry (one per node). */
const counted = new WeakMap<object, Set<string>>();

/** Counts and logs `finding` unless this node (its registry, else its logger) did before. */
function report(finding: CitationFinding, options: CitationAuditOptions): void {
  const key = `${finding.federation}/${finding.cid}/${finding.reason}`;
  const owner = options.metrics?.registry ?? options.logger;
  if (!owner) return;
  let seen = counted.get(owner);
  if (!seen) counted.set(owner, seen = new Set());
  if (seen.has(key)) return;
  if (seen.size >= citationCountedMax) seen.delete(seen.values().next().value!);
  seen.add(key);
  if (options.metrics) federationCitationFailures(options.metrics).inc({ reason: finding.reason });
  options.logger?.warn("citation_failed", { ...finding });
}

/**
 * Audits every `fed.delegates` record of the federations among `networks` whose cooperative is
 * also among them (see the module comment). Never throws for a bad citation; a store that fails
 * to read does throw.
 *
 * @example The node on its periodic tick
 * ```ts ignore
 * auditCitations(networks.all, { metrics, logger, signal }).catch(() => {});
 * ```
 */
export async function auditCitations(
  networks: readonly AuditedNetwork[],
  options: CitationAuditOptions = {},
): Promise<CitationAudit> {
  const result: CitationAudit = { checked: 0, passed: 0, failures: [], skipped: [], truncated: [] };
  const federations: { id: string; store: Store; genesis: FederationGenesis }[] = [];
  const cooperatives = new Map<string, Store>();
  for (const network of networks) {
    const store = storeOf(network);
    if ((await readNetworkKind(store)) === "federation") {
      const genesis = await store.get<FederationGenesis>(federationKeys.genesis);
      if (genesis) federations.push({ id: network.id, store, genesis: genesis.value });
    } else {
      cooperatives.set(network.id, store);
    }
  }
  if (federations.length === 0) return result;
  // One view per cooperative for the whole audit: its outcomes are shared between records.
  const views = new Map<string, GovernanceView | null>();
  const viewOf = async (coop: string): Promise<GovernanceView | null> => {
    if (!views.has(coop)) {
      const store = cooperatives.get(coop);
      const genesis = store && (await store.get<Genesis>(chainKeys.genesis(coop)))?.value;
      views.set(coop, genesis ? new GovernanceView(new StateOverlay(store), genesis) : null);
    }
    return views.get(coop)!;
  };
  for (const federation of federations) {
    // Every cooperative's records (`federationKeys.delegates` without the cooperative), or one's.
    const prefix = options.coop === undefined
      ? allDelegatesPrefix
      : federationKeys.delegatesPrefix(options.coop);
    let read = 0;
    for await (
      const entry of federation.store.list<DelegatesRecord>({ prefix }, {
        limit: citationAuditRecordsMax + 1,
      })
    ) {
      if (options.signal?.aborted) return result;
      if (++read > citationAuditRecordsMax) {
        result.truncated.push(federation.id);
        break;
      }
      const record = entry.value;
      const view = await viewOf(record.coop);
      if (!view) {
        result.skipped.push({
          federation: federation.id,
          coop: record.coop,
          cid: record.cid,
          reason: "cooperative_not_held",
        });
        continue;
      }
      result.checked++;
      const check = await checkDelegatesCitation(view, record, {
        federation: federation.id,
        at: record.ts,
      });
      if (check.ok) {
        result.passed++;
        continue;
      }
      const finding: CitationFinding = {
        federation: federation.id,
        coop: record.coop,
        cid: record.cid,
        author: record.author,
        ts: record.ts,
        proposal: record.proposal,
        reason: check.reason,
        message: check.message,
      };
      result.failures.push(finding);
      report(finding, options);
    }
  }
  return result;
}

/**
 * After the node accepted `sealed`: when it is a `fed.delegates`, audits that cooperative's records
 * (in the background; a store that fails to read is logged as `citation_audit_failed`). Anything
 * else is ignored, so the node may call it for every envelope it accepts.
 */
export function auditAccepted(
  sealed: SealedEnvelope,
  networks: readonly AuditedNetwork[],
  options: Omit<CitationAuditOptions, "coop"> = {},
): Promise<CitationAudit | undefined> {
  if (sealed.envelope.kind !== "fed.delegates") return Promise.resolve(undefined);
  const coop = (sealed.envelope.body as { coop?: unknown } | null)?.coop;
  if (typeof coop !== "string") return Promise.resolve(undefined);
  return auditCitations(networks, { ...options, coop }).catch((error) => {
    options.logger?.warn("citation_audit_failed", { coop, error: (error as Error).message });
    return undefined;
  });
}
