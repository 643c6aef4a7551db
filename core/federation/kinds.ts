/**
 * Kind handlers of the federation network: `fed.delegates`, `fed.proposal`,
 * `fed.vote`, `fed.vouch`. Each checks its body strictly and against the
 * federation's state at the envelope's time, and stores the record;
 * outcomes are derived on read (`view.ts`). Authors are delegates: a DID acts
 * in the federation only for a cooperative whose delegate it is at that time.
 *
 * Registered for federation networks only (`kindRegistryFor("federation")` in
 * `core/kinds.ts`, which says why).
 */
import type { ApplyContext, KindHandler } from "../chain/ingest.ts";
import { utf8Encode } from "../bytes.ts";
import { RejectedError, shown } from "../errors.ts";
import { genesisId, validateGenesis } from "../governance/genesis.ts";
import { type Choice, choices, type Rules } from "../governance/tally.ts";
import { checkBallot, checkMethodSpec, type MethodBallot } from "../governance/methods/mod.ts";
import { checkRevealTime, commitmentPattern, isSalt } from "../governance/secret.ts";
import { coopCommitment } from "./methods.ts";
import type { Params } from "../params.ts";
import {
  array,
  checkShape,
  did,
  integer,
  isPlainMap,
  literal,
  natural,
  record,
  type Shape,
  ShapeError,
  string,
} from "../strict.ts";
import { checkClearingAction, clearingKinds } from "./clearing_kinds.ts";
import { delegatesPerCoopMax, type FederationGenesis, federationNameLengthMax } from "./genesis.ts";
import {
  type FederationProposalKind,
  federationProposalKinds,
  federationRulesFor,
  validateFederationParam,
  voteWeightOf,
} from "./params.ts";
import { scoreScale } from "../trust/edge.ts";
import {
  type AdmitAction,
  type DelegatesRecord,
  type FederationAction,
  type FederationIndexEntry,
  federationKeys,
  type FederationProposalRecord,
  type FederationRevealRecord,
  FederationView,
  type FederationVoteRecord,
  type VouchRecord,
} from "./view.ts";
import { bodyBytesMax, reasonLengthMax, titleLengthMax } from "../governance/text_limits.ts";

/** Same limits as a cooperative's proposals. */
export { bodyBytesMax, reasonLengthMax, titleLengthMax };
/** Parameters one config proposal may set. */
export const configKeysMax = 64;
/** A member count a delegate may report: far above any cooperative, far below float trouble. */
export const coopMembersMax = 10_000_000;

function reject(reason: string, message: string): never {
  throw new RejectedError(reason, message);
}

/** A CIDv1 in base32: a network id or a proposal id. */
const cidShape = string({ min: 8, max: 128, pattern: /^b[a-z2-7]+$/ });

/** Sorted, distinct DIDs. */
const delegatesShape: Shape<string[]> = (value, path) => {
  const list = array(did, { min: 1, max: delegatesPerCoopMax })(value, path);
  for (let i = 1; i < list.length; i++) {
    if (list[i - 1] >= list[i]) throw new ShapeError(path, "must be sorted and distinct");
  }
  return list;
};

function body<T>(shape: Shape<T>, value: unknown, what: string): T {
  return checkShape(shape, value, {
    what,
    refuse: (message) => new RejectedError("bad_body", message),
  });
}

async function federationOf(ctx: ApplyContext): Promise<FederationView> {
  if (ctx.net === null || ctx.envelope.net !== ctx.net) {
    reject("wrong_network", "Federation envelopes need a joined federation network");
  }
  const genesis = await ctx.state.get<FederationGenesis>(federationKeys.genesis);
  if (!genesis) reject("wrong_network", `Network ${ctx.net} is not a federation`);
  return new FederationView(ctx.state, genesis);
}

