import { deepStrictEqual as assertEquals } from "node:assert";
import type { MethodSpec } from "./methods/mod.ts";
import { auditBallot, type BallotAuditInput, ballotCommitment } from "./secret.ts";

const proposal = "bproposal";
const voter = "did:icn:zVoter";
const salt = "5".repeat(64);
const poll: MethodSpec = { name: "poll", options: ["Lyon", "Turin"] };
const window = { closes: 1_000, revealEnds: 2_000 };
const commitment = ballotCommitment({ proposal, voter }, { ballot: 1, salt });

/** A sound secret poll vote revealed inside the window; each case changes one thing. */
function secretInput(change: Partial<BallotAuditInput> = {}): BallotAuditInput {
  return {
    proposal: { id: proposal, secret: true, method: poll },
    window,
    voter,
    vote: { cid: "bvote", commitment },
    voteEnvelope: { ts: 900, body: { proposal, commitment } },
    reveal: { cid: "breveal" },
    revealEnvelope: { ts: 1_500, body: { proposal, ballot: 1, salt } },
    ...change,
  };
}

Deno.test("auditBallot() counts a sound open ballot as its signed envelope says", () => {
  const open = (method?: MethodSpec) => ({
    proposal: { id: proposal, method },
    window,
    voter,
    vote: { cid: "bvote" },
    voteEnvelope: { ts: 900, body: { proposal, choice: "for", ballot: 0 } },
  });
  assertEquals(auditBallot(open()), { status: "counted", ballot: "for" });
  assertEquals(auditBallot(open(poll)), { status: "counted", ballot: 0 });
});

Deno.test("auditBallot() counts a secret ballot whose reveal opens its commitment inside the window", () => {
  assertEquals(auditBallot(secretInput()), { status: "counted", ballot: 1 });
  // A federation: the cooperative is the voter, and both bodies must name it.
  const coop = "bcoop";
  const forCoop = ballotCommitment({ proposal, voter: coop }, { ballot: 1, salt });
  assertEquals(
    auditBallot(secretInput({
      voter: coop,
      scope: { coop },
      vote: { cid: "bvote", commitment: forCoop },
      voteEnvelope: { ts: 900, body: { proposal, coop, commitment: forCoop } },
      revealEnvelope: { ts: 1_500, body: { proposal, coop, ballot: 1, salt } },
    })),
    { status: "counted", ballot: 1 },
  );
});

Deno.test("auditBallot() finds what is missing, ineligible, late, unrevealed or does not open", () => {
  const cases: [Partial<BallotAuditInput>, unknown][] = [
    [{ vote: undefined }, {
      status: "missing",
      detail: "vote envelope ? is not held or does not match",
    }],
    [{ voteEnvelope: undefined }, {
      status: "missing",
      detail: "vote envelope bvote is not held or does not match",
    }],
    [{ voteEnvelope: { ts: 900, body: { proposal: "bother", commitment } } }, {
      status: "missing",
      detail: "vote envelope bvote is not held or does not match",
    }],
    [{ scope: { coop: "bcoop" } }, {
      status: "missing",
      detail: "vote envelope bvote is not held or does not match",
    }],
    [{ ineligible: "not a member when the proposal opened" }, {
      status: "not_eligible",
      detail: "not a member when the proposal opened",
    }],
    [{ voteEnvelope: { ts: 1_001, body: { proposal, commitment } } }, {
      status: "late",
      detail: "voted 1970-01-01T00:00:01.001Z, after the close",
    }],
    [{ vote: { cid: "bvote", commitment: "0".repeat(64) } }, {
      status: "mismatch",
      detail: "stored commitment differs from the signed vote's",
    }],
    [{ reveal: undefined }, { status: "unrevealed", detail: "no reveal: counts as not voting" }],
    [{ revealEnvelope: undefined }, {
      status: "missing",
      detail: "reveal envelope breveal is not held or does not match",
    }],
    [{ revealEnvelope: { ts: 1_500, body: { proposal, ballot: 0, salt } } }, {
      status: "mismatch",
      ballot: 0,
      detail: "reveal does not open the commitment",
    }],
    [{ revealEnvelope: { ts: 1_500, body: { proposal, ballot: 1 } } }, {
      status: "mismatch",
      ballot: 1,
      detail: "reveal does not open the commitment",
    }],
    [{ revealEnvelope: { ts: 1_500, body: { proposal, ballot: 7, salt } } }, {
      status: "mismatch",
      ballot: 7,
      detail: "revealed ballot does not fit",
    }],
    [{ revealEnvelope: { ts: 1_000, body: { proposal, ballot: 1, salt } } }, {
      status: "late",
      ballot: 1,
      detail: "revealed 1970-01-01T00:00:01.000Z, outside the reveal window",
    }],
    [{ revealEnvelope: { ts: 2_001, body: { proposal, ballot: 1, salt } } }, {
      status: "late",
      ballot: 1,
      detail: "revealed 1970-01-01T00:00:02.001Z, outside the reveal window",
    }],
    [{ revealerIneligible: "the revealer was not the cooperative's delegate when revealing" }, {
      status: "not_eligible",
      ballot: 1,
      detail: "the revealer was not the cooperative's delegate when revealing",
    }],
  ];
  for (const [change, expected] of cases) {
    assertEquals(auditBallot(secretInput(change)), expected, JSON.stringify(change));
  }
  // A for/against secret ballot fits only a choice.
  const choice = ballotCommitment({ proposal, voter }, { ballot: "maybe", salt });
  assertEquals(
    auditBallot(secretInput({
      proposal: { id: proposal, secret: true },
      vote: { cid: "bvote", commitment: choice },
      voteEnvelope: { ts: 900, body: { proposal, commitment: choice } },
      revealEnvelope: { ts: 1_500, body: { proposal, ballot: "maybe", salt } },
    })),
    { status: "mismatch", ballot: "maybe", detail: "revealed ballot does not fit" },
  );
});
