import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert";
import fc from "fast-check";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import type { KindHandler } from "../chain/ingest.ts";
import { chainKeys } from "../chain/keys.ts";
import { bytesEqual } from "../bytes.ts";
import { kelNet } from "../constants.ts";
import { decodeEnvelope, sealEnvelope, signingBytes } from "../envelope/envelope.ts";
import { didFromPublicKey } from "./did.ts";
import { seededRng } from "../ports.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { accept, generation, TestIdentity } from "./_kel_fixture.ts";
import {
  identityKey,
  type IdentityRecord,
  nextKeysDigest,
  signingKeysAt,
  supersededKeyGraceMs,
} from "./kel.ts";
import { identityKinds } from "./kinds.ts";
import { replayKel } from "./replay.ts";
import { sealRotation } from "./rotation.ts";
import { createSigner } from "./signer.ts";

const t0 = 1_700_000_000_000;
const hour = 3_600_000;
const net = "bafytestnet";

const noteKinds = new Map<string, KindHandler>([...identityKinds, ["test.note", { apply() {} }]]);

async function setup(pq = false, seed = 1) {
  const store = new MemoryStore();
  await store.commit([], [{ type: "set", key: chainKeys.network, value: net }]);
  const alice = new TestIdentity(seededRng(seed), pq);
  assertEquals((await accept(store, await alice.incept(t0), t0)).status, "accepted");
  return { store, alice };
}

async function record(store: MemoryStore, did: string): Promise<IdentityRecord> {
  return (await store.get<IdentityRecord>(identityKey(did)))!.value;
}

Deno.test("rotation reveals the committed keys and installs them for the same DID", async () => {
  const { store, alice } = await setup();
  const first = alice.current.keys.ed25519;
  const outcome = await accept(store, await alice.rotation(t0 + hour), t0 + hour);
  assertEquals(outcome.status, "accepted");
  const rec = await record(store, alice.did);
  assert(bytesEqual(rec.keys.ed25519, alice.current.keys.ed25519));
  assert(!bytesEqual(rec.keys.ed25519, first));
  assertEquals(rec.history.length, 2);
  assertEquals(rec.history[0].until, t0 + hour);
  assert(bytesEqual(rec.next!, await nextKeysDigest(alice.next.keys)));
});

Deno.test("rotation without the pre-committed keys is rejected (a thief with the current key cannot rotate)", async () => {
  const { store, alice } = await setup();
  const thiefKeys = await generation(seededRng(99), false);
  const sealed = await sealRotation({
    kind: "id.rotation",
    head: alice.head,
    ts: t0 + 1,
    signer: alice.signer(),
    revealed: createSigner(alice.did, thiefKeys.ed25519),
    keys: thiefKeys.keys,
    next: await nextKeysDigest(thiefKeys.keys),
    reason: "compromised",
  });
  const outcome = await accept(store, sealed, t0 + 1);
  assertEquals(outcome.status, "rejected");
  assert(outcome.status === "rejected" && outcome.reason === "next_keys_mismatch");
  // Revealing the right public keys without their secrets fails the proof.
  const forged = await sealRotation({
    kind: "id.rotation",
    head: alice.head,
    ts: t0 + 1,
    signer: alice.signer(),
    revealed: createSigner(alice.did, thiefKeys.ed25519),
    keys: alice.next.keys,
    next: await nextKeysDigest(thiefKeys.keys),
    reason: "compromised",
  });
  const second = await accept(store, forged, t0 + 1);
  assertEquals(second.status, "rejected");
  assertEquals((await record(store, alice.did)).seq, 0);
});

Deno.test("rotation not signed by the current key is rejected", async () => {
  const { store, alice } = await setup();
  const sealed = await sealRotation({
    kind: "id.rotation",
    head: alice.head,
    ts: t0 + 1,
    signer: alice.signer(alice.next),
    revealed: alice.signer(alice.next),
    keys: alice.next.keys,
    next: await nextKeysDigest(alice.next.keys),
    reason: "manual",
  });
  const outcome = await accept(store, sealed, t0 + 1);
  assert(outcome.status === "rejected" && outcome.reason === "invalid_signature");
});