/** The author must be a delegate of `coop` at the envelope's time. */
async function requireDelegate(
  view: FederationView,
  coop: string,
  ctx: ApplyContext,
  action: string,
): Promise<{ name: string; members: number }> {
  const { author, ts } = ctx.envelope;
  const member = (await view.coopsAt(ts)).get(coop);
  if (!member) {
    reject(
      "not_in_federation",
      `Cannot ${action} on behalf of cooperative ${coop}: it is not in the federation`,
    );
  }
  const current = await view.delegatesAt(coop, ts);
  if (!current?.delegates.includes(author)) {
    reject(
      "not_delegate",
      `Cannot ${action} on behalf of "${member.name}": "${author}" is not one of its delegates`,
    );
  }
  return { name: member.name, members: current.members };
}

const delegatesBodyShape = record({
  coop: cidShape,
  delegates: delegatesShape,
  members: integer({ min: 1, max: coopMembersMax }),
  proposal: cidShape,
});

/**
 * A current delegate records its cooperative's new delegate set, citing the
 * cooperative's executed proposal. Every node accepts it on the delegate's
 * signature alone, so all reach the same federation state; a node that also
 * holds the cooperative's network checks the citation and reports a mismatch.
 */
const delegates: KindHandler = {
  async apply(ctx) {
    const view = await federationOf(ctx);
    const b = body(delegatesBodyShape, ctx.envelope.body, "delegate set");
    await requireDelegate(view, b.coop, ctx, "record delegates");
    const stored: DelegatesRecord = {
      ...b,
      author: ctx.envelope.author,
      ts: ctx.envelope.ts,
      cid: ctx.cid,
    };
    ctx.state.set(federationKeys.delegates(b.coop, ctx.envelope.ts, ctx.cid), stored);
  },
};

const rulesShape = record({
  quorum: integer({ min: 0, max: 100 }),
  approval: integer({ min: 0, max: 100 }),
  votingPeriod: natural,
  timelock: natural,
  mode: literal("majority", "consent"),
}, {
  revealWindow: natural,
  extendOnLateQuorum: integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
});

const proposalBodyShape = record({
  coop: cidShape,
  kind: literal(...federationProposalKinds),
  title: string({ min: 1, max: titleLengthMax, pattern: /\S/ }),
  body: string({ max: bodyBytesMax }),
  action: (value: unknown, path: string) => {
    if (!isPlainMap(value)) throw new ShapeError(path, "must be a map");
    return value;
  },
  rules: rulesShape,
}, {
  // Checked by the method rule (`checkMethodSpec`) in the handler.
  method: (value: unknown) => value,
  secret: literal(true),
});

const admitShape = record({
  genesis: (value: unknown) => value,
  name: string({ min: 1, max: federationNameLengthMax, pattern: /\S/ }),
  delegates: delegatesShape,
});

function sameRules(a: Rules, b: Rules): boolean {
  return a.quorum === b.quorum && a.approval === b.approval &&
    a.votingPeriod === b.votingPeriod && a.timelock === b.timelock && a.mode === b.mode &&
    a.revealWindow === b.revealWindow && a.extendOnLateQuorum === b.extendOnLateQuorum;
}

