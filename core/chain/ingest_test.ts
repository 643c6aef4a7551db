import fc from "fast-check";
import { envelopePartBytesMax } from "../constants.ts";
import { AssertionError, ConflictError, RejectedError } from "../errors.ts";
import { type Envelope, type SealedEnvelope, sealEnvelope } from "../envelope/envelope.ts";
import { type TestIdentity, testIdentity, testNetwork } from "../testing.ts";
import { appendLocal } from "./append.ts";
import {
  BatchRejectedError,
  ingest,
  type IngestDeps,
  type KindHandler,
  storedBytes,
  writeEnvelope,
} from "./ingest.ts";
import { chainKeys } from "./keys.ts";
import { readChain, readHeads } from "./read.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { listAll } from "../store/store.ts";
import { StateOverlay } from "./state.ts";

const noteKind: KindHandler = {
  apply(ctx) {
    const body = ctx.envelope.body as { text?: unknown };
    if (typeof body?.text !== "string") throw new RejectedError("malformed", "note needs text");
    ctx.state.set(["note", ctx.envelope.author, ctx.envelope.seq], body.text);
  },
};

async function setup(count = 2) {
  const network = await testNetwork(count);
  const kinds = new Map(network.deps.kinds);
  kinds.set("test.note", noteKind);
  const deps = { ...network.deps, kinds };
  return { ...network, deps };
}

async function note(
  net: string,
  who: TestIdentity,
  seq: number,
  prev: string | null,
  ts: number,
  text: unknown = `note ${seq}`,
): Promise<SealedEnvelope> {
  return await sealEnvelope({ net, kind: "test.note", seq, prev, ts, body: { text } }, who.signer);
}

async function chainOf(
  net: string,
  who: TestIdentity,
  length: number,
  ts: number,
): Promise<SealedEnvelope[]> {
  const out: SealedEnvelope[] = [];
  for (let i = 0; i < length; i++) {
    out.push(await note(net, who, i, i === 0 ? null : out[i - 1].cid, ts + i));
  }
  return out;
}

function statuses(outcomes: { status: string; reason?: string }[]): string[] {
  return outcomes.map((o) => o.status === "rejected" ? `rejected:${o.reason}` : o.status);
}

function expectEqual(actual: unknown, expected: unknown): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`expected ${e}, got ${a}`);
}

Deno.test("ingest() accepts a chain that extends seq and prev, and reports resubmissions as duplicates", async () => {
  const { deps, net, members } = await setup();
  const now = deps.clock.now();
  const chain = await chainOf(net, members[0], 3, now);
  expectEqual(statuses(await ingest(deps, chain, { source: "gossip" })), [
    "accepted",
    "accepted",
    "accepted",
  ]);
  expectEqual(statuses(await ingest(deps, chain, { source: "gossip" })), [
    "duplicate",
    "duplicate",
    "duplicate",
  ]);
  const stored = await readChain(deps.store, net, members[0].did);
  expectEqual(stored.map((s) => s.cid), chain.map((s) => s.cid));
  expectEqual((await deps.store.get(["note", members[0].did, 2]))?.value, "note 2");
});

Deno.test("ingest() rejects gaps, wrong prev links, backwards and future timestamps", async () => {
  const { deps, net, members } = await setup();
  const now = deps.clock.now();
  const chain = await chainOf(net, members[0], 2, now);
  expectEqual(statuses(await ingest(deps, [chain[1]], { source: "gossip" })), ["rejected:gap"]);
  const badPrev = await note(net, members[0], 1, members[1].inception.cid, now);
  expectEqual(statuses(await ingest(deps, [chain[0], badPrev], { source: "gossip" })), [
    "accepted",
    "rejected:bad_prev",
  ]);
  const backwards = await note(net, members[0], 1, chain[0].cid, now - 10);
  const future = await note(net, members[0], 1, chain[0].cid, now + 301_000);
  expectEqual(statuses(await ingest(deps, [backwards, future], { source: "gossip" })), [
    "rejected:clock",
    "rejected:clock",
  ]);
  expectEqual((await readHeads(deps.store, net)).get(members[0].did)?.seq, 0);
});

