import { assert, assertEquals } from "../../tests/_node_fixture.ts";
import { chainKeys } from "../../core/chain/keys.ts";
import { bearer, prepareAndSign, signIn, testGateway } from "./_testing.ts";

/** Waits until `condition` holds, polling for at most `ms`. */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("overload: past gateway.max_in_flight a request is 503 overloaded with Retry-After; the held one completes", async () => {
  const t = await testGateway({ maxInFlight: 1 });
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice);
  const signed = await prepareAndSign(t, alice, token, {
    kind: "trust.edge",
    body: { to: bob.did, score: 700, graph: "social" },
  });
  const bobToken = await signIn(t, bob);
  const bobsEdge = await prepareAndSign(t, bob, bobToken, {
    kind: "trust.edge",
    body: { to: alice.did, score: 500, graph: "social" },
  });
  const store = t.network.deps.store;
  // Hold the node's one writer, so that the submit stays in progress.
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const holding = t.lane.run(() => held);
  const submit = t.request("/api/v1/envelopes", { json: signed, headers: bearer(token) });
  try {
    await until(() => t.gateway.inFlight() === 1, "the submit to be in progress");
    for (const path of ["/api/v1/status", "/api/v1/members"]) {
      const refused = await t.request(path, { headers: bearer(token) });
      const body = await refused.json();
      assertEquals(refused.status, 503, JSON.stringify(body));
      assertEquals(body.error.code, "overloaded");
      assertEquals(refused.headers.get("retry-after"), "1");
      assertEquals(refused.headers.get("x-content-type-options"), "nosniff");
    }
    // A write is shed too, before anything is read: nothing changes.
    const shed = await t.request("/api/v1/envelopes", {
      json: bobsEdge,
      headers: bearer(bobToken),
    });
    assertEquals(shed.status, 503);
    assertEquals((await shed.json()).error.code, "overloaded");
    assertEquals(await store.get(chainKeys.head(t.network.net, bob.did)), null);
  } finally {
    release();
    await holding;
  }
  const response = await submit;
  assertEquals(response.status, 200, JSON.stringify(await response.clone().json()));
  assertEquals(t.gateway.inFlight(), 0);
  assertEquals((await t.request("/api/v1/status", { headers: bearer(token) })).status, 200);
  const document = await (await t.request("/api/v1/openapi.json")).json();
  assert(document.paths["/api/v1/status"].get.responses["503"], "503 declared");
});

Deno.test("client gone: a write whose client disconnected before it reached the writer is not ingested", async () => {
  const t = await testGateway();
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice);
  const signed = await prepareAndSign(t, alice, token, {
    kind: "trust.edge",
    body: { to: bob.did, score: 700, graph: "social" },
  });
  const controller = new AbortController();
  controller.abort();
  const response = await t.request("/api/v1/envelopes", {
    json: signed,
    headers: bearer(token),
    signal: controller.signal,
  });
  const body = await response.json();
  assertEquals(response.status, 499, JSON.stringify(body));
  assertEquals(body.error.code, "client_gone");
  assertEquals(await t.network.deps.store.get(chainKeys.head(t.network.net, alice.did)), null);
  assertEquals(t.gateway.inFlight(), 0);
  // The same envelope, from a client that stays, is accepted.
  const kept = await t.request("/api/v1/envelopes", { json: signed, headers: bearer(token) });
  assertEquals(kept.status, 200, JSON.stringify(await kept.clone().json()));
});