async function checkAction(
  view: FederationView,
  kind: FederationProposalKind,
  action: Record<string, unknown>,
  ts: number,
  proposer: string,
): Promise<{ action: FederationAction; target?: string }> {
  const coops = await view.coopsAt(ts);
  switch (kind) {
    case "text":
      if (Object.keys(action).length !== 0) reject("bad_action", "A text proposal has no action");
      return { action: {} };
    case "admit": {
      const a = body(admitShape, action, "admission");
      try {
        validateGenesis(a.genesis);
      } catch (error) {
        reject("bad_action", `Cannot propose to admit "${a.name}": ${(error as Error).message}`);
      }
      const net = await genesisId(a.genesis);
      if (coops.has(net)) {
        reject(
          "bad_action",
          `Cannot propose to admit "${a.name}": ${net} is already in the federation`,
        );
      }
      if ([...coops.values()].some((c) => c.name === a.name)) {
        reject("bad_action", `Cannot propose to admit "${a.name}": a cooperative has that name`);
      }
      const founders = new Set(a.genesis.members);
      for (const delegate of a.delegates) {
        if (!founders.has(delegate)) {
          reject(
            "bad_action",
            `Cannot propose to admit "${a.name}": delegate "${delegate}" is not a founder in its genesis`,
          );
        }
      }
      return { action: a as AdmitAction, target: net };
    }
    case "remove": {
      const a = body(record({ coop: cidShape }), action, "removal");
      if (!coops.has(a.coop)) {
        reject(
          "bad_action",
          `Cannot propose to remove cooperative ${a.coop}: it is not in the federation`,
        );
      }
      return { action: a, target: a.coop };
    }
    case "clearing":
      return await checkClearingAction(view, action, ts, proposer) as unknown as {
        action: FederationAction;
        target: string;
      };
    case "config": {
      const a = body(
        record({
          set: (value: unknown, path: string) => {
            if (!isPlainMap(value)) throw new ShapeError(path, "must be a map");
            return value as Params;
          },
        }),
        action,
        "config",
      );
      const entries = Object.entries(a.set);
      if (entries.length === 0 || entries.length > configKeysMax) {
        reject(
          "bad_action",
          `A config proposal sets 1 to ${configKeysMax} keys, not ${entries.length}`,
        );
      }
      for (const [key, value] of entries) {
        try {
          validateFederationParam(key, value);
        } catch (error) {
          reject("bad_action", (error as Error).message);
        }
      }
      return { action: a };
    }
  }
}

const proposal: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const view = await federationOf(ctx);
    const b = body(proposalBodyShape, envelope.body, "federation proposal");
    const bytes = utf8Encode(b.body).length;
    if (bytes > bodyBytesMax) {
      reject("bad_body", `Proposal body is ${bytes} bytes, at most ${bodyBytesMax}`);
    }
    await requireDelegate(view, b.coop, ctx, "propose");
    let method;
    if (b.method !== undefined) {
      try {
        method = checkMethodSpec(b.method);
      } catch (error) {
        reject("bad_method", (error as Error).message);
      }
      if (b.kind !== "text") {
        reject(
          "bad_method",
          `A federation ${b.kind} proposal is decided for or against: the ${method.name} method is for text proposals`,
        );
      }
    }
    if (b.secret && b.kind === "clearing") {
      reject("bad_body", "A clearing agreement is voted openly by its two cooperatives");
    }
    const params = await view.paramsAt(envelope.ts);
    const rules = federationRulesFor(params, b.kind, { secret: b.secret === true });
    if (!sameRules(rules, b.rules)) {
      reject("stale_rules", `Proposal rules do not match the federation ${b.kind} rules in force`);
    }
    const { action, target } = await checkAction(view, b.kind, b.action, envelope.ts, b.coop);
    const closes = envelope.ts + rules.votingPeriod;
    const stored: FederationProposalRecord = {
      id: cid,
      author: envelope.author,
      coop: b.coop,
      kind: b.kind,
      title: b.title,
      text: b.body,
      action,
      rules,
      weight: voteWeightOf(params),
      opened: envelope.ts,
      closes,
      // A secret proposal's outcome is known only once the reveal window ends.
      effective: closes + (rules.revealWindow ?? 0) + rules.timelock,
    };
    if (target !== undefined) stored.target = target;
    if (method) stored.method = method;
    if (b.secret) stored.secret = true;
    const entry: FederationIndexEntry = {
      id: cid,
      kind: b.kind,
      opened: envelope.ts,
      closes,
      effective: stored.effective,
    };
    ctx.state.set(federationKeys.proposal(cid), stored);
    ctx.state.set(federationKeys.index(b.kind, cid), entry);
  },
};

/** One of `choice`, `ballot` or `commitment`, as the proposal asks (checked in the handler). */
const voteBodyShape = record({
  proposal: cidShape,
  coop: cidShape,
}, {
  choice: (value: unknown) => value,
  ballot: (value: unknown) => value,
  commitment: (value: unknown) => value,
  reason: string({ max: reasonLengthMax }),
});

