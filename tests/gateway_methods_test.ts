/**
 * The gateway shows a method proposal with its ballots and result, and the derived times
 * (`timing()`), not the stored close: a poll voted through the gateway by two members.
 */
import { paramsAt } from "../core/governance/membership.ts";
import { rulesFor } from "../core/governance/view.ts";
import { StateOverlay } from "../core/chain/state.ts";
import type { TestIdentity } from "../core/testing.ts";
import {
  bearer,
  prepareAndSign,
  signIn,
  type TestGateway,
  testGateway,
} from "../net/gateway/_testing.ts";
import { assertEquals } from "./_node_fixture.ts";

async function submit(
  t: TestGateway,
  member: TestIdentity,
  token: string,
  request: { kind: string; body: unknown },
) {
  const signed = await prepareAndSign(t, member, token, request);
  const response = await t.request("/api/v1/envelopes", { json: signed, headers: bearer(token) });
  const body = await response.json();
  assertEquals(response.status, 200, JSON.stringify(body));
  return body;
}

Deno.test("gateway: a poll's ballots, result and times", async () => {
  const t = await testGateway();
  const [, alice, bob] = t.network.members;
  const scopes = ["read", "gov:vote", "gov:propose"];
  const aliceToken = await signIn(t, alice, scopes);
  const bobToken = await signIn(t, bob, scopes);
  const params = await paramsAt(
    new StateOverlay(t.network.deps.store),
    t.network.genesis,
    t.network.deps.clock.now(),
  );
  const method = { name: "poll", options: ["Tea", "Coffee"] };
  const proposal = await submit(t, alice, aliceToken, {
    kind: "gov.proposal",
    body: {
      kind: "text",
      title: "Lunch",
      body: "",
      action: {},
      rules: rulesFor(params, "text"),
      method,
    },
  });
  await submit(t, alice, aliceToken, {
    kind: "gov.vote",
    body: { proposal: proposal.cid, ballot: 1 },
  });
  await submit(t, bob, bobToken, { kind: "gov.vote", body: { proposal: proposal.cid, ballot: 1 } });
  const response = await t.request(`/api/v1/proposals/${proposal.cid}`, {
    headers: bearer(aliceToken),
  });
  const shown = await response.json();
  assertEquals(response.status, 200, JSON.stringify(shown));
  assertEquals(shown.method, method);
  assertEquals(
    shown.votes,
    [{ did: alice.did, ballot: 1 }, { did: bob.did, ballot: 1 }].sort((a, b) =>
      a.did < b.did ? -1 : 1
    ),
  );
  assertEquals(shown.tally.method.result.votes, [0, 2]);
  assertEquals(shown.closes, shown.opened + rulesFor(params, "text").votingPeriod);
});
