/**
 * One gateway, two cooperatives (issue #18 over #16's networks): a member of both signs in to the
 * second with `POST /auth/challenge?net=ID`, and with that token reads, writes (prepare → sign →
 * submit) and follows events there, each route taking `?net=` or defaulting to the token's
 * network. A token reaches only its own network: 401 `wrong_network`, nothing changed.
 */
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import { testNetwork } from "../core/testing.ts";
import {
  bearer,
  prepareAndSign,
  signIn,
  type TestGateway,
  testGateway,
  testNow,
} from "../net/gateway/_testing.ts";
import { assert, assertEquals } from "./_node_fixture.ts";

/** Reads SSE frames from a response until `count` envelope events or the deadline. */
async function readEvents(response: Response, count: number, deadlineMs = 10_000) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: { id: number; data: Record<string, unknown> }[] = [];
  let buffer = "";
  const deadline = Date.now() + deadlineMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    while (events.length < count && Date.now() < deadline) {
      const timeout = new Promise<null>((resolve) =>
        timer = setTimeout(() => resolve(null), Math.max(1, deadline - Date.now()))
      );
      const next = await Promise.race([reader.read(), timeout]);
      clearTimeout(timer);
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
        if (fields.event === "envelope") {
          events.push({ id: Number(fields.id), data: JSON.parse(fields.data) });
        }
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return events;
}

async function call(t: TestGateway, path: string, init: RequestInit & { json?: unknown } = {}) {
  const response = await t.request(path, init);
  return { status: response.status, body: await response.json() };
}

