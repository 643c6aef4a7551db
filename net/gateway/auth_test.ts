import { assert, assertEquals } from "../../tests/_node_fixture.ts";
import { toBase64 } from "../../core/bytes.ts";
import { signEd25519 } from "../../core/identity/keys.ts";
import { testIdentity, testNetwork } from "../../core/testing.ts";
import { challengesMax, challengeTtlMs } from "./limits.ts";
import { bearer, signIn, testGateway, testNow } from "./_testing.ts";

async function challengeOf(
  t: Awaited<ReturnType<typeof testGateway>>,
  did: string,
  scopes = ["read"],
) {
  const response = await t.request("/api/v1/auth/challenge", { json: { did, scopes } });
  assertEquals(response.status, 200);
  return await response.json();
}

async function tokenWith(
  t: Awaited<ReturnType<typeof testGateway>>,
  body: Record<string, unknown>,
): Promise<{ status: number; body: { token?: string; error?: { code: string } } }> {
  const response = await t.request("/api/v1/auth/token", { json: body });
  return { status: response.status, body: await response.json() };
}

Deno.test("sign-in: a valid signature of the challenge gets a token that reads", async () => {
  const t = await testGateway();
  const alice = t.network.members[1];
  const challenge = await challengeOf(t, alice.did);
  assert(challenge.message.includes(challenge.nonce), "the text names the nonce");
  assert(challenge.message.includes(t.network.net), "the text names the network");
  const sig = await signEd25519(alice.ed25519, new TextEncoder().encode(challenge.message));
  const issued = await tokenWith(t, {
    did: alice.did,
    nonce: challenge.nonce,
    signature: toBase64(sig),
  });
  assertEquals(issued.status, 200);
  const members = await t.request("/api/v1/members", { headers: bearer(issued.body.token!) });
  assertEquals(members.status, 200);
  assertEquals((await members.json()).items.length, 3);
});

Deno.test("sign-in: an invalid signature is refused and leaves the nonce usable", async () => {
  const t = await testGateway();
  const [, alice, bob] = t.network.members;
  const challenge = await challengeOf(t, alice.did);
  const wrong = await signEd25519(bob.ed25519, new TextEncoder().encode(challenge.message));
  const refused = await tokenWith(t, {
    did: alice.did,
    nonce: challenge.nonce,
    signature: toBase64(wrong),
  });
  assertEquals(refused.status, 401);
  assertEquals(refused.body.error?.code, "invalid_signature");
  const right = await signEd25519(alice.ed25519, new TextEncoder().encode(challenge.message));
  const ok = await tokenWith(t, {
    did: alice.did,
    nonce: challenge.nonce,
    signature: toBase64(right),
  });
  assertEquals(ok.status, 200);
});

Deno.test("sign-in: a nonce is single use and expires after 5 minutes", async () => {
  const t = await testGateway();
  const alice = t.network.members[1];
  const challenge = await challengeOf(t, alice.did);
  const sig = toBase64(
    await signEd25519(alice.ed25519, new TextEncoder().encode(challenge.message)),
  );
  assertEquals(
    (await tokenWith(t, { did: alice.did, nonce: challenge.nonce, signature: sig })).status,
    200,
  );
  const reused = await tokenWith(t, { did: alice.did, nonce: challenge.nonce, signature: sig });
  assertEquals(reused.status, 401);
  assertEquals(reused.body.error?.code, "unknown_nonce");

  const late = await challengeOf(t, alice.did);
  const lateSig = toBase64(
    await signEd25519(alice.ed25519, new TextEncoder().encode(late.message)),
  );
  t.network.deps.clock.advance(challengeTtlMs + 1);
  const expired = await tokenWith(t, { did: alice.did, nonce: late.nonce, signature: lateSig });
  assertEquals(expired.status, 401);
  assertEquals(expired.body.error?.code, "unknown_nonce");
});

Deno.test("sign-in: the challenge store is bounded", async () => {
  const t = await testGateway({ rates: { signIn: { rate: 1e6, burst: 1e6 } } });
  const alice = t.network.members[1];
  for (let i = 0; i < challengesMax + 10; i++) t.gateway.auth.challenge(alice.did, ["read"]);
  assertEquals(t.gateway.auth.challengeCount, challengesMax);
});

