/**
 * Secret ballots: during voting a voter signs only a hiding commitment to
 * their ballot; after the close they reveal the ballot and the salt, and
 * anyone holding both envelopes can check one against the other.
 *
 * commitment = hex(SHA-256("icn/gov.ballot/v1\n" ‖ DAG-CBOR({ballot, proposal, salt, voter})))
 *
 * The salt is 32 random bytes (64 hex characters) chosen by the voter, so the
 * handful of possible ballots cannot be found by trying each; the proposal id
 * and voter DID are inside so that nobody can copy another's commitment and
 * reveal it as their own once the other's ballot is public.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { concatBytes, toHex, utf8Encode } from "../bytes.ts";
import { RejectedError } from "../errors.ts";
import { sha256Sync } from "../identity/keys.ts";
import { checkBallot, type MethodSpec } from "./methods/mod.ts";
import { choices } from "./tally.ts";

export const saltBytes = 32;
const saltPattern = /^[0-9a-f]{64}$/;
export const commitmentPattern = /^[0-9a-f]{64}$/;
const domain = utf8Encode("icn/gov.ballot/v1\n");

/** What a reveal discloses: the ballot (a vote choice or a method ballot) and its salt. */
export interface BallotOpening {
  ballot: unknown;
  /** 64 lowercase hex characters. */
  salt: string;
}

export function isSalt(value: unknown): value is string {
  return typeof value === "string" && saltPattern.test(value);
}

/** The commitment to `opening` by `voter` on `proposal`. */
export function ballotCommitment(
  context: { proposal: string; voter: string },
  opening: BallotOpening,
): string {
  const encoded = dagCbor.encode({
    ballot: opening.ballot,
    proposal: context.proposal,
    salt: opening.salt,
    voter: context.voter,
  });
  return toHex(sha256Sync(concatBytes(domain, encoded)));
}

/** A fresh salt from `bytes` (an Rng's output of `saltBytes` bytes). */
export function saltFrom(bytes: Uint8Array): string {
  if (bytes.length !== saltBytes) throw new RangeError(`A salt needs ${saltBytes} random bytes`);
  return toHex(bytes);
}

/**
 * Refuses a reveal at `ts` outside the reveal window: after the close, until
 * `revealEnds` (both ends as `timing()` gives them). The one rule for
 * cooperatives (`gov.reveal`) and federations (`fed.reveal`).
 */
export function checkRevealTime(
  proposal: string,
  ts: number,
  window: { closes: number; revealEnds: number },
): void {
  if (ts <= window.closes) {
    throw new RejectedError(
      "too_early",
      `Cannot reveal on "${proposal}" before voting closes at ${
        new Date(window.closes).toISOString()
      }`,
    );
  }
  if (ts > window.revealEnds) {
    throw new RejectedError(
      "closed",
      `Cannot reveal on "${proposal}": the reveal window ended at ${
        new Date(window.revealEnds).toISOString()
      }`,
    );
  }
}

/** What an audit finds of one counted vote (`auditBallot`). */
export type AuditStatus =
  | "counted"
  | "unrevealed"
  | "not_eligible"
  | "mismatch"
  | "late"
  | "missing";

/** A signed envelope as the audit reads it back: its time and body. */
export interface AuditedEnvelope {
  ts: number;
  body: unknown;
}

/** One vote to audit, and what the caller read back from the envelopes it holds. */
export interface BallotAuditInput {
  proposal: { id: string; secret?: boolean; method?: MethodSpec };
  /** The window as `timing()` derives it (a late quorum may move the close). */
  window: { closes: number; revealEnds: number };
  /** Who the commitment names: a member's DID, or a cooperative's network id in a federation. */
  voter: string;
  /** The stored vote: its envelope's CID and, secret, its commitment; undefined when none matches. */
  vote: { cid: string; commitment?: string } | undefined;
  /** The vote's signed envelope, when this data dir holds it (at the stored position and CID). */
  voteEnvelope: AuditedEnvelope | undefined;
  /** Fields the vote's and reveal's bodies must carry beside `proposal` (a federation: `coop`). */
  scope?: Readonly<Record<string, string>>;
  /** Why the voter could not vote (not eligible when it opened; not a delegate); undefined when it could. */
  ineligible?: string;
  /** Secret: the stored reveal that opens the vote's commitment, if any. */
  reveal?: { cid: string };
  /** Its signed envelope, when held. */
  revealEnvelope?: AuditedEnvelope;
  /** Why the revealer could not reveal (not a delegate then); undefined when it could. */
  revealerIneligible?: string;
}

