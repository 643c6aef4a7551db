/**
 * Kind handlers of governance envelopes: `gov.proposal`, `gov.vote`,
 * `gov.delegate`, `gov.undelegate`, `gov.cancel`. Each validates its body
 * against state and stores the record; outcomes are derived on read
 * (`view.ts`), never stored, so arrival order cannot change them.
 */
import type { ApplyContext, KindHandler } from "../chain/ingest.ts";
import { chainKeys } from "../chain/keys.ts";
import { toHex, utf8Encode } from "../bytes.ts";
import { RejectedError, shown } from "../errors.ts";
import { parseDid } from "../identity/did.ts";
import { sha256 } from "../identity/keys.ts";
import { amountMinorMaxNumber } from "../ledger/amount.ts";
import { maxBalanceOverridePrefix } from "../ledger/params.ts";
import { type ParamValue, validateParam } from "../params.ts";
import type { Genesis } from "./genesis.ts";
import { delegatesPerCoopMax } from "../federation/genesis.ts";
import { type CooperativeProposalKind, cooperativeProposalKinds } from "./params.ts";
import { type Choice, choices, type Rules } from "./tally.ts";
import { checkBallot, checkMethodSpec, type MethodBallot, type MethodSpec } from "./methods/mod.ts";
import { ballotCommitment, checkRevealTime, commitmentPattern, isSalt } from "./secret.ts";
import {
  compareVersions,
  type ConfigAction,
  creditOverridePrefix,
  type DelegatesAction,
  type DelegationRecord,
  GovernanceView,
  govKeys,
  type IndexEntry,
  type MembershipAction,
  type ProposalAction,
  type ProposalRecord,
  type RevealRecord,
  rulesFor,
  type UpgradeAction,
  type VoteRecord,
} from "./view.ts";
import { bodyBytesMax, reasonLengthMax, titleLengthMax } from "./text_limits.ts";

/** Limits (issue: governance), in `text_limits.ts` so the command tree loads none of the rules. */
export { bodyBytesMax, reasonLengthMax, titleLengthMax };
/** Parameters one config proposal may set; bounds the work of every paramsAt. */
export const configKeysMax = 64;
/** Nodes visited by the delegation cycle check. */
const cycleVisitsMax = 100_000;
/** Largest credit override, in minor units (same bound as credit.baseline: the largest amount). */
export const creditOverrideMax = amountMinorMaxNumber;

const semverPattern = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

export interface ProposalBody {
  kind: CooperativeProposalKind;
  title: string;
  body: string;
  action: ProposalAction;
  rules: Rules;
  /** A decision method other than for/against (text proposals only). */
  method?: MethodSpec;
  /** Secret ballot: votes carry commitments, revealed after the close. */
  secret?: true;
}

/** One of `choice` (proposal method), `ballot` (other methods) or `commitment` (secret). */
export interface VoteBody {
  proposal: string;
  choice?: string;
  ballot?: MethodBallot;
  /** hex SHA-256 commitment (see `secret.ts`). */
  commitment?: string;
  reason?: string;
}

/** Opens a secret vote after the close. */
export interface RevealBody {
  proposal: string;
  ballot: Choice | MethodBallot;
  salt: string;
}

export interface DelegateBody {
  to: string;
  scope: string;
  expires?: number;
}

/** Advances the governance revision (see `GovernanceView`) after a governance write. */
async function bumpRevision(ctx: ApplyContext): Promise<void> {
  const previous = (await ctx.state.get<string>(govKeys.revision)) ?? ctx.net ?? "";
  const digest = await sha256(utf8Encode(`${previous}\n${ctx.cid}`));
  ctx.state.set(govKeys.revision, toHex(digest));
}

function reject(reason: string, message: string): never {
  throw new RejectedError(reason, message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

function checkKeys(value: Record<string, unknown>, required: string[], optional: string[] = []) {
  for (const key of required) {
    if (!(key in value)) reject("bad_body", `Body is missing "${key}"`);
  }
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) {
      reject("bad_body", `Body has an unexpected field "${key}"`);
    }
  }
}

function checkDid(value: unknown, what: string): string {
  if (typeof value !== "string") reject("bad_body", `${what} must be a DID`);
  try {
    parseDid(value as string);
  } catch (error) {
    reject("bad_body", `${what} is not a valid DID: ${(error as Error).message}`);
  }
  return value as string;
}

