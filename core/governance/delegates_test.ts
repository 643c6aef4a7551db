import { deepStrictEqual as assertEquals } from "node:assert";
import { validateGenesis } from "./genesis.ts";
import { Coop, t0 } from "./_fixture.ts";
import { GovernanceView, rulesFor } from "./view.ts";

const s = 1000;
const fast = {
  "governance.delegates.votingPeriod": 10 * s,
  "governance.delegates.timelock": 20 * s,
};
const federation = "bafyreifederationone";

async function passDelegates(
  coop: Coop,
  delegates: string[],
  ts: number,
  target = federation,
): Promise<string> {
  const [a, b, c] = coop.people;
  const proposal = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("delegates", { federation: target, delegates }),
    ts,
  );
  for (const who of [a, b, c]) {
    await coop.submit(who, "gov.vote", { proposal: proposal.cid, choice: "for" }, ts + s);
  }
  return proposal.cid;
}

Deno.test("delegatesFor() answers the set of an executed delegates proposal from its close + timelock", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b] = coop.people;
  const chosen = [a.did, b.did].sort();
  const id = await passDelegates(coop, chosen, t0);
  const view = new GovernanceView(coop.reader(), coop.genesis);
  const record = (await view.proposal(id))!;
  const effective = t0 + 30 * s;
  assertEquals(record.effective, effective);
  assertEquals(await view.stateOf(record, effective - 1), "Accepted");
  assertEquals(await view.delegatesFor(federation, effective - 1), undefined);
  assertEquals(await view.stateOf(record, effective), "Executed");
  assertEquals(await view.delegatesFor(federation, effective), {
    federation,
    delegates: chosen,
    proposal: id,
    effective,
  });
  assertEquals(await view.delegatesFor("bafyreianotherfederation", effective), undefined);
});

Deno.test("delegatesFor() answers the latest executed set: a later proposal replaces the earlier", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b, c] = coop.people;
  const first = await passDelegates(coop, [a.did], t0);
  const second = await passDelegates(coop, [b.did, c.did].sort(), t0 + 5 * s);
  const view = new GovernanceView(coop.reader(), coop.genesis);
  assertEquals((await view.delegatesFor(federation, t0 + 30 * s))?.proposal, first);
  const replaced = await view.delegatesFor(federation, t0 + 35 * s);
  assertEquals(replaced?.proposal, second);
  assertEquals(replaced?.delegates, [b.did, c.did].sort());
});

Deno.test("delegatesFor() ignores a proposal whose delegate left the cooperative before it took effect", async () => {
  const coop = await Coop.create(3, 0, {
    ...fast,
    "governance.membership.votingPeriod": 10 * s,
  });
  const [a, b, c] = coop.people;
  const removal = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("membership", { remove: c.did }),
    t0,
  );
  const id = await passDelegates(coop, [a.did, c.did].sort(), t0);
  await coop.submit(b, "gov.vote", { proposal: removal.cid, choice: "for" }, t0 + 2 * s);
  await coop.submit(a, "gov.vote", { proposal: removal.cid, choice: "for" }, t0 + 2 * s);
  const view = new GovernanceView(coop.reader(), coop.genesis);
  const record = (await view.proposal(id))!;
  assertEquals(await view.stateOf(record, t0 + 30 * s), "Executed");
  assertEquals(await view.delegatesWereMembers(record), false);
  assertEquals(await view.delegatesFor(federation, t0 + 30 * s), undefined);
});

Deno.test("gov.proposal refuses a delegates proposal naming a non-member, with the DID in the message", async () => {
  const coop = await Coop.create(3, 1, fast);
  const [a, , , outsider] = coop.people;
  const body = coop.proposalBody("delegates", {
    federation,
    delegates: [a.did, outsider.did].sort(),
  });
  const sealed = await coop.seal(a, "gov.proposal", body, t0);
  const [outcome] = await coop.ingestAll([sealed]);
  assertEquals(outcome.status, "rejected");
  if (outcome.status !== "rejected") return;
  assertEquals(outcome.reason, "delegate_not_member");
  assertEquals(
    outcome.message,
    `Cannot choose "${outsider.did}" as a delegate to federation ${federation}: not a member`,
  );
});

Deno.test("gov.proposal refuses a delegates action that is empty, unsorted, repeated, too long or aimed at itself", async () => {
  const coop = await Coop.create(3, 0, fast);
  const [a, b] = coop.people;
  const sorted = [a.did, b.did].sort();
  const cases: [unknown, string][] = [
    [{ federation, delegates: [] }, "bad_action"],
    [{ federation, delegates: [...sorted].reverse() }, "bad_action"],
    [{ federation, delegates: [a.did, a.did] }, "bad_action"],
    [{ federation, delegates: Array(17).fill(a.did) }, "bad_action"],
    [{ federation: coop.net, delegates: sorted }, "bad_action"],
    [{ federation: "not a cid", delegates: sorted }, "bad_action"],
    [{ federation, delegates: ["did:nope"] }, "bad_body"],
    [{ federation }, "bad_body"],
    [{ federation, delegates: sorted, extra: 1 }, "bad_body"],
  ];
  for (const [action, reason] of cases) {
    const body = { ...coop.proposalBody("text", {}), kind: "delegates", action };
    body.rules = rulesFor(coop.genesis.params, "delegates");
    assertEquals(await coop.attempt(a, "gov.proposal", body, t0), reason, JSON.stringify(action));
  }
});

Deno.test("A genesis made before delegates proposals (without their keys) still validates and gets the defaults", async () => {
  const { genesis } = await Coop.create(1, 0);
  const params = Object.fromEntries(
    Object.entries(genesis.params).filter(([key]) => !key.startsWith("governance.delegates.")),
  );
  validateGenesis({ ...genesis, params });
  assertEquals(rulesFor(params, "delegates"), {
    quorum: 50,
    approval: 67,
    votingPeriod: 7 * 86_400_000,
    timelock: 2 * 86_400_000,
    mode: "majority",
  });
});
