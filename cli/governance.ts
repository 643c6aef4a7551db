/** Handlers of `icn governance` proposals, votes, delegation, upgrades and members. */
import { StateOverlay } from "../core/chain/state.ts";
import { pageSizeDefault, protocolVersion } from "../core/constants.ts";
import { InvalidInputError, NotFoundError } from "../core/errors.ts";
import { bodyBytesMax, checkConfigSet, type ProposalBody } from "../core/governance/kinds.ts";
import type { ProposalKind } from "../core/governance/params.ts";
import type { Ballot } from "../core/governance/tally.ts";
import {
  compareVersions,
  type ConfigAction,
  creditOverridePrefix,
  type DelegatesAction,
  GovernanceView,
  type MembershipAction,
  type ProposalAction,
  type ProposalRecord,
  type ProposalState,
  rulesFor,
  type UpgradeAction,
} from "../core/governance/view.ts";
import { parseDid } from "../core/identity/did.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { formatDuration, numberParam, type ParamValue, parseParamValue } from "../core/params.ts";
import { type ContactLabels, contactLabels, resolveDid, resolveDids } from "./contacts.ts";
import type { CliContext } from "./context.ts";
import { readInputText } from "./files.ts";
import type { CommandResult } from "./output.ts";
import { resolveWhen, type When } from "./args.ts";
import {
  type BallotOptions,
  buildMethodSpec,
  commitBallot,
  describeBallot,
  describeResult,
  type MethodOptions,
  readBallot,
} from "./governance_methods.ts";

/** `governance propose`'s options, parsed where they are declared (governance_commands.ts). */
export interface ProposeOptions extends MethodOptions {
  kind: ProposalKind;
  secret?: true;
  title: string;
  /** The file holding the proposal's text. */
  body?: string;
  admit?: string;
  remove?: string;
  set: string[];
  upgradeVersion?: string;
  deadline?: When;
  minVersion?: string;
  /** delegates: the federation's network id. */
  federation?: string;
  /** delegates: who acts for the cooperative in it (DIDs, contact names or prefixes). */
  delegate: string[];
}

export interface ListOptions {
  state?: ProposalState;
  limit?: number;
  offset?: number;
}

export interface VoteOptions extends Omit<BallotOptions, "choice"> {
  reason?: string;
  choice?: string;
}

export interface ShowOptions {
  explain?: true;
}

export interface DelegateOptions {
  scope?: string;
  expires?: When;
}

export interface UndelegateOptions {
  scope?: string;
}

async function openView(ctx: CliContext): Promise<GovernanceView> {
  const { genesis } = await ctx.network();
  return new GovernanceView(new StateOverlay(await ctx.store()), genesis);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `in 3h` / `2d ago`, in the largest whole unit. */
function relative(ms: number, now: number): string {
  const delta = ms - now;
  const abs = Math.abs(delta);
  const units: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], [
    "s",
    1000,
  ]];
  let text = `${abs}ms`;
  for (const [unit, size] of units) {
    if (abs >= size) {
      text = `${Math.floor(abs / size)}${unit}`;
      break;
    }
  }
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

function parseSet(assignment: string): [string, ParamValue] {
  const eq = assignment.indexOf("=");
  if (eq <= 0) throw new InvalidInputError(`Cannot parse --set "${assignment}": use KEY=VALUE`);
  const key = assignment.slice(0, eq);
  const text = assignment.slice(eq + 1);
  if (key.startsWith(creditOverridePrefix)) {
    parseDid(key.slice(creditOverridePrefix.length));
    if (!/^\d{1,15}$/.test(text)) {
      throw new InvalidInputError(
        `Cannot set "${key}" to "${text}": expected a whole number of minor units`,
      );
    }
    return [key, Number(text)];
  }
  return [key, parseParamValue(key, text)];
}

