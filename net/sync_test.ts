import { encode } from "@ipld/dag-cbor";
import { assert, assertEquals, waitFor } from "../tests/_node_fixture.ts";
import { readHeads } from "../core/chain/read.ts";
import {
  mainThreadVerifier,
  type SignatureVerifier,
  verifyPoolThreshold,
} from "../core/chain/verifier.ts";
import { kelNet } from "../core/constants.ts";
import { RejectedError } from "../core/errors.ts";
import { decodeHeadsResponse, decodeRangeResponse, type SyncRequest } from "./protocol.ts";
import { Sync, type SyncAsk, syncPageRequestsMax, type SyncReply } from "./sync.ts";
import { VerifyPool } from "./verify_pool.ts";
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

/** A verifier factory that counts what the sync asks of it (answers as the main thread would). */
function countingVerifiers() {
  const counts = { started: 0, calls: 0, closed: 0 };
  const start = (): SignatureVerifier => {
    counts.started++;
    return {
      verify(list) {
        counts.calls++;
        return mainThreadVerifier.verify(list);
      },
      close() {
        counts.closed++;
      },
    };
  };
  return Object.assign(start, { counts });
}

function flipSignatureBit(bytes: Uint8Array, sig: Uint8Array): Uint8Array {
  const out = bytes.slice();
  outer: for (let i = 0; i + sig.length <= out.length; i++) {
    for (let j = 0; j < sig.length; j++) if (out[i + j] !== sig[j]) continue outer;
    out[i + 10] ^= 0x40;
    return out;
  }
  throw new Error("signature not found in the encoding");
}

Deno.test("Sync.syncWith() verifies a page above the pool threshold with the verifier (a VerifyPool on a node), closes it after the round, and still refuses a forgery", async () => {
  const count = verifyPoolThreshold + 44;
  const chain = await foreignChain(0, count);
  const server = await syncNode(() => Promise.reject(new Error("unused")));
  assertEquals(
    (await server.lane.ingest(chain, "sync")).filter((o) => o.status === "accepted").length,
    count,
  );
  verify(server, "client");
  // Small pages never start a verifier.
  const small = countingVerifiers();
  const paged = await syncNode(over(server, "client"), 100);
  const pagedSync = new Sync({
    ...paged.base,
    lane: paged.lane,
    peers: paged.peers,
    ask: over(server, "client"),
    did: "did:icn:zMe",
    verifier: small,
  }, { net: paged.network.net, pageSize: 100, intervalMs: 2000 });
  assertEquals(await pagedSync.syncWith("server"), count);
  assertEquals(small.counts, { started: 0, calls: 0, closed: 0 });
  // One page of them all: the verifier checks it, and is closed when the round ends.
  const large = countingVerifiers();
  const whole = await syncNode(over(server, "client"));
  const wholeSync = new Sync({
    ...whole.base,
    lane: whole.lane,
    peers: whole.peers,
    ask: over(server, "client"),
    did: "did:icn:zMe",
    verifier: large,
  }, { net: whole.network.net, pageSize: 2000, intervalMs: 2000 });
  assertEquals(await wholeSync.syncWith("server"), count);
  assertEquals(large.counts.started, 1);
  assert(large.counts.calls > 0, "the verifier checked the page");
  assertEquals(large.counts.closed, 1);
  const heads = await readHeads(whole.network.deps.store, whole.network.net);
  assertEquals(heads.get(whole.network.members[0].did)?.seq, count - 1);
  // A peer serving one forged signature in a large page: the same refusal with or without it.
  const forgedAsk: SyncAsk = async (peer, message) => {
    const reply = await over(server, "client")(peer, message);
    if (message.t !== "range" || !("envs" in reply)) return reply;
    const envs = reply.envs.map((bytes, i) =>
      message.from + i === 150 ? flipSignatureBit(bytes, chain[150].envelope.sigs[0].sig) : bytes
    );
    return { envs };
  };
  const results: unknown[] = [];
  // The node's own verifier, a pool of worker threads, too.
  const pool = () => new VerifyPool(2);
  for (const verifier of [undefined, countingVerifiers(), pool]) {
    const node = await syncNode(forgedAsk);
    const sync = new Sync({
      ...node.base,
      lane: node.lane,
      peers: node.peers,
      ask: forgedAsk,
      did: "did:icn:zMe",
      verifier,
    }, { net: node.network.net, pageSize: 2000, intervalMs: 2000 });
    const accepted = await sync.syncWith("forger");
    const heads = await readHeads(node.network.deps.store, node.network.net);
    results.push([
      accepted,
      heads.get(node.network.members[0].did)?.seq,
      node.peers.describe("forger", { addrs: [], score: 0 }).misbehaviour,
    ]);
    if (verifier && "counts" in verifier) {
      assertEquals([verifier.counts.started, verifier.counts.closed], [1, 1]);
    }
  }
  assertEquals(results[1], results[0]);
  assertEquals(results[2], results[0]);
  assertEquals((results[0] as number[])[0], 150);
});

/** A server holding chains of the test network's three members, `lengths[i]` envelopes by member i. */
async function serverWith(lengths: number[], pageSize = 2000) {
  const server = await syncNode(() => Promise.reject(new Error("unused")), pageSize);
  const chains: Awaited<ReturnType<typeof foreignChain>>[] = [];
  for (const [author, length] of lengths.entries()) {
    const chain = await foreignChain(author, length);
    assertEquals(
      (await server.lane.ingest(chain, "sync")).filter((o) => o.status === "accepted").length,
      length,
    );
    chains.push(chain);
  }
  verify(server, "client");
  return { server, chains };
}

