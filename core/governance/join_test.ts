import { deepStrictEqual as assertEquals } from "node:assert";
import { chainKeys } from "../chain/keys.ts";
import { didFromPublicKey } from "../identity/did.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { createGenesis, genesisId } from "./genesis.ts";
import { joinNetwork, networkKindKey, readNetworkKind } from "./join.ts";

async function network(name: string) {
  const founder = didFromPublicKey(new Uint8Array(32).fill(7));
  const genesis = createGenesis({ name, members: [founder], created: 0 });
  return { id: await genesisId(genesis), genesis };
}

Deno.test("joinNetwork() records the network and its genesis once, and leaves another network's store alone", async () => {
  const store = new MemoryStore();
  const bakers = await network("Bakers");
  assertEquals(await joinNetwork(store, bakers), { status: "joined" });
  assertEquals((await store.get(chainKeys.network))?.value, bakers.id);
  assertEquals((await store.get(chainKeys.genesis(bakers.id)))?.value, bakers.genesis);
  assertEquals((await store.get(networkKindKey))?.value, "cooperative");
  assertEquals(await joinNetwork(store, bakers), { status: "already" });
  const brewers = await network("Brewers");
  assertEquals(await joinNetwork(store, brewers), { status: "elsewhere", network: bakers.id });
  assertEquals((await store.get(chainKeys.network))?.value, bakers.id);
  assertEquals(await store.get(chainKeys.genesis(brewers.id)), null);
});

Deno.test("readNetworkKind() reads a store joined before network kinds were recorded as a cooperative", async () => {
  const store = new MemoryStore();
  const bakers = await network("Bakers");
  await store.commit([], [
    { type: "set", key: chainKeys.network, value: bakers.id },
    { type: "set", key: chainKeys.genesis(bakers.id), value: bakers.genesis },
  ]);
  assertEquals(await readNetworkKind(store), "cooperative");
});