Deno.test("gateway: a member of two served cooperatives signs in to the second and reads, writes and follows events there; tokens stay on their network", async (t) => {
  const home = await testNetwork(3, { now: testNow });
  // Members 1 and 2 of `home` (same seeds) are also the two members of `other`.
  const other = await testNetwork(2, { now: testNow });
  // A served network that is no cooperative (no genesis in its store), like a federation.
  const notCoop = { id: "f".repeat(59), store: new MemoryStore() };
  const g = await testGateway({ rates: { write: { rate: 1000, burst: 1000 } } }, {
    network: home,
    others: [other],
    served: [notCoop],
  });
  const alice = home.members[1];
  const bob = home.members[0];
  assertEquals([alice.did, bob.did], [other.members[1].did, other.members[0].did]);
  const currency = other.genesis.currencies[0].code;
  const scopes = ["read", "ledger:write", "trust:write"];
  const homeToken = await signIn(g, alice, scopes);
  let otherToken = "";
  const headOf = async (store: MemoryStore, net: string) =>
    (await store.get<ChainHead>(chainKeys.head(net, alice.did)))?.value ?? null;
  try {
    await t.step(
      "sign-in to the second network: the signed text and the token name it",
      async () => {
        const challenge = await call(g, `/api/v1/auth/challenge?net=${other.net}`, {
          json: { did: alice.did, scopes },
        });
        assertEquals(challenge.status, 200);
        assertEquals(challenge.body.net, other.net);
        assert(
          challenge.body.message.includes(`\nnetwork: ${other.net}\n`),
          "the text names the network",
        );
        otherToken = await signIn(g, alice, scopes, other.net);
        const payload = JSON.parse(
          atob(otherToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")),
        );
        assertEquals([payload.net, payload.aud, payload.sub], [other.net, other.net, alice.did]);
      },
    );

    await t.step("reads default to the token's network; ?net= naming it is the same", async () => {
      for (const suffix of ["", `?net=${other.net}`]) {
        const members = await call(g, `/api/v1/members${suffix}`, { headers: bearer(otherToken) });
        assertEquals(members.status, 200);
        assertEquals(
          members.body.items.map((m: { did: string }) => m.did),
          other.members.map((m) => m.did).sort(),
        );
      }
      // The home token still reads home (3 members).
      const homeMembers = await call(g, "/api/v1/members", { headers: bearer(homeToken) });
      assertEquals(homeMembers.body.items.length, 3);
      for (
        const path of [
          `/api/v1/balances`,
          `/api/v1/accounts/${alice.did}/balance`,
          `/api/v1/accounts/${alice.did}/history`,
          `/api/v1/accounts/${alice.did}/limit`,
          `/api/v1/trust/${bob.did}/score`,
          `/api/v1/proposals`,
        ]
      ) {
        const read = await call(g, path, { headers: bearer(otherToken) });
        assertEquals(read.status, 200, `${path}: ${JSON.stringify(read.body)}`);
      }
      const balances = await call(g, "/api/v1/balances", { headers: bearer(otherToken) });
      assertEquals(balances.body.items.length, 2);
    });

    let transferCid = "";
    await t.step(
      "a transfer and a trust edge prepared, signed and submitted in the second network",
      async () => {
        const homeHead = await headOf(home.deps.store, home.net);
        // Live streams of both networks, opened before the writes.
        const otherAbort = new AbortController();
        const otherLive = await g.gateway.app.request("/api/v1/events", {
          headers: bearer(otherToken),
          signal: otherAbort.signal,
        }, { remoteAddr: "127.0.0.1" });
        assertEquals(otherLive.status, 200);
        const homeAbort = new AbortController();
        const homeLive = await g.gateway.app.request(`/api/v1/events?net=${home.net}`, {
          headers: bearer(homeToken),
          signal: homeAbort.signal,
        }, { remoteAddr: "127.0.0.1" });
        assertEquals(homeLive.status, 200);

        const signed = await prepareAndSign(g, alice, otherToken, {
          kind: "ledger.transfer",
          body: { to: bob.did, amount: 7, currency },
        });
        assertEquals(signed.envelope.net, other.net);
        assertEquals(signed.envelope.seq, 0);
        const receipt = await call(g, "/api/v1/envelopes", {
          json: signed,
          headers: bearer(otherToken),
        });
        assertEquals(receipt.status, 200, JSON.stringify(receipt.body));
        assertEquals([receipt.body.net, receipt.body.outcome.status], [other.net, "accepted"]);
        transferCid = receipt.body.cid;
        // With ?net= spelled out, a trust edge.
        const edge = await prepareAndSign(g, alice, otherToken, {
          kind: "trust.edge",
          body: { to: bob.did, score: 600, graph: "economic" },
        }, `/api/v1/prepare?net=${other.net}`);
        const edgeReceipt = await call(g, `/api/v1/envelopes?net=${other.net}`, {
          json: edge,
          headers: bearer(otherToken),
        });
        assertEquals([edgeReceipt.status, edgeReceipt.body.net], [200, other.net]);
        // The receipt is there for its caller.
        const kept = await call(g, `/api/v1/receipts/${receipt.body.id}`, {
          headers: bearer(otherToken),
        });
        assertEquals([kept.status, kept.body.net], [200, other.net]);

        // In the second network's store and reads; the home network is untouched.
        assertEquals((await headOf(other.deps.store, other.net))?.seq, 1);
        assertEquals(await headOf(home.deps.store, home.net), homeHead);
        const history = await call(g, `/api/v1/accounts/${alice.did}/history`, {
          headers: bearer(otherToken),
        });
        assertEquals(history.body.items.map((e: { cid: string; amount: string }) => e.cid), [
          transferCid,
        ]);
        const homeHistory = await call(g, `/api/v1/accounts/${alice.did}/history`, {
          headers: bearer(homeToken),
        });
        assertEquals(homeHistory.body.items, []);
        const score = await call(g, `/api/v1/trust/${bob.did}/score`, {
          headers: bearer(otherToken),
        });
        assertEquals(score.body.observer.explanation.direct, 0.6);

        // Events: the second network's stream has both writes; the home stream sees its own write
        // first, never the other network's.
        const seen = await readEvents(otherLive, 2);
        otherAbort.abort();
        assertEquals(seen.map((e) => [e.data.net, e.data.kind]), [
          [other.net, "ledger.transfer"],
          [other.net, "trust.edge"],
        ]);
        const homeWrite = await prepareAndSign(g, alice, homeToken, {
          kind: "trust.edge",
          body: { to: bob.did, score: 300, graph: "social" },
        });
        const homeReceipt = await call(g, "/api/v1/envelopes", {
          json: homeWrite,
          headers: bearer(homeToken),
        });
        assertEquals([homeReceipt.status, homeReceipt.body.net], [200, home.net]);
        const homeSeen = await readEvents(homeLive, 1);
        homeAbort.abort();
        assertEquals(homeSeen.map((e) => [e.data.net, e.data.cid]), [[
          home.net,
          homeReceipt.body.cid,
        ]]);

        // Resume in the second network from before the transfer: replayed from its store.
        const resumed = await g.request(`/api/v1/events?net=${other.net}&kind=ledger.transfer`, {
          headers: { ...bearer(otherToken), "last-event-id": String(seen[0].id - 1) },
        });
        const again = await readEvents(resumed, 1);
        assertEquals(again.map((e) => e.data.cid), [transferCid]);
      },
    );

    await t.step(
      "refusals: a token for another network, an envelope for another network, unknown networks",
      async () => {
        const otherHead = await headOf(other.deps.store, other.net);
        const homeHead = await headOf(home.deps.store, home.net);
        // A token used on another network than its own, on every kind of route.
        for (
          const [token, net] of [[otherToken, home.net], [homeToken, other.net]] as const
        ) {
          for (
            const path of [
              `/api/v1/members?net=${net}`,
              `/api/v1/accounts/${alice.did}/history?net=${net}`,
              `/api/v1/proposals?net=${net}`,
              `/api/v1/events?net=${net}`,
            ]
          ) {
            const refused = await call(g, path, { headers: bearer(token) });
            assertEquals([refused.status, refused.body.error.code], [401, "wrong_network"], path);
            assert(refused.body.error.message.includes(`auth/challenge?net=${net}`), "says how");
          }
          const prepare = await call(g, `/api/v1/prepare?net=${net}`, {
            json: { kind: "trust.edge", body: { to: bob.did, score: 1, graph: "social" } },
            headers: bearer(token),
          });
          assertEquals([prepare.status, prepare.body.error.code], [401, "wrong_network"]);
        }
        // An envelope signed for the home network, submitted with the other network's token.
        const forHome = await prepareAndSign(g, alice, homeToken, {
          kind: "ledger.transfer",
          body: { to: bob.did, amount: 1, currency },
        });
        const crossed = await call(g, "/api/v1/envelopes", {
          json: forHome,
          headers: bearer(otherToken),
        });
        assertEquals([crossed.status, crossed.body.error.code], [400, "wrong_network"]);
        // ... and with the home token but ?net= naming the other network.
        const crossedQuery = await call(g, `/api/v1/envelopes?net=${other.net}`, {
          json: forHome,
          headers: bearer(homeToken),
        });
        assertEquals([crossedQuery.status, crossedQuery.body.error.code], [401, "wrong_network"]);
        // A cursor of one network's list is refused by the other's.
        const page = await call(g, `/api/v1/members?limit=1`, { headers: bearer(otherToken) });
        const foreignCursor = await call(g, `/api/v1/members?cursor=${page.body.next}`, {
          headers: bearer(homeToken),
        });
        assertEquals([foreignCursor.status, foreignCursor.body.error.code], [
          400,
          "invalid_cursor",
        ]);
        // Sign-in to a network not served, or served but not a cooperative: 404.
        for (const net of ["a".repeat(59), notCoop.id]) {
          const challenge = await call(g, `/api/v1/auth/challenge?net=${net}`, {
            json: { did: alice.did },
          });
          assertEquals([challenge.status, challenge.body.error.code], [404, "unknown_network"]);
          const read = await call(g, `/api/v1/members?net=${net}`, {
            headers: bearer(homeToken),
          });
          assertEquals([read.status, read.body.error.code], [404, "unknown_network"], net);
        }
        const empty = await call(g, `/api/v1/auth/challenge?net=`, { json: { did: alice.did } });
        assertEquals([empty.status, empty.body.error.code], [400, "invalid_request"]);
        // The same node serving only the home network: the other network's token is refused.
        const homeOnly = await testGateway({}, { network: home, node: g.node });
        try {
          const gone = await call(homeOnly, "/api/v1/members", { headers: bearer(otherToken) });
          assertEquals([gone.status, gone.body.error.code], [401, "wrong_network"]);
        } finally {
          homeOnly.gateway.stop();
        }
        // Nothing changed in either network.
        assertEquals(await headOf(other.deps.store, other.net), otherHead);
        assertEquals(await headOf(home.deps.store, home.net), homeHead);
      },
    );

    await t.step(
      "the OpenAPI document declares ?net= on every route that acts on a network",
      async () => {
        const document = await call(g, "/api/v1/openapi.json");
        // Routes not about one network: sign-in by nonce, receipts (by id, each naming its
        // network), the node's status, and positions (whose `net` names the federation).
        const exempt = new Set([
          "/api/v1/auth/token",
          "/api/v1/auth/challenge/{nonce}",
          "/api/v1/auth/challenge/{nonce}/approve",
          "/api/v1/receipts/{id}",
          "/api/v1/status",
          "/api/v1/federation/positions",
        ]);
        const missing: string[] = [];
        let checked = 0;
        for (const [path, operations] of Object.entries(document.body.paths)) {
          for (const [method, operation] of Object.entries(operations as Record<string, unknown>)) {
            if (exempt.has(path)) continue;
            checked++;
            const parameters = (operation as { parameters?: { name: string; in: string }[] })
              .parameters ?? [];
            if (!parameters.some((p) => p.name === "net" && p.in === "query")) {
              missing.push(`${method} ${path}`);
            }
          }
        }
        assertEquals(missing, []);
        assert(checked >= 12, `routes checked: ${checked}`);
      },
    );
  } finally {
    g.gateway.stop();
  }
});