Deno.test("ingest() records a fork as evidence and quarantines its author", async () => {
  const { deps, net, members } = await setup();
  const now = deps.clock.now();
  const [first] = await chainOf(net, members[0], 1, now);
  const twin = await note(net, members[0], 0, null, now, "other text");
  expectEqual(statuses(await ingest(deps, [first], { source: "gossip" })), ["accepted"]);
  expectEqual(statuses(await ingest(deps, [twin], { source: "gossip" })), ["rejected:fork"]);
  const forks = await listAll(deps.store, { prefix: chainKeys.forkPrefix });
  expectEqual(forks.length, 1);
  if (!(await deps.store.get(chainKeys.quarantine(members[0].did)))) {
    throw new Error("not quarantined");
  }
  const next = await note(net, members[0], 1, first.cid, now + 1);
  expectEqual(statuses(await ingest(deps, [next], { source: "gossip" })), ["rejected:quarantined"]);
});

Deno.test("ingest() never takes an envelope whose signatures do not verify as fork evidence: the author is not quarantined", async () => {
  const { deps, net, members } = await setup();
  const now = deps.clock.now();
  const { sealSigned } = await import("../envelope/envelope.ts");
  const [first] = await chainOf(net, members[0], 1, now);
  expectEqual(statuses(await ingest(deps, [first], { source: "gossip" })), ["accepted"]);
  const twin = (await note(net, members[0], 0, null, now, "forged twin")).envelope;
  const otherKey = (await note(net, members[1], 0, null, now, "forged twin")).envelope.sigs[0].sig;
  const garbage = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);
  const forgeries = [
    { name: "garbage signature", sigs: [{ alg: "ed25519" as const, sig: garbage }] },
    { name: "all-zero signature", sigs: [{ alg: "ed25519" as const, sig: new Uint8Array(64) }] },
    { name: "signature by another key", sigs: [{ alg: "ed25519" as const, sig: otherKey }] },
    {
      name: "only a stray ML-DSA entry",
      sigs: [{ alg: "ml-dsa-65" as const, sig: new Uint8Array(3309) }],
    },
    {
      name: "valid Ed25519 plus a stray ML-DSA entry",
      sigs: [...twin.sigs, { alg: "ml-dsa-65" as const, sig: new Uint8Array(3309) }],
    },
  ];
  for (const source of ["gossip", "sync", "import"] as const) {
    for (const forgery of forgeries) {
      const sealed = await sealSigned({ ...twin, sigs: forgery.sigs });
      const got = statuses(await ingest(deps, [sealed], { source }));
      if (got[0] !== "rejected:invalid_signature") {
        throw new Error(`${forgery.name} via ${source}: expected invalid_signature, got ${got[0]}`);
      }
    }
  }
  expectEqual((await listAll(deps.store, { prefix: chainKeys.forkPrefix })).length, 0);
  expectEqual(await deps.store.get(chainKeys.quarantine(members[0].did)), null);
  const next = await note(net, members[0], 1, first.cid, now + 1);
  expectEqual(statuses(await ingest(deps, [next], { source: "gossip" })), ["accepted"]);
});

Deno.test("ingest() rejects other networks, unknown authors, bad signatures and unknown kinds", async () => {
  const { deps, net, members } = await setup();
  const now = deps.clock.now();
  const stranger = await testIdentity(99);
  const wrongNet = await note("bafyother", members[0], 0, null, now);
  const unknownAuthor = await note(net, stranger, 0, null, now);
  const honest = await note(net, members[0], 0, null, now);
  const forged = {
    ...honest.envelope,
    sigs: [{
      alg: "ed25519" as const,
      sig: (await note(net, members[1], 0, null, now)).envelope.sigs[0].sig,
    }],
  };
  const { sealSigned } = await import("../envelope/envelope.ts");
  const unknownKind = await sealEnvelope({
    net,
    kind: "test.unknown",
    seq: 0,
    prev: null,
    ts: now,
    body: {},
  }, members[1].signer);
  expectEqual(
    statuses(
      await ingest(deps, [wrongNet, unknownAuthor, await sealSigned(forged), unknownKind], {
        source: "gossip",
      }),
    ),
    [
      "rejected:wrong_network",
      "rejected:unknown_author",
      "rejected:invalid_signature",
      "rejected:unknown_kind",
    ],
  );
  expectEqual((await readHeads(deps.store, net)).size, 0);
});

Deno.test("ingest() in all-or-nothing mode writes nothing when one envelope is bad", async () => {
  const { deps, net, members } = await setup();
  const now = deps.clock.now();
  const chain = await chainOf(net, members[0], 3, now);
  const bad = await note(net, members[1], 0, null, now, 42);
  const before = await listAll(deps.store, { prefix: ["log"] });
  try {
    await ingest(deps, [...chain, bad], { source: "import", atomicity: "all" });
    throw new Error("expected rejection");
  } catch (error) {
    if (!(error instanceof BatchRejectedError) || error.index !== 3) throw error;
  }
  expectEqual((await listAll(deps.store, { prefix: ["log"] })).length, before.length);
  expectEqual((await readHeads(deps.store, net)).size, 0);
});

