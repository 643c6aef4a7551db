import { assert, assertEquals } from "../tests/_node_fixture.ts";
import type { IngestSource } from "../core/chain/ingest.ts";
import { readHeads } from "../core/chain/read.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { TestIdentity } from "../core/identity/_kel_fixture.ts";
import { seededRng } from "../core/ports.ts";
import { foreignChain, metricValue, testComponents, testNow } from "./_testing.ts";

Deno.test("WriteLane.run() runs turns one after another, and a failed turn does not block the next", async () => {
  const { lane } = await testComponents();
  const order: string[] = [];
  const gate = Promise.withResolvers<void>();
  const first = lane.run(async () => {
    order.push("first starts");
    await gate.promise;
    order.push("first ends");
    throw new Error("first fails");
  });
  const second = lane.run(() => {
    order.push("second");
    return Promise.resolve(2);
  });
  await Promise.resolve();
  assertEquals(order, ["first starts"]);
  gate.resolve();
  const [outcome, value] = await Promise.allSettled([first, second]);
  assertEquals(outcome.status, "rejected");
  assertEquals(value.status === "fulfilled" && value.value, 2);
  assertEquals(order, ["first starts", "first ends", "second"]);
});

Deno.test("WriteLane.settled() waits for the turn in flight", async () => {
  const { lane } = await testComponents();
  let done = false;
  const gate = Promise.withResolvers<void>();
  lane.run(async () => {
    await gate.promise;
    done = true;
  });
  const settled = lane.settled().then(() => done);
  gate.resolve();
  assertEquals(await settled, true);
});

Deno.test("WriteLane.ingest() stores, counts by outcome, and reports accepted envelopes", async () => {
  const seen: [string, IngestSource][] = [];
  const { lane, metrics, network } = await testComponents({
    lane: { onAccepted: (sealed, source) => seen.push([sealed.cid, source]) },
  });
  const chain = await foreignChain(0, 2);
  const outcomes = await lane.ingest(chain, "sync");
  assertEquals(outcomes.map((o) => o.status), ["accepted", "accepted"]);
  assertEquals(seen, chain.map((s) => [s.cid, "sync"]));
  const again = await lane.ingest([chain[1]], "sync");
  assertEquals(again[0].status, "duplicate");
  assertEquals(
    await metricValue(metrics, "icn_envelopes_accepted_total", {
      kind: "trust.edge",
      source: "sync",
    }),
    2,
  );
  assertEquals(
    await metricValue(metrics, "icn_envelopes_ignored_total", {
      reason: "duplicate",
      source: "sync",
    }),
    1,
  );
  const heads = await readHeads(network.deps.store, network.net);
  assertEquals(heads.get(network.members[0].did)?.seq, 1);
});

Deno.test("WriteLane ingests the follow-ups of what it accepted in the same turn, as gossip", async () => {
  const chain = await foreignChain(1, 3);
  const asked: string[][] = [];
  const seen: [number, IngestSource][] = [];
  const waiting = new Map<number, SealedEnvelope>([[1, chain[1]], [2, chain[2]]]);
  const { lane, network } = await testComponents({
    lane: {
      onAccepted: (sealed, source) => seen.push([sealed.envelope.seq, source]),
      followUps: (accepted) => {
        asked.push(accepted.map((s) => s.cid));
        const next = accepted.flatMap((s) => {
          const follower = waiting.get(s.envelope.seq + 1);
          waiting.delete(s.envelope.seq + 1);
          return follower ? [follower] : [];
        });
        return Promise.resolve(next);
      },
    },
  });
  const outcomes = await lane.ingest([chain[0]], "sync");
  assertEquals(outcomes.length, 1, "only the caller's own outcomes come back");
  assertEquals(seen, [[0, "sync"], [1, "gossip"], [2, "gossip"]]);
  assertEquals(asked.length, 3);
  const heads = await readHeads(network.deps.store, network.net);
  assertEquals(heads.get(network.members[1].did)?.seq, 2);
  assert(waiting.size === 0, "every follow-up was taken");
});

Deno.test("WriteLane reports a key event log fork (not other rejections) and counts by its network", async () => {
  const forks: string[] = [];
  const { lane, metrics } = await testComponents({
    lane: { net: "bafynet", onKelFork: (sealed) => forks.push(sealed.cid) },
  });
  const alice = new TestIdentity(seededRng(9), false);
  const inception = await alice.incept(testNow - 10_000);
  const before = alice.save();
  const rotation = await alice.rotation(testNow - 9000);
  alice.load(before);
  const fork = await alice.rotation(testNow - 8000);
  assertEquals((await lane.ingest([inception, rotation], "sync")).map((o) => o.status), [
    "accepted",
    "accepted",
  ]);
  const [forked] = await lane.ingest([fork], "gossip");
  assert(forked.status === "rejected" && forked.reason === "fork", JSON.stringify(forked));
  assertEquals(forks, [fork.cid]);
  // A gap is no fork, and is ignored rather than counted as rejected.
  const chain = await foreignChain(0, 2);
  await lane.ingest([chain[1]], "gossip");
  assertEquals(forks, [fork.cid]);
  assertEquals(
    await metricValue(metrics, "icn_network_envelopes_accepted_total", { net: "bafynet" }),
    2,
  );
  assertEquals(
    await metricValue(metrics, "icn_network_envelopes_rejected_total", { net: "bafynet" }),
    1,
  );
});
