/**
 * Clearing between cooperatives from the command line (docs/clearing.md):
 *
 * - a member pays a member of another cooperative: `icn ledger transfer --to DID --coop COOP`
 *   (`payAcross`): a `ledger.clearing.pay` pending to clearing(COOP) in the member's
 *   cooperative, its posters the cooperative's delegates;
 * - a delegate does the cooperative's side by hand, one step (`icn federation clear commit|
 *   accept|refuse|credit|finish`) or all that are due (`icn federation clear step`), which is
 *   also what the agent does;
 * - treasurers agree (`icn federation agreement`), read positions (`icn federation positions`),
 *   settle (`icn federation settle`) and check both sides (`icn federation check`).
 *
 * A delegate's data dir holds the federation and its cooperative: every command that writes
 * in the cooperative takes `--coop-net` (default: the only joined cooperative of the
 * federation).
 */
import { StateOverlay } from "../core/chain/state.ts";
import { InvalidInputError, NotFoundError, RejectedError } from "../core/errors.ts";
import {
  agreementAt,
  type CommitRecord,
  convertPayment,
  fromFederation,
  owedBy,
  pairOf,
  parseRate,
  pendingGraceMs,
} from "../core/federation/clearing.ts";
import {
  readClearing,
  readPositions,
  settleKind,
  verifyClearing,
} from "../core/federation/clearing_kinds.ts";
import { positionRows } from "../core/federation/positions.ts";
import { federationRulesFor } from "../core/federation/params.ts";
import type { FederationMember } from "../core/federation/view.ts";
import type { Currency, Genesis } from "../core/governance/genesis.ts";
import { GovernanceView } from "../core/governance/view.ts";
import { amountToBody, formatAmount, parseAmount } from "../core/ledger/amount.ts";
import {
  clearingAccount,
  type ClearingCreditRecord,
  clearingPayKind,
  type ClearingPayRecord,
  ledgerClearingKeys,
  settledAccount,
} from "../core/ledger/clearing.ts";
import { type Account, ledgerKeys } from "../core/ledger/keys.ts";
import { pendingStatus } from "../core/ledger/pending.ts";
import { formatDuration } from "../core/params.ts";
import { terminalSafe } from "../core/safe_text.ts";
import type { Store } from "../core/store/store.ts";
import { toHex } from "../core/bytes.ts";
import { sha256 } from "../core/identity/keys.ts";
import {
  answer,
  type ClearingAction,
  type ClearingSide,
  clearingSteps,
  commitOf,
  commitPay,
  credit,
  credited,
  finish,
  openClearingSide,
  type PayEntry,
  paysOf,
} from "../net/clearing_agent.ts";
import type { CliContext, SubmitResult } from "./context.ts";
import {
  actingCoop,
  type Federation,
  findCoop,
  forPhrase,
  iso,
  openFederation,
  submitIn,
} from "./federation.ts";
import { findNetwork, joinedNetworks, type OpenNetwork, openNetwork } from "./networks.ts";
import type { CommandResult } from "./output.ts";

/** Default time the payee's cooperative has to answer a payment. */
export const commitLifetimeDefaultMs = 60 * 60_000;

function fedCurrency(fed: Federation): Currency {
  return fed.genesis.currencies[0];
}

function fedAmount(fed: Federation, minor: bigint): string {
  const c = fedCurrency(fed);
  return `${formatAmount(minor, c.decimals)} ${c.code}`;
}

/** Submits in a network other than the command's own (the cooperative beside the federation). */
function submitInNetwork(
  ctx: CliContext,
  network: OpenNetwork,
  request: { kind: string; body: unknown },
): Promise<SubmitResult> {
  return submitIn(ctx, { network } as Federation, request);
}

interface Coop {
  network: OpenNetwork;
  genesis: Genesis;
  currency: Currency;
  member: FederationMember;
}

/**
 * The cooperative a delegate writes in beside the federation: `--coop-net`, else the only
 * joined cooperative that is in the federation. Its first currency is the one clearing uses.
 */
