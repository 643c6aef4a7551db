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