Deno.test("envelopes signed with a superseded key after its rotation are rejected", async () => {
  const { store, alice } = await setup();
  const old = alice.current;
  await accept(store, await alice.rotation(t0 + hour), t0 + hour);
  const late = await alice.event("test.note", { n: 1 }, t0 + hour + 1, {
    net,
    head: null,
    signer: alice.signer(old),
  });
  const outcome = await accept(store, late, t0 + hour + 1, noteKinds);
  assert(outcome.status === "rejected" && outcome.reason === "invalid_signature");
  const fresh = await alice.event("test.note", { n: 1 }, t0 + hour + 1, { net, head: null });
  assertEquals((await accept(store, fresh, t0 + hour + 1, noteKinds)).status, "accepted");
});

Deno.test("signingKeysAt() keeps old keys for envelopes dated before a rotation, within the grace period", async () => {
  const { store, alice } = await setup();
  const old = alice.current.keys.ed25519;
  await accept(store, await alice.rotation(t0 + hour), t0 + hour);
  const rec = await record(store, alice.did);
  assert(bytesEqual(signingKeysAt(rec, t0 + 10).ed25519, old));
  assert(bytesEqual(signingKeysAt(rec, t0 + 10, t0 + hour + supersededKeyGraceMs).ed25519, old));
  assert(bytesEqual(signingKeysAt(rec, t0 + hour).ed25519, alice.current.keys.ed25519));
  try {
    signingKeysAt(rec, t0 + 10, t0 + hour + supersededKeyGraceMs + 1);
    throw new Error("expected a rejection");
  } catch (error) {
    assertEquals((error as { reason?: string }).reason, "superseded_key");
  }
  // An envelope dated before the rotation still verifies (sync of history).
  const before = await alice.event("test.note", { n: 0 }, t0 + 10, {
    net,
    head: null,
    signer: createSigner(alice.did, (await generation(seededRng(1), false)).ed25519),
  });
  assertEquals((await accept(store, before, t0 + hour + 5, noteKinds)).status, "accepted");
});

Deno.test("pq-binding adds ML-DSA keys; afterwards envelopes need both signatures", async () => {
  const { store, alice } = await setup();
  const outcome = await accept(store, await alice.pqBinding(t0 + 5), t0 + 5);
  assertEquals(outcome.status, "accepted");
  const rec = await record(store, alice.did);
  assert(rec.keys.mlDsa65 && rec.keys.mlKem768);
  const edOnly = await alice.event("test.note", { n: 1 }, t0 + 6, {
    net,
    head: null,
    signer: createSigner(alice.did, alice.current.ed25519),
  });
  const rejected = await accept(store, edOnly, t0 + 6, noteKinds);
  assert(rejected.status === "rejected" && rejected.reason === "invalid_signature");
  const hybrid = await alice.event("test.note", { n: 1 }, t0 + 6, { net, head: null });
  assertEquals(hybrid.envelope.sigs.length, 2);
  assertEquals((await accept(store, hybrid, t0 + 6, noteKinds)).status, "accepted");
  // @noble/post-quantum verifies the WebCrypto signature, and WebCrypto verifies noble's.
  const message = signingBytes(hybrid.envelope);
  const sig = hybrid.envelope.sigs.find((s) => s.alg === "ml-dsa-65")!.sig;
  assert(ml_dsa65.verify(sig, message, rec.keys.mlDsa65!));
  const noble = ml_dsa65.keygen(alice.current.mlDsa65!.seed);
  assert(bytesEqual(noble.publicKey, rec.keys.mlDsa65!));
  const { verifyMlDsa65 } = await import("./keys.ts");
  assert(await verifyMlDsa65(rec.keys.mlDsa65!, message, ml_dsa65.sign(message, noble.secretKey)));
  // Rotations keep the identity hybrid.
  assertEquals((await accept(store, await alice.rotation(t0 + 7), t0 + 7)).status, "accepted");
  assert((await record(store, alice.did)).keys.mlDsa65);
});

