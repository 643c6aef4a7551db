import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert";
import * as dagCbor from "@ipld/dag-cbor";
import { bytesEqual } from "../bytes.ts";
import type { IngestOutcome } from "../chain/ingest.ts";
import { seededRng } from "../ports.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { accept, generation, TestIdentity } from "./_kel_fixture.ts";
import { identityKey, type IdentityRecord, nextKeysDigest } from "./kel.ts";
import { InvalidInputError } from "../errors.ts";
import {
  createAttestation,
  createRecoveryRequest,
  decodeAttestation,
  decodeRecoveryRequest,
  recoveryFileBytesMax,
  requestDigest,
} from "./recovery.ts";
import { createSigner } from "./signer.ts";

const t0 = 1_700_000_000_000;
const day = 86_400_000;

function reason(outcome: IngestOutcome): string {
  return outcome.status === "rejected" ? outcome.reason : outcome.status;
}

async function setup() {
  const store = new MemoryStore();
  const [alice, bob, carol, dave, eve] = [1, 2, 3, 4, 5].map((seed) =>
    new TestIdentity(seededRng(seed * 7), false)
  );
  for (const who of [alice, bob, carol, dave, eve]) {
    assertEquals(reason(await accept(store, await who.incept(t0), t0)), "accepted");
  }
  const setupEvent = await alice.event("id.recovery-setup", {
    trustees: [bob.did, carol.did, dave.did],
    threshold: 2,
    delayMs: day,
  }, t0 + 1);
  assertEquals(reason(await accept(store, setupEvent, t0 + 1)), "accepted");
  // Alice loses her keys and makes new ones.
  const fresh = await generation(seededRng(1234), false);
  const after = await generation(seededRng(4321), false);
  const freshSigner = createSigner(alice.did, fresh.ed25519);
  const request = await createRecoveryRequest({
    did: alice.did,
    keys: fresh.keys,
    next: await nextKeysDigest(after.keys),
    created: t0 + 10,
    expires: t0 + 7 * day,
  }, (m) => freshSigner.sign(m));
  const digest = await requestDigest(request);
  const attest = (who: TestIdentity, ts = t0 + 20, expires = t0 + 7 * day) =>
    createAttestation(
      { did: alice.did, request: digest, trustee: who.did, ts, expires },
      (m) => who.signer().sign(m),
    );
  const start = (attestations: Uint8Array[], ts = t0 + 100) =>
    alice.event("id.recovery-start", { request, attestations }, ts, { signer: freshSigner });
  return {
    store,
    alice,
    bob,
    carol,
    dave,
    eve,
    fresh,
    freshSigner,
    request,
    digest,
    attest,
    start,
  };
}

async function record(store: MemoryStore, did: string) {
  return (await store.get<IdentityRecord>(identityKey(did)))!.value;
}

Deno.test("recovery-setup rejects duplicate trustees, self and a threshold above N", async () => {
  const { store, alice, bob } = await setup();
  const bad = [
    { trustees: [bob.did, bob.did], threshold: 1, delayMs: day },
    { trustees: [alice.did], threshold: 1, delayMs: day },
    { trustees: [bob.did], threshold: 2, delayMs: day },
    { trustees: [bob.did], threshold: 1, delayMs: -1 },
  ];
  for (const body of bad) {
    const saved = alice.save();
    const outcome = await accept(
      store,
      await alice.event("id.recovery-setup", body, t0 + 2),
      t0 + 2,
    );
    assertEquals(outcome.status, "rejected");
    alice.load(saved);
  }
  assertEquals((await record(store, alice.did)).recovery?.threshold, 2);
});

Deno.test("recovery-start rejects too few, duplicate, non-trustee, forged and expired attestations", async () => {
  const { store, alice, bob, carol, eve, attest, start } = await setup();
  const cases: [Uint8Array[], string][] = [
    [[await attest(bob)], "threshold"],
    [[await attest(bob), await attest(bob, t0 + 21)], "duplicate_trustee"],
    [[await attest(bob), await attest(eve)], "not_trustee"],
    [[await attest(bob), await attest(carol, t0 + 20, t0 + 50)], "expired"],
  ];
  const decoded = dagCbor.decode(await attest(carol)) as { sigs: { sig: Uint8Array }[] };
  decoded.sigs[0].sig[3] ^= 1;
  const forged = dagCbor.encode(decoded);
  cases.push([[await attest(bob), forged], "bad_recovery"]);
  for (const [attestations, expected] of cases) {
    const saved = alice.save();
    assertEquals(reason(await accept(store, await start(attestations), t0 + 100)), expected);
    alice.load(saved);
  }
  assertEquals((await record(store, alice.did)).pendingRecovery, undefined);
});