/** A client whose `lane.ingest` calls are recorded (their sizes), with `verifier` if given. */
async function recordingClient(ask: SyncAsk, pageSize: number, verifier?: () => SignatureVerifier) {
  const client = await syncNode(ask, pageSize);
  const ingested: number[] = [];
  const ingest = client.lane.ingest.bind(client.lane);
  client.lane.ingest = (inputs, source, pool) => {
    ingested.push(inputs.length);
    return ingest(inputs, source, pool);
  };
  const sync = new Sync({
    ...client.base,
    lane: client.lane,
    peers: client.peers,
    ask,
    did: "did:icn:zMe",
    verifier,
  }, { net: client.network.net, pageSize, intervalMs: 2000 });
  const seqs = async () => {
    const heads = await readHeads(client.network.deps.store, client.network.net);
    return client.network.members.map((m) => heads.get(m.did)?.seq ?? -1);
  };
  return { ...client, sync, ingested, seqs };
}

/** The range requests asked, as [author index, from, limit]. */
function rangesAsked(ask: { asked: SyncRequest[] }, members: { did: string }[]) {
  return ask.asked.flatMap((m) =>
    m.t === "range" ? [[members.findIndex((x) => x.did === m.author), m.from, m.limit]] : []
  );
}

Deno.test("Sync.syncWith() gathers short chains into one page: one ingest call for several chains", async () => {
  const { server } = await serverWith([5, 7, 3]);
  const ask = over(server, "client");
  const client = await recordingClient(ask, 10);
  assertEquals(await client.sync.syncWith("server"), 15);
  assertEquals(await client.seqs(), [4, 6, 2]);
  // Two pages of 10 and 5 for three chains (in the server's order of heads): one chain is split
  // across the pages, each of the others is asked for whole, once.
  assertEquals(client.ingested, [10, 5]);
  const asked = rangesAsked(ask, client.network.members);
  assertEquals(asked.length, 4);
  for (const [author, length] of [5, 7, 3].entries()) {
    let next = 0;
    for (const [, from, limit] of asked.filter(([a]) => a === author)) {
      assertEquals(from, next, `chain ${author} asked for in order`);
      next += limit;
    }
    assertEquals(next, length, `chain ${author} asked for whole`);
  }
  assertEquals(client.sync.lag(), 0);
});

Deno.test("Sync.syncWith() starts the verifier for a page of short chains that together reach the pool threshold", async () => {
  const length = Math.ceil(verifyPoolThreshold / 3) + 1;
  const { server } = await serverWith([length, length, length]);
  const verifiers = countingVerifiers();
  const client = await recordingClient(over(server, "client"), 2000, verifiers);
  assertEquals(await client.sync.syncWith("server"), 3 * length);
  assertEquals(client.ingested, [3 * length]);
  assertEquals(verifiers.counts.started, 1);
  assert(verifiers.counts.calls > 0, "the verifier checked the page");
  assertEquals(verifiers.counts.closed, 1);
  assertEquals(await client.seqs(), [length - 1, length - 1, length - 1]);
});

Deno.test("Sync.syncWith() gives up only the chain with a rejected envelope in a page shared by several", async () => {
  const { server, chains } = await serverWith([5, 7, 3]);
  const honest = over(server, "client");
  const ask: SyncAsk & { asked: SyncRequest[] } = Object.assign(
    async (peer: string, message: SyncRequest) => {
      const reply = await honest(peer, message);
      if (message.t !== "range" || !("envs" in reply)) return reply;
      const forged = chains[1][3];
      return {
        envs: reply.envs.map((bytes, i) =>
          message.author === forged.envelope.author && message.from + i === 3
            ? flipSignatureBit(bytes, forged.envelope.sigs[0].sig)
            : bytes
        ),
      };
    },
    { asked: honest.asked },
  );
  const client = await recordingClient(ask, 20);
  // Chains 0 and 2 whole, chain 1 up to the forgery; the next round tries chain 1 again, once.
  assertEquals(await client.sync.syncWith("forger"), 5 + 3 + 3);
  assertEquals(await client.seqs(), [4, 2, 2]);
  assertEquals(client.ingested, [15, 4]);
  const offences = client.peers.describe("forger", { addrs: [], score: 0 }).misbehaviour;
  assertEquals(Object.values(offences ?? {}), [2]);
  assertEquals(client.sync.lag(), 4);
});

Deno.test("Sync.syncWith() asks again for the rest of a short page in the same round", async () => {
  // The server serves pages of 2 whatever the client asks.
  const { server } = await serverWith([5, 7, 3], 2);
  const ask = over(server, "client");
  const client = await recordingClient(ask, 10);
  assertEquals(await client.sync.syncWith("server"), 15);
  assertEquals(await client.seqs(), [4, 6, 2]);
  // One round fetched everything: the second heads request found nothing missing.
  assertEquals(ask.asked.filter((m) => m.t === "heads").length, 2);
  assertEquals(client.peers.describe("server", { addrs: [], score: 0 }).misbehaviour, {});
  assertEquals(client.ingested.reduce((a, b) => a + b, 0), 15);
});

Deno.test("Sync.syncWith() has at most syncPageRequestsMax range requests on the wire at once", async () => {
  const authors = Array.from({ length: syncPageRequestsMax + 8 }, (_, i) => `did:icn:zA${i}`);
  let inflight = 0;
  let most = 0;
  let ranges = 0;
  const ask: SyncAsk = async (_peer, message) => {
    if (message.t === "heads") return { heads: authors.map((a) => [kelNet, a, 0]) };
    ranges++;
    most = Math.max(most, ++inflight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    inflight--;
    return { envs: [] };
  };
  const client = await syncNode(ask);
  assertEquals(await client.sync.syncWith("empty"), 0);
  assertEquals(most, syncPageRequestsMax);
  assertEquals(ranges, authors.length);
});