/** The audit's verdict on one vote: the ballot its envelopes say, and what is wrong. */
export interface BallotAudit {
  status: AuditStatus;
  ballot?: unknown;
  detail?: string;
}

const isoTime = (ms: number) => new Date(ms).toISOString();

/**
 * The audit rule for one vote, the same for a cooperative (`icn governance
 * audit`) and a federation (`icn federation audit`): the signed vote is held
 * and names the proposal; the voter could vote; it came by the close; on an
 * open ballot its ballot is what counts; on a secret one the stored
 * commitment is the signed one, a held reveal's ballot and salt open it, the
 * ballot fits the proposal, and the reveal came inside the reveal window from
 * someone who could reveal. Pure: the caller reads the envelopes back.
 */
export function auditBallot(input: BallotAuditInput): BallotAudit {
  const { proposal, window } = input;
  const matches = (envelope: AuditedEnvelope | undefined) => {
    const body = envelope?.body as Record<string, unknown> | undefined;
    if (!body || body.proposal !== proposal.id) return undefined;
    for (const [field, value] of Object.entries(input.scope ?? {})) {
      if (body[field] !== value) return undefined;
    }
    return body;
  };
  const body = matches(input.voteEnvelope);
  if (!input.vote || !body) {
    return {
      status: "missing",
      detail: `vote envelope ${input.vote?.cid ?? "?"} is not held or does not match`,
    };
  }
  if (input.ineligible !== undefined) return { status: "not_eligible", detail: input.ineligible };
  if (input.voteEnvelope!.ts > window.closes) {
    return { status: "late", detail: `voted ${isoTime(input.voteEnvelope!.ts)}, after the close` };
  }
  if (!proposal.secret) {
    return { status: "counted", ballot: proposal.method ? body.ballot : body.choice };
  }
  if (body.commitment !== input.vote.commitment) {
    return { status: "mismatch", detail: "stored commitment differs from the signed vote's" };
  }
  if (!input.reveal) return { status: "unrevealed", detail: "no reveal: counts as not voting" };
  const revealBody = matches(input.revealEnvelope);
  if (!revealBody) {
    return {
      status: "missing",
      detail: `reveal envelope ${input.reveal.cid} is not held or does not match`,
    };
  }
  const ballot = revealBody.ballot;
  let fits = true;
  try {
    if (proposal.method) checkBallot(proposal.method, ballot);
    else fits = (choices as readonly unknown[]).includes(ballot);
  } catch {
    fits = false;
  }
  const hash = typeof revealBody.salt === "string"
    ? ballotCommitment({ proposal: proposal.id, voter: input.voter }, {
      ballot,
      salt: revealBody.salt,
    })
    : undefined;
  if (!fits || hash !== body.commitment) {
    return {
      status: "mismatch",
      ballot,
      detail: fits ? "reveal does not open the commitment" : "revealed ballot does not fit",
    };
  }
  const revealedAt = input.revealEnvelope!.ts;
  if (revealedAt <= window.closes || revealedAt > window.revealEnds) {
    return {
      status: "late",
      ballot,
      detail: `revealed ${isoTime(revealedAt)}, outside the reveal window`,
    };
  }
  if (input.revealerIneligible !== undefined) {
    return { status: "not_eligible", ballot, detail: input.revealerIneligible };
  }
  return { status: "counted", ballot };
}