/** A for/against choice, checked against the proposal's mode. */
function checkedChoice(record: FederationProposalRecord, choice: unknown): Choice {
  if (!(choices as readonly unknown[]).includes(choice)) {
    reject("bad_body", `Unknown vote "${shown(choice)}": use for, against, abstain or block`);
  }
  if (choice === "block" && record.rules.mode !== "consent") {
    reject("bad_body", "Cannot block: this proposal is decided by majority, not consent");
  }
  return choice as Choice;
}

/** The method rule's verdict on a ballot, as a rejection. */
function checkedBallot(record: FederationProposalRecord, ballot: unknown): MethodBallot {
  try {
    return checkBallot(record.method!, ballot);
  } catch (error) {
    reject("bad_ballot", (error as Error).message);
  }
}

/** Which of choice, ballot and commitment a vote on `record` carries; the others are refused. */
function voteContent(
  record: FederationProposalRecord,
  b: { choice?: unknown; ballot?: unknown; commitment?: unknown; reason?: string },
): Pick<FederationVoteRecord, "choice" | "ballot" | "commitment"> {
  const only = (field: "choice" | "ballot" | "commitment", what: string) => {
    for (const other of ["choice", "ballot", "commitment"] as const) {
      if (other !== field && b[other] !== undefined) {
        reject("bad_body", `A vote on "${record.id}" carries ${what}, not a ${other}`);
      }
    }
    if (b[field] === undefined) reject("bad_body", `A vote on "${record.id}" needs ${what}`);
  };
  if (record.secret) {
    only("commitment", "a commitment (secret ballot)");
    if (b.reason !== undefined) reject("bad_body", "A secret vote carries no reason");
    if (typeof b.commitment !== "string" || !commitmentPattern.test(b.commitment)) {
      reject("bad_body", "A secret vote carries a commitment: 64 lowercase hex characters");
    }
    return { commitment: b.commitment };
  }
  if (record.method) {
    only("ballot", `a ${record.method.name} ballot`);
    return { ballot: checkedBallot(record, b.ballot) };
  }
  only("choice", "a choice");
  return { choice: checkedChoice(record, b.choice) };
}

const vote: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const view = await federationOf(ctx);
    const b = body(voteBodyShape, envelope.body, "federation vote");
    const record = await view.proposal(b.proposal);
    if (!record) reject("unknown_proposal", `Unknown federation proposal "${b.proposal}"`);
    const content = voteContent(record, b);
    // The derived close: later than the stored one when quorum came late (`extendOnLateQuorum`).
    const { closes } = await view.timing(record);
    if (envelope.ts > closes) {
      reject(
        "closed",
        `Cannot vote on "${record.id}": voting closed at ${new Date(closes).toISOString()}`,
      );
    }
    const eligible = await view.coopsAt(record.opened);
    if (!eligible.has(b.coop)) {
      reject(
        "not_eligible",
        `Cannot vote on "${record.id}" for cooperative ${b.coop}: it was not in the federation when the proposal opened`,
      );
    }
    await requireDelegate(view, b.coop, ctx, `vote on "${record.id}"`);
    const key = federationKeys.vote(record.id, b.coop, envelope.author);
    const previous = await ctx.state.get<FederationVoteRecord>(key);
    // The delegate's earliest vote on it dates its cooperative's part in quorum (late quorum),
    // whatever it voted after and whatever order the votes arrive in.
    const first = Math.min(envelope.ts, previous ? previous.first ?? previous.ts : envelope.ts);
    if (previous && previous.seq > envelope.seq) {
      if (first < (previous.first ?? previous.ts)) ctx.state.set(key, { ...previous, first });
      return;
    }
    const stored: FederationVoteRecord = {
      coop: b.coop,
      did: envelope.author,
      ...content,
      ts: envelope.ts,
      seq: envelope.seq,
      cid,
    };
    if (first < envelope.ts) stored.first = first;
    if (b.reason !== undefined) stored.reason = b.reason;
    ctx.state.set(key, stored);
  },
};

