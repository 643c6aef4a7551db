/**
 * The app gateway's API in process (`app.request()` over an in-memory network): paging of every
 * list, rate limits, the event stream, the OpenAPI document and a schema-driven check of the
 * responses, headers, CORS and forwarded addresses. Bad input is in gateway_bad_input_test.ts;
 * a real `icn node run` in gateway_node_test.ts.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { appendLocal } from "../core/chain/append.ts";
import { paramsAt } from "../core/governance/membership.ts";
import { rulesFor } from "../core/governance/view.ts";
import { StateOverlay } from "../core/chain/state.ts";
import type { TestIdentity } from "../core/testing.ts";
import { eventBufferMax } from "../net/gateway/limits.ts";
import {
  bearer,
  prepareAndSign,
  signIn,
  type TestGateway,
  testGateway,
} from "../net/gateway/_testing.ts";
import { assert, assertEquals } from "./_node_fixture.ts";

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

async function proposalBody(t: TestGateway, title: string) {
  const params = await paramsAt(
    new StateOverlay(t.network.deps.store),
    t.network.genesis,
    t.network.deps.clock.now(),
  );
  return { kind: "text", title, body: "", action: {}, rules: rulesFor(params, "text") };
}

/** Every page of a list, following `next`; at most `pagesMax` pages. */
async function allPages(t: TestGateway, path: string, token: string, pagesMax = 20) {
  const pages: unknown[][] = [];
  let cursor: string | null = null;
  for (let i = 0; i < pagesMax; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = cursor === null
      ? path
      : `${path}${sep}cursor=${encodeURIComponent(cursor)}`;
    const response = await t.request(url, { headers: bearer(token) });
    const body = await response.json();
    assertEquals(response.status, 200, JSON.stringify(body));
    pages.push(body.items);
    cursor = body.next;
    if (cursor === null) return pages;
  }
  throw new Error(`${path}: more than ${pagesMax} pages`);
}

Deno.test("paging: members, balances, history and proposals page by cursor, and a cursor belongs to its list", async () => {
  const t = await testGateway({
    rates: {
      read: { rate: 1000, burst: 1000 },
      write: { rate: 1000, burst: 1000 },
      governance: { rate: 1000, burst: 1000 },
    },
  });
  const [node, alice, bob] = t.network.members;
  const token = await signIn(t, alice, ["read", "ledger:write", "gov:propose"]);
  const currency = t.network.genesis.currencies[0].code;
  for (let i = 0; i < 5; i++) {
    t.network.deps.clock.advance(1000);
    await submit(t, alice, token, {
      kind: "ledger.transfer",
      body: { to: i % 2 === 0 ? bob.did : node.did, amount: 100 + i, currency, memo: `n${i}` },
    });
  }
  for (let i = 0; i < 3; i++) {
    t.network.deps.clock.advance(1000);
    await submit(t, alice, token, { kind: "gov.proposal", body: await proposalBody(t, `P${i}`) });
  }

  const members = await allPages(t, "/api/v1/members?limit=2", token);
  assertEquals(members.map((p) => p.length), [2, 1]);
  const dids = members.flat().map((m) => (m as { did: string }).did);
  assertEquals(dids, [...t.network.members.map((m) => m.did)].sort());

  const balances = await allPages(t, "/api/v1/balances?limit=2", token);
  assertEquals(balances.flat().length, 3);
  const sum = balances.flat().reduce(
    (s: bigint, b) => s + BigInt((b as { balanceMinor: string }).balanceMinor),
    0n,
  );
  assertEquals(sum, 0n);

  const history = await allPages(t, `/api/v1/accounts/${alice.did}/history?limit=2`, token);
  assertEquals(history.map((p) => p.length), [2, 2, 1]);
  const memos = history.flat().map((h) => (h as { memo: string }).memo);
  assertEquals(memos, ["n4", "n3", "n2", "n1", "n0"]);

  const proposals = await allPages(t, "/api/v1/proposals?limit=2", token);
  assertEquals(proposals.map((p) => p.length), [2, 1]);
  assertEquals(proposals.flat().map((p) => (p as { title: string }).title), ["P2", "P1", "P0"]);

  const first = await (await t.request("/api/v1/members?limit=1", { headers: bearer(token) }))
    .json();
  const misused = await t.request(`/api/v1/proposals?cursor=${first.next}`, {
    headers: bearer(token),
  });
  assertEquals(misused.status, 400);
  assertEquals((await misused.json()).error.code, "invalid_cursor");
  const tooBig = await t.request("/api/v1/members?limit=201", { headers: bearer(token) });
  assertEquals(tooBig.status, 400);
});