async function genesisOf(ctx: ApplyContext): Promise<Genesis> {
  if (ctx.net === null || ctx.envelope.net !== ctx.net) {
    reject("wrong_network", "Governance envelopes need a joined network");
  }
  const genesis = await ctx.state.get<Genesis>(chainKeys.genesis(ctx.net));
  if (!genesis) reject("wrong_network", `Genesis of network ${ctx.net} is missing`);
  return genesis;
}

function sameRules(a: Rules, b: unknown): boolean {
  if (!isObject(b)) return false;
  const keys = Object.keys(b).sort().join(",");
  return keys === Object.keys(a).sort().join(",") && a.quorum === b.quorum &&
    a.approval === b.approval && a.votingPeriod === b.votingPeriod &&
    a.timelock === b.timelock && a.mode === b.mode && a.revealWindow === b.revealWindow &&
    a.extendOnLateQuorum === b.extendOnLateQuorum;
}

/** The method rule's verdict on a ballot, as a rejection. */
function checkedBallot(spec: MethodSpec, ballot: unknown): MethodBallot {
  try {
    return checkBallot(spec, ballot);
  } catch (error) {
    reject("bad_ballot", (error as Error).message);
  }
}

/** A proposal-method choice, checked against its mode. */
function checkedChoice(record: ProposalRecord, choice: unknown): Choice {
  if (!(choices as readonly unknown[]).includes(choice)) {
    reject("bad_body", `Unknown vote "${shown(choice)}": use for, against, abstain or block`);
  }
  if (choice === "block" && record.rules.mode !== "consent") {
    reject("bad_body", "Cannot block: this proposal is decided by majority, not consent");
  }
  return choice as Choice;
}

/** Checks a config proposal's `set` map: known keys with valid values, or credit overrides. */
export function checkConfigSet(set: unknown): Record<string, ParamValue> {
  if (!isObject(set)) reject("bad_action", "A config proposal needs a `set` map of parameters");
  const entries = Object.entries(set);
  if (entries.length === 0) reject("bad_action", "A config proposal must set at least one key");
  if (entries.length > configKeysMax) {
    reject("bad_action", `A config proposal may set at most ${configKeysMax} keys`);
  }
  for (const [key, value] of entries) {
    if (key.startsWith(creditOverridePrefix) || key.startsWith(maxBalanceOverridePrefix)) {
      const prefix = key.startsWith(creditOverridePrefix)
        ? creditOverridePrefix
        : maxBalanceOverridePrefix;
      checkDid(key.slice(prefix.length), `Per-member key "${key}"`);
      if (
        !Number.isSafeInteger(value) || (value as number) < 0 ||
        (value as number) > creditOverrideMax
      ) {
        reject("bad_action", `"${key}" must be a whole number of minor units ≥ 0`);
      }
      continue;
    }
    try {
      validateParam(key, value);
    } catch (error) {
      reject("bad_action", (error as Error).message);
    }
  }
  return set as Record<string, ParamValue>;
}

/** A network id (CIDv1 in base32), as the federation's own kinds check it. */
const networkIdPattern = /^b[a-z2-7]{7,127}$/;

/**
 * Checks a `delegates` action: a federation other than this cooperative, and
 * 1 to `delegatesPerCoopMax` sorted, distinct DIDs, each a member at `ts`.
 */
async function checkDelegatesAction(
  view: GovernanceView,
  action: Record<string, unknown>,
  context: { net: string; ts: number },
): Promise<DelegatesAction> {
  checkKeys(action, ["federation", "delegates"]);
  const { federation, delegates } = action;
  if (typeof federation !== "string" || !networkIdPattern.test(federation)) {
    reject(
      "bad_action",
      `Delegates proposal federation "${shown(federation)}" is not a network id`,
    );
  }
  if (federation === context.net) {
    reject("bad_action", "Cannot choose delegates to this cooperative itself: name a federation");
  }
  if (
    !Array.isArray(delegates) || delegates.length === 0 || delegates.length > delegatesPerCoopMax
  ) {
    reject(
      "bad_action",
      `A delegates proposal names 1 to ${delegatesPerCoopMax} delegates, not ${
        Array.isArray(delegates) ? delegates.length : shown(delegates)
      }`,
    );
  }
  const list: string[] = [];
  for (const [i, value] of delegates.entries()) {
    const did = checkDid(value, `Delegate ${i + 1}`);
    if (i > 0 && list[i - 1] >= did) {
      reject(
        "bad_action",
        list[i - 1] === did
          ? `Delegate "${did}" is named twice`
          : "Delegates must be listed in sorted order",
      );
    }
    list.push(did);
  }
  for (const did of list) {
    if (!(await view.isMember(did, context.ts))) {
      reject(
        "delegate_not_member",
        `Cannot choose "${did}" as a delegate to federation ${federation}: not a member`,
      );
    }
  }
  return { federation, delegates: list };
}