async function openCoop(
  ctx: CliContext,
  fed: Federation,
  selection: string | undefined,
  what: string,
): Promise<Coop> {
  const networks = await joinedNetworks(ctx);
  const coops = await fed.view.coopsAt(ctx.clock.now());
  let chosen;
  if (selection !== undefined) {
    chosen = findNetwork(networks, selection);
  } else {
    const inFederation = networks.filter((n) => n.kind !== "federation" && coops.has(n.id));
    if (inFederation.length !== 1) {
      throw new InvalidInputError(
        `Cannot ${what}: this data dir holds ${inFederation.length} cooperatives of the federation; name yours with --coop-net`,
      );
    }
    chosen = inFederation[0];
  }
  const member = coops.get(chosen.id);
  if (chosen.kind === "federation" || !member) {
    throw new InvalidInputError(
      `Cannot ${what}: --coop-net "${
        terminalSafe(selection ?? chosen.name)
      }" is not a cooperative of federation "${terminalSafe(fed.genesis.name)}"`,
    );
  }
  const network = await openNetwork(ctx, chosen);
  const { chainKeys } = await import("../core/chain/keys.ts");
  const genesis = (await network.store.get<Genesis>(chainKeys.genesis(chosen.id)))?.value;
  if (!genesis) throw new NotFoundError(`Genesis of network ${chosen.id} is missing`);
  return { network, genesis, currency: genesis.currencies[0], member };
}

function reader(store: Store) {
  return new StateOverlay(store);
}

// ---------------------------------------------------------------------------------------------
// Agreements and positions

export interface AgreementOptions {
  with: string;
  limit?: string;
  rate: string;
  partnerRate: string;
  interval: number;
  end?: boolean;
  title?: string;
  for?: string;
  net?: string;
}

/** `icn federation agreement`: proposes (or changes, or ends) a clearing agreement. */
export async function agreement(
  ctx: CliContext,
  _args: string[],
  options: AgreementOptions,
): Promise<CommandResult> {
  const rate = parseRate(options.rate, "--rate");
  const partnerRate = parseRate(options.partnerRate, "--partner-rate");
  const what = `propose clearing with "${terminalSafe(options.with)}"${
    options.limit === undefined ? "" : ` up to "${terminalSafe(options.limit)}"`
  }${forPhrase(options.for)}`;
  const fed = await openFederation(ctx, options.net, what);
  const currency = fedCurrency(fed);
  const now = ctx.clock.now();
  const { coop } = await actingCoop(ctx, fed, options.for, what);
  const partner = findCoop(await fed.view.coopsAt(now), options.with, fed.genesis, what);
  if (partner.net === coop.net) {
    throw new InvalidInputError(`Cannot ${what}: that is your own cooperative`);
  }
  // After the federation, cooperative and partner are resolved, so a wrong one is named first.
  if (options.end && options.limit !== undefined) {
    throw new InvalidInputError(`Cannot ${what}: an agreement that ends has no --limit`);
  }
  if (!options.end && options.limit === undefined) {
    throw new InvalidInputError(
      `Cannot ${what}: a clearing agreement needs --limit (in the federation's currency)`,
    );
  }
  const limit = options.end ? 0n : parseAmount(options.limit!, currency.decimals, currency.code);
  const action: Record<string, unknown> = {
    coopA: coop.net,
    coopB: partner.net,
    limit: amountToBody(limit),
    rateA: rate.text,
    rateB: partnerRate.text,
    settlementInterval: options.interval,
  };
  if (options.end) action.end = true;
  const title = options.title ??
    `${options.end ? "End clearing" : "Clearing"} between ${coop.name} and ${partner.name}`;
  const rules = federationRulesFor(await fed.view.paramsAt(now), "clearing");
  const body = { coop: coop.net, kind: "clearing", title, body: "", action, rules };
  const { cid, envelope: { ts } } = await submitIn(ctx, fed, { kind: "fed.proposal", body });
  const closes = ts + rules.votingPeriod;
  return {
    data: {
      id: cid,
      kind: "clearing",
      title,
      action: { ...action, limit: limit.toString() },
      closes,
    },
    text: [
      `Proposed ${options.end ? "the end of clearing" : "clearing"} between "${
        terminalSafe(coop.name)
      }" and "${terminalSafe(partner.name)}"${
        options.end
          ? ""
          : `: limit ${fedAmount(fed, limit)}, rates ${rate.text} and ${partnerRate.text}`
      }`,
      `  id:     ${cid}`,
      `  closes: ${iso(closes)} (it takes effect then if both cooperatives voted for)`,
      `  vote:   icn federation vote ${cid.slice(0, 16)} for (a delegate of each)`,
    ],
  };
}

export interface NetOptions {
  net?: string;
}

