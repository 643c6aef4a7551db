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
import { RejectedError } from "../errors.ts";
import { genesisId, validateGenesis } from "../governance/genesis.ts";
import { choices, type Rules } from "../governance/tally.ts";
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
  FederationView,
  type FederationVoteRecord,
  type VouchRecord,
} from "./view.ts";

/** Same limits as a cooperative's proposals. */
export const titleLengthMax = 200;
export const bodyBytesMax = 16 * 1024;
export const reasonLengthMax = 1000;
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
});

const admitShape = record({
  genesis: (value: unknown) => value,
  name: string({ min: 1, max: federationNameLengthMax, pattern: /\S/ }),
  delegates: delegatesShape,
});

function sameRules(a: Rules, b: Rules): boolean {
  return a.quorum === b.quorum && a.approval === b.approval &&
    a.votingPeriod === b.votingPeriod && a.timelock === b.timelock && a.mode === b.mode;
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
    const params = await view.paramsAt(envelope.ts);
    const rules = federationRulesFor(params, b.kind);
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
      effective: closes + rules.timelock,
    };
    if (target !== undefined) stored.target = target;
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

const voteBodyShape = record({
  proposal: cidShape,
  coop: cidShape,
  choice: literal(...choices),
}, { reason: string({ max: reasonLengthMax }) });

const vote: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const view = await federationOf(ctx);
    const b = body(voteBodyShape, envelope.body, "federation vote");
    const record = await view.proposal(b.proposal);
    if (!record) reject("unknown_proposal", `Unknown federation proposal "${b.proposal}"`);
    if (b.choice === "block" && record.rules.mode !== "consent") {
      reject("bad_body", "Cannot block: this proposal is decided by majority, not consent");
    }
    if (envelope.ts > record.closes) {
      reject(
        "closed",
        `Cannot vote on "${record.id}": voting closed at ${new Date(record.closes).toISOString()}`,
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
    if (previous && previous.seq > envelope.seq) return;
    const stored: FederationVoteRecord = {
      coop: b.coop,
      did: envelope.author,
      choice: b.choice,
      ts: envelope.ts,
      seq: envelope.seq,
      cid,
    };
    if (b.reason !== undefined) stored.reason = b.reason;
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
  ["fed.vouch", vouch],
  ...clearingKinds,
]);
