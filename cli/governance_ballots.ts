/**
 * Handlers of `icn governance reveal`, `audit` and `todo`: opening this
 * member's secret ballot after the close, checking every counted ballot of a
 * proposal against its signed envelopes, and listing what needs this member.
 */
import { StateOverlay } from "../core/chain/state.ts";
import { chainKeys, type StoredEnvelope } from "../core/chain/keys.ts";
import { decodeEnvelopeSync } from "../core/envelope/envelope.ts";
import { InvalidInputError } from "../core/errors.ts";
import { auditBallot, type AuditStatus, type BallotAudit } from "../core/governance/secret.ts";
import { GovernanceView, type ProposalRecord } from "../core/governance/view.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { formatDuration } from "../core/params.ts";
import type { CliContext } from "./context.ts";
import { describeBallot, readOpening } from "./governance_methods.ts";

async function openView(ctx: CliContext): Promise<GovernanceView> {
  const { genesis } = await ctx.network();
  return new GovernanceView(new StateOverlay(await ctx.store()), genesis);
}

const iso = (ms: number) => new Date(ms).toISOString();

async function findProposal(view: GovernanceView, id: string): Promise<ProposalRecord> {
  const exact = await view.proposal(id);
  if (exact) return exact;
  const matches = id.length >= 6
    ? (await view.allEntries()).filter((e) => e.id.startsWith(id))
    : [];
  if (matches.length === 1) return (await view.proposal(matches[0].id))!;
  throw new InvalidInputError(
    matches.length > 1
      ? `Proposal id prefix "${id}" matches ${matches.length} proposals; give more characters`
      : `No proposal "${id}" (see \`icn governance list\`)`,
  );
}

export async function reveal(ctx: CliContext, args: string[]) {
  const view = await openView(ctx);
  const record = await findProposal(view, args[0]);
  if (!record.secret) {
    throw new InvalidInputError(
      `Nothing to reveal: "${terminalSafe(record.title)}" has an open ballot`,
    );
  }
  const { did } = await ctx.readPublicIdentity();
  const vote = (await view.votes(record.id)).get(did);
  if (!vote?.commitment) {
    throw new InvalidInputError(
      `Nothing to reveal: you did not vote on "${terminalSafe(record.title)}"`,
    );
  }
  const now = ctx.clock.now();
  const { closes, revealEnds } = await view.timing(record);
  if (now <= closes) {
    throw new InvalidInputError(
      `Cannot reveal yet: voting closes at ${iso(closes)}; reveal between then and ${
        iso(revealEnds)
      }`,
    );
  }
  const opening = await readOpening(ctx, record.id, vote.commitment);
  const { cid } = await ctx.submitOrThrow({
    kind: "gov.reveal",
    body: { proposal: record.id, ballot: opening.ballot, salt: opening.salt },
  });
  return {
    data: { proposal: record.id, ballot: opening.ballot, cid },
    text: `Revealed ${describeBallot(record.method, opening.ballot)} on "${
      terminalSafe(record.title)
    }" (${record.id.slice(0, 16)})`,
  };
}

/**
 * Checks each vote of a proposal from the envelopes this data dir holds: the
 * voter was a member when it opened; the stored vote is the signed envelope's
 * (re-decoded canonically, its content id recomputed); on a secret ballot the
 * reveal's ballot and salt hash to the vote's commitment, it fits the method
 * and came inside the reveal window (the rule: `auditBallot`, shared with
 * `icn federation audit`). Signatures were verified against the author's keys
 * when each envelope was accepted.
 */