Deno.test("writes: a transfer, a trust edge and a vote, each visible in the reads", async () => {
  const t = await testGateway();
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice, [
    "read",
    "ledger:write",
    "trust:write",
    "gov:vote",
    "gov:propose",
  ]);
  const currency = t.network.genesis.currencies[0].code;
  await submit(t, alice, token, {
    kind: "ledger.transfer",
    body: { to: bob.did, amount: 250, currency },
  });
  await submit(t, alice, token, {
    kind: "trust.edge",
    body: { to: bob.did, score: 800, graph: "social" },
  });
  const proposal = await submit(t, alice, token, {
    kind: "gov.proposal",
    body: await proposalBody(t, "Paint"),
  });
  await submit(t, alice, token, {
    kind: "gov.vote",
    body: { proposal: proposal.cid, choice: "for" },
  });

  const balance =
    await (await t.request(`/api/v1/accounts/${bob.did}/balance`, { headers: bearer(token) }))
      .json();
  assertEquals(balance.balanceMinor, "250");
  const score =
    await (await t.request(`/api/v1/trust/${bob.did}/score`, { headers: bearer(token) })).json();
  assertEquals(score.observer.did, alice.did);
  assertEquals(score.observer.explanation.direct, 0.8);
  const shown =
    await (await t.request(`/api/v1/proposals/${proposal.cid}`, { headers: bearer(token) })).json();
  assertEquals(shown.votes, [{ did: alice.did, choice: "for" }]);
  assertEquals(shown.tally.for, 1);
});

Deno.test("rate limits: a burst of reads gets 429 with Retry-After, and sign-in is limited per address", async () => {
  const t = await testGateway({
    rates: { read: { rate: 1, burst: 4 }, signIn: { rate: 0.1, burst: 3 } },
  });
  const alice = t.network.members[1];
  const token = await signIn(t, alice, ["read"]);
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 20; i++) {
    const response = await t.request("/api/v1/members", { headers: bearer(token) });
    statuses.push(response.status);
    if (response.status === 429) {
      retryAfter = response.headers.get("retry-after");
      assertEquals((await response.json()).error.code, "rate_limited");
    } else await response.body?.cancel();
  }
  // A known member has ×1: 4 at once (the category), then refused.
  assert(statuses.slice(0, 2).every((s) => s === 200), `first reads pass: ${statuses}`);
  assert(statuses.includes(429), `a burst is limited: ${statuses}`);
  assert(retryAfter !== null && Number(retryAfter) >= 1, "Retry-After in seconds");
  t.network.deps.clock.advance(60_000);
  assertEquals((await t.request("/api/v1/members", { headers: bearer(token) })).status, 200);

  const signInStatuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await t.request("/api/v1/auth/challenge", { json: { did: alice.did } });
    signInStatuses.push(r.status);
    await r.body?.cancel();
  }
  // The minute waited above refilled the bucket of 3: three pass, then the address is limited.
  assertEquals(signInStatuses, [200, 200, 200, 429, 429]);
});

Deno.test("forwarded addresses: X-Forwarded-For is ignored unless the peer is a trusted proxy", async () => {
  const rates = { signIn: { rate: 0.01, burst: 1 } };
  const plain = await testGateway({ rates });
  const did = plain.network.members[1].did;
  const ask = (t: TestGateway, forwarded: string) =>
    t.request("/api/v1/auth/challenge", {
      json: { did },
      headers: { "x-forwarded-for": forwarded },
    });
  assertEquals((await ask(plain, "10.0.0.1")).status, 200);
  assertEquals((await ask(plain, "10.0.0.2")).status, 429);
  const proxied = await testGateway({ rates, trustedProxies: ["127.0.0.1"] });
  assertEquals((await ask(proxied, "10.0.0.1")).status, 200);
  assertEquals((await ask(proxied, "10.0.0.2")).status, 200);
  assertEquals((await ask(proxied, "10.0.0.2")).status, 429);
});

