import { assertEquals } from "../tests/_node_fixture.ts";
import type { IngestSource } from "../core/chain/ingest.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { silentLogger } from "../core/ports.ts";
import { testIdentity, testNetwork } from "../core/testing.ts";
import { KelReplay, type ReplayStore } from "./kel_replay.ts";
import { testNow } from "./_testing.ts";

/** A network's store with a lane that records what was replayed into it. */
async function replayStore(id: string) {
  const network = await testNetwork(3, { now: testNow });
  const ingested: { cids: string[]; source: IngestSource }[] = [];
  const store: ReplayStore = {
    id,
    store: network.deps.store,
    lane: {
      ingest: (inputs, source) => {
        ingested.push({ cids: inputs.map((s) => s.cid), source });
        return Promise.resolve([]);
      },
    },
  };
  return { ...store, network, ingested };
}

async function replayOver(count: number) {
  const stores = await Promise.all(
    Array.from({ length: count }, (_, i) => replayStore(`net-${i}`)),
  );
  const controller = new AbortController();
  const replay = new KelReplay({
    logger: silentLogger,
    signal: controller.signal,
    networks: () => stores,
  });
  return { stores, controller, replay };
}

Deno.test("KelReplay.event() carries a key event to the other stores that know its author", async () => {
  const { stores: [a, b], replay } = await replayOver(2);
  // testNetwork(3) is deterministic: member 0 of A is member 0 of B, so B knows the identity.
  const known = a.network.members[0].inception;
  replay.event(a, known);
  // An identity B has never seen stays out of B.
  const stranger = (await testIdentity(99, testNow)).inception;
  replay.event(a, stranger);
  await replay.settled();
  assertEquals(b.ingested, [{ cids: [known.cid], source: "sync" }]);
  assertEquals(a.ingested, []);
  assertEquals(replay.pending, 0);
});

Deno.test("KelReplay does nothing for a node serving one network, or once stopping", async () => {
  const one = await replayOver(1);
  one.replay.event(one.stores[0], one.stores[0].network.members[0].inception);
  assertEquals(one.replay.pending, 0);
  const two = await replayOver(2);
  two.controller.abort();
  two.replay.event(two.stores[0], two.stores[0].network.members[0].inception);
  two.replay.fork(two.stores[0], two.stores[0].network.members[0].inception);
  await two.replay.settled();
  assertEquals(two.stores[1].ingested, []);
});

Deno.test("KelReplay.fork() replays the stored event and the conflicting one into every other store, once", async () => {
  const { stores: [a, b, c], replay } = await replayOver(3);
  const stored = a.network.members[1].inception;
  // A conflicting event at the same seq: only its cid and position matter to the replay.
  const conflicting = { ...stored, cid: "conflicting" } as SealedEnvelope;
  replay.fork(a, conflicting);
  await replay.settled();
  const evidence = [{ cids: [stored.cid, "conflicting"], source: "sync" }];
  assertEquals(b.ingested, evidence);
  assertEquals(c.ingested, evidence);
  assertEquals(a.ingested, []);
  // Either side of the fork found again (in another store, say) is not replayed twice.
  replay.fork(b, conflicting);
  replay.fork(c, stored);
  await replay.settled();
  assertEquals(b.ingested.length, 1);
  assertEquals(a.ingested, []);
});

Deno.test("KelReplay logs a failed replay and goes on with the next", async () => {
  const { stores: [a, b], replay } = await replayOver(2);
  let calls = 0;
  b.lane.ingest = () => {
    calls++;
    return calls === 1 ? Promise.reject(new Error("disk full")) : Promise.resolve([]);
  };
  const inception = a.network.members[0].inception;
  replay.event(a, inception);
  replay.event(a, inception);
  await replay.settled();
  assertEquals(calls, 2);
  assertEquals(replay.pending, 0);
});
