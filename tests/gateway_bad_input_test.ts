/**
 * Bad input on every route of the app gateway: malformed JSON, wrong types, unknown fields,
 * oversized bodies, a wrong media type, bad path and query values, and envelopes that are not
 * the signed-in member's or not validly signed. Each gets a 4xx with a stable error code, and
 * nothing changes: the store's log does not move.
 */
import { chainKeys } from "../core/chain/keys.ts";
import { toBase64 } from "../core/bytes.ts";
import { signEd25519 } from "../core/identity/keys.ts";
import { gatewayBodyBytesMax } from "../net/gateway/limits.ts";
import { bearer, prepareAndSign, signIn, testGateway } from "../net/gateway/_testing.ts";
import { assert, assertEquals } from "./_node_fixture.ts";

const big = { rate: 1e6, burst: 1e6 };

Deno.test("bad input: every POST route refuses malformed JSON, wrong types, unknown fields, oversized bodies and other media types", async () => {
  const t = await testGateway({
    rates: { signIn: big, perDid: big, read: big, write: big, governance: big },
  });
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice, ["read", "ledger:write", "trust:write", "gov:vote"]);
  const logBefore = await t.network.deps.store.get(chainKeys.logNext);
  const challenge = t.gateway.auth.challenge(alice.did, ["read"]);
  const posts: { path: string; wrongTypes: unknown; unknownField: unknown }[] = [
    {
      path: "/api/v1/auth/challenge",
      wrongTypes: { did: 42 },
      unknownField: { did: alice.did, admin: true },
    },
    {
      path: `/api/v1/auth/challenge/${challenge.nonce}/approve`,
      wrongTypes: { did: alice.did, signature: ["x"] },
      unknownField: { did: alice.did, signature: "AAAA", extra: 1 },
    },
    {
      path: "/api/v1/auth/token",
      wrongTypes: { did: alice.did, nonce: 7, signature: "AAAA" },
      unknownField: { did: alice.did, nonce: challenge.nonce, signature: "AAAA", role: "admin" },
    },
    {
      path: "/api/v1/prepare",
      wrongTypes: { kind: "ledger.transfer", body: { to: bob.did, amount: "lots", currency: "x" } },
      unknownField: { kind: "trust.edge", body: { to: bob.did, score: 5, graph: "social", x: 1 } },
    },
    {
      path: "/api/v1/envelopes",
      wrongTypes: { envelope: { v: "1" } },
      unknownField: { envelope: {}, extra: true },
    },
  ];
  for (const { path, wrongTypes, unknownField } of posts) {
    const send = async (body: string, contentType = "application/json") => {
      const response = await t.request(path, {
        method: "POST",
        body,
        headers: { ...bearer(token), "content-type": contentType },
      });
      return { status: response.status, code: (await response.json()).error?.code };
    };
    assertEquals(
      await send('{"did": '),
      { status: 400, code: "malformed_json" },
      `${path} malformed`,
    );
    const typed = await send(JSON.stringify(wrongTypes));
    assertEquals(typed.status, 400, `${path} wrong types`);
    assert(["invalid_request", "unknown_field"].includes(typed.code), `${path}: ${typed.code}`);
    assertEquals(
      await send(JSON.stringify(unknownField)),
      { status: 400, code: "unknown_field" },
      `${path} unknown field`,
    );
    const oversized = JSON.stringify({ did: "x".repeat(gatewayBodyBytesMax + 10) });
    assertEquals(
      await send(oversized),
      { status: 413, code: "body_too_large" },
      `${path} oversized`,
    );
    const text = await send("did=x", "text/plain");
    assertEquals(text, { status: 415, code: "unsupported_media_type" }, `${path} media type`);
  }
  // `?net=` on the POST routes that take it: malformed, or a network not served.
  for (const path of ["/api/v1/auth/challenge", "/api/v1/prepare", "/api/v1/envelopes"]) {
    for (
      const [net, status, code] of [
        ["", 400, "invalid_request"],
        ["n".repeat(129), 400, "invalid_request"],
        ["n".repeat(59), 404, "unknown_network"],
      ] as const
    ) {
      const body = path === "/api/v1/auth/challenge"
        ? { did: alice.did }
        : path === "/api/v1/prepare"
        ? { kind: "trust.edge", body: { to: bob.did, score: 5, graph: "social" } }
        : {
          envelope: {
            v: 1,
            net: "n".repeat(59),
            kind: "trust.edge",
            author: alice.did,
            seq: 0,
            prev: null,
            ts: 1,
            body: {},
            sigs: [{ alg: "ed25519", sig: "AAAA" }],
          },
        };
      const response = await t.request(`${path}?net=${net}`, {
        json: body,
        headers: bearer(token),
      });
      assertEquals(
        { status: response.status, code: (await response.json()).error?.code },
        { status, code },
        `${path}?net=${net.slice(0, 8)}`,
      );
    }
  }
  assertEquals(await t.network.deps.store.get(chainKeys.logNext), logBefore, "nothing was written");
});