export async function audit(ctx: CliContext, args: string[]) {
  const { id: net } = await ctx.network();
  const store = await ctx.store();
  const view = await openView(ctx);
  const record = await findProposal(view, args[0]);
  const { closes, revealEnds } = await view.timing(record);
  const reveals = record.secret ? await view.reveals(record.id) : new Map();
  const rows: ({ did: string } & BallotAudit)[] = [];
  const envelopeAt = async (author: string, seq: number, cid: string) => {
    const stored = (await store.get<StoredEnvelope>(chainKeys.position(net, author, seq)))?.value;
    if (!stored || !("bytes" in stored) || stored.cid !== cid) return undefined;
    const sealed = decodeEnvelopeSync(stored.bytes);
    return sealed.cid === cid && sealed.envelope.author === author ? sealed.envelope : undefined;
  };
  for (const [did, vote] of [...await view.votes(record.id)].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const opened = reveals.get(did);
    const verdict = auditBallot({
      proposal: record,
      window: { closes, revealEnds },
      voter: did,
      vote,
      voteEnvelope: await envelopeAt(did, vote.seq, vote.cid),
      ineligible: (await view.isMember(did, record.opened))
        ? undefined
        : "not a member when the proposal opened",
      reveal: opened,
      revealEnvelope: opened && await envelopeAt(did, opened.seq, opened.cid),
    });
    rows.push({ did, ...verdict });
  }
  const count = (status: AuditStatus) => rows.filter((r) => r.status === status).length;
  const t = await view.tally(record);
  const counted = count("counted");
  const problems = rows.length - counted - count("unrevealed");
  // Direct ballots the tally counted must be exactly the ones the audit found sound.
  const consistent = problems === 0 && t.cast - t.delegated === counted;
  return {
    // A failed audit is a finding, like `ledger check`'s: the result is printed and the exit is 1.
    exitCode: consistent ? 0 : 1,
    data: {
      proposal: record.id,
      secret: record.secret === true,
      ok: consistent,
      counted,
      unrevealed: count("unrevealed"),
      problems,
      tallyCast: t.cast,
      delegated: t.delegated,
      votes: rows,
    },
    text: [
      `${consistent ? "Audit passed" : "Audit FAILED"}: ${counted} ballot(s) counted${
        record.secret
          ? ` (each opens its signed commitment), ${count("unrevealed")} unrevealed`
          : ""
      }, ${problems} problem(s); tally cast ${t.cast} (${t.delegated} by delegation)`,
      ...rows.map((r) =>
        `  ${r.status.padEnd(12)} ${r.did}${
          r.ballot !== undefined ? `  ${describeBallot(record.method, r.ballot)}` : ""
        }${r.detail ? `  — ${r.detail}` : ""}`
      ),
    ],
  };
}

/** Open proposals this member has not voted on, and secret ones they still have to reveal. */
export async function todo(ctx: CliContext) {
  const now = ctx.clock.now();
  const view = await openView(ctx);
  const { did } = await ctx.readPublicIdentity();
  const rows = [];
  for (const entry of await view.allEntries()) {
    if (entry.cancelled !== undefined) continue;
    const record = await view.proposal(entry.id);
    if (!record) continue;
    const timing = await view.timing(record);
    if (now > timing.revealEnds) continue;
    const vote = (await view.votes(record.id)).get(did);
    let action: "vote" | "reveal" | undefined;
    let deadline = timing.closes;
    if (now <= timing.closes) {
      if (!vote && (await view.isMember(did, record.opened))) action = "vote";
    } else if (record.secret && vote?.commitment && !(await view.reveals(record.id)).has(did)) {
      action = "reveal";
      deadline = timing.revealEnds;
    }
    if (!action) continue;
    rows.push({
      id: record.id,
      title: record.title,
      kind: record.kind,
      method: record.method?.name ?? "proposal",
      action,
      deadline,
      timeLeft: deadline - now,
    });
  }
  rows.sort((a, b) => a.deadline - b.deadline || (a.id < b.id ? -1 : 1));
  return {
    data: { count: rows.length, items: rows },
    text: rows.length === 0
      ? ["Nothing needs your vote"]
      : rows.map((r) =>
        `${r.id.slice(0, 16)}  ${r.action.padEnd(6)} ${
          formatDuration(Math.max(1000, Math.floor(r.timeLeft / 1000) * 1000)).padStart(6)
        } left  ${r.method.padEnd(11)} ${terminalSafe(r.title)}`
      ),
  };
}