/** Resolves a full proposal id or a unique prefix of one. */
async function resolveProposal(view: GovernanceView, id: string): Promise<ProposalRecord> {
  const exact = await view.proposal(id);
  if (exact) return exact;
  if (id.length >= 6) {
    const matches = (await view.allEntries()).filter((e) => e.id.startsWith(id));
    if (matches.length === 1) return (await view.proposal(matches[0].id))!;
    if (matches.length > 1) {
      throw new InvalidInputError(
        `Proposal id prefix "${id}" matches ${matches.length} proposals; give more characters`,
      );
    }
  }
  throw new NotFoundError(`No proposal "${id}" (see \`icn governance list\`)`);
}

/** The action in one terminal-safe line (a config value or scope is someone else's text). */
function describeAction(
  record: Pick<ProposalRecord, "kind" | "action">,
  labels?: ContactLabels,
): string {
  if (record.kind === "membership" && labels) {
    // Signed DIDs, checked when the proposal was accepted; contact names are terminal-safe.
    const action = record.action as MembershipAction;
    return "admit" in action
      ? `admit ${labels.label(terminalSafe(action.admit))}`
      : `remove ${labels.label(terminalSafe(action.remove))}`;
  }
  return terminalSafe(actionText(record));
}

function actionText(record: Pick<ProposalRecord, "kind" | "action">): string {
  switch (record.kind) {
    case "membership": {
      const action = record.action as MembershipAction;
      return "admit" in action ? `admit ${action.admit}` : `remove ${action.remove}`;
    }
    case "config":
      return Object.entries((record.action as ConfigAction).set).map(([k, v]) => `${k}=${v}`)
        .join(", ");
    case "upgrade": {
      const a = record.action as UpgradeAction;
      return `version ${a.version}, min ${a.minVersion} after ${iso(a.deadline)}`;
    }
    case "delegates": {
      const a = record.action as DelegatesAction;
      return `delegates to federation ${a.federation}: ${a.delegates.join(", ")}`;
    }
    default:
      return "none";
  }
}

function buildAction(kind: ProposalKind, options: ProposeOptions, now: number): ProposalAction {
  const { admit, remove, set: sets } = options;
  const upgradeFlags = [options.upgradeVersion, options.deadline, options.minVersion];
  const fail = (flag: string): never => {
    throw new InvalidInputError(`Option ${flag} does not apply to a ${kind} proposal`);
  };
  if (kind !== "membership" && (admit || remove)) fail(admit ? "--admit" : "--remove");
  if (kind !== "config" && sets.length > 0) fail("--set");
  if (kind !== "upgrade" && upgradeFlags.some((f) => f !== undefined)) {
    fail("--upgrade-version, --deadline or --min-version");
  }
  if (kind !== "delegates" && options.federation !== undefined) {
    fail(`--federation "${options.federation}"`);
  }
  if (kind !== "delegates" && options.delegate.length > 0) fail("--delegate");
  switch (kind) {
    case "text":
      return {};
    case "membership":
      if ((admit === undefined) === (remove === undefined)) {
        throw new InvalidInputError(
          "A membership proposal needs exactly one of --admit DID or --remove DID",
        );
      }
      parseDid(admit ?? remove!);
      return admit ? { admit } : { remove: remove! };
    case "config": {
      if (sets.length === 0) {
        throw new InvalidInputError("A config proposal needs at least one --set KEY=VALUE");
      }
      const set: Record<string, ParamValue> = {};
      for (const assignment of sets) {
        const [key, value] = parseSet(assignment);
        set[key] = value;
      }
      checkConfigSet(set);
      return { set };
    }
    case "upgrade": {
      const { upgradeVersion: version, deadline } = options;
      const minVersion = options.minVersion ?? version;
      if (!version || !deadline) {
        throw new InvalidInputError(
          "An upgrade proposal needs --upgrade-version X.Y.Z and --deadline DATE (and --min-version X.Y.Z)",
        );
      }
      return { version, deadline: resolveWhen(deadline, now), minVersion: minVersion! };
    }
    case "delegates": {
      if (options.federation === undefined || options.delegate.length === 0) {
        throw new InvalidInputError(
          "A delegates proposal needs --federation ID and at least one --delegate DID",
        );
      }
      // The engine wants them sorted and distinct; the order typed means nothing.
      return {
        federation: options.federation,
        delegates: [...new Set(options.delegate)].sort(),
      };
    }
  }
}

