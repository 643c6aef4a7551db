/**
 * The clearing agent (docs/clearing.md): one cooperative's side of clearing, done from what
 * this data dir or node holds of the federation and the cooperative. `clearingSteps` does every
 * step due (commit the members' payments, answer payments to the cooperative, credit its
 * members, post or void the members' pendings, book settlements both sides noted); `icn
 * federation clear step` calls it once, and `ClearingAgent` calls it on a delegate's node as
 * envelopes arrive (`federation.agent`), one run at a time.
 */
import { StateOverlay } from "../core/chain/state.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { NotFoundError, RejectedError } from "../core/errors.ts";
import {
  agreementAt,
  checkAccept,
  commitLifetimeMinMs,
  type CommitRecord,
  convertPayment,
  fromFederation,
  pairOf,
  pendingGraceMs,
} from "../core/federation/clearing.ts";
import {
  agreementsOf,
  answerKind,
  clearingKeys,
  type ClearingReading,
  commitKind,
  readClearing,
  settleKind,
} from "../core/federation/clearing_kinds.ts";
import {
  clearingStateKeys,
  hasStoredState,
  type OpenCommit,
  readStoredPair,
  type StoredSettlement,
} from "../core/federation/clearing_state.ts";
import type { FederationGenesis } from "../core/federation/genesis.ts";
import { federationKeys, type FederationMember, FederationView } from "../core/federation/view.ts";
import type { Currency, Genesis } from "../core/governance/genesis.ts";
import { isMember } from "../core/governance/membership.ts";
import { amountToBody } from "../core/ledger/amount.ts";
import {
  clearingCreditKind,
  type ClearingPayRecord,
  clearingSettleKind,
  ledgerClearingKeys,
} from "../core/ledger/clearing.ts";
import { ledgerKeys, type PendingRecord } from "../core/ledger/keys.ts";
import { pendingStatus, postKind, voidKind } from "../core/ledger/pending.ts";
import type { Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";

function reader(store: Store) {
  return new StateOverlay(store);
}

/**
 * Opens a cooperative's side: the federation's genesis and view, the cooperative's genesis and
 * its first currency (the one clearing uses), and the cooperative as the federation knows it.
 */
export async function openClearingSide(input: {
  fed: { id: string; store: Store };
  coop: { id: string; store: Store };
  now: number;
  submit: ClearingSide["submit"];
  /**
   * "all" (the default): `reading` holds every clearing record (what the commands search);
   * "open": only the agreements, for `openWorkSteps`, which reads the rest as it needs it.
   */
  read?: "all" | "open";
}): Promise<ClearingSide> {
  const fedGenesis = (await input.fed.store.get<FederationGenesis>(federationKeys.genesis))?.value;
  if (!fedGenesis) throw new NotFoundError(`Network ${input.fed.id} is not a federation`);
  const view = new FederationView(reader(input.fed.store), fedGenesis);
  const member = (await view.coopsAt(input.now)).get(input.coop.id);
  if (!member) {
    throw new NotFoundError(`Cooperative ${input.coop.id} is not in federation ${input.fed.id}`);
  }
  const genesis = (await input.coop.store.get<Genesis>(chainKeys.genesis(input.coop.id)))?.value;
  if (!genesis) throw new NotFoundError(`Genesis of network ${input.coop.id} is missing`);
  return {
    fed: { id: input.fed.id, store: input.fed.store, genesis: fedGenesis, view },
    coop: {
      id: input.coop.id,
      store: input.coop.store,
      genesis,
      currency: genesis.currencies[0],
      member,
    },
    reading: input.read === "open"
      ? emptyReading(await agreementsOf(view))
      : await readClearing(view, input.now),
    now: input.now,
    submit: input.submit,
  };
}

function emptyReading(agreements: ClearingReading["agreements"]): ClearingReading {
  return {
    agreements,
    commits: [],
    answers: [],
    notes: [],
    state: { pairs: new Map(), commits: new Map(), settlements: [] },
  };
}

export interface PayEntry {
  facts: ClearingPayRecord;
  pending: PendingRecord;
}

export async function paysOf(store: Store): Promise<PayEntry[]> {
  const out: PayEntry[] = [];
  for (const entry of await reader(store).list<ClearingPayRecord>(["ledger", "clr", "pay"])) {
    const [, , , payer, id] = entry.key as string[];
    const pending = (await store.get<PendingRecord>(ledgerKeys.pending(payer, id)))?.value;
    if (pending) out.push({ facts: entry.value, pending });
  }
  return out;
}

/**
 * The cooperative's clearing pendings still unresolved, from the ledger's open-pending index
 * (`["ledger","open",…]`): what a run of the agent can still commit, post or void, however
 * many payments were resolved before.
 */
export async function openPaysOf(store: Store): Promise<PayEntry[]> {
  const out: PayEntry[] = [];
  for (const entry of await reader(store).list<unknown>(["ledger", "open"])) {
    const [, , , payer, , id] = entry.key as [string, string, string, string, number, string];
    const facts = (await store.get<ClearingPayRecord>(ledgerClearingKeys.pay(payer, id)))?.value;
    if (!facts) continue; // a pending inside the cooperative, not a clearing payment
    const pending = (await store.get<PendingRecord>(ledgerKeys.pending(payer, id)))?.value;
    if (pending) out.push({ facts, pending });
  }
  // The order `paysOf` gives (by payer, then id), so both paths act in the same order.
  return out.sort((a, b) =>
    a.pending.from < b.pending.from
      ? -1
      : a.pending.from > b.pending.from
      ? 1
      : a.pending.id < b.pending.id
      ? -1
      : a.pending.id > b.pending.id
      ? 1
      : 0
  );
}

export function commitOf(reading: ClearingReading, from: string, paymentId: string) {
  // The first commit of a payment id counts (duplicates change nothing).
  return reading.commits.filter((c) => c.from === from && c.id === paymentId)
    .sort((a, b) => a.ts - b.ts || (a.cid < b.cid ? -1 : 1))[0];
}

/** What one cooperative's clearing steps work on: the federation and the cooperative, held here. */
export interface ClearingSide {
  fed: { id: string; store: Store; genesis: FederationGenesis; view: FederationView };
  coop: {
    id: string;
    store: Store;
    genesis: Genesis;
    currency: Currency;
    member: FederationMember;
  };
  reading: ClearingReading;
  now: number;
  /** Signs and commits one envelope in network `net` as this delegate; throws `RejectedError` when refused. */
  submit(net: string, request: { kind: string; body: unknown }): Promise<{ cid: string }>;
}

/** Reads the federation again after this command wrote in it (a view caches what it read). */
export async function refresh(side: ClearingSide): Promise<void> {
  side.fed = {
    ...side.fed,
    view: new FederationView(reader(side.fed.store), side.fed.genesis),
  };
  side.reading = await readClearing(side.fed.view, side.now);
}

export type ClearingAction = { step: string; payment: string; cid?: string; detail?: string };

export async function commitPay(side: ClearingSide, pay: PayEntry): Promise<ClearingAction> {
  const { coop, now } = side;
  const terms = agreementAt(side.reading.agreements, coop.member.net, pay.facts.coop, now);
  const payment = pay.facts.cid;
  if (!terms) {
    throw new RejectedError(
      "no_agreement",
      `Cannot commit payment ${payment}: no agreement in force`,
    );
  }
  const converted = convertPayment(
    terms,
    coop.member.net,
    pay.facts.coop,
    BigInt(pay.pending.amount),
  );
  if ("error" in converted) {
    throw new RejectedError("bad_amount", `Cannot commit payment ${payment}: ${converted.error}`);
  }
  const expires = pay.pending.expires - pendingGraceMs;
  if (expires - now < commitLifetimeMinMs) {
    throw new RejectedError(
      "expired",
      `Cannot commit payment ${payment}: too late, it lapses at ${new Date(expires).toISOString()}`,
    );
  }
  const body = {
    id: payment,
    from: coop.member.net,
    to: pay.facts.coop,
    payer: pay.pending.from,
    payee: pay.facts.payee,
    amount: amountToBody(converted.amount),
    amountFrom: amountToBody(BigInt(pay.pending.amount)),
    amountTo: amountToBody(converted.amountTo),
    expires,
  };
  const { cid } = await side.submit(side.fed.id, { kind: commitKind, body });
  return { step: "commit", payment, cid };
}

export async function answer(
  side: ClearingSide,
  commit: CommitRecord,
  wanted: "accept" | "refuse",
  reason?: string,
): Promise<ClearingAction> {
  let choice = wanted;
  let why = reason;
  if (choice === "accept") {
    if (
      !(await isMember(reader(side.coop.store), side.coop.genesis, commit.payee, side.now))
    ) {
      choice = "refuse";
      why = `"${commit.payee}" is not a member of ${side.coop.member.name}`;
    } else {
      const refusal = checkAccept(
        side.reading.state,
        side.reading.agreements,
        side.reading.notes,
        commit,
        side.now,
      );
      if (refusal === "decided" || refusal === "expired") {
        throw new RejectedError(
          refusal,
          `Cannot accept payment ${commit.id}: it is ${
            refusal === "decided" ? "already answered" : "expired"
          }`,
        );
      }
      if (refusal !== undefined) {
        choice = "refuse";
        why = refusal === "over_limit" ? "the position would pass the agreement's limit" : refusal;
      }
    }
  }
  const body: Record<string, unknown> = { commit: commit.cid, choice };
  if (why !== undefined) body.reason = why.slice(0, 200);
  const { cid } = await side.submit(side.fed.id, { kind: answerKind, body });
  return { step: choice, payment: commit.id, cid, ...(why ? { detail: why } : {}) };
}

export async function credit(side: ClearingSide, commit: CommitRecord): Promise<ClearingAction> {
  const body = {
    federation: side.fed.id,
    from: commit.from,
    commit: commit.cid,
    payee: commit.payee,
    amount: amountToBody(commit.amountTo),
    currency: side.coop.currency.code,
    memo: `clearing payment ${commit.id} from ${commit.payer}`,
  };
  const { cid } = await side.submit(side.coop.id, { kind: clearingCreditKind, body });
  return { step: "credit", payment: commit.id, cid };
}

export async function finish(
  side: ClearingSide,
  pay: PayEntry,
): Promise<ClearingAction | undefined> {
  const commit = commitOf(side.reading, side.coop.member.net, pay.facts.cid);
  if (!commit) return undefined;
  const status = side.reading.state.commits.get(commit.cid)?.status;
  if (status !== "accepted" && status !== "refused") return undefined;
  const kind = status === "accepted" ? postKind : voidKind;
  const { cid } = await side.submit(side.coop.id, {
    kind,
    body: { payer: pay.pending.from, id: pay.pending.id },
  });
  return { step: status === "accepted" ? "post" : "void", payment: pay.facts.cid, cid };
}

export async function credited(side: ClearingSide, commit: string): Promise<boolean> {
  return (await side.coop.store.get(
    ledgerClearingKeys.credit(side.fed.id, commit),
  )) != null;
}

export async function bookSettlements(side: ClearingSide): Promise<ClearingAction[]> {
  const out: ClearingAction[] = [];
  const me = side.coop.member.net;
  for (const s of side.reading.state.settlements) {
    if (s.status !== "applied" || (s.payer !== me && s.payee !== me)) continue;
    if (await side.coop.store.get(ledgerClearingKeys.settle(side.fed.id, s.id))) {
      continue;
    }
    const partner = s.payer === me ? s.payee : s.payer;
    const terms = side.reading.agreements.filter((a) => pairOf(a.coopA, a.coopB).key === s.pair).at(
      -1,
    );
    const rate = terms ? (terms.coopA === me ? terms.rateA : terms.rateB) : undefined;
    const amount = rate ? fromFederation(s.amount, rate) : undefined;
    if (amount === undefined) continue;
    const body = {
      federation: side.fed.id,
      partner,
      id: s.id,
      direction: s.payer === me ? "paid" : "received",
      amount: amountToBody(amount),
      currency: side.coop.currency.code,
    };
    const { cid } = await side.submit(side.coop.id, {
      kind: clearingSettleKind,
      body,
    });
    out.push({ step: "book-settlement", payment: s.id, cid });
  }
  return out;
}

/** Every step due for the cooperative, in order; what the agent does as envelopes arrive. */
export async function clearingSteps(side: ClearingSide): Promise<ClearingAction[]> {
  const actions: ClearingAction[] = [];
  const me = side.coop.member.net;
  const pays = await paysOf(side.coop.store);
  // 1. Commit the members' open payments the federation has not seen.
  for (const pay of pays) {
    if (pendingStatus(pay.pending, side.now) !== "open") continue;
    if (commitOf(side.reading, me, pay.facts.cid)) continue;
    if (await side.fed.store.get(clearingKeys.paymentId(me, pay.facts.cid))) continue;
    try {
      actions.push(await commitPay(side, pay));
    } catch (error) {
      if (!(error instanceof RejectedError)) throw error;
      // The agreement ended or the payment lapsed: release the member's reservation.
      const { cid } = await side.submit(side.coop.id, {
        kind: voidKind,
        body: { payer: pay.pending.from, id: pay.pending.id },
      });
      actions.push({ step: "void", payment: pay.facts.cid, cid, detail: error.message });
    }
  }
  await refresh(side);
  // 2. Answer payments to this cooperative.
  for (const commit of side.reading.commits) {
    if (commit.to !== me || side.reading.state.commits.get(commit.cid)?.status !== "open") continue;
    actions.push(await answer(side, commit, "accept"));
    await refresh(side);
  }
  // 3. Credit the payees of accepted payments.
  for (const commit of side.reading.commits) {
    if (commit.to !== me || side.reading.state.commits.get(commit.cid)?.status !== "accepted") {
      continue;
    }
    if (await credited(side, commit.cid)) continue;
    actions.push(await credit(side, commit));
  }
  // 4. Post or void the members' pendings once answered.
  for (const pay of await paysOf(side.coop.store)) {
    if (pendingStatus(pay.pending, side.now) !== "open") continue;
    const done = await finish(side, pay);
    if (done) actions.push(done);
  }
  // 5. Book settlements both sides noted.
  actions.push(...await bookSettlements(side));
  return actions;
}

/**
 * What an agent remembers between runs: work that needs a step but is in no open index, because
 * it was decided (a payment to the cooperative accepted but not yet credited) or applied (a
 * settlement not yet booked). Filled by `openWorkSteps` (each payment it saw open or answered)
 * and by the envelopes the node accepts (`watchEnvelope`: answers, settlement notes); an entry
 * leaves once nothing more is due for it.
 */
export interface ClearingWatch {
  /** Commit CIDs of payments to the cooperative, until credited, refused or lapsed. */
  commits: Set<string>;
  /** Settlements, as [pair key, id] joined by a space, until booked or mismatched. */
  settlements: Set<string>;
}

export function newClearingWatch(): ClearingWatch {
  return { commits: new Set(), settlements: new Set() };
}

/** Remembers what an accepted envelope may make due: an answer's commit, a settlement note. */
export function watchEnvelope(
  watch: ClearingWatch,
  envelope: { kind: string; body: unknown },
): void {
  const body = envelope.body as Record<string, unknown> | null;
  if (typeof body !== "object" || body === null) return;
  if (envelope.kind === answerKind && typeof body.commit === "string") {
    watch.commits.add(body.commit);
  } else if (
    envelope.kind === settleKind && typeof body.payer === "string" &&
    typeof body.payee === "string" && typeof body.id === "string"
  ) {
    watch.settlements.add(`${pairOf(body.payer, body.payee).key} ${body.id}`);
  }
}

/** A reading of one commit's pair from the stored state: what a step on that commit needs. */
async function pairReading(side: ClearingSide, commit: CommitRecord): Promise<ClearingReading> {
  const { state, notes } = await readStoredPair(
    reader(side.fed.store),
    side.reading.agreements,
    { x: commit.from, y: commit.to },
    [commit],
    side.now,
  );
  return { agreements: side.reading.agreements, commits: [commit], answers: [], notes, state };
}

async function commitRecord(side: ClearingSide, cid: string): Promise<CommitRecord | undefined> {
  return (await side.fed.store.get<CommitRecord>(clearingKeys.commit(cid)))?.value;
}

/**
 * The steps `clearingSteps` does, reading only what can need one: the cooperative's unresolved
 * clearing pendings (commit, post or void), the federation's undecided commits (answer), and
 * what `watch` holds (credit, book); each payment's outcome is read by its key. So a run's reads
 * grow with the open work, not with the payments decided before. A store without stored
 * positions (written before they were) is read in full, as `clearingSteps` does.
 * `side` is opened with `read: "open"`.
 */
export async function openWorkSteps(
  side: ClearingSide,
  watch: ClearingWatch,
): Promise<ClearingAction[]> {
  if (!(await hasStoredState(reader(side.fed.store)))) {
    await refresh(side);
    return await clearingSteps(side);
  }
  const actions: ClearingAction[] = [];
  const me = side.coop.member.net;
  const agreements = side.reading.agreements;
  // 1. Commit the members' open payments the federation has not seen.
  for (const pay of await openPaysOf(side.coop.store)) {
    if (pendingStatus(pay.pending, side.now) !== "open") continue;
    if (await side.fed.store.get(clearingKeys.paymentId(me, pay.facts.cid))) continue;
    try {
      actions.push(await commitPay(side, pay));
    } catch (error) {
      if (!(error instanceof RejectedError)) throw error;
      const { cid } = await side.submit(side.coop.id, {
        kind: voidKind,
        body: { payer: pay.pending.from, id: pay.pending.id },
      });
      actions.push({ step: "void", payment: pay.facts.cid, cid, detail: error.message });
    }
  }
  // 2. Answer payments to this cooperative: the undecided commits, each against its pair as
  // stored now (so an accept counts the ones before it).
  const open = await reader(side.fed.store).list<OpenCommit>(clearingStateKeys.openPrefix);
  for (const { key, value } of open) {
    if (value.to !== me || side.now > value.expires) continue;
    const commit = await commitRecord(side, key[3] as string);
    if (!commit) continue;
    watch.commits.add(commit.cid);
    side.reading = await pairReading(side, commit);
    if (side.reading.state.commits.get(commit.cid)?.status !== "open") continue;
    actions.push(await answer(side, commit, "accept"));
  }
  // 3. Credit the payees of accepted payments.
  for (const cid of [...watch.commits].sort()) {
    const commit = await commitRecord(side, cid);
    if (!commit || commit.to !== me) {
      watch.commits.delete(cid);
      continue;
    }
    const status = (await pairReading(side, commit)).state.commits.get(cid)?.status;
    if (status === "accepted") {
      if (!(await credited(side, cid))) actions.push(await credit(side, commit));
      watch.commits.delete(cid);
    } else if (status === "refused" || side.now > commit.expires + pendingGraceMs) {
      // Refused, or unanswered past the payer's grace (a late answer is watched again).
      watch.commits.delete(cid);
    }
  }
  // 4. Post or void the members' pendings once answered.
  for (const pay of await openPaysOf(side.coop.store)) {
    if (pendingStatus(pay.pending, side.now) !== "open") continue;
    const cid = (await side.fed.store.get<string>(clearingKeys.paymentId(me, pay.facts.cid)))
      ?.value;
    const commit = cid === undefined ? undefined : await commitRecord(side, cid);
    if (!commit) continue;
    side.reading = await pairReading(side, commit);
    const done = await finish(side, pay);
    if (done) actions.push(done);
  }
  // 5. Book settlements both sides noted.
  for (const entry of [...watch.settlements].sort()) {
    const [pair, id] = entry.split(" ");
    const stored = (await side.fed.store.get<StoredSettlement>(
      clearingStateKeys.settlement(pair, id),
    ))?.value;
    if (stored?.status === "noted" && (stored.payer === me || stored.payee === me)) {
      continue; // the other side's note is to come
    }
    if (stored?.status !== "applied" || (stored.payer !== me && stored.payee !== me)) {
      watch.settlements.delete(entry);
      continue;
    }
    const { notes: _, ...settlement } = stored;
    side.reading = emptyReading(agreements);
    side.reading.state.settlements.push(settlement);
    const booked = await bookSettlements(side);
    actions.push(...booked);
    // Booked now or before; one without a rate to book it at stays watched, as it stayed due.
    if (
      booked.length > 0 ||
      await side.coop.store.get(ledgerClearingKeys.settle(side.fed.id, id))
    ) {
      watch.settlements.delete(entry);
    }
  }
  side.reading = emptyReading(agreements);
  return actions;
}

/** What a `ClearingAgent` uses. */
export interface ClearingAgentDeps {
  fed: { id: string; store: Store };
  coop: { id: string; store: Store };
  /** This node's identity: it acts only while a delegate of the cooperative. */
  did: string;
  clock: { now(): number };
  submit: ClearingSide["submit"];
  logger: Logger;
  signal: AbortSignal;
}

/** How often the agent looks again with nothing arriving (an unanswered payment's time passes). */
export const clearingAgentIntervalMs = 30_000;
/** Runs in a row while envelopes keep arriving, before it waits for the interval. */
export const clearingAgentRunsMax = 8;

/**
 * `federation.agent` on a delegate's node: runs `clearingSteps` for one cooperative in one
 * federation when an envelope of either network is accepted (`notify`) and every
 * `intervalMs`, one run at a time; failures are logged and retried at the next run. Only the
 * agent of the cooperative's first-listed delegate acts; another delegate's stands by.
 */
export class ClearingAgent {
  readonly #deps: ClearingAgentDeps;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** Steps done since start, for status and tests. */
  actions = 0;
  /** Whether the last run found another delegate's agent the one that answers. */
  #standingBy = false;
  /** Decided work that no open index holds, remembered between runs (`openWorkSteps`). */
  readonly #watch = newClearingWatch();
  /**
   * Whether a run read everything once since start: what was decided or applied while no agent
   * was watching (the node was down) is found by that run; later runs read the open work only.
   */
  #caughtUp = false;

  constructor(deps: ClearingAgentDeps, options: { intervalMs?: number } = {}) {
    this.#deps = deps;
    this.#intervalMs = options.intervalMs ?? clearingAgentIntervalMs;
  }

  start(): void {
    this.#timer = setInterval(() => this.notify(), this.#intervalMs);
    this.#deps.signal.addEventListener("abort", () => this.stop(), { once: true });
    this.notify();
  }

  /** Waits for the run in progress, then stops looking. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /**
   * Something arrived: run now, or once more after the run in progress. The node passes the
   * envelope it accepted, so an answer or settlement note is remembered for the next run.
   */
  notify(envelope?: { kind: string; body: unknown }): void {
    if (this.#deps.signal.aborted) return;
    if (envelope) watchEnvelope(this.#watch, envelope);
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => (this.#running = undefined));
  }

  /** Resolves when no run is in progress (tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    for (let run = 0; run < clearingAgentRunsMax && !this.#deps.signal.aborted; run++) {
      this.#again = false;
      await this.#runOnce();
      if (!this.#again) return;
    }
  }

  async #runOnce(): Promise<void> {
    const { fed, coop, did, clock, submit, logger } = this.#deps;
    try {
      const now = clock.now();
      const side = await openClearingSide({ fed, coop, now, submit, read: "open" });
      const current = await side.fed.view.delegatesAt(coop.id, now);
      if (!current?.delegates.includes(did)) return;
      // One agent answers for a cooperative: its first-listed delegate's. Two agents of one
      // cooperative accepting at once could take a position past its limit in the derived order
      // (docs/clearing.md, "One agent per cooperative"); the others stand by.
      if (current.delegates[0] !== did) {
        if (!this.#standingBy) {
          logger.info("clearing_agent_standby", {
            federation: fed.id,
            coop: coop.id,
            agent: current.delegates[0],
          });
        }
        this.#standingBy = true;
        return;
      }
      this.#standingBy = false;
      let actions: ClearingAction[];
      if (this.#caughtUp) actions = await openWorkSteps(side, this.#watch);
      else {
        await refresh(side);
        actions = await clearingSteps(side);
        this.#caughtUp = true;
      }
      this.actions += actions.length;
      for (const action of actions) {
        logger.info("clearing_step", { ...action, federation: fed.id, coop: coop.id });
      }
    } catch (error) {
      logger.warn("clearing_agent_failed", {
        federation: fed.id,
        coop: coop.id,
        error: (error as Error).message,
      });
    }
  }
}