Deno.test("headers: CSP, frame denial, nosniff and referrer policy everywhere; CORS only for configured origins", async () => {
  const t = await testGateway();
  for (const path of ["/", "/api/v1/openapi.json", "/api/v1/members"]) {
    const response = await t.request(path);
    await response.body?.cancel();
    const csp = response.headers.get("content-security-policy") ?? "";
    assert(
      csp.includes("frame-ancestors 'none'") && csp.includes("default-src 'self'"),
      `${path}: ${csp}`,
    );
    assertEquals(response.headers.get("x-frame-options"), "DENY");
    assertEquals(response.headers.get("x-content-type-options"), "nosniff");
    assertEquals(response.headers.get("referrer-policy"), "no-referrer");
    assertEquals(response.headers.get("access-control-allow-origin"), null);
  }
  const withCors = await testGateway({ corsOrigins: ["https://app.example.org"] });
  const allowed = await withCors.request("/api/v1/openapi.json", {
    headers: { origin: "https://app.example.org" },
  });
  await allowed.body?.cancel();
  assertEquals(allowed.headers.get("access-control-allow-origin"), "https://app.example.org");
  const other = await withCors.request("/api/v1/openapi.json", {
    headers: { origin: "https://evil.example" },
  });
  await other.body?.cancel();
  assertEquals(other.headers.get("access-control-allow-origin"), null);
  const page = await t.request("/");
  assert((await page.text()).includes("/api/v1"), "the placeholder page without a dashboard");
});

/** Reads SSE frames from a response until `count` envelope events or the deadline. */
async function readEvents(response: Response, count: number, deadlineMs = 10_000) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: { id: number; event: string; data: Record<string, unknown> }[] = [];
  let buffer = "";
  const deadline = Date.now() + deadlineMs;
  try {
    while (events.filter((e) => e.event === "envelope").length < count && Date.now() < deadline) {
      const timeout = new Promise<null>((r) =>
        setTimeout(() => r(null), Math.max(1, deadline - Date.now()))
      );
      const next = await Promise.race([reader.read(), timeout]);
      if (next === null || next.done) break;
      buffer += decoder.decode(next.value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(
          frame.split("\n").filter((l) => !l.startsWith(":") && l.includes(": "))
            .map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]),
        );
        if (fields.event) {
          events.push({
            id: Number(fields.id),
            event: fields.event,
            data: JSON.parse(fields.data),
          });
        }
      }
      clearTimeout(undefined);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

Deno.test("events: live envelopes as they commit, filtered, and resumed from Last-Event-ID", async () => {
  const t = await testGateway({ rates: { write: { rate: 1000, burst: 1000 } } });
  const [, alice, bob] = t.network.members;
  const token = await signIn(t, alice, ["read", "ledger:write", "trust:write"]);
  const currency = t.network.genesis.currencies[0].code;
  const controller = new AbortController();
  const live = await t.gateway.app.request("/api/v1/events?kind=ledger.transfer", {
    headers: bearer(token),
    signal: controller.signal,
  }, { remoteAddr: "127.0.0.1" });
  assertEquals(live.status, 200);
  assert(live.headers.get("content-type")!.startsWith("text/event-stream"), "an event stream");
  await submit(t, alice, token, {
    kind: "trust.edge",
    body: { to: bob.did, score: 500, graph: "social" },
  });
  for (let i = 0; i < 3; i++) {
    await submit(t, alice, token, {
      kind: "ledger.transfer",
      body: { to: bob.did, amount: 10 + i, currency },
    });
  }
  const seen = await readEvents(live, 3);
  controller.abort();
  assertEquals(seen.map((e) => e.data.kind), [
    "ledger.transfer",
    "ledger.transfer",
    "ledger.transfer",
  ]);
  assert(seen.every((e, i) => i === 0 || e.id > seen[i - 1].id), "ids are ascending log positions");

  // Resume after the first transfer: the other two, from the store.
  const resumed = await t.request("/api/v1/events?kind=ledger.transfer", {
    headers: { ...bearer(token), "last-event-id": String(seen[0].id) },
  });
  const again = await readEvents(resumed, 2);
  assertEquals(again.map((e) => e.id), [seen[1].id, seen[2].id]);
  assertEquals(again.map((e) => e.data.body && (e.data.body as { amount: number }).amount), [
    11,
    12,
  ]);
  assertEquals(t.gateway.events.clients, 0);
});