/**
 * The DIDs a proposal names, resolved where they enter (a contact name or a
 * unique prefix becomes the full DID that is signed): --admit, --remove and
 * the member of each `--set credit.override.<member>=N`.
 */
async function resolveMemberOptions(
  ctx: CliContext,
  options: ProposeOptions,
): Promise<ProposeOptions> {
  const resolved: ProposeOptions = { ...options };
  for (const flag of ["admit", "remove"] as const) {
    const value = options[flag];
    if (value !== undefined) resolved[flag] = await resolveDid(ctx, value, { what: `--${flag}` });
  }
  const sets: string[] = [];
  for (const assignment of options.set) {
    const eq = assignment.indexOf("=");
    if (!assignment.startsWith(creditOverridePrefix) || eq <= creditOverridePrefix.length) {
      sets.push(assignment);
      continue;
    }
    const member = await resolveDid(ctx, assignment.slice(creditOverridePrefix.length, eq), {
      what: "--set",
    });
    sets.push(`${creditOverridePrefix}${member}${assignment.slice(eq)}`);
  }
  resolved.set = sets;
  resolved.delegate = await resolveDids(ctx, options.delegate, { what: "--delegate" });
  return resolved;
}

export async function propose(ctx: CliContext, _args: string[], options: ProposeOptions) {
  const { kind, title } = options;
  let text = "";
  const bodyFile = options.body;
  if (bodyFile) {
    // Bounded by the body limit before it is read (/dev/zero is refused), strict UTF-8.
    text = await readInputText(bodyFile, "proposal body", { bytesMax: bodyBytesMax });
    if (text.trim() === "") {
      throw new InvalidInputError(
        `Cannot use proposal body ${bodyFile}: it is empty (leave out --body for a title only)`,
      );
    }
  }
  const now = ctx.clock.now();
  const method = buildMethodSpec(options);
  if (method && kind !== "text") {
    throw new InvalidInputError(
      `A ${kind} proposal is decided for or against: --method ${method.name} needs --kind text`,
    );
  }
  const action = buildAction(kind, await resolveMemberOptions(ctx, options), now);
  const view = await openView(ctx);
  const secret = options.secret === true;
  const body: ProposalBody = {
    kind,
    title,
    body: text,
    action,
    rules: rulesFor(await view.paramsAt(now), kind, { secret }),
    ...(method ? { method } : {}),
    ...(secret ? { secret: true as const } : {}),
  };
  const { cid, envelope: { ts } } = await ctx.submitOrThrow({ kind: "gov.proposal", body });
  const closes = ts + body.rules.votingPeriod;
  const decided = closes + (body.rules.revealWindow ?? 0);
  const voteHint = !method
    ? `for|against|abstain${body.rules.mode === "consent" ? "|block" : ""}`
    : method.name === "sense-check"
    ? "good|unsure|concerned"
    : method.name === "poll"
    ? "OPTION"
    : method.name === "score"
    ? "--score OPTION=N ..."
    : method.name === "dot"
    ? "--points OPTION=N ..."
    : method.name === "ranked"
    ? "--rank A,B,C"
    : "--can TIME --if-need-be TIME ...";
  return {
    data: {
      id: cid,
      kind,
      method: method?.name ?? "proposal",
      ...(method ? { options: method.options } : {}),
      secret,
      title,
      action,
      rules: body.rules,
      opened: ts,
      closes,
      effective: decided + body.rules.timelock,
    },
    text: [
      `Proposed ${kind} "${terminalSafe(title)}"${method ? ` (${method.name})` : ""}${
        secret ? " with a secret ballot" : ""
      }`,
      `  id:     ${cid}`,
      `  closes: ${iso(closes)} (${relative(closes, now)})`,
      ...(secret
        ? [
          `  reveal: after the close, until ${iso(decided)}: icn governance reveal ${
            cid.slice(0, 16)
          }`,
        ]
        : []),
      `  vote:   icn governance vote ${cid.slice(0, 16)} ${voteHint}`,
    ],
  };
}