async function checkAction(
  view: GovernanceView,
  kind: CooperativeProposalKind,
  action: unknown,
  context: { net: string; ts: number },
): Promise<ProposalAction> {
  const { ts } = context;
  if (!isObject(action)) reject("bad_action", "Proposal action must be a map");
  switch (kind) {
    case "text":
      if (Object.keys(action).length !== 0) {
        reject("bad_action", "A text proposal has no action");
      }
      return {};
    case "membership": {
      const keys = Object.keys(action);
      if (keys.length !== 1 || (keys[0] !== "admit" && keys[0] !== "remove")) {
        reject("bad_action", "A membership proposal needs exactly one of `admit` or `remove`");
      }
      const did = checkDid(action[keys[0]], `Membership ${keys[0]}`);
      const member = await view.isMember(did, ts);
      if (keys[0] === "admit" && member) {
        reject("bad_action", `Cannot propose to admit "${did}": already a member`);
      }
      if (keys[0] === "remove" && !member) {
        reject("bad_action", `Cannot propose to remove "${did}": not a member`);
      }
      return keys[0] === "admit" ? { admit: did } : { remove: did };
    }
    case "config":
      checkKeys(action, ["set"]);
      return { set: checkConfigSet((action as unknown as ConfigAction).set) };
    case "upgrade": {
      checkKeys(action, ["version", "deadline", "minVersion"]);
      const { version, deadline, minVersion } = action as unknown as UpgradeAction;
      if (typeof version !== "string" || !semverPattern.test(version)) {
        reject("bad_action", `Upgrade version "${shown(version)}" is not semver (x.y.z)`);
      }
      if (typeof minVersion !== "string" || !semverPattern.test(minVersion)) {
        reject("bad_action", `Upgrade minVersion "${shown(minVersion)}" is not semver (x.y.z)`);
      }
      if (compareVersions(minVersion, version) > 0) {
        reject("bad_action", `Upgrade minVersion ${minVersion} is above its version ${version}`);
      }
      if (!Number.isSafeInteger(deadline) || deadline <= ts) {
        reject("bad_action", "Upgrade deadline must be a time after the proposal");
      }
      return { version, deadline, minVersion };
    }
    case "delegates":
      return await checkDelegatesAction(view, action, context);
  }
}

