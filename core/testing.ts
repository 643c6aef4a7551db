/**
 * Test fixtures shared by unit tests: deterministic identities with their
 * inception envelopes, and a ready in-memory ingest setup.
 */
import { createKindRegistry } from "./kinds.ts";
import { kelNet } from "./constants.ts";
import { type SealedEnvelope, sealEnvelope, type Signer } from "./envelope/envelope.ts";
import { didFromPublicKey } from "./identity/did.ts";
import { type KeySet, nextKeysDigest } from "./identity/kel.ts";
import { ed25519FromSeed, type Ed25519KeyPair, x25519FromSeed } from "./identity/keys.ts";
import { createSigner } from "./identity/signer.ts";
import { fixedClock, seededRng } from "./ports.ts";
import type { IngestDeps } from "./chain/ingest.ts";
import { MemoryStore } from "./store/memory_store.ts";
import { createGenesis, type Genesis, genesisId } from "./governance/genesis.ts";
import type { Params } from "./params.ts";
import { joinNetwork } from "./governance/join.ts";

export interface TestIdentity {
  did: string;
  ed25519: Ed25519KeyPair;
  keys: KeySet;
  signer: Signer;
  inception: SealedEnvelope;
}

/** A deterministic identity from a numeric seed, with its signed inception at `ts`. */
export async function testIdentity(seed: number, ts = 1_700_000_000_000): Promise<TestIdentity> {
  const rng = seededRng(seed);
  const ed25519 = await ed25519FromSeed(rng.bytes(32));
  const x25519 = await x25519FromSeed(rng.bytes(32));
  const next = {
    ed25519: (await ed25519FromSeed(rng.bytes(32))).publicKey,
    x25519: (await x25519FromSeed(rng.bytes(32))).publicKey,
  };
  const keys: KeySet = { ed25519: ed25519.publicKey, x25519: x25519.publicKey };
  const did = didFromPublicKey(keys.ed25519);
  const signer = createSigner(did, ed25519);
  const inception = await sealEnvelope({
    net: kelNet,
    kind: "id.inception",
    seq: 0,
    prev: null,
    ts,
    body: { keys, next: await nextKeysDigest(next) },
  }, signer);
  return { did, ed25519, keys, signer, inception };
}

export interface TestNetwork {
  deps: IngestDeps & { store: MemoryStore; clock: ReturnType<typeof fixedClock> };
  net: string;
  genesis: Genesis;
  members: TestIdentity[];
}

/** An in-memory store that has joined a genesis of `count` members whose inceptions are ingested. */
export async function testNetwork(
  count: number,
  options: { params?: Params; now?: number } = {},
): Promise<TestNetwork> {
  const now = options.now ?? 1_700_000_000_000;
  const members: TestIdentity[] = [];
  for (let i = 0; i < count; i++) members.push(await testIdentity(i + 1, now - 1000));
  const genesis = createGenesis({
    name: "Test cooperative",
    members: members.map((m) => m.did),
    params: options.params,
    created: now - 2000,
  });
  const net = await genesisId(genesis);
  const store = new MemoryStore();
  await joinNetwork(store, { id: net, genesis });
  const deps = { store, clock: fixedClock(now), kinds: createKindRegistry() };
  const { ingest } = await import("./chain/ingest.ts");
  await ingest(deps, members.map((m) => m.inception), { source: "import", atomicity: "all" });
  return { deps, net, genesis, members };
}