Deno.test("2-of-3 recovery: cancelled by the current key, then started again and finalized after the delay", async () => {
  const { store, alice, bob, carol, dave, fresh, freshSigner, digest, attest, start } =
    await setup();
  const oldKey = alice.current.keys.ed25519;
  assertEquals(
    reason(await accept(store, await start([await attest(bob), await attest(carol)]), t0 + 100)),
    "accepted",
  );
  const pending = (await record(store, alice.did)).pendingRecovery!;
  assertEquals(pending.readyAt, t0 + 100 + day);
  // The owner still has the key and cancels.
  const cancel = await alice.event("id.recovery-cancel", { request: digest }, t0 + 200);
  assertEquals(reason(await accept(store, cancel, t0 + 200)), "accepted");
  assertEquals((await record(store, alice.did)).pendingRecovery, undefined);
  // A finalize without a pending recovery fails.
  let saved = alice.save();
  const orphan = await alice.event("id.recovery", { request: digest }, t0 + 2 * day, {
    signer: freshSigner,
  });
  assertEquals(reason(await accept(store, orphan, t0 + 2 * day)), "no_pending_recovery");
  alice.load(saved);
  // Second attempt with Carol and Dave.
  assertEquals(
    reason(
      await accept(
        store,
        await start([await attest(carol), await attest(dave)], t0 + 300),
        t0 + 300,
      ),
    ),
    "accepted",
  );
  saved = alice.save();
  const early = await alice.event("id.recovery", { request: digest }, t0 + 400, {
    signer: freshSigner,
  });
  assertEquals(reason(await accept(store, early, t0 + 400)), "too_early");
  alice.load(saved);
  // A cancel signed by the new keys (not the current ones) is refused.
  const wrongCancel = await alice.event("id.recovery-cancel", { request: digest }, t0 + 500, {
    signer: freshSigner,
  });
  assertEquals(reason(await accept(store, wrongCancel, t0 + 500)), "invalid_signature");
  alice.load(saved);
  const finalize = await alice.event("id.recovery", { request: digest }, t0 + 300 + day, {
    signer: freshSigner,
  });
  assertEquals(reason(await accept(store, finalize, t0 + 300 + day)), "accepted");
  const rec = await record(store, alice.did);
  assert(bytesEqual(rec.keys.ed25519, fresh.keys.ed25519));
  assert(!bytesEqual(rec.keys.ed25519, oldKey));
  assertEquals(rec.pendingRecovery, undefined);
  assertEquals(rec.history.length, 2);
});

function refusedAsInput(run: () => unknown, pattern: RegExp): Promise<void> {
  return rejects(async () => await run(), (error: unknown) => {
    assert(error instanceof InvalidInputError, `not an InvalidInputError: ${error}`);
    assert(pattern.test(error.message), error.message);
    return true;
  });
}

function withSigs(bytes: Uint8Array, change: (sigs: Record<string, unknown>[]) => unknown) {
  const value = dagCbor.decode(bytes) as { sigs: Record<string, unknown>[] };
  return dagCbor.encode({ ...value, sigs: change(value.sigs) });
}

Deno.test("decodeAttestation() refuses a signature entry with an unknown field (was accepted)", async () => {
  const { bob, attest } = await setup();
  const good = await attest(bob);
  assertEquals(decodeAttestation(good).trustee, bob.did);
  const loose = withSigs(good, (sigs) => [{ ...sigs[0], note: "x" }]);
  await refusedAsInput(() => decodeAttestation(loose), /unexpected field "note"/);
});

Deno.test("decodeAttestation() refuses a repeated algorithm and a signature of the wrong length (were accepted)", async () => {
  const { bob, attest } = await setup();
  const good = await attest(bob);
  const twice = withSigs(good, (sigs) => [sigs[0], sigs[0]]);
  await refusedAsInput(() => decodeAttestation(twice), /repeats a signature algorithm/);
  const short = withSigs(good, (sigs) => [{ ...sigs[0], sig: new Uint8Array(10) }]);
  await refusedAsInput(() => decodeAttestation(short), /must be 64 bytes/);
});

Deno.test("decodeRecoveryRequest() refuses an oversized, non-canonical or loosely signed request", async () => {
  const { request } = await setup();
  assertEquals((await decodeRecoveryRequest(request)).v, 1);
  await refusedAsInput(
    () => decodeRecoveryRequest(new Uint8Array(recoveryFileBytesMax + 1)),
    /the limit is/,
  );
  const loose = withSigs(request, (sigs) => [{ ...sigs[0], note: "x" }]);
  await refusedAsInput(() => decodeRecoveryRequest(loose), /unexpected field "note"/);
  // A map header in long form is not canonical (the decoder refuses it itself).
  const long = new Uint8Array([0xb8, request[0] - 0xa0, ...request.subarray(1)]);
  await refusedAsInput(() => decodeRecoveryRequest(long), /DAG-CBOR|canonical/);
});