const proposal: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const genesis = await genesisOf(ctx);
    const body = envelope.body;
    if (!isObject(body)) reject("bad_body", "Proposal body must be a map");
    checkKeys(body, ["kind", "title", "body", "action", "rules"], ["method", "secret"]);
    const kind = body.kind as CooperativeProposalKind;
    if (!cooperativeProposalKinds.includes(kind)) {
      reject(
        "bad_body",
        `Unknown proposal kind "${shown(body.kind)}" (${cooperativeProposalKinds.join(", ")})`,
      );
    }
    if (typeof body.title !== "string" || body.title.trim().length === 0) {
      reject("bad_body", "Proposal title must not be empty");
    }
    if (body.title.length > titleLengthMax) {
      reject(
        "bad_body",
        `Proposal title has ${body.title.length} characters, at most ${titleLengthMax}`,
      );
    }
    if (typeof body.body !== "string") reject("bad_body", "Proposal body text must be a string");
    const bytes = utf8Encode(body.body).length;
    if (bytes > bodyBytesMax) {
      reject("bad_body", `Proposal body is ${bytes} bytes, at most ${bodyBytesMax}`);
    }
    const view = new GovernanceView(ctx.state, genesis);
    if (!(await view.isMember(envelope.author, envelope.ts))) {
      reject("not_member", `Cannot propose: "${envelope.author}" is not a member`);
    }
    if (body.secret !== undefined && body.secret !== true) {
      reject("bad_body", "Proposal `secret` is true or absent");
    }
    let method: MethodSpec | undefined;
    if (body.method !== undefined) {
      try {
        method = checkMethodSpec(body.method);
      } catch (error) {
        reject("bad_method", (error as Error).message);
      }
      if (kind !== "text") {
        reject(
          "bad_method",
          `A ${kind} proposal is decided for or against: the ${method.name} method is for text proposals`,
        );
      }
    }
    const rules = rulesFor(await view.paramsAt(envelope.ts), kind, {
      secret: body.secret === true,
    });
    if (!sameRules(rules, body.rules)) {
      reject("stale_rules", `Proposal rules do not match the ${kind} rules in force`);
    }
    const action = await checkAction(view, kind, body.action, {
      net: envelope.net,
      ts: envelope.ts,
    });
    const closes = envelope.ts + rules.votingPeriod;
    // A secret proposal's outcome is known only once the reveal window ends.
    const decided = closes + (rules.revealWindow ?? 0);
    const record: ProposalRecord = {
      id: cid,
      author: envelope.author,
      kind,
      title: body.title,
      text: body.body,
      action,
      rules,
      opened: envelope.ts,
      closes,
      effective: decided + rules.timelock,
      ...(method ? { method } : {}),
      ...(body.secret === true ? { secret: true as const } : {}),
    };
    const entry: IndexEntry = {
      id: cid,
      opened: record.opened,
      closes,
      effective: record.effective,
    };
    if (kind === "membership") {
      const target = action as MembershipAction;
      entry.target = "admit" in target ? target.admit : target.remove;
    }
    ctx.state.set(govKeys.proposal(cid), record);
    ctx.state.set(govKeys.index(kind, cid), entry);
    await bumpRevision(ctx);
  },
};

async function requireProposal(view: GovernanceView, id: unknown): Promise<ProposalRecord> {
  if (typeof id !== "string") reject("bad_body", "Proposal id must be a string");
  const record = await view.proposal(id);
  if (!record) reject("unknown_proposal", `Unknown proposal "${id}"`);
  return record;
}

const vote: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const genesis = await genesisOf(ctx);
    const body = envelope.body;
    if (!isObject(body)) reject("bad_body", "Vote body must be a map");
    const view = new GovernanceView(ctx.state, genesis);
    const record = await requireProposal(view, body.proposal);
    const stored: VoteRecord = { ts: envelope.ts, seq: envelope.seq, cid, first: envelope.ts };
    if (record.secret) {
      checkKeys(body, ["proposal", "commitment"]);
      if (typeof body.commitment !== "string" || !commitmentPattern.test(body.commitment)) {
        reject("bad_body", "A secret vote carries a commitment: 64 lowercase hex characters");
      }
      stored.commitment = body.commitment;
    } else if (record.method) {
      checkKeys(body, ["proposal", "ballot"], ["reason"]);
      stored.ballot = checkedBallot(record.method, body.ballot);
    } else {
      checkKeys(body, ["proposal", "choice"], ["reason"]);
      stored.choice = checkedChoice(record, body.choice);
    }
    if (body.reason !== undefined) {
      if (typeof body.reason !== "string" || body.reason.length > reasonLengthMax) {
        reject("bad_body", `Vote reason must be text of at most ${reasonLengthMax} characters`);
      }
    }
    const { closes } = await view.timing(record);
    if (envelope.ts > closes) {
      reject(
        "closed",
        `Cannot vote on "${record.id}": voting closed at ${new Date(closes).toISOString()}`,
      );
    }
    // Remote envelopes are judged on their own data only; a local voter is told
    // the proposal was cancelled (the cancel may reach other nodes later).
    if (ctx.source === "local" && record.cancelled !== undefined) {
      reject("cancelled", `Cannot vote on "${record.id}": it was cancelled`);
    }
    if (!(await view.isMember(envelope.author, record.opened))) {
      reject(
        "not_eligible",
        `Cannot vote on "${record.id}": "${envelope.author}" was not a member when it opened`,
      );
    }
    const key = govKeys.vote(record.id, envelope.author);
    const previous = await ctx.state.get<VoteRecord>(key);
    if (previous) {
      // The earliest vote dates the voter's participation (late quorum), whatever arrives first.
      stored.first = Math.min(envelope.ts, previous.first ?? previous.ts);
      if (previous.seq > envelope.seq) {
        if (stored.first !== previous.first) {
          ctx.state.set(key, { ...previous, first: stored.first });
          await bumpRevision(ctx);
        }
        return;
      }
    }
    if (typeof body.reason === "string") stored.reason = body.reason;
    ctx.state.set(key, stored);
    await bumpRevision(ctx);
  },
};

