/**
 * `GET /api/v1/federation/positions`: a served federation's clearing positions, the rows
 * `icn federation positions --json` prints (core `readClearing` + `positionRows`), paged; a
 * federation the node does not serve is 404 `unknown_network`; a bad query is 400; the node's
 * status lists the federations it serves.
 */
import { assertEquals } from "../../tests/_node_fixture.ts";
import {
  answerKind,
  commitKind,
  positionsOfReading,
  readClearing,
} from "../../core/federation/clearing_kinds.ts";
import { FederationNet, t0, testCoop, testFederation } from "../../core/federation/_fixture.ts";
import { federationRulesFor } from "../../core/federation/params.ts";
import { positionRows } from "../../core/federation/positions.ts";
import { testNetwork } from "../../core/testing.ts";
import { bearer, signIn, testGateway } from "./_testing.ts";

const params = { "federation.clearing.votingPeriod": 1000 };
const now = t0 + 300_000;

/** Three cooperatives; Alpha–Beta agree (limit 100) and Alpha owes Beta 60; Alpha–Gamma agree. */
async function clearingWorld() {
  const alpha = await testCoop("Alpha", [1, 2]);
  const beta = await testCoop("Beta", [3, 4]);
  const gamma = await testCoop("Gamma", [5, 6]);
  const file = await testFederation([alpha, beta, gamma], { params });
  const [a, a2] = alpha.members;
  const [b] = beta.members;
  const [g] = gamma.members;
  const fed = await FederationNet.create(file, [a, a2, b, g]);
  const agree = async (partner: typeof beta, delegate: typeof b, limit: number, ts: number) => {
    const id = await fed.submit(a, "fed.proposal", {
      coop: alpha.net,
      kind: "clearing",
      title: "Clearing",
      body: "",
      action: {
        coopA: alpha.net,
        coopB: partner.net,
        limit,
        rateA: "1",
        rateB: "2",
        settlementInterval: 86_400_000,
      },
      rules: federationRulesFor(params, "clearing"),
    }, ts);
    await fed.submit(a, "fed.vote", { proposal: id, coop: alpha.net, choice: "for" }, ts + 1);
    await fed.submit(
      delegate,
      "fed.vote",
      { proposal: id, coop: partner.net, choice: "for" },
      ts + 2,
    );
    return id;
  };
  const withBeta = await agree(beta, b, 100, t0 + 1);
  await agree(gamma, g, 50, t0 + 10);
  const ts = t0 + 5000;
  const c1 = await fed.submit(a, commitKind, {
    id: "p1",
    from: alpha.net,
    to: beta.net,
    payer: a2.did,
    payee: beta.members[1].did,
    amount: 60,
    amountFrom: 60,
    amountTo: 30,
    expires: ts + 60_000,
  }, ts);
  await fed.submit(b, answerKind, { commit: c1, choice: "accept" }, ts + 1);
  return { alpha, beta, gamma, fed, withBeta };
}

Deno.test("federation positions: the CLI's rows from a served federation, paged; unknown 404, bad 400", async () => {
  const world = await clearingWorld();
  const { alpha, beta, fed } = world;
  const network = await testNetwork(3, { now });
  const t = await testGateway({}, { network, served: [{ id: fed.net, store: fed.store }] });
  try {
    const token = await signIn(t, network.members[1], ["read"]);
    const get = async (path: string, headers: HeadersInit = bearer(token)) => {
      const response = await t.request(path, { headers });
      return { status: response.status, body: await response.json() };
    };

    // Status lists the federation served (and not the home cooperative).
    const status = await get("/api/v1/status");
    assertEquals(status.status, 200);
    assertEquals(status.body.federation, [{ id: fed.net, name: fed.file.genesis.name }]);

    // What `icn federation positions --json` computes at the same time.
    const view = fed.view();
    const expected = positionRows(
      positionsOfReading(await readClearing(view, now)),
      await view.coopsAt(now),
      fed.file.genesis.currencies[0].decimals,
    );
    const all = await get(`/api/v1/federation/positions?net=${fed.net}`);
    assertEquals(all.status, 200);
    assertEquals(all.body.net, fed.net);
    assertEquals(all.body.currency, fed.file.genesis.currencies[0].code);
    assertEquals(all.body.next, null);
    assertEquals(all.body.items, JSON.parse(JSON.stringify(expected)));
    // And the figures themselves: Alpha owes Beta 60 of 100 (60 % used), Gamma is even.
    const ab = all.body.items.find((r: { coops: string[] }) =>
      r.coops.includes(alpha.net) && r.coops.includes(beta.net)
    );
    assertEquals(
      [ab.debtor, ab.creditor, ab.owedMinor, ab.use, ab.agreement, ab.accepted, ab.open],
      [alpha.net, beta.net, "60", 60, world.withBeta, 1, 0],
    );
    assertEquals(ab.rates, { [alpha.net]: "1", [beta.net]: "2" });
    assertEquals(all.body.items.length, 2);
    const ag = all.body.items.find((r: { coops: string[] }) => r !== ab);
    assertEquals([ag.debtor, ag.owedMinor, ag.use], [null, "0", 0]);

    // Paged like every list: one row a page, the cursor bound to this list.
    const first = await get(`/api/v1/federation/positions?net=${fed.net}&limit=1`);
    assertEquals(first.body.items.length, 1);
    const second = await get(
      `/api/v1/federation/positions?net=${fed.net}&limit=1&cursor=${first.body.next}`,
    );
    assertEquals([...first.body.items, ...second.body.items], all.body.items);
    assertEquals(second.body.next, null);
    const members = await get("/api/v1/members?limit=1");
    const foreign = await get(
      `/api/v1/federation/positions?net=${fed.net}&cursor=${members.body.next}`,
    );
    assertEquals([foreign.status, foreign.body.error.code], [400, "invalid_cursor"]);

    // A network the node does not serve, or serves but is not a federation: 404.
    for (const net of ["b".repeat(40), network.net]) {
      const unknown = await get(`/api/v1/federation/positions?net=${net}`);
      assertEquals([unknown.status, unknown.body.error.code], [404, "unknown_network"]);
    }
    // Bad queries: 400 with the validation code.
    for (const query of ["", "?net=", `?net=${fed.net}&limit=0`, `?net=${"x".repeat(129)}`]) {
      const bad = await get(`/api/v1/federation/positions${query}`);
      assertEquals([bad.status, bad.body.error.code], [400, "invalid_request"], query);
    }
    const extra = await get(`/api/v1/federation/positions?net=${fed.net}&extra=1`);
    assertEquals([extra.status, extra.body.error.code], [400, "unknown_field"]);
    // Signed out: refused unless public reads are on.
    const out = await get(`/api/v1/federation/positions?net=${fed.net}`, {});
    assertEquals([out.status, out.body.error.code], [401, "missing_token"]);
  } finally {
    t.gateway.stop();
  }
});

