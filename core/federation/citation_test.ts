import { deepStrictEqual as assertEquals } from "node:assert";
import { Coop, t0 } from "../governance/_fixture.ts";
import { GovernanceView } from "../governance/view.ts";
import {
  checkDelegatesCitation,
  type CitationFailure,
  type DelegatesCitation,
  delegatesCitationFor,
} from "./citation.ts";

const s = 1000;
const fast = {
  "governance.delegates.votingPeriod": 10 * s,
  "governance.delegates.timelock": 20 * s,
  "governance.membership.votingPeriod": 10 * s,
  "governance.text.votingPeriod": 10 * s,
};
const federation = "bafyreifederationone";
/** When a delegates proposal opened at t0 takes effect. */
const effective = t0 + 30 * s;

async function propose(coop: Coop, kind: "delegates" | "text", action: object, ts: number) {
  const [a, b, c] = coop.people;
  const proposal = await coop.submit(
    a,
    "gov.proposal",
    // deno-lint-ignore no-explicit-any
    coop.proposalBody(kind, action as any),
    ts,
  );
  for (const who of [a, b, c]) {
    await coop.submit(who, "gov.vote", { proposal: proposal.cid, choice: "for" }, ts + s);
  }
  return proposal.cid;
}

async function setup() {
  const coop = await Coop.create(3, 0, fast);
  const [a, b] = coop.people;
  const delegates = [a.did, b.did].sort();
  const proposal = await propose(coop, "delegates", { federation, delegates }, t0);
  const body: DelegatesCitation = { coop: coop.net, delegates, members: 3, proposal };
  const view = () => new GovernanceView(coop.reader(), coop.genesis);
  return { coop, body, view };
}

async function reason(
  view: GovernanceView,
  body: DelegatesCitation,
  at = effective,
): Promise<CitationFailure | "ok"> {
  const result = await checkDelegatesCitation(view, body, { federation, at });
  return result.ok ? "ok" : result.reason;
}

Deno.test("checkDelegatesCitation() accepts the executed proposal that chose exactly these delegates", async () => {
  const { body, view } = await setup();
  const result = await checkDelegatesCitation(view(), body, { federation, at: effective });
  assertEquals(result.ok && result.proposal.id, body.proposal);
});

Deno.test("checkDelegatesCitation() refuses a body naming another cooperative", async () => {
  const { body, view } = await setup();
  assertEquals(await reason(view(), { ...body, coop: "bafyreiothercoop" }), "wrong_cooperative");
});

Deno.test("checkDelegatesCitation() refuses a proposal the cooperative does not hold", async () => {
  const { body, view } = await setup();
  assertEquals(
    await reason(view(), { ...body, proposal: "bafyreinosuchproposal" }),
    "unknown_proposal",
  );
});

Deno.test("checkDelegatesCitation() refuses a proposal of another kind", async () => {
  const { coop, body, view } = await setup();
  const text = await propose(coop, "text", {}, t0);
  assertEquals(await reason(view(), { ...body, proposal: text }), "not_delegates_proposal");
});

Deno.test("checkDelegatesCitation() refuses delegates chosen for another federation", async () => {
  const { coop, body, view } = await setup();
  const other = await propose(coop, "delegates", {
    federation: "bafyreifederationtwo",
    delegates: body.delegates,
  }, t0);
  assertEquals(await reason(view(), { ...body, proposal: other }), "other_federation");
});

Deno.test("checkDelegatesCitation() refuses a proposal not executed yet at the citation's time", async () => {
  const { body, view } = await setup();
  const result = await checkDelegatesCitation(view(), body, { federation, at: effective - 1 });
  assertEquals(result.ok ? "ok" : result.reason, "not_executed");
  assertEquals(!result.ok && result.message.includes("it is Accepted, not Executed"), true);
});

Deno.test("checkDelegatesCitation() refuses a proposal whose delegate left before it took effect", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b, c] = coop.people;
  const removal = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("membership", { remove: c.did }),
    t0,
  );
  const delegates = [a.did, c.did].sort();
  const proposal = await propose(coop, "delegates", { federation, delegates }, t0);
  await coop.submit(b, "gov.vote", { proposal: removal.cid, choice: "for" }, t0 + 2 * s);
  const view = new GovernanceView(coop.reader(), coop.genesis);
  assertEquals(
    await reason(view, { coop: coop.net, delegates, members: 2, proposal }),
    "delegate_left",
  );
});

Deno.test("checkDelegatesCitation() refuses a proposal a later executed one replaced", async () => {
  const { coop, body, view } = await setup();
  const [, , c] = coop.people;
  await propose(coop, "delegates", { federation, delegates: [c.did] }, t0 + 5 * s);
  assertEquals(await reason(view(), body, effective), "ok");
  assertEquals(await reason(view(), body, effective + 5 * s), "superseded");
});

Deno.test("checkDelegatesCitation() refuses delegates other than the proposal's", async () => {
  const { coop, body, view } = await setup();
  const [a, , c] = coop.people;
  const delegates = [a.did, c.did].sort();
  assertEquals(await reason(view(), { ...body, delegates }), "different_delegates");
  assertEquals(await reason(view(), { ...body, delegates: [a.did] }), "different_delegates");
});

Deno.test("checkDelegatesCitation() refuses a member count other than the cooperative's", async () => {
  const { body, view } = await setup();
  assertEquals(await reason(view(), { ...body, members: 40 }), "wrong_member_count");
});

Deno.test("delegatesCitationFor() builds the body of the current set, which the check accepts", async () => {
  const { body, view } = await setup();
  assertEquals(await delegatesCitationFor(view(), { federation, at: effective - 1 }), undefined);
  const built = await delegatesCitationFor(view(), { federation, at: effective });
  assertEquals(built, body);
  assertEquals(await reason(view(), built!), "ok");
});