/**
 * `gov.reveal`: opens the author's secret vote after the close and within the
 * reveal window. The ballot must fit the proposal's method and, with the
 * salt, hash to the commitment of the author's latest vote. The author's
 * votes precede the reveal in their own chain, so that commitment is final
 * when the reveal arrives.
 */
const reveal: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const genesis = await genesisOf(ctx);
    const body = envelope.body;
    if (!isObject(body)) reject("bad_body", "Reveal body must be a map");
    checkKeys(body, ["proposal", "ballot", "salt"]);
    const view = new GovernanceView(ctx.state, genesis);
    const record = await requireProposal(view, body.proposal);
    if (!record.secret) reject("not_secret", `Cannot reveal on "${record.id}": its ballot is open`);
    const ballot = record.method
      ? checkedBallot(record.method, body.ballot)
      : checkedChoice(record, body.ballot);
    if (!isSalt(body.salt)) reject("bad_body", "Reveal salt must be 64 lowercase hex characters");
    checkRevealTime(record.id, envelope.ts, await view.timing(record));
    const vote = await ctx.state.get<VoteRecord>(govKeys.vote(record.id, envelope.author));
    if (!vote || vote.commitment === undefined) {
      reject("no_vote", `Cannot reveal on "${record.id}": "${envelope.author}" has no secret vote`);
    }
    const computed = ballotCommitment(
      { proposal: record.id, voter: envelope.author },
      { ballot, salt: body.salt },
    );
    if (computed !== vote.commitment) {
      reject(
        "bad_reveal",
        `Cannot reveal on "${record.id}": the ballot and salt do not match the committed vote`,
      );
    }
    const key = govKeys.reveal(record.id, envelope.author);
    const previous = await ctx.state.get<RevealRecord>(key);
    if (previous && previous.seq > envelope.seq) return;
    const stored: RevealRecord = {
      ballot,
      salt: body.salt,
      commitment: vote.commitment,
      ts: envelope.ts,
      seq: envelope.seq,
      cid,
    };
    ctx.state.set(key, stored);
    await bumpRevision(ctx);
  },
};

async function checkScope(view: GovernanceView, scope: unknown): Promise<string> {
  if (scope === "all") return scope;
  if (typeof scope === "string" && scope.startsWith("kind:")) {
    if (!cooperativeProposalKinds.includes(scope.slice(5) as CooperativeProposalKind)) {
      reject(
        "bad_body",
        `Unknown delegation scope "${scope}": kinds are ${cooperativeProposalKinds.join(", ")}`,
      );
    }
    return scope;
  }
  if (typeof scope === "string" && scope.startsWith("proposal:")) {
    await requireProposal(view, scope.slice(9));
    return scope;
  }
  reject("bad_body", `Unknown delegation scope "${shown(scope)}": use all, kind:K or proposal:ID`);
}

/** True when `from` reaches `target` through delegations in force at `ts` (any scope). */
async function reaches(
  view: GovernanceView,
  from: string,
  target: string,
  ts: number,
): Promise<boolean> {
  const seen = new Set<string>([from]);
  const queue = [from];
  while (queue.length > 0 && seen.size <= cycleVisitsMax) {
    const current = queue.shift()!;
    if (current === target) return true;
    for (const { to } of await view.delegationsOf(current, ts)) {
      if (!seen.has(to)) {
        seen.add(to);
        queue.push(to);
      }
    }
  }
  return seen.has(target);
}

