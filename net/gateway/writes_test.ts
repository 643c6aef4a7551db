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