async function summary(view: GovernanceView, record: ProposalRecord, now: number) {
  const t = await view.tally(record);
  const timing = await view.timing(record);
  // Until a secret ballot's reveal window ends, who took part is the number of commitments.
  const hidden = record.secret === true && now <= timing.revealEnds;
  return {
    id: record.id,
    kind: record.kind,
    method: record.method?.name ?? "proposal",
    secret: record.secret === true,
    title: record.title,
    author: record.author,
    state: await view.stateOf(record, now),
    opened: record.opened,
    closes: timing.closes,
    effective: timing.effective,
    cast: hidden ? (await view.votes(record.id)).size : t.cast,
    eligible: t.eligible,
  };
}

export async function list(ctx: CliContext, _args: string[], options: ListOptions) {
  const { state, limit = pageSizeDefault, offset = 0 } = options;
  const now = ctx.clock.now();
  const view = await openView(ctx);
  const entries = (await view.allEntries()).sort((a, b) =>
    b.opened - a.opened || (a.id < b.id ? -1 : 1)
  );
  const rows = [];
  for (const entry of entries) {
    const record = await view.proposal(entry.id);
    if (!record) continue;
    const row = await summary(view, record, now);
    if (state === undefined || row.state === state) rows.push(row);
  }
  const page = rows.slice(offset, offset + limit);
  return {
    data: { total: rows.length, offset, limit, proposals: page },
    text: page.length === 0
      ? ["No proposals"]
      : page.map((r) =>
        `${r.id.slice(0, 16)}  ${r.state.padEnd(9)} ${
          r.kind.padEnd(10)
        } ${r.cast}/${r.eligible} voted  ${terminalSafe(r.title)}`
      ),
  };
}

