import { Coop, t0 } from "./_fixture.ts";
import {
  admittedAt,
  creditOverride,
  isMember,
  membersAt,
  paramsAt,
  upgradeRequirement,
} from "./membership.ts";
import { GovernanceView } from "./view.ts";

function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message} expected ${e}, got ${a}`);
}

const s = 1000;
const fast = {
  "governance.membership.votingPeriod": 10 * s,
  "governance.config.votingPeriod": 10 * s,
  "governance.config.timelock": 20 * s,
  "governance.upgrade.votingPeriod": 10 * s,
  "governance.upgrade.timelock": 5 * s,
  "governance.text.votingPeriod": 10 * s,
};

Deno.test("isMember() admits a DID only from the close of an accepted membership proposal", async () => {
  const coop = await Coop.create(3, 1, fast);
  const [a, b, , newcomer] = coop.people;
  const proposal = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("membership", { admit: newcomer.did }),
    t0,
  );
  await coop.submit(a, "gov.vote", { proposal: proposal.cid, choice: "for" }, t0 + s);
  await coop.submit(b, "gov.vote", { proposal: proposal.cid, choice: "for" }, t0 + 2 * s);
  const close = t0 + 10 * s;
  assertEquals(await isMember(coop.reader(), coop.genesis, newcomer.did, close - 1), false);
  assertEquals(await isMember(coop.reader(), coop.genesis, newcomer.did, close), true);
  assertEquals((await membersAt(coop.reader(), coop.genesis, close)).length, 4);
});

Deno.test("isMember() ignores a membership proposal that did not reach quorum", async () => {
  const coop = await Coop.create(4, 1, fast);
  const [a, , , , newcomer] = coop.people;
  const proposal = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("membership", { admit: newcomer.did }),
    t0,
  );
  await coop.submit(a, "gov.vote", { proposal: proposal.cid, choice: "for" }, t0 + s);
  const view = new GovernanceView(coop.reader(), coop.genesis);
  const record = (await view.proposal(proposal.cid))!;
  assertEquals(await view.stateOf(record, t0 + 11 * s), "NoQuorum");
  assertEquals(await isMember(coop.reader(), coop.genesis, newcomer.did, t0 + 100 * s), false);
});

Deno.test("paramsAt() applies an accepted config change only after close + timelock", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b, c] = coop.people;
  const proposal = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("config", { set: { "credit.baseline": 50_000 } }),
    t0,
  );
  for (const who of [a, b, c]) {
    await coop.submit(who, "gov.vote", { proposal: proposal.cid, choice: "for" }, t0 + s);
  }
  const effective = t0 + 30 * s;
  const before = await paramsAt(coop.reader(), coop.genesis, effective - 1);
  const after = await paramsAt(coop.reader(), coop.genesis, effective);
  assertEquals([before["credit.baseline"], after["credit.baseline"]], [10_000, 50_000]);
  const view = new GovernanceView(coop.reader(), coop.genesis);
  const record = (await view.proposal(proposal.cid))!;
  assertEquals(await view.stateOf(record, t0 + 11 * s), "Accepted");
  assertEquals(await view.stateOf(record, effective), "Executed");
});

Deno.test("gov.vote rejects non-members, late votes and blocks in majority mode", async () => {
  const coop = await Coop.create(3, 1, fast);
  const [a, , , outsider] = coop.people;
  const proposal = await coop.submit(a, "gov.proposal", coop.proposalBody("text", {}), t0);
  const vote = { proposal: proposal.cid, choice: "for" };
  assertEquals(await coop.attempt(outsider, "gov.vote", vote, t0 + s), "not_eligible");
  assertEquals(await coop.attempt(a, "gov.vote", vote, t0 + 10 * s + 1), "closed");
  assertEquals(
    await coop.attempt(a, "gov.vote", { ...vote, choice: "block" }, t0 + s),
    "bad_body",
  );
  assertEquals(
    await coop.attempt(a, "gov.vote", { proposal: "bafynope", choice: "for" }, t0 + s),
    "unknown_proposal",
  );
});

Deno.test("gov.proposal rejects non-members, stale rules, long titles and bad actions", async () => {
  const coop = await Coop.create(2, 1, fast);
  const [a, b, outsider] = coop.people;
  const text = coop.proposalBody("text", {});
  assertEquals(await coop.attempt(outsider, "gov.proposal", text, t0), "not_member");
  assertEquals(
    await coop.attempt(a, "gov.proposal", { ...text, rules: { ...text.rules, quorum: 1 } }, t0),
    "stale_rules",
  );
  assertEquals(
    await coop.attempt(a, "gov.proposal", { ...text, title: "x".repeat(201) }, t0),
    "bad_body",
  );
  assertEquals(
    await coop.attempt(a, "gov.proposal", { ...text, body: "x".repeat(16 * 1024 + 1) }, t0),
    "bad_body",
  );
  assertEquals(
    await coop.attempt(a, "gov.proposal", coop.proposalBody("membership", { admit: b.did }), t0),
    "bad_action",
  );
  assertEquals(
    await coop.attempt(
      a,
      "gov.proposal",
      coop.proposalBody("config", { set: { "credit.baseline": -1 } }),
      t0,
    ),
    "bad_action",
  );
  assertEquals(
    await coop.attempt(
      a,
      "gov.proposal",
      coop.proposalBody("upgrade", { version: "2.0", deadline: t0 + 1, minVersion: "1.0.0" }),
      t0,
    ),
    "bad_action",
  );
});

Deno.test("gov.cancel lets only the author cancel, only while open", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b] = coop.people;
  const first = await coop.submit(a, "gov.proposal", coop.proposalBody("text", {}), t0);
  assertEquals(await coop.attempt(b, "gov.cancel", { proposal: first.cid }, t0 + s), "not_author");
  await coop.submit(a, "gov.cancel", { proposal: first.cid }, t0 + s);
  assertEquals(await coop.attempt(a, "gov.cancel", { proposal: first.cid }, t0 + s), "cancelled");
  const second = await coop.submit(a, "gov.proposal", coop.proposalBody("text", {}), t0 + s);
  assertEquals(
    await coop.attempt(a, "gov.cancel", { proposal: second.cid }, t0 + 20 * s),
    "closed",
  );
  const view = new GovernanceView(coop.reader(), coop.genesis);
  assertEquals(await view.stateOf((await view.proposal(first.cid))!, t0 + 100 * s), "Cancelled");
});

Deno.test("gov.delegate rejects cycles, self-delegation and non-member delegates", async () => {
  const coop = await Coop.create(3, 1, fast);
  const [a, b, c, outsider] = coop.people;
  await coop.submit(a, "gov.delegate", { to: b.did, scope: "all" }, t0);
  await coop.submit(b, "gov.delegate", { to: c.did, scope: "kind:text" }, t0);
  assertEquals(await coop.attempt(c, "gov.delegate", { to: a.did, scope: "all" }, t0), "cycle");
  assertEquals(await coop.attempt(c, "gov.delegate", { to: c.did, scope: "all" }, t0), "bad_body");
  assertEquals(
    await coop.attempt(c, "gov.delegate", { to: outsider.did, scope: "all" }, t0),
    "not_member",
  );
  assertEquals(
    await coop.attempt(c, "gov.delegate", { to: a.did, scope: "kind:nope" }, t0),
    "bad_body",
  );
  await coop.submit(b, "gov.undelegate", {}, t0 + s);
  assertEquals(await coop.attempt(b, "gov.undelegate", {}, t0 + 2 * s), "not_delegated");
});

Deno.test("a delegated vote counts until the delegator votes directly", async () => {
  const coop = await Coop.create(4, 0, fast);
  const [a, b, c, d] = coop.people;
  await coop.submit(c, "gov.delegate", { to: a.did, scope: "all" }, t0);
  await coop.submit(d, "gov.delegate", { to: c.did, scope: "kind:text" }, t0);
  const proposal = await coop.submit(b, "gov.proposal", coop.proposalBody("text", {}), t0 + s);
  await coop.submit(a, "gov.vote", { proposal: proposal.cid, choice: "for" }, t0 + 2 * s);
  await coop.submit(b, "gov.vote", { proposal: proposal.cid, choice: "against" }, t0 + 2 * s);
  const view = () => new GovernanceView(coop.reader(), coop.genesis);
  let t = await view().tally((await view().proposal(proposal.cid))!);
  assertEquals([t.for, t.against, t.delegated, t.outcome], [3, 1, 2, "Accepted"]);
  await coop.submit(d, "gov.vote", { proposal: proposal.cid, choice: "against" }, t0 + 3 * s);
  t = await view().tally((await view().proposal(proposal.cid))!);
  assertEquals([t.for, t.against, t.delegated, t.outcome], [2, 2, 1, "Rejected"]);
});

Deno.test("upgradeRequirement() returns minVersion only after an accepted upgrade's deadline", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b, c] = coop.people;
  const deadline = t0 + 60 * s;
  const proposal = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("upgrade", { version: "1.2.0", deadline, minVersion: "1.1.0" }),
    t0,
  );
  for (const who of [a, b, c]) {
    await coop.submit(who, "gov.vote", { proposal: proposal.cid, choice: "for" }, t0 + s);
  }
  assertEquals(await upgradeRequirement(coop.reader(), coop.genesis, deadline - 1), null);
  assertEquals(await upgradeRequirement(coop.reader(), coop.genesis, deadline), "1.1.0");
});

Deno.test("admittedAt() gives the admission's effective time, creditOverride() the override", async () => {
  const coop = await Coop.create(2, 1, fast);
  const [a, b, newcomer] = coop.people;
  const admit = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("membership", { admit: newcomer.did }),
    t0,
  );
  const limit = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("config", { set: { [`credit.override.${b.did}`]: 123 } }),
    t0,
  );
  for (const who of [a, b]) {
    await coop.submit(who, "gov.vote", { proposal: admit.cid, choice: "for" }, t0 + s);
    await coop.submit(who, "gov.vote", { proposal: limit.cid, choice: "for" }, t0 + s);
  }
  const later = t0 + 60 * s;
  assertEquals(await admittedAt(coop.reader(), coop.genesis, newcomer.did, later), t0 + 10 * s);
  assertEquals(await admittedAt(coop.reader(), coop.genesis, a.did, later), undefined);
  const params = await paramsAt(coop.reader(), coop.genesis, later);
  assertEquals([creditOverride(params, b.did), creditOverride(params, a.did)], [123, undefined]);
});

Deno.test("membersAt() drops a removed member from the removal's effective time, not before", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b, c] = coop.people;
  const earlier = await coop.submit(a, "gov.proposal", coop.proposalBody("text", {}), t0);
  const removal = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("membership", { remove: c.did }),
    t0,
  );
  for (const who of [a, b]) {
    await coop.submit(who, "gov.vote", { proposal: removal.cid, choice: "for" }, t0 + s);
  }
  const close = t0 + 10 * s;
  assertEquals(await isMember(coop.reader(), coop.genesis, c.did, close - 1), true);
  assertEquals(await isMember(coop.reader(), coop.genesis, c.did, close), false);
  // c stays eligible on a proposal opened while it was a member, but cannot propose any more.
  await coop.submit(c, "gov.vote", { proposal: earlier.cid, choice: "for" }, t0 + 2 * s);
  assertEquals(
    await coop.attempt(c, "gov.proposal", coop.proposalBody("text", {}), close + s),
    "not_member",
  );
});

Deno.test("views of two stores of one network never share outcomes of different envelopes", async () => {
  const first = await Coop.create(3, 0, fast);
  const second = await Coop.create(3, 0, fast);
  assertEquals(first.net, second.net);
  const body = first.proposalBody("config", { set: { "credit.baseline": 4242 } });
  const proposal = await first.seal(first.people[0], "gov.proposal", body, t0);
  const votes = [];
  for (const who of first.people) {
    votes.push(
      await first.seal(who, "gov.vote", { proposal: proposal.cid, choice: "for" }, t0 + s),
    );
  }
  await first.ingestAll([proposal, ...votes]);
  await second.ingestAll([proposal]);
  const later = t0 + 100 * s;
  // Warm the first store's cache, then ask the second: it must not see the votes.
  assertEquals((await paramsAt(first.reader(), first.genesis, later))["credit.baseline"], 4242);
  assertEquals((await paramsAt(second.reader(), second.genesis, later))["credit.baseline"], 10_000);
  await second.ingestAll(votes);
  assertEquals((await paramsAt(second.reader(), second.genesis, later))["credit.baseline"], 4242);
});