Deno.test("federation positions: public reads serve them signed out; no federation served → status lists none", async () => {
  const { fed } = await clearingWorld();
  const network = await testNetwork(3, { now });
  const open = await testGateway({ publicReads: true }, {
    network,
    served: [{ id: fed.net, store: fed.store }],
  });
  const none = await testGateway({ publicReads: true });
  try {
    const response = await open.request(`/api/v1/federation/positions?net=${fed.net}`);
    assertEquals(response.status, 200);
    assertEquals((await response.json()).items.length, 2);
    const status = await (await none.request("/api/v1/status")).json();
    assertEquals(status.federation, []);
  } finally {
    open.gateway.stop();
    none.gateway.stop();
  }
});

Deno.test("?net= on members and balances: another served cooperative signed out; a home token does not reach it", async () => {
  const home = await testNetwork(3, { now });
  const other = await testNetwork(2, { now });
  const { fed } = await clearingWorld();
  const served = [{ id: other.net, store: other.deps.store }, { id: fed.net, store: fed.store }];
  const open = await testGateway({ publicReads: true }, { network: home, served });
  const closed = await testGateway({}, { network: home, served });
  try {
    const get = async (t: typeof open, path: string, headers: HeadersInit = {}) => {
      const response = await t.request(path, { headers });
      return { status: response.status, body: await response.json() };
    };
    // Signed out, public reads: the other cooperative's own members and balances.
    const members = await get(open, `/api/v1/members?net=${other.net}`);
    assertEquals(members.status, 200);
    assertEquals(
      members.body.items.map((m: { did: string }) => m.did),
      other.members.map((m) => m.did).sort(),
    );
    const balances = await get(open, `/api/v1/balances?net=${other.net}`);
    assertEquals([balances.status, balances.body.items.length], [200, 2]);
    // Its cursor is bound to that network: the home list refuses it.
    const first = await get(open, `/api/v1/members?net=${other.net}&limit=1`);
    const crossed = await get(open, `/api/v1/members?cursor=${first.body.next}`);
    assertEquals([crossed.status, crossed.body.error.code], [400, "invalid_cursor"]);
    // The home network by name is the home list.
    const homeByName = await get(open, `/api/v1/members?net=${home.net}`);
    assertEquals(homeByName.body.items.length, 3);
    // Signed in to the home network: that token does not reach the other one (sign in there:
    // tests/gateway_networks_test.ts).
    const token = await signIn(open, home.members[1], ["read"]);
    const signedIn = await get(open, `/api/v1/members?net=${other.net}`, bearer(token));
    assertEquals([signedIn.status, signedIn.body.error.code], [401, "wrong_network"]);
    // Not served, or served but a federation (no cooperative): 404; without public reads: 401.
    for (const net of ["c".repeat(40), fed.net]) {
      const unknown = await get(open, `/api/v1/balances?net=${net}`);
      assertEquals([unknown.status, unknown.body.error.code], [404, "unknown_network"], net);
    }
    const out = await get(closed, `/api/v1/members?net=${other.net}`);
    assertEquals([out.status, out.body.error.code], [401, "missing_token"]);
    const empty = await get(open, `/api/v1/members?net=`);
    assertEquals([empty.status, empty.body.error.code], [400, "invalid_request"]);
  } finally {
    open.gateway.stop();
    closed.gateway.stop();
  }
});
