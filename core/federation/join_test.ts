import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert";
import { chainKeys } from "../chain/keys.ts";
import { InvalidInputError, InvalidSignatureError } from "../errors.ts";
import { joinNetwork, readNetworkKind } from "../governance/join.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { type TestCoop, testCoop, testFederation } from "./_fixture.ts";
import { serializeFederationFile } from "./genesis.ts";
import { joinFederation } from "./join.ts";
import { federationKeys } from "./view.ts";

let made: Promise<TestCoop[]> | undefined;
/** Alpha (1, 2, 3) and Beta (4, 5). */
function coops(): Promise<TestCoop[]> {
  made ??= Promise.all([testCoop("Alpha", [1, 2, 3]), testCoop("Beta", [4, 5])]);
  return made;
}

async function contents(store: MemoryStore): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const entry of store.list({ prefix: [] })) out.push([entry.key, entry.value]);
  return out;
}

/** Expects `join` to throw `errorClass` with a message matching `pattern`, and the store unchanged. */
async function refusedUnchanged(
  store: MemoryStore,
  join: Promise<unknown>,
  errorClass: typeof InvalidInputError | typeof InvalidSignatureError,
  pattern: RegExp,
): Promise<void> {
  const before = await contents(store);
  await rejects(join, (error: unknown) => {
    assert(error instanceof errorClass, `not a ${errorClass.name}: ${error}`);
    assert(pattern.test((error as Error).message), (error as Error).message);
    return true;
  });
  assertEquals(await contents(store), before);
}

Deno.test("joinFederation() records the federation, its kind, genesis and founders' member counts, once", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  const store = new MemoryStore();
  const joined = await joinFederation(store, serializeFederationFile(file));
  assertEquals([joined.status, joined.check.id], ["joined", file.id]);
  assertEquals((await store.get(chainKeys.network))?.value, file.id);
  assertEquals(await readNetworkKind(store), "federation");
  assertEquals((await store.get(federationKeys.genesis))?.value, file.genesis);
  assertEquals((await store.get(federationKeys.founderMembers))?.value, {
    [a.net]: 3,
    [b.net]: 2,
  });
  const before = await contents(store);
  assertEquals((await joinFederation(store, file)).status, "already");
  assertEquals(await contents(store), before);
});

Deno.test("joinFederation() refuses a tampered file and writes nothing", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  const tampered = { ...file, genesis: { ...file.genesis, name: "Other" } };
  const store = new MemoryStore();
  await refusedUnchanged(
    store,
    joinFederation(store, tampered),
    InvalidInputError,
    /id does not match its content/,
  );
});

Deno.test("joinFederation() refuses a file some founder has not signed and writes nothing", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b], { unsigned: true });
  const store = new MemoryStore();
  await refusedUnchanged(
    store,
    joinFederation(store, file),
    InvalidSignatureError,
    /a delegate of every founding cooperative must sign/,
  );
});

Deno.test("joinFederation() refuses a delegate who is no longer a member of a cooperative this node holds", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  const delegate = a.members[0].did;
  // Alpha's network, as this node holds it, no longer counts its delegate as a member.
  const membersOf = (net: string) =>
    net === a.net ? new Set(a.members.slice(1).map((m) => m.did)) : undefined;
  const store = new MemoryStore();
  await refusedUnchanged(
    store,
    joinFederation(store, file, { membersOf }),
    InvalidInputError,
    new RegExp(`Cannot accept "${delegate}" as a delegate of "Alpha": not a member of it`),
  );
});

Deno.test("joinFederation() leaves a store of another network alone and names it", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  const store = new MemoryStore();
  assertEquals((await joinNetwork(store, { id: a.net, genesis: a.file.genesis })).status, "joined");
  const before = await contents(store);
  const result = await joinFederation(store, file);
  assertEquals(result.status === "elsewhere" && result.network, a.net);
  assertEquals(await contents(store), before);
  assertEquals(await readNetworkKind(store), "cooperative");
});