const revealBodyShape = record({
  proposal: cidShape,
  coop: cidShape,
  ballot: (value: unknown) => value,
  salt: string({ min: 64, max: 64 }),
});

/**
 * `fed.reveal`: a delegate of the cooperative opens its secret ballot after
 * the close and within the reveal window. The ballot must fit the proposal
 * and is stored under the commitment it opens (the cooperative as the voter);
 * the tally counts it when that is the cooperative's latest commitment, which
 * a vote by another delegate may settle later, so a node accepts a reveal
 * whatever votes it holds yet (arrival order changes nothing). Submitted
 * locally, a reveal that opens none of the cooperative's votes is refused.
 */
const reveal: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const view = await federationOf(ctx);
    const b = body(revealBodyShape, envelope.body, "federation reveal");
    const record = await view.proposal(b.proposal);
    if (!record) reject("unknown_proposal", `Unknown federation proposal "${b.proposal}"`);
    if (!record.secret) reject("not_secret", `Cannot reveal on "${record.id}": its ballot is open`);
    const ballot = record.method
      ? checkedBallot(record, b.ballot)
      : checkedChoice(record, b.ballot);
    if (!isSalt(b.salt)) reject("bad_body", "Reveal salt must be 64 lowercase hex characters");
    checkRevealTime(record.id, envelope.ts, await view.timing(record));
    await requireDelegate(view, b.coop, ctx, `reveal on "${record.id}"`);
    const commitment = coopCommitment(record.id, b.coop, { ballot, salt: b.salt });
    if (ctx.source === "local") {
      const votes = (await view.votes(record.id)).filter((v) => v.coop === b.coop);
      if (!votes.some((v) => v.commitment === commitment)) {
        reject(
          "bad_reveal",
          `Cannot reveal on "${record.id}": the ballot and salt open none of the cooperative's votes`,
        );
      }
    }
    // Every reveal of one commitment opens the same ballot. Each is kept: the window it must
    // fall in is derived on read (a late quorum can move the close after a node accepted it).
    const key = federationKeys.reveal(record.id, b.coop, commitment, cid);
    const stored: FederationRevealRecord = {
      coop: b.coop,
      commitment,
      ballot,
      salt: b.salt,
      did: envelope.author,
      ts: envelope.ts,
      cid,
    };
    ctx.state.set(key, stored);
  },
};

const vouchBodyShape = record({
  from: cidShape,
  to: cidShape,
  score: integer({ min: 0, max: scoreScale }),
}, { expires: natural });

const vouch: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const view = await federationOf(ctx);
    const b = body(vouchBodyShape, envelope.body, "cooperative vouch");
    await requireDelegate(view, b.from, ctx, "vouch");
    if (b.to === b.from) reject("trust_self", "A cooperative cannot vouch for itself");
    if (!(await view.coopsAt(envelope.ts)).has(b.to)) {
      reject(
        "not_in_federation",
        `Cannot vouch for cooperative ${b.to}: it is not in the federation`,
      );
    }
    if (b.expires !== undefined && b.expires <= envelope.ts) {
      reject(
        "trust_expires",
        `Vouch expiry ${b.expires} is not after the envelope time ${envelope.ts}`,
      );
    }
    const key = federationKeys.vouch(b.from, b.to);
    const previous = await ctx.state.get<VouchRecord>(key);
    // One record per pair: the latest (by time, then CID) replaces the earlier.
    if (
      previous && (previous.ts > envelope.ts || (previous.ts === envelope.ts && previous.cid > cid))
    ) {
      return;
    }
    const stored: VouchRecord = { ...b, ts: envelope.ts, author: envelope.author, cid };
    ctx.state.set(key, stored);
  },
};

/** `fed.*` handlers, served in federation networks only (see the module comment). */
export const federationKinds: ReadonlyMap<string, KindHandler> = new Map([
  ["fed.delegates", delegates],
  ["fed.proposal", proposal],
  ["fed.vote", vote],
  ["fed.reveal", reveal],
  ["fed.vouch", vouch],
  ...clearingKinds,
]);
