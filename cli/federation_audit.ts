/**
 * `icn federation audit` and `icn federation todo`: the federation side of
 * `icn governance audit`/`todo` (cli/governance_ballots.ts), with the
 * cooperative as the voter. The audit re-reads each counted `fed.vote` and
 * `fed.reveal` envelope from this data dir's federation store and checks it
 * with the cooperative's audit rule (`auditBallot` in core/governance/secret.ts,
 * the cooperative's network id as the voter, the reveal window of
 * `view.timing`), then that the tally counted exactly those ballots.
 */
import { chainKeys, type StoredEnvelope } from "../core/chain/keys.ts";
import { decodeEnvelopeSync, type Envelope } from "../core/envelope/envelope.ts";
import { auditBallot, type AuditStatus, type BallotAudit } from "../core/governance/secret.ts";
import { formatDuration } from "../core/params.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { listAll } from "../core/store/store.ts";
import type { CliContext } from "./context.ts";
import {
  allProposals,
  type Federation,
  type NetOptions,
  openFederation,
  resolveProposal,
} from "./federation.ts";
import { describeBallot } from "./governance_methods.ts";
import type { CommandResult } from "./output.ts";

type AuditRow = { coop: string; did: string } & BallotAudit;

/** The envelope `cid` signed by `author`: at `seq` when known, else found on its chain. */
async function envelopeOf(
  fed: Federation,
  author: string,
  cid: string,
  seq?: number,
): Promise<Envelope | undefined> {
  const { store, id: net } = fed.network;
  const decode = (stored: StoredEnvelope | undefined) => {
    if (!stored || !("bytes" in stored) || stored.cid !== cid) return undefined;
    const sealed = decodeEnvelopeSync(stored.bytes);
    return sealed.cid === cid && sealed.envelope.author === author ? sealed.envelope : undefined;
  };
  if (seq !== undefined) {
    return decode((await store.get<StoredEnvelope>(chainKeys.position(net, author, seq)))?.value);
  }
  for (
    const e of await listAll<StoredEnvelope>(store, { prefix: chainKeys.chainPrefix(net, author) })
  ) {
    if (e.value.cid === cid) return decode(e.value);
  }
  return undefined;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Checks each cooperative's counted vote on a federation proposal from the
 * envelopes this data dir holds: the cooperative was in the federation when
 * it opened and the signer its delegate when voting (and when revealing); the
 * vote came before the close; on a secret ballot the reveal's ballot and salt
 * open the vote's commitment (the cooperative as the voter), fit the method,
 * and came inside the reveal window; and the tally counted exactly the
 * ballots found sound. Signatures were verified when each envelope was accepted.
 */
export async function audit(
  ctx: CliContext,
  args: string[],
  options: NetOptions,
): Promise<CommandResult> {
  const fed = await openFederation(ctx, options.net, `audit "${terminalSafe(args[0])}"`);
  const view = fed.view;
  const record = await resolveProposal(view, args[0]);
  const { closes, revealEnds } = await view.timing(record);
  const coops = await view.coopsAt(record.opened);
  const t = await view.tally(record);
  const votes = await view.votes(record.id);
  const reveals = record.secret ? await view.reveals(record.id) : [];
  const tallied = new Map<string, unknown>();
  if (t.method) {
    for (const b of t.method.ballots) if (b.ballot !== null) tallied.set(b.coop, b.ballot);
  } else {
    for (const b of t.ballots) if (b.choice !== null) tallied.set(b.coop, b.choice);
  }
  const isDelegate = async (coop: string, did: string, ts: number) =>
    (await view.delegatesAt(coop, ts))?.delegates.includes(did) === true;
  const rows: AuditRow[] = [];
  for (const b of [...t.ballots].sort((x, y) => (x.coop < y.coop ? -1 : 1))) {
    if (b.by === undefined) continue;
    const vote = votes.find((v) => v.coop === b.coop && v.did === b.by && v.ts === b.ts);
    const envelope = vote && await envelopeOf(fed, vote.did, vote.cid, vote.seq);
    // Of the reveals that open the commitment (each kept), the first inside the window counts.
    const opening = vote?.commitment === undefined ? [] : reveals
      .filter((r) => r.coop === b.coop && r.commitment === vote.commitment)
      .sort((x, y) => x.ts - y.ts || (x.cid < y.cid ? -1 : x.cid > y.cid ? 1 : 0));
    const opened = opening.find((r) => r.ts > closes && r.ts <= revealEnds) ?? opening[0];
    const revealEnvelope = opened && await envelopeOf(fed, opened.did, opened.cid);
    const verdict = auditBallot({
      proposal: record,
      window: { closes, revealEnds },
      voter: b.coop,
      vote,
      voteEnvelope: envelope,
      scope: { coop: b.coop },
      ineligible: !coops.has(b.coop)
        ? "not a cooperative of the federation when the proposal opened"
        : envelope && !(await isDelegate(b.coop, envelope.author, envelope.ts))
        ? "the signer was not the cooperative's delegate when voting"
        : undefined,
      reveal: opened,
      revealEnvelope,
      revealerIneligible: revealEnvelope &&
          !(await isDelegate(b.coop, revealEnvelope.author, revealEnvelope.ts))
        ? "the revealer was not the cooperative's delegate when revealing"
        : undefined,
    });
    rows.push({ coop: b.coop, did: b.by, ...verdict });
  }
  // The tally must count exactly the sound ballots, each as the envelopes say.
  for (const row of rows) {
    if (row.status === "counted" && !same(tallied.get(row.coop), row.ballot)) {
      row.status = "mismatch";
      row.detail = "the tally counts a different ballot";
    }
  }
  const count = (status: AuditStatus) => rows.filter((r) => r.status === status).length;
  const counted = count("counted");
  const problems = rows.length - counted - count("unrevealed");
  const consistent = problems === 0 && tallied.size === counted;
  const name = (net: string) => terminalSafe(coops.get(net)?.name ?? net);
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
      tallyCounted: tallied.size,
      ignored: t.ignored.length,
      votes: rows,
    },
    text: [
      `${consistent ? "Audit passed" : "Audit FAILED"}: ${counted} cooperative ballot(s) counted${
        record.secret
          ? ` (each opens its signed commitment), ${count("unrevealed")} unrevealed`
          : ""
      }, ${problems} problem(s); the tally counts ${tallied.size}; ${t.ignored.length} vote(s) ignored by the rules`,
      ...rows.map((r) =>
        `  ${r.status.padEnd(12)} ${name(r.coop)} by ${r.did}${
          r.ballot !== undefined ? `  ${describeBallot(record.method, r.ballot)}` : ""
        }${r.detail ? `  — ${r.detail}` : ""}`
      ),
    ],
  };
}