Deno.test("events: a client that does not read is dropped, its memory bounded", async () => {
  const t = await testGateway();
  const [node, alice, bob] = t.network.members;
  const token = await signIn(t, alice, ["read"]);
  const stream = await t.request("/api/v1/events", { headers: bearer(token) });
  // Many envelopes commit while the client reads nothing (written around the gateway's lane, then
  // announced at once, so the hub hands them all to the client before it can read).
  for (let i = 0; i <= eventBufferMax + 5; i++) {
    t.network.deps.clock.advance(1);
    const { outcome } = await appendLocal(t.network.deps, node.signer, {
      net: t.network.net,
      kind: "trust.edge",
      body: { to: i % 2 ? alice.did : bob.did, score: i % 1000, graph: "social" },
    });
    assertEquals(outcome.status, "accepted");
  }
  t.gateway.accepted();
  await t.gateway.events.settled();
  const events = await readEvents(stream, 1);
  assertEquals(events.map((e) => e.event), ["dropped"]);
  assertEquals(t.gateway.events.clients, 0);
});

/** Resolves the document's `$ref`s into one JSON Schema 2020-12 document for Ajv. */
function schemaOf(doc: Record<string, unknown>, schema: unknown): Record<string, unknown> {
  const text = JSON.stringify({
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $defs: (doc.components as { schemas: unknown }).schemas,
    ...(schema as Record<string, unknown>),
  }).replaceAll("#/components/schemas/", "#/$defs/");
  return JSON.parse(text);
}

Deno.test("openapi: the document is valid OpenAPI 3.1 and every response matches its schema", async () => {
  const t = await testGateway();
  const [, alice, bob] = t.network.members;
  const doc = await (await t.request("/api/v1/openapi.json")).json();
  assertEquals(doc.openapi, "3.1.0");
  const result = await new Validator().validate(doc);
  assert(
    result.valid,
    `OpenAPI document invalid: ${JSON.stringify(result.errors)?.slice(0, 2000)}`,
  );
  for (
    const path of [
      "/api/v1/auth/token",
      "/api/v1/prepare",
      "/api/v1/envelopes",
      "/api/v1/events",
      "/api/v1/proposals/{id}",
    ]
  ) {
    assert(path in doc.paths, `${path} is documented`);
  }

  const token = await signIn(t, alice, [
    "read",
    "ledger:write",
    "trust:write",
    "gov:vote",
    "gov:propose",
  ]);
  const currency = t.network.genesis.currencies[0].code;
  const receipt = await submit(t, alice, token, {
    kind: "ledger.transfer",
    body: { to: bob.did, amount: 5, currency },
  });
  const proposal = await submit(t, alice, token, {
    kind: "gov.proposal",
    body: await proposalBody(t, "Schema"),
  });
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const checks: [string, string, string][] = [
    ["/api/v1/status", "/api/v1/status", "get"],
    ["/api/v1/members", "/api/v1/members", "get"],
    ["/api/v1/balances", "/api/v1/balances", "get"],
    [`/api/v1/accounts/${bob.did}/balance`, "/api/v1/accounts/{did}/balance", "get"],
    [`/api/v1/accounts/${bob.did}/history`, "/api/v1/accounts/{did}/history", "get"],
    [`/api/v1/accounts/${bob.did}/limit`, "/api/v1/accounts/{did}/limit", "get"],
    [`/api/v1/trust/${bob.did}/score`, "/api/v1/trust/{did}/score", "get"],
    ["/api/v1/proposals", "/api/v1/proposals", "get"],
    [`/api/v1/proposals/${proposal.cid}`, "/api/v1/proposals/{id}", "get"],
    [`/api/v1/receipts/${receipt.id}`, "/api/v1/receipts/{id}", "get"],
    ["/api/v1/members?limit=abc", "/api/v1/members", "get"],
  ];
  for (const [url, path, method] of checks) {
    const response = await t.request(url, { headers: bearer(token) });
    const status = String(response.status);
    const body = await response.json();
    const schema = doc.paths[path][method].responses[status]?.content?.["application/json"]?.schema;
    assert(schema, `${url}: status ${status} is documented`);
    const validate = ajv.compile(schemaOf(doc, schema));
    assert(validate(body), `${url}: ${JSON.stringify(validate.errors)}`);
  }
});