Deno.test("bad input: every GET route refuses bad path and query values with a stable code", async () => {
  const t = await testGateway({ rates: { read: big, perDid: big } });
  const alice = t.network.members[1];
  const token = await signIn(t, alice, ["read"]);
  const cases: [string, number, string][] = [
    ["/api/v1/members?limit=0", 400, "invalid_request"],
    ["/api/v1/members?limit=abc", 400, "invalid_request"],
    ["/api/v1/members?sort=did", 400, "unknown_field"],
    ["/api/v1/members?cursor=%%%", 400, "invalid_cursor"],
    ["/api/v1/balances?currency=nope", 404, "unknown_currency"],
    ["/api/v1/accounts/not-a-did/balance", 400, "invalid_request"],
    [`/api/v1/accounts/${alice.did}/history?limit=-1`, 400, "invalid_request"],
    [`/api/v1/accounts/${alice.did}/history?cursor=bm9wZQ`, 400, "invalid_cursor"],
    [`/api/v1/accounts/${alice.did}/limit?currency=${"x".repeat(40)}`, 400, "invalid_request"],
    [`/api/v1/trust/${alice.did}/score?graph=love`, 400, "invalid_request"],
    [`/api/v1/trust/${alice.did}/score?from=bob`, 400, "invalid_request"],
    ["/api/v1/proposals?limit=1000", 400, "invalid_request"],
    ["/api/v1/proposals/bafyunknown", 404, "not_found"],
    ["/api/v1/receipts/r-unknown", 404, "not_found"],
    ["/api/v1/events?since=abc", 400, "invalid_request"],
    ["/api/v1/auth/challenge/unknown-nonce", 401, "unknown_nonce"],
    ["/api/v1/nothing", 404, "not_found"],
    ["/static/../deno.json", 404, "not_found"],
  ];
  // `?net=` on every route that takes it: empty or over 128 characters is malformed, a network the
  // node does not serve is 404.
  for (
    const route of [
      "/api/v1/members",
      "/api/v1/balances",
      `/api/v1/accounts/${alice.did}/balance`,
      `/api/v1/accounts/${alice.did}/history`,
      `/api/v1/accounts/${alice.did}/limit`,
      `/api/v1/trust/${alice.did}/score`,
      "/api/v1/proposals",
      "/api/v1/proposals/bafyunknown",
      "/api/v1/events",
    ]
  ) {
    cases.push(
      [`${route}?net=`, 400, "invalid_request"],
      [`${route}?net=${"n".repeat(129)}`, 400, "invalid_request"],
      [`${route}?net=${"n".repeat(59)}`, 404, "unknown_network"],
    );
  }
  for (const [path, status, code] of cases) {
    const response = await t.request(path, { headers: bearer(token) });
    const body = await response.json();
    assertEquals({ status: response.status, code: body.error?.code }, { status, code }, path);
  }
  const eventsBadId = await t.request("/api/v1/events", {
    headers: { ...bearer(token), "last-event-id": "x" },
  });
  assertEquals(eventsBadId.status, 400);
  await eventsBadId.body?.cancel();
  const noToken = await t.request("/api/v1/members");
  assertEquals((await noToken.json()).error.code, "missing_token");
  const garbage = await t.request("/api/v1/members", { headers: bearer("not.a.jwt") });
  assertEquals((await garbage.json()).error.code, "invalid_token");
});

Deno.test("bad input: envelopes that are tampered, another's, of a refused kind or replayed change nothing", async () => {
  const t = await testGateway({ rates: { write: big, perDid: big } });
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice, ["read", "trust:write", "ledger:write"]);
  const logBefore = await t.network.deps.store.get(chainKeys.logNext);
  const submit = async (body: unknown) => {
    const response = await t.request("/api/v1/envelopes", { json: body, headers: bearer(token) });
    return { status: response.status, code: (await response.json()).error?.code };
  };
  const signed = await prepareAndSign(t, alice, token, {
    kind: "trust.edge",
    body: { to: bob.did, score: 600, graph: "social" },
  });
  // The body changed after signing: the signature no longer covers it.
  const tampered = structuredClone(signed);
  (tampered.envelope.body as { score: number }).score = 1000;
  assertEquals(await submit(tampered), { status: 422, code: "invalid_signature" });
  // Signed by bob's key over alice's envelope.
  const prepared = await (await t.request("/api/v1/prepare", {
    json: { kind: "trust.edge", body: { to: bob.did, score: 600, graph: "social" } },
    headers: bearer(token),
  })).json();
  const bobSig = await signEd25519(
    bob.ed25519,
    Uint8Array.from(atob(prepared.signingBytes), (c) => c.charCodeAt(0)),
  );
  assertEquals(
    await submit({
      envelope: { ...prepared.envelope, sigs: [{ alg: "ed25519", sig: toBase64(bobSig) }] },
    }),
    { status: 422, code: "invalid_signature" },
  );
  // Bob's own envelope submitted with alice's token.
  const bobToken = await signIn(t, bob, ["trust:write"]);
  const bobs = await prepareAndSign(t, bob, bobToken, {
    kind: "trust.edge",
    body: { to: alice.did, score: 600, graph: "social" },
  });
  assertEquals(await submit(bobs), { status: 403, code: "author_mismatch" });
  // A kind the gateway does not take, another network, a malformed envelope.
  assertEquals(await submit({ envelope: { ...signed.envelope, kind: "id.rotation" } }), {
    status: 400,
    code: "kind_not_allowed",
  });
  assertEquals(await submit({ envelope: { ...signed.envelope, net: "bafyother" } }), {
    status: 400,
    code: "wrong_network",
  });
  assertEquals(await submit({ envelope: { ...signed.envelope, prev: "bafy" } }), {
    status: 400,
    code: "malformed_envelope",
  });
  assertEquals(
    await submit({ envelope: { ...signed.envelope, sigs: [{ alg: "ed25519", sig: "!!" }] } }),
    {
      status: 400,
      code: "invalid_request",
    },
  );
  assertEquals(await t.network.deps.store.get(chainKeys.logNext), logBefore, "nothing was written");
  // The good one goes in once; the same again is a duplicate, not a second write.
  const first = await t.request("/api/v1/envelopes", { json: signed, headers: bearer(token) });
  assertEquals((await first.json()).outcome.status, "accepted");
  const second = await t.request("/api/v1/envelopes", { json: signed, headers: bearer(token) });
  assertEquals((await second.json()).outcome.status, "duplicate");
});