export async function show(ctx: CliContext, args: string[], options: ShowOptions = {}) {
  const now = ctx.clock.now();
  const view = await openView(ctx);
  const record = await resolveProposal(view, args[0]);
  const ballots: Ballot[] = [];
  const t = await view.tally(record, ballots);
  const timing = await view.timing(record);
  const state = await view.stateOf(record, now);
  const skew = numberParam(await view.paramsAt(now), "network.clockSkew");
  const final = record.cancelled !== undefined || now > timing.revealEnds + skew;
  // A secret ballot's choices stay hidden until its reveal window ends.
  const hidden = record.secret === true && now <= timing.revealEnds;
  const votes = await view.votes(record.id);
  const methodBallots = record.method && !hidden ? await view.methodBallots(record) : [];
  const who: { did: string; choice: string; ballot?: unknown; via?: string; reason?: string }[] =
    hidden
      ? [...votes.keys()].sort().map((did) => ({ did, choice: "secret" }))
      : record.method
      ? methodBallots.map((b) => ({
        did: b.did,
        choice: describeBallot(record.method, b.ballot),
        ballot: b.ballot,
        ...(b.via ? { via: b.via } : {}),
        ...(votes.get(b.did)?.reason ? { reason: votes.get(b.did)!.reason } : {}),
      })).sort((a, b) => (a.did < b.did ? -1 : 1))
      : ballots.map((b) => ({
        did: b.did,
        choice: b.choice as string,
        ...(b.via ? { via: b.via } : {}),
        ...(votes.get(b.did)?.reason ? { reason: votes.get(b.did)!.reason } : {}),
      })).sort((a, b) => (a.did < b.did ? -1 : 1));
  const approvalPct = t.cast === 0 ? 0 : Math.floor((t.for * 1000) / t.cast) / 10;
  const labels = await contactLabels(ctx);
  const participants = hidden ? votes.size : t.cast;
  const lines = [
    terminalSafe(record.title),
    `  id:        ${record.id}`,
    `  kind:      ${record.kind} (${
      record.method ? `${record.method.name} method` : record.rules.mode
    }${record.secret ? ", secret ballot" : ""}); action: ${describeAction(record, labels)}`,
    `  author:    ${labels.label(record.author)}`,
    `  state:     ${state}${final ? " (final)" : ""}`,
    `  opened:    ${iso(record.opened)}`,
    `  closes:    ${iso(timing.closes)} (${relative(timing.closes, now)})${
      timing.extended ? ` — extended from ${iso(record.closes)} by a late quorum` : ""
    }`,
  ];
  if (record.secret) {
    lines.push(
      `  reveal:    until ${iso(timing.revealEnds)} (${relative(timing.revealEnds, now)})`,
    );
  }
  if (record.method) {
    lines.push(
      `  options:   ${
        record.method.options.map((o, i) => `${i + 1} ${terminalSafe(o)}`).join(", ") ||
        "good, unsure, concerned"
      }`,
    );
  } else {
    lines.push(
      `  effective: ${iso(timing.effective)} (${relative(timing.effective, now)}, timelock ${
        formatDuration(record.rules.timelock)
      })`,
    );
  }
  lines.push(
    `  quorum:    ${participants} of ${t.eligible} ${
      hidden ? "committed" : "voted"
    }, ${t.required} required (${record.rules.quorum}%)${
      participants >= t.required ? " — reached" : ""
    }`,
  );
  const lateNote = lateQuorumNote(record, timing, await view.quorumReachedAt(record));
  if (lateNote) lines.push(`  late:      ${lateNote}`);
  if (hidden) {
    lines.push(`  results:   hidden until the reveal window ends (${iso(timing.revealEnds)})`);
  } else if (record.method && t.method) {
    lines.push(...describeResult(record.method, t.method.result, options.explain === true));
    if (t.delegated > 0) lines.push(`  (${t.delegated} by delegation)`);
  } else {
    lines.push(
      `  approval:  ${t.for} for of ${t.cast} cast (${approvalPct}%); needs more than ${t.threshold} (${record.rules.approval}%)`,
      `  tally:     for ${t.for}, against ${t.against}, abstain ${t.abstain}${
        record.rules.mode === "consent" ? `, block ${t.block}` : ""
      } (${t.delegated} by delegation)`,
    );
  }
  // The body keeps its own line breaks, each line behind a "| " margin so that no
  // line of it can pass for a row of this view (a vote, a field).
  if (record.text) {
    lines.push("", ...record.text.split("\n").map((l) => `  | ${terminalSafe(l)}`), "");
  }
  if (who.length > 0) {
    lines.push("  votes:");
    for (const ballot of who) {
      lines.push(
        `    ${record.method ? `${ballot.choice}  ` : ballot.choice.padEnd(8)} ${
          labels.label(ballot.did)
        }${ballot.via ? ` (via ${labels.label(ballot.via)})` : ""}${
          ballot.reason ? ` — ${terminalSafe(ballot.reason)}` : ""
        }`,
      );
    }
  }
  return {
    data: {
      ...record,
      method: record.method ?? { name: "proposal" },
      secret: record.secret === true,
      state,
      final,
      outcome: hidden ? null : t.outcome,
      tally: hidden
        ? { eligible: t.eligible, required: t.required, committed: votes.size }
        : { ...t, approvalPct },
      ...(record.method && !hidden && t.method ? { result: t.method.result } : {}),
      timing,
      quorumReachedAt: (await view.quorumReachedAt(record)) ?? null,
      votes: who,
      timeLeft: Math.max(0, timing.closes - now),
    },
    warnings: labels.warnings,
    text: lines,
  };
}

/** The last part of the voting period in which a first quorum is noted as late (without an extension rule). */
const lateShare = 0.1;

/**
 * When quorum came, if late: with `extendOnLateQuorum` whether it moved the
 * close; without, a note when it came in the last tenth of the period, so
 * members know the decision rests on late votes.
 */