Deno.test("ingest() from a local writer reports a moved head as a conflict, never as its own fork", async () => {
  const { deps, net, members } = await setup();
  const now = deps.clock.now();
  const [first] = await chainOf(net, members[0], 1, now);
  await ingest(deps, [first], { source: "local" });
  const stale = await note(net, members[0], 0, null, now, "stale");
  try {
    await ingest(deps, [stale], { source: "local" });
    throw new Error("expected conflict");
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
  expectEqual((await listAll(deps.store, { prefix: chainKeys.forkPrefix })).length, 0);
  const { outcome } = await appendLocal(deps, members[0].signer, {
    net,
    kind: "test.note",
    body: { text: "next" },
  });
  expectEqual(outcome.status, "accepted");
  expectEqual((await readHeads(deps.store, net)).get(members[0].did)?.seq, 1);
});

Deno.test("ingest() converges to the same chains whatever order envelopes arrive in (property)", async () => {
  const { deps: base, net, members } = await setup(3);
  const now = base.clock.now();
  const chains = [
    ...await chainOf(net, members[0], 4, now),
    ...await chainOf(net, members[1], 3, now),
    ...await chainOf(net, members[2], 2, now),
  ];
  const expected = new Set(chains.map((c) => c.cid));
  await fc.assert(
    fc.asyncProperty(fc.shuffledSubarray(chains, { minLength: chains.length }), async (order) => {
      const { deps } = await setup(3);
      const kinds = deps.kinds;
      const local: IngestDeps = { ...deps, kinds };
      // Deliver repeatedly (like gossip plus sync retries) until nothing new is accepted.
      for (let round = 0; round < chains.length; round++) {
        const outcomes = await ingest(local, order, { source: "sync" });
        if (!outcomes.some((o) => o.status === "accepted")) break;
      }
      const heads = await readHeads(deps.store, net);
      const stored = new Set<string>();
      for (const member of members) {
        for (const s of await readChain(deps.store, net, member.did)) stored.add(s.cid);
      }
      if (stored.size !== expected.size || [...expected].some((c) => !stored.has(c))) {
        throw new Error("did not converge");
      }
      if (heads.size !== 3) throw new Error("heads");
    }),
    { numRuns: 15 },
  );
});

Deno.test("ingest() takes the accepted clock skew from the genesis parameter network.clockSkew", async () => {
  const network = await testNetwork(1, { params: { "network.clockSkew": 10_000 } });
  const kinds = new Map(network.deps.kinds);
  kinds.set("test.note", noteKind);
  const deps = { ...network.deps, kinds };
  const now = deps.clock.now();
  const tooFar = await note(network.net, network.members[0], 0, null, now + 20_000);
  expectEqual(statuses(await ingest(deps, [tooFar], { source: "gossip" })), ["rejected:clock"]);
  const near = await note(network.net, network.members[0], 0, null, now + 5_000);
  expectEqual(statuses(await ingest(deps, [near], { source: "gossip" })), ["accepted"]);
});

Deno.test("writeEnvelope() splits a large encoding into parts that storedBytes() reads back, and a part that does not fit is a bug", async () => {
  const position = { net: "n", author: "did:icn:test", seq: 0 };
  const envelope = position as unknown as Envelope;
  const bytes = new Uint8Array(envelopePartBytesMax * 2 + 7).map((_, i) => i % 251);
  const state = new StateOverlay(new MemoryStore());
  writeEnvelope(state, envelope, "cid", bytes);
  const stored =
    (await state.get<{ cid: string; parts: number }>(chainKeys.position("n", position.author, 0)))!;
  expectEqual(stored, { cid: "cid", parts: 3 });
  expectEqual([...(await storedBytes(state, position, stored))!], [...bytes]);

  // Impossible states read back: a part larger than a part may be, a split into one part.
  state.set(chainKeys.part("n", position.author, 0, 1), new Uint8Array(envelopePartBytesMax + 1));
  await assertAssertion(() => storedBytes(state, position, stored));
  await assertAssertion(() => storedBytes(state, position, { cid: "cid", parts: 1 }));
});

async function assertAssertion(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (error instanceof AssertionError) return;
    throw error;
  }
  throw new Error("expected an AssertionError");
}