const delegate: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const genesis = await genesisOf(ctx);
    const body = envelope.body;
    if (!isObject(body)) reject("bad_body", "Delegation body must be a map");
    checkKeys(body, ["to", "scope"], ["expires"]);
    const to = checkDid(body.to, "Delegate");
    const view = new GovernanceView(ctx.state, genesis);
    const scope = await checkScope(view, body.scope);
    if (to === envelope.author) reject("bad_body", "Cannot delegate to yourself");
    if (body.expires !== undefined) {
      if (!Number.isSafeInteger(body.expires) || (body.expires as number) <= envelope.ts) {
        reject("bad_body", "Delegation expiry must be a time after the delegation");
      }
    }
    if (!(await view.isMember(envelope.author, envelope.ts))) {
      reject("not_member", `Cannot delegate: "${envelope.author}" is not a member`);
    }
    if (!(await view.isMember(to, envelope.ts))) {
      reject("not_member", `Cannot delegate to "${to}": not a member`);
    }
    if (await reaches(view, to, envelope.author, envelope.ts)) {
      reject("cycle", `Cannot delegate to "${to}": their delegations lead back to you`);
    }
    const record: DelegationRecord = {
      delegator: envelope.author,
      scope,
      to,
      ts: envelope.ts,
      cid,
    };
    if (body.expires !== undefined) record.expires = body.expires as number;
    ctx.state.set(govKeys.delegation(envelope.author, scope, envelope.ts, cid), record);
    await bumpRevision(ctx);
  },
};

const undelegate: KindHandler = {
  async apply(ctx) {
    const { envelope, cid } = ctx;
    const genesis = await genesisOf(ctx);
    const body = envelope.body;
    if (!isObject(body)) reject("bad_body", "Undelegation body must be a map");
    checkKeys(body, [], ["scope"]);
    const view = new GovernanceView(ctx.state, genesis);
    const active = await view.delegationsOf(envelope.author, envelope.ts);
    const scopes = body.scope === undefined
      ? active.map((a) => a.scope)
      : [await checkScope(view, body.scope)];
    const cleared = scopes.filter((scope) => active.some((a) => a.scope === scope));
    if (cleared.length === 0) {
      reject(
        "not_delegated",
        body.scope === undefined
          ? "Nothing to undelegate: no delegation is in force"
          : `Nothing to undelegate: no delegation in force for scope "${shown(body.scope)}"`,
      );
    }
    for (const scope of cleared) {
      const record: DelegationRecord = {
        delegator: envelope.author,
        scope,
        to: null,
        ts: envelope.ts,
        cid,
      };
      ctx.state.set(govKeys.delegation(envelope.author, scope, envelope.ts, cid), record);
    }
    await bumpRevision(ctx);
  },
};

const cancel: KindHandler = {
  async apply(ctx) {
    const { envelope } = ctx;
    const genesis = await genesisOf(ctx);
    const body = envelope.body;
    if (!isObject(body)) reject("bad_body", "Cancel body must be a map");
    checkKeys(body, ["proposal"]);
    const view = new GovernanceView(ctx.state, genesis);
    const record = await requireProposal(view, body.proposal);
    if (record.author !== envelope.author) {
      reject("not_author", `Cannot cancel "${record.id}": only its author may`);
    }
    if (record.cancelled !== undefined) {
      reject("cancelled", `Cannot cancel "${record.id}": already cancelled`);
    }
    if (envelope.ts > record.closes) {
      reject("closed", `Cannot cancel "${record.id}": voting already closed`);
    }
    const updated: ProposalRecord = { ...record, cancelled: envelope.ts };
    ctx.state.set(govKeys.proposal(record.id), updated);
    const previous = await ctx.state.get<IndexEntry>(govKeys.index(record.kind, record.id));
    const entry: IndexEntry = {
      ...(previous ?? {
        id: record.id,
        opened: record.opened,
        closes: record.closes,
        effective: record.effective,
      }),
      cancelled: envelope.ts,
    };
    ctx.state.set(govKeys.index(record.kind, record.id), entry);
    await bumpRevision(ctx);
  },
};

/** `gov.*` handlers, registered in `core/kinds.ts`. */
export const governanceKinds: ReadonlyMap<string, KindHandler> = new Map([
  ["gov.proposal", proposal],
  ["gov.vote", vote],
  ["gov.reveal", reveal],
  ["gov.delegate", delegate],
  ["gov.undelegate", undelegate],
  ["gov.cancel", cancel],
]);
