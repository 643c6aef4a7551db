/**
 * What the gateway reads from a network's store: the same core views the CLI reads (members,
 * balances with their credit limits, account history, trust scores with their explanation,
 * proposals with their tallies), shaped for JSON and paged by opaque cursor. Reading never
 * writes (STYLE 24): every read goes through a `StateOverlay` that is never committed.
 */
import { chainKeys } from "../../core/chain/keys.ts";
import { StateOverlay } from "../../core/chain/state.ts";
import { readPositions as readClearingPositions } from "../../core/federation/clearing_kinds.ts";
import type { FederationGenesis } from "../../core/federation/genesis.ts";
import { positionRows } from "../../core/federation/positions.ts";
import { federationKeys, FederationView } from "../../core/federation/view.ts";
import type { Currency, Genesis } from "../../core/governance/genesis.ts";
import { membersAt } from "../../core/governance/membership.ts";
import { GovernanceView, type ProposalRecord } from "../../core/governance/view.ts";
import { formatAmount } from "../../core/ledger/amount.ts";
import { ledgerKeys } from "../../core/ledger/keys.ts";
import { isPrivateMemo, publicMemo } from "../../core/ledger/private_memo.ts";
import { limitOf, readAccount } from "../../core/ledger/view.ts";
import { readHistoryRange } from "../../core/ledger/history.ts";
import { trustClassOf } from "../../core/policy/policy.ts";
import type { Store } from "../../core/store/store.ts";
import type { GraphScope } from "../../core/trust/edge.ts";
import { memberPredicate, scoreFromState } from "../../core/trust/state.ts";
import { cooperativeScore } from "../../core/trust/view.ts";
import { GatewayError } from "./errors.ts";
import { decodeCursor, encodeCursor, pageOf } from "./cursor.ts";

export interface ReadComponents {
  store: Store;
  genesis: Genesis;
  /** Set when reading another network than the home one: cursors are bound to it. */
  net?: string;
}

/** A list's cursor name, bound to the network when it is not the home one. */
function listName(c: ReadComponents, list: string): string {
  return c.net === undefined ? list : `${list}@${c.net}`;
}

interface Page {
  cursor?: string;
  limit: number;
}

function reader(store: Store): StateOverlay {
  return new StateOverlay(store);
}

export function pickCurrency(genesis: Genesis, code: string | undefined): Currency {
  if (code === undefined) return genesis.currencies[0];
  const currency = genesis.currencies.find((c) => c.code === code);
  if (!currency) {
    throw new GatewayError(
      404,
      "unknown_currency",
      `Unknown currency "${code}": this cooperative uses ${
        genesis.currencies.map((c) => c.code).join(", ")
      }`,
    );
  }
  return currency;
}

export async function readMembers(c: ReadComponents, now: number, page: Page) {
  const view = new GovernanceView(reader(c.store), c.genesis);
  const all = [...await view.membersAt(now)].sort();
  const founders = new Set(c.genesis.members);
  const { items, next } = pageOf(listName(c, "members"), all, (did) => did, page);
  const rows = [];
  for (const did of items) {
    rows.push({ did, founder: founders.has(did), delegations: await view.delegationsOf(did, now) });
  }
  return { items: rows, next };
}

export async function readBalance(
  c: ReadComponents,
  did: string,
  code: string | undefined,
  now: number,
) {
  const currency = pickCurrency(c.genesis, code);
  const state = reader(c.store);
  const account = await readAccount(state, currency.code, did);
  const { limit } = await limitOf(state, c.genesis, did, currency.code, now, { account });
  const balance = BigInt(account.balance);
  const f = (minor: bigint) => formatAmount(minor, currency.decimals);
  return {
    did,
    currency: currency.code,
    balance: f(balance),
    balanceMinor: balance.toString(),
    limit: f(limit),
    limitMinor: limit.toString(),
    available: f(balance + limit),
    availableMinor: (balance + limit).toString(),
  };
}

export async function readBalances(
  c: ReadComponents,
  code: string | undefined,
  now: number,
  page: Page,
) {
  const currency = pickCurrency(c.genesis, code);
  const dids = new Set(await membersAt(reader(c.store), c.genesis, now));
  for await (const entry of c.store.list({ prefix: ledgerKeys.accountPrefix(currency.code) })) {
    dids.add(entry.key[3] as string);
  }
  const { items, next } = pageOf(
    listName(c, `balances:${currency.code}`),
    [...dids].sort(),
    (d) => d,
    page,
  );
  const rows = [];
  for (const did of items) rows.push(await readBalance(c, did, currency.code, now));
  return { items: rows, next };
}