/** `icn federation positions`: each pair's position, limit and use. */
export async function positions(
  ctx: CliContext,
  _args: string[],
  options: NetOptions,
): Promise<CommandResult> {
  const fed = await openFederation(ctx, options.net, "show positions");
  const now = ctx.clock.now();
  const reading = await readPositions(fed.view, now);
  const coops = await fed.view.coopsAt(now);
  const name = (net: string) => coops.get(net)?.name ?? net;
  const rows = positionRows(reading, coops, fedCurrency(fed).decimals);
  const text = rows.length === 0
    ? ["No clearing agreements or positions in this federation"]
    : rows.map((r) => {
      const who = r.debtor === null
        ? `"${terminalSafe(r.names[0])}" and "${terminalSafe(r.names[1])}" are even`
        : `"${terminalSafe(name(r.debtor))}" owes "${terminalSafe(name(r.creditor!))}" ${r.owed} ${
          fedCurrency(fed).code
        }`;
      const terms = r.agreement === null
        ? "no agreement in force"
        : `limit ${r.limit} (${r.use}% used), settle every ${
          formatDuration(r.settlementInterval!)
        }`;
      return `${who}; ${terms}; ${r.accepted} accepted, ${r.open} open`;
    });
  return { data: { currency: fedCurrency(fed).code, positions: rows }, text };
}

// ---------------------------------------------------------------------------------------------
// A member pays a member of another cooperative

export interface PayAcrossOptions {
  to: string;
  coop: string;
  amount: string;
  currency?: string;
  memo?: string;
  id?: string;
  timeout?: number;
  federation?: string;
}

/**
 * `icn ledger transfer --to DID --coop COOP`: a pending to clearing(COOP) in the member's
 * cooperative, for the delegates to carry through the federation. Everything checkable here
 * is checked before anything is signed: the cooperative is in a federation this data dir
 * holds, an agreement is in force, the amount converts exactly at the agreed rates, the
 * cooperative has delegates to post it.
 */