export function lateQuorumNote(
  record: Pick<ProposalRecord, "closes" | "rules"> & { kind: string },
  timing: { closes: number; extended: boolean },
  quorumAt: number | undefined,
  rulePrefix: "governance" | "federation" = "governance",
): string | undefined {
  if (quorumAt === undefined) return undefined;
  const extension = record.rules.extendOnLateQuorum;
  const before = formatDuration(Math.max(0, record.closes - quorumAt));
  if (extension !== undefined) {
    return timing.extended
      ? `quorum first reached ${iso(quorumAt)}, ${before} before the close: voting extended by ${
        formatDuration(timing.closes - record.closes)
      } (${formatDuration(extension)} rule)`
      : `quorum reached ${iso(quorumAt)}, early enough: no extension (${
        formatDuration(extension)
      } rule)`;
  }
  if (record.closes - quorumAt < record.rules.votingPeriod * lateShare) {
    return `quorum first reached ${
      iso(quorumAt)
    }, only ${before} before the close (no extension rule: ${rulePrefix}.${record.kind}.extendOnLateQuorum)`;
  }
  return undefined;
}

export async function vote(ctx: CliContext, args: string[], options: VoteOptions) {
  const [id, positional] = args;
  if (positional !== undefined && options.choice !== undefined) {
    throw new InvalidInputError(
      `Give the choice once: "${positional}" or --choice "${options.choice}"`,
    );
  }
  const view = await openView(ctx);
  const record = await resolveProposal(view, id);
  const ballot = readBallot(record, { ...options, choice: positional ?? options.choice });
  const shownBallot = describeBallot(record.method, ballot);
  const body: Record<string, unknown> = { proposal: record.id };
  if (record.secret) {
    if (options.reason !== undefined) {
      throw new InvalidInputError("A secret ballot takes no --reason: it would tell your choice");
    }
    const { did } = await ctx.readPublicIdentity();
    body.commitment = await commitBallot(ctx, { proposal: record.id, voter: did }, ballot);
  } else if (record.method) body.ballot = ballot;
  else body.choice = ballot;
  if (options.reason !== undefined) body.reason = options.reason;
  const { cid } = await ctx.submitOrThrow({ kind: "gov.vote", body });
  const closes = (await (await openView(ctx)).timing(record)).closes;
  return {
    data: {
      proposal: record.id,
      ...(record.method ? { ballot } : { choice: ballot }),
      ...(record.secret ? { commitment: body.commitment } : {}),
      cid,
    },
    text: record.secret
      ? [
        `Committed a secret ballot (${shownBallot}) on "${terminalSafe(record.title)}" (${
          record.id.slice(0, 16)
        })`,
        `  reveal it after ${iso(closes)}: icn governance reveal ${record.id.slice(0, 16)}`,
        `  (its salt is kept in ${
          ctx.path(`ballots/${record.id}`)
        }; without it the vote cannot count)`,
      ]
      : `Voted ${shownBallot} on "${terminalSafe(record.title)}" (${record.id.slice(0, 16)})`,
  };
}

async function parseScope(view: GovernanceView, scope: string | undefined): Promise<string> {
  if (scope === undefined || scope === "all") return "all";
  if (scope.startsWith("kind:")) return scope;
  if (scope.startsWith("proposal:")) {
    return `proposal:${(await resolveProposal(view, scope.slice(9))).id}`;
  }
  throw new InvalidInputError(`Unknown scope "${scope}": use all, kind:K or proposal:ID`);
}

export async function delegate(ctx: CliContext, args: string[], options: DelegateOptions) {
  const to = await resolveDid(ctx, args[0], { what: "delegate" });
  const view = await openView(ctx);
  const scope = await parseScope(view, options.scope);
  const body: Record<string, unknown> = { to, scope };
  if (options.expires !== undefined) body.expires = resolveWhen(options.expires, ctx.clock.now());
  const { cid } = await ctx.submitOrThrow({ kind: "gov.delegate", body });
  const labels = await contactLabels(ctx);
  return {
    data: { to, scope, cid, ...(body.expires ? { expires: body.expires } : {}) },
    warnings: labels.warnings,
    text: `Delegated ${scope === "all" ? "all votes" : scope} to ${labels.label(to)}${
      body.expires ? ` until ${iso(body.expires as number)}` : ""
    }`,
  };
}