/** An account's transfers, newest first; the cursor is the acceptance index to continue below. */
export async function readHistory(
  c: ReadComponents,
  did: string,
  code: string | undefined,
  page: Page,
) {
  const currency = pickCurrency(c.genesis, code);
  const list = listName(c, `history:${currency.code}:${did}`);
  const total = (await readAccount(reader(c.store), currency.code, did)).count;
  const below = decodeCursor(list, page.cursor, "number") ?? total;
  const newest = Math.min(below, total) - 1;
  const oldest = Math.max(0, newest - page.limit + 1);
  const entries = await readHistoryRange(c.store, currency.code, did, oldest, newest);
  const f = (minor: bigint) => formatAmount(minor, currency.decimals);
  const items = entries.map((e) => {
    const outgoing = e.from === did;
    const amount = outgoing ? -BigInt(e.amount) : BigInt(e.amount);
    return {
      ts: e.ts,
      id: e.id,
      cid: e.cid,
      direction: outgoing ? "out" as const : "in" as const,
      counterparty: outgoing ? e.to : e.from,
      from: e.from,
      to: e.to,
      amount: f(amount),
      amountMinor: amount.toString(),
      currency: currency.code,
      // Never the sealed string: the gateway holds no member's keys (core/ledger/private_memo.ts).
      memo: publicMemo(e.memo),
      memoPrivate: isPrivateMemo(e.memo),
      balance: f(BigInt(e.balance)),
    };
  });
  return { items, next: oldest > 0 && newest >= 0 ? encodeCursor(list, oldest) : null };
}

export async function readLimit(
  c: ReadComponents,
  did: string,
  code: string | undefined,
  now: number,
) {
  const currency = pickCurrency(c.genesis, code);
  const b = await limitOf(reader(c.store), c.genesis, did, currency.code, now);
  const f = (minor: bigint) => formatAmount(minor, currency.decimals);
  return {
    did,
    currency: currency.code,
    limit: f(b.limit),
    limitMinor: b.limit.toString(),
    baseline: f(b.baseline),
    trust: b.trust,
    trustTerm: f(b.trustTerm),
    clearedVolume: f(b.clearedVolume),
    historyTerm: f(b.historyTerm),
    rampPercent: b.rampPpm / 10_000,
    override: b.override === undefined ? null : f(b.override),
  };
}

/** The cooperative's score of `did` (what policy uses); its trust class. */
export async function readCooperativeScore(c: ReadComponents, did: string, now: number) {
  const score = await cooperativeScore(reader(c.store), c.genesis, did, now);
  return { score, class: trustClassOf(score) };
}

export async function readScore(
  c: ReadComponents,
  target: string,
  options: { observer?: string; graph: GraphScope; now: number },
) {
  const state = reader(c.store);
  const { now } = options;
  const cooperative = await readCooperativeScore(c, target, now);
  if (options.observer === undefined) return { target, cooperative, observer: null };
  const e = await scoreFromState(state, {
    observer: options.observer,
    target,
    scope: options.graph,
    ts: now,
    isMember: memberPredicate(state, c.genesis, now),
  });
  return {
    target,
    cooperative,
    observer: {
      did: options.observer,
      graph: options.graph,
      score: e.score,
      class: trustClassOf(e.score),
      explanation: {
        direct: e.direct,
        directTerm: e.directTerm,
        transitiveTerm: e.transitiveTerm,
        capped: e.capped,
        weights: { direct: e.weights.direct, transitive: e.weights.transitive },
        intermediaries: e.intermediaries.map((i) => ({
          via: i.via,
          toVia: i.toVia,
          fromVia: i.fromVia,
          contribution: i.contribution,
        })),
      },
    },
  };
}

async function summary(view: GovernanceView, record: ProposalRecord, now: number) {
  const t = await view.tally(record);
  // Derived times: a late quorum may extend the close; a secret ballot adds its reveal window.
  const timing = await view.timing(record);
  return {
    id: record.id,
    kind: record.kind,
    title: record.title,
    author: record.author,
    state: await view.stateOf(record, now) as string,
    opened: record.opened,
    closes: timing.closes,
    effective: timing.effective,
    timeLeft: Math.max(0, timing.closes - now),
    ...(record.method ? { method: JSON.parse(JSON.stringify(record.method)) } : {}),
    ...(record.secret ? { secret: true, revealEnds: timing.revealEnds } : {}),
    tally: { ...t, outcome: String(t.outcome) },
  };
}

/** Newest first; the list key sorts that way (opened, descending, then id). */
export async function readProposals(
  c: ReadComponents,
  now: number,
  options: Page & { state?: string },
) {
  const view = new GovernanceView(reader(c.store), c.genesis);
  const key = (e: { opened: number; id: string }) =>
    `${String(Number.MAX_SAFE_INTEGER - e.opened).padStart(16, "0")}|${e.id}`;
  const entries = (await view.allEntries()).sort((a, b) => (key(a) < key(b) ? -1 : 1));
  const rows: Awaited<ReturnType<typeof summary>>[] = [];
  const after = options.cursor === undefined
    ? undefined
    : decodeCursor(listName(c, "proposals"), options.cursor, "string");
  for (const entry of entries) {
    if (after !== undefined && key(entry) <= after) continue;
    const record = await view.proposal(entry.id);
    if (!record) continue;
    const row = await summary(view, record, now);
    if (options.state !== undefined && row.state !== options.state) continue;
    rows.push(row);
    if (rows.length > options.limit) break;
  }
  const more = rows.length > options.limit;
  const items = rows.slice(0, options.limit);
  return {
    items,
    next: more ? encodeCursor(listName(c, "proposals"), key(items[items.length - 1])) : null,
  };
}