Deno.test("pq-binding with only the Ed25519 signature is rejected", async () => {
  const { store, alice } = await setup();
  const saved = alice.save();
  const binding = await alice.pqBinding(t0 + 5);
  alice.load(saved);
  const stripped = {
    ...binding.envelope,
    sigs: binding.envelope.sigs.filter((s) => s.alg === "ed25519"),
  };
  const { sealSigned } = await import("../envelope/envelope.ts");
  const outcome = await accept(store, await sealSigned(stripped), t0 + 5);
  assert(outcome.status === "rejected" && outcome.reason === "invalid_signature");
  assertEquals((await record(store, alice.did)).keys.mlDsa65, undefined);
});

Deno.test("an identity created with PQ keys requires both signatures from its inception", async () => {
  const store = new MemoryStore();
  const alice = new TestIdentity(seededRng(5), true);
  const inception = await alice.incept(t0);
  const { sealSigned } = await import("../envelope/envelope.ts");
  const stripped = await sealSigned({
    ...inception.envelope,
    sigs: inception.envelope.sigs.filter((s) => s.alg === "ed25519"),
  });
  const outcome = await accept(store, stripped, t0);
  assert(outcome.status === "rejected" && outcome.reason === "invalid_signature");
  assertEquals((await accept(store, inception, t0)).status, "accepted");
});

Deno.test("the identity record stays bounded over hundreds of rotations", async () => {
  const { store, alice } = await setup(false, 7);
  const log = [alice.log[0]];
  for (let i = 1; i <= 600; i++) log.push(await alice.rotation(t0 + i * 1000));
  const records = await replayKel(log.map((s) => s.bytes));
  const rec = records.get(alice.did)!;
  assertEquals(rec.seq, 600);
  assert(rec.archived! > 0);
  assert(rec.history.length < 600);
  assert(bytesEqual(rec.keys.ed25519, alice.current.keys.ed25519));
  void store;
});

Deno.test("property: any prefix of a valid KEL resolves to the keys at that point", async () => {
  const alice = new TestIdentity(seededRng(11), false);
  await alice.incept(t0);
  const keysAt = [alice.current.keys.ed25519];
  for (let i = 1; i <= 12; i++) {
    if (i === 6) await alice.pqBinding(t0 + i * 1000);
    else await alice.rotation(t0 + i * 1000);
    keysAt.push(alice.current.keys.ed25519);
  }
  const bytes = alice.log.map((s) => s.bytes);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: bytes.length }), async (n) => {
      const rec = (await replayKel(bytes.slice(0, n))).get(alice.did)!;
      assertEquals(rec.seq, n - 1);
      assert(bytesEqual(rec.keys.ed25519, keysAt[n - 1]));
      assertEquals(rec.keys.mlDsa65 !== undefined, n - 1 >= 6);
    }),
    { numRuns: 20 },
  );
});