export async function undelegate(ctx: CliContext, _args: string[], options: UndelegateOptions) {
  const view = await openView(ctx);
  const given = options.scope;
  const body = given === undefined ? {} : { scope: await parseScope(view, given) };
  const { cid } = await ctx.submitOrThrow({ kind: "gov.undelegate", body });
  return {
    data: { cid, scope: given ?? "*" },
    text: given === undefined ? "Removed every delegation" : `Removed the delegation for ${given}`,
  };
}

export async function cancel(ctx: CliContext, args: string[]) {
  const view = await openView(ctx);
  const record = await resolveProposal(view, args[0]);
  const { cid } = await ctx.submitOrThrow({ kind: "gov.cancel", body: { proposal: record.id } });
  return {
    data: { proposal: record.id, cid },
    text: `Cancelled "${terminalSafe(record.title)}" (${record.id.slice(0, 16)})`,
  };
}

/** An accepted upgrade as a running node reports it (`/control/status` `upgrades[]`, net/upgrade.ts). */
interface NodeUpgradeRow {
  net: string;
  id: string;
  state: "scheduled" | "waiting" | "in_force";
  active: number;
  ready: number;
  ratio: number;
  readiness: number;
  warning?: string;
}

interface UpgradeRow {
  id: string;
  title: string;
  state: ProposalState;
  version: string;
  minVersion: string;
  deadline: number;
  effective: number;
  /** `upgrade.readiness` in force, in %. */
  readiness: number;
  /** The running node's verdict, or null without one. */
  activation: NodeUpgradeRow["state"] | null;
  active?: number;
  ready?: number;
  ratio?: number;
}

/**
 * Accepted and pending upgrades. An accepted upgrade's `minVersion` takes
 * effect at the later of its deadline and network readiness
 * (core/governance/upgrade_readiness.ts), which only a running node can see
 * (the signed hellos it holds): with one running on this data dir its verdict
 * is shown; without, each upgrade says when it may take effect and that the
 * node decides. The deadline alone never makes a version "in force" here.
 */
export async function upgrades(ctx: CliContext) {
  const now = ctx.clock.now();
  const view = await openView(ctx);
  const params = await view.paramsAt(now);
  const readiness = numberParam(params, "upgrade.readiness");
  const node = await nodeUpgradeView(ctx);
  const byId = new Map((node.upgrades ?? []).map((u) => [u.id, u]));
  const rows: UpgradeRow[] = [];
  for (const entry of await view.index("upgrade")) {
    const record = await view.proposal(entry.id);
    if (!record) continue;
    const state = await view.stateOf(record, now);
    if (state === "Cancelled" || state === "Rejected" || state === "NoQuorum") continue;
    const action = record.action as UpgradeAction;
    const seen = byId.get(record.id);
    rows.push({
      id: record.id,
      title: record.title,
      state,
      version: action.version,
      minVersion: action.minVersion,
      deadline: action.deadline,
      effective: record.effective,
      readiness,
      activation: seen?.state ?? null,
      ...(seen ? { active: seen.active, ready: seen.ready, ratio: seen.ratio } : {}),
    });
  }
  const inForce = rows.filter((r) => r.activation === "in_force").map((r) => r.minVersion)
    .sort(compareVersions).at(-1) ?? null;
  const peerVersions = node.peerVersions;
  const shares = peerVersions === null ? [] : Object.entries(peerVersions).map(([v, n]) => {
    const total = Object.values(peerVersions).reduce((a, b) => a + b, 0);
    return `  ${terminalSafe(v)}: ${n} peer(s) (${Math.round((n * 100) / total)}%)`;
  });
  const running = node.upgrades !== null;
  const when = (r: UpgradeRow) => {
    const after = iso(Math.max(r.deadline, r.effective));
    const rule = `after ${after} once ${r.readiness}% of active members' nodes run ≥ ${
      terminalSafe(r.minVersion)
    }`;
    if (r.state !== "Executed" && r.state !== "Accepted") {
      return `if accepted, takes effect ${rule}`;
    }
    if (r.activation === "in_force") return "in force: this node refuses peers below it";
    if (r.activation === "waiting") {
      return `waiting: ${r.ready}/${r.active} active member nodes ready (${
        Math.round((r.ratio ?? 0) * 100)
      }%, ${r.readiness}% needed); peers are warned of, not refused`;
    }
    return `scheduled: takes effect ${rule}${
      running ? "" : " (the node decides; see icn node status)"
    }`;
  };
  return {
    warnings: node.warnings,
    data: {
      protocolVersion,
      minVersionInForce: running ? inForce : null,
      nodeRunning: running,
      upgrades: rows,
      peerVersions,
    },
    text: [
      `This node runs protocol ${protocolVersion}; ${
        running
          ? `minimum version in force: ${inForce ?? "none"}`
          : "minimum version in force: decided by the running node (none running; see icn node status)"
      }`,
      ...(rows.length === 0 ? ["No pending or accepted upgrades"] : rows.flatMap((r) => [
        `${r.id.slice(0, 16)}  ${r.state.padEnd(8)} ${terminalSafe(r.version)} (min ${
          terminalSafe(r.minVersion)
        }) deadline ${iso(r.deadline)}  ${terminalSafe(r.title)}`,
        `    ${when(r)}`,
      ])),
      ...(peerVersions === null
        ? ["Peer versions: no node is running on this data dir (`icn node run`)"]
        : shares.length === 0
        ? ["Peer versions: no connected peers"]
        : ["Peer versions:", ...shares]),
    ],
  };
}

