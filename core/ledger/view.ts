/**
 * Reads of the ledger's derived state, shared by the kind handler and the
 * commands: accounts, the credit limit with its terms, velocity caps.
 */
import { chainKeys } from "../chain/keys.ts";
import type { StateReader } from "../governance/membership.ts";
import { admittedAt, creditOverride, paramsAt } from "../governance/membership.ts";
import type { Genesis } from "../governance/genesis.ts";
import type { Params } from "../params.ts";
import { policyFor, type TrustClass, trustClasses, trustClassOf } from "../policy/policy.ts";
import { cooperativeScore } from "../trust/view.ts";
import { type Account, emptyAccount, ledgerKeys, type Reservation } from "./keys.ts";
import { reservedAt } from "./pending.ts";
import { creditLimit, type LimitBreakdown } from "./rules.ts";

/** Genesis documents are immutable per network id (the id is their CID), so caching them is safe. */
const genesisCache = new Map<string, Genesis>();
const genesisCacheEntriesMax = 16;

export async function readGenesis(
  state: Pick<StateReader, "get">,
  net: string,
): Promise<Genesis | undefined> {
  const cached = genesisCache.get(net);
  if (cached) return cached;
  const genesis = await state.get<Genesis>(chainKeys.genesis(net));
  if (genesis) {
    if (genesisCache.size >= genesisCacheEntriesMax) genesisCache.clear();
    genesisCache.set(net, genesis);
  }
  return genesis;
}

export async function readAccount(
  state: Pick<StateReader, "get">,
  currency: string,
  did: string,
): Promise<Account> {
  return (await state.get<Account>(ledgerKeys.account(currency, did))) ?? emptyAccount;
}

/**
 * The credit limit of `did` in `currency` for a transfer dated `ts`, with its
 * terms. Overrides: this ledger's per-currency key (`setCreditOverride`) wins
 * over governance's `credit.override.<did>` parameter. The ramp starts at
 * governance's admission time (`admittedAt`), else at `setMemberSince`'s.
 * `known.trust === null` computes the limit without the trust term (a lower
 * bound: the term is never negative).
 */
export async function limitOf(
  state: StateReader,
  genesis: Genesis,
  did: string,
  currency: string,
  ts: number,
  known?: { account?: Account; params?: Params; trust?: number | null },
): Promise<LimitBreakdown> {
  const params = known?.params ?? await paramsAt(state, genesis, ts);
  const account = known?.account ?? await readAccount(state, currency, did);
  const trust = known?.trust === null
    ? 0
    : known?.trust ?? await cooperativeScore(state, genesis, did, ts);
  const own = await state.get<bigint>(ledgerKeys.override(did, currency));
  const governed = creditOverride(params, did);
  const override = own !== undefined
    ? BigInt(own)
    : governed !== undefined && Number.isSafeInteger(governed) && governed >= 0
    ? BigInt(governed)
    : undefined;
  const founder = genesis.members.includes(did);
  const memberSince = founder ? undefined : (await admittedAt(state, genesis, did, ts)) ??
    await state.get<number>(ledgerKeys.memberSince(did));
  return creditLimit({
    params,
    trust,
    classMultiplier: known?.trust === null
      ? 1
      : policyFor(params, trustClassOf(trust)).creditMultiplier,
    clearedVolume: account.received,
    override,
    founder,
    memberSince,
    ts,
  });
}

/** Lowest hourly velocity cap over all trust classes: below it the payer's class does not matter. */
export function velocityFloor(params: Params): number {
  return Math.min(...trustClasses.map((cls) => velocityCapOf(params, cls)));
}

function velocityCapOf(params: Params, cls: TrustClass): number {
  return policyFor(params, cls).velocityPerHour;
}

/** Outgoing transfers per hour allowed for a member with this trust score. */
export function velocityMaxOf(params: Params, trust: number): number {
  return velocityCapOf(params, trustClassOf(trust));
}

/**
 * Credit of `did` in `currency` still reserved at `now` by open pendings (a
 * read: expired entries are skipped, not cleaned).
 */
export async function reservedOf(
  state: Pick<StateReader, "get" | "list">,
  currency: string,
  did: string,
  now: number,
): Promise<bigint> {
  const stored = await state.get<Reservation>(ledgerKeys.reserved(currency, did));
  if (!stored || stored.count === 0) return 0n;
  const entries = await state.list<bigint>(ledgerKeys.openPrefix(currency, did));
  return reservedAt(
    entries.map((e) => ({ expires: e.key[4] as number, amount: BigInt(e.value) })),
    now,
  );
}