Deno.test("property: any single-byte change to any KEL event is detected", async () => {
  const alice = new TestIdentity(seededRng(12), false);
  await alice.incept(t0);
  for (let i = 1; i <= 4; i++) await alice.rotation(t0 + i * 1000);
  const bytes = alice.log.map((s) => s.bytes);
  const good = (await replayKel(bytes)).get(alice.did)!;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: bytes.length - 1 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      async (event, offset, delta) => {
        const copy = bytes.map((b) => b.slice());
        const target = copy[event];
        target[offset % target.length] ^= delta;
        let detected = false;
        try {
          const rec = (await replayKel(copy)).get(alice.did);
          detected = !rec || rec.head !== good.head;
        } catch {
          detected = true;
        }
        assert(detected, `change at event ${event} byte ${offset % target.length} went unnoticed`);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("replayKel() rejects reordered or missing events", async () => {
  const alice = new TestIdentity(seededRng(13), false);
  await alice.incept(t0);
  for (let i = 1; i <= 3; i++) await alice.rotation(t0 + i * 1000);
  const bytes = alice.log.map((s) => s.bytes);
  await assertRejects(() => replayKel([bytes[0], bytes[2], bytes[1], bytes[3]]));
  await assertRejects(() => replayKel([bytes[0], bytes[1], bytes[3]]));
  await assertRejects(() => replayKel(bytes.slice(1)));
  assertEquals((await decodeEnvelope(bytes[1])).envelope.kind, "id.rotation");
});

/** A signer for a small-order key: R = identity, S = 0 verifies for every message, no secret needed. */
function noSecretSigner(did: string) {
  const trivial = new Uint8Array(64);
  trivial[0] = 1;
  return { did, sign: () => Promise.resolve([{ alg: "ed25519" as const, sig: trivial }]) };
}

Deno.test("an inception with a small-order Ed25519 key is refused (its signatures need no secret)", async () => {
  const store = new MemoryStore();
  await store.commit([], [{ type: "set", key: chainKeys.network, value: net }]);
  const identityPoint = new Uint8Array(32);
  identityPoint[0] = 1;
  const did = didFromPublicKey(identityPoint);
  const x = (await generation(seededRng(5), false)).keys.x25519;
  const sealed = await sealEnvelope({
    net: kelNet,
    kind: "id.inception",
    seq: 0,
    prev: null,
    ts: t0,
    body: { keys: { ed25519: identityPoint, x25519: x }, next: new Uint8Array(32) },
  }, noSecretSigner(did));
  const outcome = await accept(store, sealed, t0);
  assertEquals(outcome.status, "rejected");
  assertEquals(outcome.status === "rejected" && outcome.reason, "weak_key");
  assertEquals(await store.get(identityKey(did)), null);
});

Deno.test("a rotation to a small-order Ed25519 key is refused", async () => {
  const { store, alice } = await setup();
  const identityPoint = new Uint8Array(32);
  identityPoint[0] = 1;
  // Alice commits to a small-order next key at inception time: the rotation revealing it is refused.
  const weak = { ed25519: identityPoint, x25519: alice.next.keys.x25519 };
  const sealed = await sealRotation({
    kind: "id.rotation",
    head: alice.head,
    ts: t0 + hour,
    signer: alice.signer(),
    revealed: noSecretSigner(alice.did),
    keys: weak,
    next: await nextKeysDigest(alice.next.keys),
    reason: "scheduled",
  });
  const outcome = await accept(store, sealed, t0 + hour);
  assertEquals(outcome.status, "rejected");
  assertEquals(outcome.status === "rejected" && outcome.reason, "weak_key");
  assert(bytesEqual((await record(store, alice.did)).keys.ed25519, alice.current.keys.ed25519));
});

Deno.test("a second rotation at a used KEL seq signed by the keys of that time is a fork; a forged one is not", async () => {
  const { store, alice } = await setup();
  const before = alice.save();
  const first = await alice.rotation(t0 + hour);
  alice.load(before);
  const twin = await alice.rotation(t0 + hour + 1);
  // After `first`, Alice's current keys are the revealed ones, not the ones that signed seq 1.
  assertEquals((await accept(store, first, t0 + hour)).status, "accepted");
  const { sealSigned } = await import("../envelope/envelope.ts");
  const forged = await sealSigned({
    ...twin.envelope,
    sigs: [{ alg: "ed25519", sig: new Uint8Array(64) }],
  });
  const forgedOutcome = await accept(store, forged, t0 + hour + 2);
  assertEquals(forgedOutcome.status === "rejected" && forgedOutcome.reason, "invalid_signature");
  assertEquals(await store.get(chainKeys.quarantine(alice.did)), null);
  const outcome = await accept(store, twin, t0 + hour + 2);
  assertEquals(outcome.status === "rejected" && outcome.reason, "fork");
  assert(await store.get(chainKeys.quarantine(alice.did)));
});