export async function readProposal(c: ReadComponents, id: string, now: number) {
  const view = new GovernanceView(reader(c.store), c.genesis);
  const record = await view.proposal(id);
  if (!record) throw new GatewayError(404, "not_found", `No proposal ${id}`);
  const ballots: { did: string; choice: string; via?: string }[] = [];
  const row = await summary(view, record, now);
  await view.tally(record, ballots as never);
  const votes = await view.votes(record.id);
  // A method proposal's ballots (a secret one's once revealed), with the delegation they follow.
  const methodVotes = record.method
    ? (await view.methodBallots(record)).map((b) => ({
      did: b.did,
      ballot: JSON.parse(JSON.stringify(b.ballot)),
      ...(b.via ? { via: b.via } : {}),
      ...(votes.get(b.did)?.reason ? { reason: votes.get(b.did)!.reason } : {}),
    })).sort((a, b) => (a.did < b.did ? -1 : 1))
    : undefined;
  return {
    ...row,
    text: record.text,
    action: JSON.parse(JSON.stringify(record.action)),
    rules: JSON.parse(JSON.stringify(record.rules)),
    votes: methodVotes ?? ballots.map((b) => ({
      did: b.did,
      choice: b.choice,
      ...(b.via ? { via: b.via } : {}),
      ...(votes.get(b.did)?.reason ? { reason: votes.get(b.did)!.reason } : {}),
    })).sort((a, b) => (a.did < b.did ? -1 : 1)),
  };
}

/** A network the node serves beside its home network (the gateway reads federations from it). */
export interface ServedNetwork {
  id: string;
  store: Store;
}

/** The federation networks among `served`, by their stored federation genesis, in id order. */
export async function readFederations(
  served: readonly ServedNetwork[],
): Promise<{ id: string; name: string; store: Store; genesis: FederationGenesis }[]> {
  const out = [];
  for (const network of served) {
    const genesis = await reader(network.store).get<FederationGenesis>(federationKeys.genesis);
    if (genesis) out.push({ id: network.id, name: genesis.name, store: network.store, genesis });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The cooperatives the node serves, by their stored genesis: the home network first, then the
 * others in id order (what the dashboard's network picker lists; a federation is not one).
 */
export async function readCooperatives(
  served: readonly ServedNetwork[],
  home: { id: string; name: string },
): Promise<{ id: string; name: string }[]> {
  const others = [];
  for (const network of served) {
    if (network.id === home.id) continue;
    const genesis = await reader(network.store).get<Genesis>(chainKeys.genesis(network.id));
    if (genesis) others.push({ id: network.id, name: genesis.name });
  }
  others.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return [{ id: home.id, name: home.name }, ...others];
}

/**
 * A federation's positions, one row per pair: the stored positions at `now` shaped by
 * `positionRows`, exactly what `icn federation positions --json` prints. 404 `unknown_network`
 * when the node does not serve that federation.
 */
export async function readPositions(
  served: readonly ServedNetwork[],
  net: string,
  now: number,
  page: Page,
) {
  const fed = (await readFederations(served)).find((f) => f.id === net);
  if (!fed) {
    throw new GatewayError(
      404,
      "unknown_network",
      `This node serves no federation network ${JSON.stringify(net)}`,
    );
  }
  const view = new FederationView(reader(fed.store), fed.genesis);
  const reading = await readClearingPositions(view, now);
  const currency = fed.genesis.currencies[0];
  const rows = positionRows(reading, await view.coopsAt(now), currency.decimals);
  const { items, next } = pageOf(
    `positions:${net}`,
    rows,
    (row) => `${row.coops[0]}/${row.coops[1]}`,
    page,
  );
  return { net, name: fed.genesis.name, currency: currency.code, items, next };
}

/**
 * The reading components of `net`, a cooperative the node serves beside its home network (issue
 * #16); who may read it is the app's check (the token's network). 404 `unknown_network` when
 * the node does not serve it as a cooperative.
 */
export async function servedCooperative(
  served: readonly ServedNetwork[],
  net: string,
): Promise<ReadComponents> {
  const network = served.find((n) => n.id === net);
  const genesis = network
    ? await reader(network.store).get<Genesis>(chainKeys.genesis(net))
    : undefined;
  if (!network || !genesis) {
    throw new GatewayError(
      404,
      "unknown_network",
      `This node serves no cooperative network ${JSON.stringify(net)}`,
    );
  }
  return { store: network.store, genesis, net };
}
