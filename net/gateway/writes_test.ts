import { assert, assertEquals } from "../../tests/_node_fixture.ts";
import { chainKeys } from "../../core/chain/keys.ts";
import { bearer, prepareAndSign, signIn, testGateway } from "./_testing.ts";

Deno.test("prepare → sign → submit: a trust edge is accepted, with a receipt the caller can read", async () => {
  const t = await testGateway();
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice);
  const signed = await prepareAndSign(t, alice, token, {
    kind: "trust.edge",
    body: { to: bob.did, score: 700, graph: "social" },
  });
  assertEquals(signed.envelope.seq, 0);
  const response = await t.request("/api/v1/envelopes", { json: signed, headers: bearer(token) });
  const receipt = await response.json();
  assertEquals(response.status, 200, JSON.stringify(receipt));
  assertEquals(receipt.outcome.status, "accepted");
  assertEquals(receipt.caller, alice.did);
  const head = await t.network.deps.store.get(chainKeys.head(t.network.net, alice.did));
  assert(head !== null, "the chain moved");
  const again = await t.request(`/api/v1/receipts/${receipt.id}`, { headers: bearer(token) });
  assertEquals((await again.json()).cid, receipt.cid);
  const bobToken = await signIn(t, bob, ["read"]);
  const other = await t.request(`/api/v1/receipts/${receipt.id}`, { headers: bearer(bobToken) });
  assertEquals(other.status, 404);
  const next = await prepareAndSign(t, alice, token, {
    kind: "ledger.transfer",
    body: { to: bob.did, amount: 500, currency: t.network.genesis.currencies[0].code },
  });
  assertEquals(next.envelope.seq, 1);
  const paid = await t.request("/api/v1/envelopes", { json: next, headers: bearer(token) });
  assertEquals(paid.status, 200, JSON.stringify(await paid.clone().json()));
  const balance = await (await t.request(`/api/v1/accounts/${bob.did}/balance`, {
    headers: bearer(token),
  })).json();
  assertEquals(balance.balanceMinor, "500");
});

Deno.test("submit: a bad signature is 422 with a stable code and changes nothing", async () => {
  const t = await testGateway();
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice);
  const signed = await prepareAndSign(t, alice, token, {
    kind: "trust.edge",
    body: { to: bob.did, score: 700, graph: "social" },
  });
  const sigs = signed.envelope.sigs as { alg: string; sig: string }[];
  const bytes = atob(sigs[0].sig).split("").map((c) => c.charCodeAt(0));
  bytes[0] ^= 1;
  sigs[0].sig = btoa(String.fromCharCode(...bytes));
  const response = await t.request("/api/v1/envelopes", { json: signed, headers: bearer(token) });
  const body = await response.json();
  assertEquals(response.status, 422);
  assertEquals(body.error.code, "invalid_signature");
  assertEquals(body.receipt.outcome.status, "rejected");
  assertEquals(await t.network.deps.store.get(chainKeys.head(t.network.net, alice.did)), null);
});

Deno.test("submit: an envelope prepared before the chain moved on is 409 stale_chain and changes nothing", async () => {
  const t = await testGateway();
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice);
  const edge = (score: number) => ({
    kind: "trust.edge",
    body: { to: bob.did, score, graph: "social" },
  });
  // Two prepares before either is submitted: both take seq 0 (a write whose client timed out,
  // committed after the member had prepared the next one, is the same case).
  const first = await prepareAndSign(t, alice, token, edge(700));
  const second = await prepareAndSign(t, alice, token, edge(600));
  assertEquals([first.envelope.seq, second.envelope.seq], [0, 0]);
  const accepted = await t.request("/api/v1/envelopes", { json: first, headers: bearer(token) });
  assertEquals(accepted.status, 200, JSON.stringify(await accepted.clone().json()));
  const store = t.network.deps.store;
  const headKey = chainKeys.head(t.network.net, alice.did);
  const before = [await store.get(headKey), await store.get(chainKeys.logNext)];
  const stale = await t.request("/api/v1/envelopes", { json: second, headers: bearer(token) });
  const body = await stale.json();
  assertEquals(stale.status, 409, JSON.stringify(body));
  assertEquals(body.error.code, "stale_chain");
  assert(body.error.message.includes("prepare again"), body.error.message);
  assertEquals([await store.get(headKey), await store.get(chainKeys.logNext)], before);
  // The remedy the message names works: prepare again, sign, submit.
  const again = await prepareAndSign(t, alice, token, edge(600));
  assertEquals(again.envelope.seq, 1);
  const retried = await t.request("/api/v1/envelopes", { json: again, headers: bearer(token) });
  assertEquals(retried.status, 200, JSON.stringify(await retried.clone().json()));
  // The 409 is declared in the OpenAPI document.
  const document = await (await t.request("/api/v1/openapi.json")).json();
  assert(document.paths["/api/v1/envelopes"].post.responses["409"], "409 declared");
});