/**
 * From a node running on this data dir: connected peers per announced protocol
 * version and its upgrade verdicts; nulls when none runs.
 */
async function nodeUpgradeView(ctx: CliContext): Promise<{
  peerVersions: Record<string, number> | null;
  upgrades: NodeUpgradeRow[] | null;
  warnings: string[];
}> {
  const { callNode, findRunningNode } = await import("./node_client.ts");
  const node = await findRunningNode(ctx);
  if (!node) return { peerVersions: null, upgrades: null, warnings: [] };
  try {
    const peers = await callNode(node, "GET", "/control/peers") as { version?: string | null }[];
    const counts: Record<string, number> = {};
    for (const peer of Array.isArray(peers) ? peers : []) {
      const version = peer.version ?? "unknown";
      counts[version] = (counts[version] ?? 0) + 1;
    }
    const status = await callNode(node, "GET", "/control/status") as {
      upgrades?: NodeUpgradeRow[];
    };
    const upgrades = Array.isArray(status?.upgrades) ? status.upgrades : [];
    return { peerVersions: counts, upgrades, warnings: [] };
  } catch (error) {
    return {
      peerVersions: null,
      upgrades: null,
      warnings: [
        `Cannot ask the running node for peer versions and upgrades: ${(error as Error).message}`,
      ],
    };
  }
}

export async function members(ctx: CliContext) {
  const now = ctx.clock.now();
  const view = await openView(ctx);
  const current = [...await view.membersAt(now)].sort();
  const founders = new Set(view.genesis.members);
  const rows = [];
  for (const did of current) {
    rows.push({
      did,
      founder: founders.has(did),
      delegations: await view.delegationsOf(did, now),
    });
  }
  const labels = await contactLabels(ctx);
  return {
    data: { count: rows.length, members: rows },
    warnings: labels.warnings,
    text: [
      `${rows.length} member(s)`,
      ...rows.map((r) =>
        `  ${labels.label(r.did)}${r.founder ? " (founder)" : ""}${
          r.delegations.length
            ? `  delegates ${
              r.delegations.map((d) => `${terminalSafe(d.scope)}→${labels.label(d.to)}`).join(
                ", ",
              )
            }`
            : ""
        }`
      ),
    ],
  };
}

export type { CommandResult };