export async function payAcross(
  ctx: CliContext,
  options: PayAcrossOptions,
): Promise<CommandResult> {
  const what = `pay "${terminalSafe(options.to)}" of "${terminalSafe(options.coop)}"`;
  // The member's own cooperative is the command's network (--net).
  const { id: home, genesis, store } = await ctx.network();
  const currency = options.currency === undefined
    ? genesis.currencies[0]
    : genesis.currencies.find((c) => c.code === options.currency);
  if (!currency) {
    throw new InvalidInputError(
      `Cannot ${what}: unknown currency "${terminalSafe(options.currency!)}"`,
    );
  }
  const amount = parseAmount(options.amount, currency.decimals, currency.code);
  const memo = options.memo ?? "";
  const { parseDid } = await import("../core/identity/did.ts");
  parseDid(options.to);
  // The federation: the one named, else the only joined federation holding both cooperatives.
  const networks = await joinedNetworks(ctx);
  const federations = networks.filter((n) =>
    n.kind === "federation" &&
    (options.federation === undefined || n.id === options.federation ||
      n.name === options.federation)
  );
  const now = ctx.clock.now();
  const { FederationView } = await import("../core/federation/view.ts");
  const { federationKeys } = await import("../core/federation/view.ts");
  const candidates: { fed: Federation; partner: FederationMember }[] = [];
  for (const joined of federations) {
    const network = await openNetwork(ctx, joined);
    const g = (await network.store.get<Federation["genesis"]>(federationKeys.genesis))?.value;
    if (!g) continue;
    const fed: Federation = {
      network,
      genesis: g,
      view: new FederationView(reader(network.store), g),
    };
    const coops = await fed.view.coopsAt(now);
    if (!coops.has(home)) continue;
    const all = [...coops.values()];
    const partner = coops.get(options.coop) ?? all.find((c) => c.name === options.coop) ??
      (options.coop.length >= 8 ? all.find((c) => c.net.startsWith(options.coop)) : undefined);
    if (partner) candidates.push({ fed, partner });
  }
  if (candidates.length === 0) {
    throw new NotFoundError(
      `Cannot ${what}: no federation this data dir holds has your cooperative and a cooperative named "${
        terminalSafe(options.coop)
      }" (see \`icn federation members\`; join the federation with \`icn federation join FILE\`)`,
    );
  }
  if (candidates.length > 1) {
    throw new InvalidInputError(
      `Cannot ${what}: more than one federation has it; choose one with --federation`,
    );
  }
  const { fed, partner } = candidates[0];
  if (partner.net === home) {
    throw new InvalidInputError(
      `Cannot ${what}: that is your own cooperative (pay without --coop)`,
    );
  }
  const reading = await readClearing(fed.view, now);
  const terms = agreementAt(reading.agreements, home, partner.net, now);
  if (!terms) {
    throw new RejectedError(
      "no_agreement",
      `Cannot ${what}: your cooperative has no clearing agreement in force with "${
        terminalSafe(partner.name)
      }"`,
    );
  }
  const converted = convertPayment(terms, home, partner.net, amount);
  if ("error" in converted) {
    throw new InvalidInputError(
      `Cannot ${what} ${
        formatAmount(amount, currency.decimals)
      } ${currency.code}: ${converted.error}`,
    );
  }
  const delegates = await new GovernanceView(reader(store), genesis).delegatesFor(
    fed.network.id,
    now,
  );
  if (!delegates) {
    throw new RejectedError(
      "no_delegates",
      `Cannot ${what}: your cooperative has not chosen its delegates to "${
        terminalSafe(fed.genesis.name)
      }" (a governance delegates proposal)`,
    );
  }
  const me = (await ctx.readPublicIdentity()).did;
  const id = options.id ?? `x-${toHex(ctx.rng.bytes(12))}`;
  const existing = (await store.get<ClearingPayRecord>(ledgerClearingKeys.pay(me, id)))?.value;
  if (existing) {
    return {
      data: { id, cid: existing.cid, status: "already_exists" },
      text: `Payment "${id}" already exists (${existing.cid}); nothing new written`,
    };
  }
  const lifetime = options.timeout ?? commitLifetimeDefaultMs;
  const body = {
    federation: fed.network.id,
    coop: partner.net,
    payee: options.to,
    amount: amountToBody(amount),
    currency: currency.code,
    memo,
    id,
    expires: now + lifetime + pendingGraceMs,
    posters: delegates.delegates,
  };
  const result = await ctx.submitOrThrow({ kind: clearingPayKind, body });
  return {
    data: {
      id,
      cid: result.cid,
      status: "pending",
      to: options.to,
      coop: partner.net,
      amount: formatAmount(amount, currency.decimals),
      currency: currency.code,
      federationAmount: formatAmount(converted.amount, fedCurrency(fed).decimals),
      answerBy: now + lifetime,
    },
    text: [
      `Reserved ${
        formatAmount(amount, currency.decimals)
      } ${currency.code} to pay "${options.to}" of "${terminalSafe(partner.name)}" (${
        fedAmount(fed, converted.amount)
      } in the federation)`,
      `  id: ${id} (${result.cid})`,
      `  your delegates commit it; it is posted when "${
        terminalSafe(partner.name)
      }" accepts, released if it refuses or does not answer by ${iso(now + lifetime)}`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The cooperative's side, step by step

/** A delegate's side, from this data dir: commands sign and commit here (or through its node). */
async function openSide(
  ctx: CliContext,
  options: { net?: string; coopNet?: string; for?: string },
  what: string,
): Promise<ClearingSide> {
  // A named cooperative first, so a mistyped --coop-net is what the refusal names.
  if (options.coopNet !== undefined) findNetwork(await joinedNetworks(ctx), options.coopNet);
  const fed = await openFederation(ctx, options.net, what);
  const coop = await openCoop(ctx, fed, options.coopNet ?? options.for, what);
  return await openClearingSide({
    fed: { id: fed.network.id, store: fed.network.store },
    coop: { id: coop.network.id, store: coop.network.store },
    now: ctx.clock.now(),
    submit: (net, request) =>
      net === fed.network.id
        ? submitIn(ctx, fed, request)
        : submitInNetwork(ctx, coop.network, request),
  });
}

export interface ClearOptions {
  net?: string;
  coopNet?: string;
  reason?: string;
}

function describe(actions: ClearingAction[]): string[] {
  if (actions.length === 0) return ["Nothing to do"];
  return actions.map((a) =>
    `${a.step.padEnd(16)} ${a.payment}${a.cid ? ` (${a.cid})` : ""}${
      a.detail ? `: ${terminalSafe(a.detail)}` : ""
    }`
  );
}

function findCommit(side: ClearingSide, text: string): CommitRecord {
  const matches = side.reading.commits.filter((c) =>
    c.cid === text || c.id === text || (text.length >= 8 && c.cid.startsWith(text))
  );
  if (matches.length === 1) return matches[0];
  throw new NotFoundError(
    matches.length === 0
      ? `No clearing commit "${
        terminalSafe(text)
      }" in this federation store (see \`icn federation clear list\`)`
      : `"${terminalSafe(text)}" matches ${matches.length} commits; give more of the id`,
  );
}

async function findPay(side: ClearingSide, text: string): Promise<PayEntry> {
  const pays = await paysOf(side.coop.store);
  const matches = pays.filter((p) =>
    p.facts.cid === text || p.pending.id === text ||
    (text.length >= 8 && p.facts.cid.startsWith(text))
  );
  if (matches.length === 1) return matches[0];
  throw new NotFoundError(
    matches.length === 0
      ? `No clearing payment "${terminalSafe(text)}" in cooperative "${
        terminalSafe(side.coop.member.name)
      }"`
      : `"${terminalSafe(text)}" matches ${matches.length} payments; give more of the id`,
  );
}

/** `icn federation clear step`: every step due for the caller's cooperative. */
export async function clearStep(
  ctx: CliContext,
  _args: string[],
  options: CheckOptions,
): Promise<CommandResult> {
  const side = await openSide(ctx, options, "do the clearing steps due");
  await requireSideDelegate(ctx, side, "do the clearing steps due");
  const actions = await clearingSteps(side);
  return { data: { actions }, text: describe(actions) };
}

async function requireSideDelegate(ctx: CliContext, side: ClearingSide, what: string) {
  const { did } = await ctx.readPublicIdentity();
  const current = await side.fed.view.delegatesAt(side.coop.member.net, side.now);
  if (!current?.delegates.includes(did)) {
    throw new RejectedError(
      "not_delegate",
      `Cannot ${what}: "${did}" is not a delegate of "${terminalSafe(side.coop.member.name)}"`,
    );
  }
}

/** `icn federation clear commit PAYMENT`: the payer's cooperative commits a member's payment. */
export function clearCommit(ctx: CliContext, args: string[], options: ClearOptions) {
  return clearOne(ctx, "commit", args[0], options);
}
/** `icn federation clear accept COMMIT`: the payee's cooperative accepts (refused if it cannot). */
export function clearAccept(ctx: CliContext, args: string[], options: ClearOptions) {
  return clearOne(ctx, "accept", args[0], options);
}
/** `icn federation clear refuse COMMIT`. */
export function clearRefuse(ctx: CliContext, args: string[], options: ClearOptions) {
  return clearOne(ctx, "refuse", args[0], options);
}
/** `icn federation clear credit COMMIT`: the payee's cooperative credits its member. */
export function clearCredit(ctx: CliContext, args: string[], options: ClearOptions) {
  return clearOne(ctx, "credit", args[0], options);
}
/** `icn federation clear finish PAYMENT`: the payer's cooperative posts or voids the pending. */
export function clearFinish(ctx: CliContext, args: string[], options: ClearOptions) {
  return clearOne(ctx, "finish", args[0], options);
}

async function clearOne(
  ctx: CliContext,
  step: string,
  id: string,
  options: ClearOptions,
): Promise<CommandResult> {
  const what = `${step} clearing payment "${terminalSafe(id)}"`;
  const side = await openSide(ctx, options, what);
  await requireSideDelegate(ctx, side, what);
  let action: ClearingAction | undefined;
  switch (step) {
    case "commit": {
      const pay = await findPay(side, id);
      if (pendingStatus(pay.pending, side.now) !== "open") {
        throw new RejectedError(
          "not_open",
          `Cannot ${what}: it is ${pendingStatus(pay.pending, side.now)}`,
        );
      }
      if (commitOf(side.reading, side.coop.member.net, pay.facts.cid)) {
        throw new RejectedError("duplicate", `Cannot ${what}: it is already committed`);
      }
      action = await commitPay(side, pay);
      break;
    }
    case "accept":
    case "refuse": {
      const commit = findCommit(side, id);
      if (commit.to !== side.coop.member.net) {
        throw new RejectedError(
          "not_payee",
          `Cannot ${what}: it is not a payment to "${terminalSafe(side.coop.member.name)}"`,
        );
      }
      const status = side.reading.state.commits.get(commit.cid)?.status;
      if (status !== "open") throw new RejectedError("decided", `Cannot ${what}: it is ${status}`);
      action = await answer(side, commit, step, options.reason);
      break;
    }
    case "credit": {
      const commit = findCommit(side, id);
      if (commit.to !== side.coop.member.net) {
        throw new RejectedError(
          "not_payee",
          `Cannot ${what}: it is not a payment to "${terminalSafe(side.coop.member.name)}"`,
        );
      }
      const status = side.reading.state.commits.get(commit.cid)?.status;
      if (status !== "accepted") {
        throw new RejectedError("not_accepted", `Cannot ${what}: it is ${status}, not accepted`);
      }
      if (await credited(side, commit.cid)) {
        throw new RejectedError("duplicate", `Cannot ${what}: it is already credited`);
      }
      action = await credit(side, commit);
      break;
    }
    case "finish": {
      const pay = await findPay(side, id);
      if (pendingStatus(pay.pending, side.now) !== "open") {
        throw new RejectedError(
          "not_open",
          `Cannot ${what}: it is ${pendingStatus(pay.pending, side.now)}`,
        );
      }
      action = await finish(side, pay);
      if (!action) {
        throw new RejectedError(
          "not_answered",
          `Cannot ${what}: the payee's cooperative has not answered it yet`,
        );
      }
      break;
    }
    default:
      throw new InvalidInputError(
        `Unknown clearing step "${
          terminalSafe(step)
        }": use commit, accept, refuse, credit or finish`,
      );
  }
  return { data: { actions: [action] }, text: describe([action]) };
}

/** `icn federation clear list`: the federation's commits and their outcomes. */
export async function clearList(
  ctx: CliContext,
  _args: string[],
  options: NetOptions,
): Promise<CommandResult> {
  const fed = await openFederation(ctx, options.net, "list clearing payments");
  const reading = await readClearing(fed.view, ctx.clock.now());
  const rows = reading.commits.sort((a, b) => a.ts - b.ts).map((c) => {
    const o = reading.state.commits.get(c.cid)!;
    return {
      cid: c.cid,
      id: c.id,
      from: c.from,
      to: c.to,
      payer: c.payer,
      payee: c.payee,
      amount: formatAmount(c.amount, fedCurrency(fed).decimals),
      status: o.status,
      ...(o.reason ? { reason: o.reason } : {}),
      expires: c.expires,
    };
  });
  return {
    data: { commits: rows },
    text: rows.length === 0
      ? ["No clearing payments"]
      : rows.map((r) =>
        `${r.cid.slice(0, 16)} ${r.status.padEnd(9)} ${r.amount} ${fedCurrency(fed).code} ${
          r.payer.slice(0, 20)
        }… → ${r.payee.slice(0, 20)}…${r.reason ? ` (${r.reason})` : ""}`
      ),
  };
}

// ---------------------------------------------------------------------------------------------
// Settlement and the check

export interface SettleOptions {
  with: string;
  amount: string;
  id: string;
  received?: boolean;
  for?: string;
  net?: string;
}

/**
 * `icn federation settle`: notes a payment between the two cooperatives outside the federation
 * ledger (`--received` when the partner paid). It applies once a delegate of each side noted
 * the same id and amount; each cooperative's ledger books it at the next `clear step`.
 */
export async function settle(
  ctx: CliContext,
  _args: string[],
  options: SettleOptions,
): Promise<CommandResult> {
  const what = `note settlement "${terminalSafe(options.id)}" of "${
    terminalSafe(options.amount)
  }" with "${terminalSafe(options.with)}"${forPhrase(options.for)}`;
  const fed = await openFederation(ctx, options.net, what);
  const currency = fedCurrency(fed);
  const amount = parseAmount(options.amount, currency.decimals, currency.code);
  const now = ctx.clock.now();
  const { coop } = await actingCoop(ctx, fed, options.for, what);
  const partner = findCoop(await fed.view.coopsAt(now), options.with, fed.genesis, what);
  if (partner.net === coop.net) {
    throw new InvalidInputError(`Cannot ${what}: that is your own cooperative`);
  }
  const [payer, payee] = options.received ? [partner.net, coop.net] : [coop.net, partner.net];
  const reading = await readClearing(fed.view, now);
  const terms = reading.agreements.filter((a) =>
    pairOf(a.coopA, a.coopB).key === pairOf(payer, payee).key
  ).at(-1);
  if (!terms) {
    throw new RejectedError(
      "no_agreement",
      `Cannot ${what}: the two cooperatives never had a clearing agreement`,
    );
  }
  for (const [net, rate] of [[terms.coopA, terms.rateA], [terms.coopB, terms.rateB]] as const) {
    if (fromFederation(amount, rate) === undefined) {
      throw new InvalidInputError(
        `Cannot ${what}: ${
          formatAmount(amount, currency.decimals)
        } is not a whole amount of ${net}'s currency at its rate ${rate.text}`,
      );
    }
  }
  const owed = owedBy(reading.state, payer, payee);
  const body = { id: options.id, payer, payee, amount: amountToBody(amount), by: coop.net };
  const { cid } = await submitIn(ctx, fed, { kind: settleKind, body });
  const { FederationView } = await import("../core/federation/view.ts");
  const after = await readClearing(
    new FederationView(reader(fed.network.store), fed.genesis),
    ctx.clock.now(),
  );
  const status = after.state.settlements.find((s) =>
    s.id === options.id && s.pair === pairOf(payer, payee).key
  )?.status;
  return {
    data: {
      id: options.id,
      cid,
      payer,
      payee,
      amount: formatAmount(amount, currency.decimals),
      status,
      owedBefore: owed.toString(),
    },
    text: status === "applied"
      ? `Settlement "${terminalSafe(options.id)}" applied: both sides noted ${
        fedAmount(fed, amount)
      }; book it in your ledger with \`icn federation clear step\``
      : `Noted settlement "${terminalSafe(options.id)}" of ${
        fedAmount(fed, amount)
      }; it applies when "${terminalSafe(partner.name)}" notes the same`,
  };
}

export interface CheckOptions {
  net?: string;
  coopNet?: string;
}

/**
 * `icn federation check`: the federation's invariants (no position over its limit, every
 * accepted payment at its agreement's rates) and, for the cooperative this data dir holds,
 * its side: the ledger sums to zero, every clearing entry cites an accepted payment, and each
 * clearing account equals the position once in-flight steps are counted.
 */
export async function check(
  ctx: CliContext,
  _args: string[],
  options: CheckOptions,
): Promise<CommandResult> {
  if (options.coopNet !== undefined) findNetwork(await joinedNetworks(ctx), options.coopNet);
  const fed = await openFederation(ctx, options.net, "check clearing");
  const now = ctx.clock.now();
  // The stored positions against a fold of every record: they must agree.
  const verified = await verifyClearing(fed.view, now);
  const reading = verified.reading;
  const problems: string[] = verified.differences.map((d) => `stored state: ${d}`);
  const notes: string[] = [];
  if (!verified.stored) {
    notes.push("positions are not stored yet (written before icn stored them): folded on read");
  }
  for (const pair of verified.stale) {
    notes.push(
      `positions of ${pair} predate an agreement change: re-folded on read until the next clearing envelope`,
    );
  }
  const stateHash = toHex(await sha256(new TextEncoder().encode(verified.digest)));
  for (const pair of reading.state.pairs.values()) {
    const limits = reading.agreements.filter((a) =>
      pairOf(a.coopA, a.coopB).key === `${pair.lo}/${pair.hi}`
    );
    const limit = limits.reduce((m, a) => (a.limit > m ? a.limit : m), 0n);
    const abs = pair.position < 0n ? -pair.position : pair.position;
    if (abs > limit) {
      problems.push(`position ${pair.lo}/${pair.hi} is ${abs}, over every limit agreed (${limit})`);
    }
  }
  let coopReport: Record<string, unknown> | undefined;
  const networks = await joinedNetworks(ctx);
  const coops = await fed.view.coopsAt(now);
  const held = options.coopNet !== undefined
    ? [findNetwork(networks, options.coopNet)]
    : networks.filter((n) => n.kind !== "federation" && coops.has(n.id));
  for (const joined of held) {
    const coop = await openCoop(ctx, fed, joined.id, "check clearing");
    const me = coop.member.net;
    const store = coop.network.store;
    // Per currency, every account (clearing accounts included) sums to zero.
    for (const currency of coop.genesis.currencies) {
      let sum = 0n;
      for (
        const entry of await reader(store).list<Account>(ledgerKeys.accountPrefix(currency.code))
      ) {
        sum += BigInt(entry.value.balance);
      }
      if (sum !== 0n) {
        problems.push(`${coop.member.name}: ${currency.code} accounts sum to ${sum}, not 0`);
      }
    }
    const partners = new Map<string, { ledger: bigint; expected: bigint; inFlight: number }>();
    const partnerOf = (p: string) => {
      let e = partners.get(p);
      if (!e) partners.set(p, e = { ledger: 0n, expected: 0n, inFlight: 0 });
      return e;
    };
    // The federation's view of what this cooperative owes each partner.
    for (const pair of reading.state.pairs.values()) {
      if (pair.lo !== me && pair.hi !== me) continue;
      const partner = pair.lo === me ? pair.hi : pair.lo;
      partnerOf(partner).expected = owedBy(reading.state, me, partner);
    }
    // Its own ledger's side, valued in the federation's currency by the payments it cites.
    for (const pay of await paysOf(store)) {
      const commit = commitOf(reading, me, pay.facts.cid);
      const status = commit ? reading.state.commits.get(commit.cid)?.status : undefined;
      const posted = pay.pending.resolution?.state === "posted";
      if (posted && status !== "accepted") {
        problems.push(
          `${coop.member.name}: payment ${pay.facts.cid} is posted but its commit is ${
            status ?? "unknown"
          }`,
        );
      }
      if (posted && commit) partnerOf(pay.facts.coop).ledger += commit.amount;
      if (!posted && status === "accepted") {
        partnerOf(pay.facts.coop).inFlight++, partnerOf(pay.facts.coop).ledger += commit!.amount;
      }
    }
    const creditedCids = new Set<string>();
    for (
      const entry of await reader(store).list<ClearingCreditRecord>([
        "ledger",
        "clr",
        "credit",
        fed.network.id,
      ])
    ) {
      const c = entry.value;
      creditedCids.add(c.commit);
      const commit = reading.commits.find((x) => x.cid === c.commit);
      const status = commit ? reading.state.commits.get(commit.cid)?.status : undefined;
      if (status !== "accepted") {
        problems.push(
          `${coop.member.name}: credit ${c.cid} cites payment ${c.commit}, which is ${
            status ?? "unknown here"
          }`,
        );
        continue;
      }
      partnerOf(c.from).ledger -= commit!.amount;
    }
    for (const commit of reading.commits) {
      if (commit.to !== me || reading.state.commits.get(commit.cid)?.status !== "accepted") {
        continue;
      }
      if (!creditedCids.has(commit.cid)) {
        partnerOf(commit.from).inFlight++, partnerOf(commit.from).ledger -= commit.amount;
      }
    }
    for (const s of reading.state.settlements) {
      if (s.status !== "applied" || (s.payer !== me && s.payee !== me)) continue;
      const partner = s.payer === me ? s.payee : s.payer;
      partnerOf(partner).ledger += s.payer === me ? -s.amount : s.amount;
      if (!(await store.get(ledgerClearingKeys.settle(fed.network.id, s.id)))) {
        partnerOf(partner).inFlight++;
      }
    }
    const rows = [];
    for (const [partner, e] of partners) {
      const balance =
        (await store.get<Account>(ledgerKeys.account(coop.currency.code, clearingAccount(partner))))
          ?.value;
      const settled =
        (await store.get<Account>(ledgerKeys.account(coop.currency.code, settledAccount(partner))))
          ?.value;
      if (e.ledger !== e.expected) {
        problems.push(
          `${coop.member.name}: its side with ${partner} is worth ${e.ledger} in the federation, the position says ${e.expected}`,
        );
      }
      rows.push({
        partner,
        position: e.expected.toString(),
        ledger: e.ledger.toString(),
        inFlight: e.inFlight,
        clearingBalance: formatAmount(BigInt(balance?.balance ?? 0n), coop.currency.decimals),
        settledBalance: formatAmount(BigInt(settled?.balance ?? 0n), coop.currency.decimals),
      });
      if (e.inFlight > 0) {
        notes.push(
          `${coop.member.name}: ${e.inFlight} step(s) with ${partner} still to do (icn federation clear step)`,
        );
      }
    }
    coopReport = { coop: me, name: coop.member.name, partners: rows };
  }
  const ok = problems.length === 0;
  const result: CommandResult = {
    data: {
      ok,
      problems,
      notes,
      pairs: reading.state.pairs.size,
      commits: reading.commits.length,
      stored: verified.stored,
      stateHash,
      cooperative: coopReport ?? null,
    },
    text: ok
      ? [
        `Clearing is consistent: ${reading.state.pairs.size} pair(s), ${reading.commits.length} payment(s)`,
        `State hash: ${stateHash}`,
        ...notes,
      ]
      : ["Clearing check FAILED:", ...problems.map((p) => `  ${p}`), ...notes],
  };
  if (!ok) {
    throw new RejectedError("clearing_check", `Clearing check failed:\n  ${problems.join("\n  ")}`);
  }
  return result;
}