/**
 * Open federation proposals that a cooperative the caller is a current
 * delegate of has not voted on, and secret ballots it still has to reveal;
 * soonest deadline first.
 */
export async function todo(
  ctx: CliContext,
  _args: string[],
  options: NetOptions,
): Promise<CommandResult> {
  const fed = await openFederation(ctx, options.net, "list what needs your vote");
  const view = fed.view;
  const { did } = await ctx.readPublicIdentity();
  const now = ctx.clock.now();
  const mine: string[] = [];
  const current = await view.coopsAt(now);
  for (const coop of current.values()) {
    if ((await view.delegatesAt(coop.net, now))?.delegates.includes(did)) mine.push(coop.net);
  }
  const rows = [];
  for (const record of await allProposals(view)) {
    const timing = await view.timing(record);
    if (now > timing.revealEnds || mine.length === 0) continue;
    const eligible = await view.coopsAt(record.opened);
    const t = await view.tally(record);
    for (const coop of mine) {
      if (!eligible.has(coop)) continue;
      if (record.kind === "clearing") {
        const action = record.action as unknown as { coopA: string; coopB: string };
        if (coop !== action.coopA && coop !== action.coopB) continue;
      }
      const ballot = t.ballots.find((b) => b.coop === coop);
      let action: "vote" | "reveal" | undefined;
      let deadline = timing.closes;
      if (now <= timing.closes) {
        if (ballot?.by === undefined) action = "vote";
      } else if (
        record.secret && ballot?.commitment !== undefined && t.unrevealed?.includes(coop)
      ) {
        action = "reveal";
        deadline = timing.revealEnds;
      }
      if (!action) continue;
      rows.push({
        id: record.id,
        title: record.title,
        kind: record.kind,
        method: record.method?.name ?? "proposal",
        coop,
        coopName: current.get(coop)?.name ?? coop,
        action,
        deadline,
        timeLeft: deadline - now,
      });
    }
  }
  rows.sort((a, b) => a.deadline - b.deadline || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    data: { count: rows.length, items: rows },
    text: rows.length === 0
      ? [
        mine.length === 0
          ? `You are not a delegate of any cooperative of federation "${
            terminalSafe(fed.genesis.name)
          }"`
          : "Nothing needs your cooperative's vote",
      ]
      : rows.map((r) =>
        `${r.id.slice(0, 16)}  ${r.action.padEnd(6)} ${
          formatDuration(Math.max(1000, Math.floor(r.timeLeft / 1000) * 1000)).padStart(6)
        } left  for "${terminalSafe(r.coopName)}"  ${r.method.padEnd(11)} ${terminalSafe(r.title)}`
      ),
  };
}
