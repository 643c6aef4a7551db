import { encode } from "@ipld/dag-cbor";
import { assert, assertEquals, waitFor } from "../tests/_node_fixture.ts";
import { readHeads } from "../core/chain/read.ts";
import { kelNet } from "../core/constants.ts";
import { RejectedError } from "../core/errors.ts";
import { decodeHeadsResponse, decodeRangeResponse, type SyncRequest } from "./protocol.ts";
import { Sync, type SyncAsk, type SyncReply } from "./sync.ts";
import { foreignChain, metricValue, type TestComponents, testComponents } from "./_testing.ts";

const version = "1.0.0";

/** A node's sync over fake components; `ask` reaches whatever the test says. */
async function syncNode(ask: SyncAsk, pageSize = 2000) {
  const components = await testComponents();
  const sync = new Sync(
    { ...components.base, lane: components.lane, peers: components.peers, ask, did: "did:icn:zMe" },
    { net: components.network.net, pageSize, intervalMs: 2000 },
  );
  return { ...components, sync };
}

/** Asks `server` as the wire would: the request and the reply encoded, the reply strictly decoded. */
function over(server: { sync: Sync }, asker: string): SyncAsk & { asked: SyncRequest[] } {
  const asked: SyncRequest[] = [];
  const ask = async (_peer: string, message: SyncRequest): Promise<SyncReply> => {
    asked.push(message);
    const reply = encode(await server.sync.serve(asker, encode(message)));
    return message.t === "heads" ? decodeHeadsResponse(reply) : decodeRangeResponse(reply);
  };
  return Object.assign(ask, { asked });
}

function verify(node: TestComponents, peer: string) {
  node.peers.verify(peer, { did: node.network.members[0].did, version, trustClass: "known" });
}

Deno.test("Sync.syncWith() fetches every chain the peer holds and this node lacks, page by page", async () => {
  const server = await syncNode(() => Promise.reject(new Error("unused")));
  const chain = await foreignChain(0, 5);
  await server.lane.ingest(chain, "sync");
  verify(server, "client");
  const ask = over(server, "client");
  const client = await syncNode(ask, 2);
  assertEquals(await client.sync.syncWith("server"), 5);
  const heads = await readHeads(client.network.deps.store, client.network.net);
  assertEquals(heads.get(client.network.members[0].did)?.seq, 4);
  assertEquals(client.sync.lag(), 0);
  const ranges = ask.asked.filter((m) => m.t === "range");
  assertEquals(ranges.map((m) => m.t === "range" && [m.from, m.limit]), [[0, 2], [2, 2], [4, 1]]);
  // Caught up: the next round asks for heads only and fetches nothing.
  assertEquals(await client.sync.syncWith("server"), 0);
  assertEquals(await metricValue(client.metrics, "icn_sync_rounds_total", { result: "ok" }), 2);
});

Deno.test("Sync.serve() waits for the asker's hello, and serves only the key logs and its network", async () => {
  const server = await syncNode(() => Promise.reject(new Error("unused")));
  const answer = server.sync.serve("late", encode({ t: "heads" }));
  verify(server, "late");
  const heads = (await answer) as { heads: [string, string, number][] };
  assertEquals(heads.heads.filter(([net]) => net === kelNet).length, 3);
  const other = await server.sync.serve(
    "late",
    encode({ t: "range", net: "another", author: "did:icn:zA", from: 0, limit: 5 }),
  ).catch((error) => error);
  assert(other instanceof RejectedError && other.reason === "malformed", String(other));
  assertEquals(
    await metricValue(server.metrics, "icn_messages_dropped_total", {
      channel: "sync",
      reason: "malformed",
    }),
    1,
  );
});

Deno.test("Sync.syncWith() stops fetching from a peer that serves an undecodable envelope, and records it", async () => {
  const author = "did:icn:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
  let ranges = 0;
  const ask: SyncAsk = (_peer, message) => {
    if (message.t === "heads") return Promise.resolve({ heads: [[kelNet, author, 3]] });
    ranges++;
    return Promise.resolve({ envs: [new Uint8Array([1, 2, 3])] });
  };
  const client = await syncNode(ask, 1);
  assertEquals(await client.sync.syncWith("liar"), 0);
  assertEquals(client.peers.describe("liar", { addrs: [], score: 0 }).misbehaviour, {
    malformed: 1,
  });
  assert(ranges <= 2, `asked ${ranges} pages of a peer that serves garbage`);
  assertEquals(client.sync.lag(), 4, "nothing of what it lacks arrived");
});

Deno.test("Sync.soon() retries a failed round later while the peer stays verified; stop() cancels it", async () => {
  let asks = 0;
  const client = await syncNode(() => {
    asks++;
    return Promise.reject(new Error("connection reset"));
  });
  verify(client, "flaky");
  client.sync.soon("flaky");
  client.sync.soon("flaky");
  await waitFor(
    "the first round to fail",
    async () =>
      await metricValue(client.metrics, "icn_sync_rounds_total", { result: "failed" }) === 1,
  );
  assertEquals(asks, 1, "one round at a time per peer");
  await waitFor("the retry", () => asks >= 2, 5000);
  client.sync.stop();
  client.controller.abort();
  client.sync.soon("flaky");
  assert(asks === 2, "a stopped sync starts nothing");
});

Deno.test("Sync.forget() drops a disconnected peer's lag", async () => {
  const ask: SyncAsk = (_peer, message) =>
    message.t === "heads"
      ? Promise.resolve({ heads: [[kelNet, "did:icn:zSomeone", 9]] })
      : Promise.resolve({ envs: [] });
  const client = await syncNode(ask);
  await client.sync.syncWith("ahead");
  assertEquals(client.sync.lag(), 10);
  client.sync.forget("ahead");
  assertEquals(client.sync.lag(), 0);
});