Deno.test("sign-in: unknown scopes are refused, and a token cannot widen the signed scopes", async () => {
  const t = await testGateway();
  const alice = t.network.members[1];
  const unknown = await t.request("/api/v1/auth/challenge", {
    json: { did: alice.did, scopes: ["read", "admin"] },
  });
  assertEquals(unknown.status, 400);
  assertEquals((await unknown.json()).error.code, "unknown_scope");
  const challenge = await challengeOf(t, alice.did, ["read"]);
  const sig = toBase64(
    await signEd25519(alice.ed25519, new TextEncoder().encode(challenge.message)),
  );
  const wider = await tokenWith(t, {
    did: alice.did,
    nonce: challenge.nonce,
    signature: sig,
    scopes: ["read", "ledger:write"],
  });
  assertEquals(wider.status, 403);
  assertEquals(wider.body.error?.code, "scope_not_signed");
});

Deno.test("tokens: a missing scope is 403, a forged token 401, another network's token 401, an expired one 401", async () => {
  const t = await testGateway();
  const alice = t.network.members[1];
  const readOnly = await signIn(t, alice, ["read"]);
  const prepare = await t.request("/api/v1/prepare", {
    json: {
      kind: "trust.edge",
      body: { to: t.network.members[2].did, score: 500, graph: "social" },
    },
    headers: bearer(readOnly),
  });
  assertEquals(prepare.status, 403);
  assertEquals((await prepare.json()).error.code, "missing_scope");

  // Forged: the same header (kid) and claims, signed by another key.
  const mallory = await testIdentity(99);
  const forger = await testGateway({}, {
    network: t.network,
    node: { ...t.node, ed25519: mallory.ed25519 },
  });
  const forgedToken = await signIn(forger, alice, ["read"]);
  const [header, payload] = readOnly.split(".");
  const [, , forgedSig] = forgedToken.split(".");
  const forged = await t.request("/api/v1/members", {
    headers: bearer(`${header}.${payload}.${forgedSig}`),
  });
  assertEquals(forged.status, 401);
  assertEquals((await forged.json()).error.code, "invalid_token");

  // Another network, same node key: the audience differs.
  const other = await testNetwork(3, { now: testNow + 1 });
  const elsewhere = await testGateway({}, { network: other, node: other.members[0] });
  const foreign = await signIn(elsewhere, other.members[1], ["read"]);
  const sameKey = await testGateway({}, {
    network: t.network,
    node: { ...t.node, ed25519: other.members[0].ed25519 },
  });
  const wrongNet = await sameKey.request("/api/v1/members", { headers: bearer(foreign) });
  assertEquals(wrongNet.status, 401);
  assertEquals((await wrongNet.json()).error.code, "wrong_network");

  t.network.deps.clock.advance(3600 * 1000 + 1000);
  const expired = await t.request("/api/v1/members", { headers: bearer(readOnly) });
  assertEquals(expired.status, 401);
  assertEquals((await expired.json()).error.code, "token_expired");
});

Deno.test("tokens: after the node's key rotates, old tokens fail with token_key_rotated", async () => {
  const t = await testGateway();
  const alice = t.network.members[1];
  const token = await signIn(t, alice, ["read"]);
  const rotated = await testIdentity(77);
  const restarted = await testGateway({}, {
    network: t.network,
    node: { ...t.node, ed25519: rotated.ed25519 },
  });
  const response = await restarted.request("/api/v1/members", { headers: bearer(token) });
  assertEquals(response.status, 401);
  assertEquals((await response.json()).error.code, "token_key_rotated");
  assertEquals((await t.request("/api/v1/members", { headers: bearer(token) })).status, 200);
});

Deno.test("sign-in: the device flow lets a terminal approve a browser's challenge", async () => {
  const t = await testGateway();
  const alice = t.network.members[1];
  const challenge = await challengeOf(t, alice.did, ["read", "gov:vote"]);
  const early = await tokenWith(t, { did: alice.did, nonce: challenge.nonce });
  assertEquals(early.body.error?.code, "not_approved");
  const shown = await (await t.request(`/api/v1/auth/challenge/${challenge.nonce}`)).json();
  assertEquals(shown.message, challenge.message);
  const sig = toBase64(await signEd25519(alice.ed25519, new TextEncoder().encode(shown.message)));
  const approved = await t.request(`/api/v1/auth/challenge/${challenge.nonce}/approve`, {
    json: { did: alice.did, signature: sig },
  });
  assertEquals(approved.status, 200);
  const issued = await tokenWith(t, { did: alice.did, nonce: challenge.nonce });
  assertEquals(issued.status, 200);
  assertEquals((await tokenWith(t, { did: alice.did, nonce: challenge.nonce })).status, 401);
});
