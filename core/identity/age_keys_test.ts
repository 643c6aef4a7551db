import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert";
import * as age from "age-encryption";
import { bech32 } from "@scure/base";
import { shake256 } from "@noble/hashes/sha3.js";
import { ml_kem768_x25519 as MLKEM768X25519 } from "@noble/post-quantum/hybrid.js";
import {
  ageHybridRecipient,
  ageX25519Identity,
  ageX25519Recipient,
  mlKem768KeyPair,
  SplitHybridIdentity,
  x25519PublicOf,
  xwingDecapsulate,
} from "./age_keys.ts";
import { mlKem768PublicFromSeed, x25519FromSeed } from "./keys.ts";

const seeded = (n: number, start: number) => Uint8Array.from({ length: n }, (_, i) => start + i);

/** An age `AGE-SECRET-KEY-PQ-1…` seed expanded the way X-Wing does: ML-KEM d ‖ z, then X25519. */
function expandXwingSeed(seed: Uint8Array) {
  const expanded = shake256(seed, { dkLen: 96 });
  return { mlKem: expanded.subarray(0, 64), x25519: expanded.subarray(64) };
}

Deno.test("age keys: the X25519 recipient and identity are age's own for the same key", async () => {
  const seed = seeded(32, 1);
  const pair = await x25519FromSeed(seed);
  const identity = ageX25519Identity(seed);
  assert(identity.startsWith("AGE-SECRET-KEY-1"));
  assertEquals(await age.identityToRecipient(identity), ageX25519Recipient(pair.publicKey));
  assertEquals(x25519PublicOf(seed), pair.publicKey);
});

Deno.test("age keys: noble's ML-KEM-768 key from the seed is the key WebCrypto derives (the KEL's)", async () => {
  const seed = seeded(64, 7);
  assertEquals(mlKem768KeyPair(seed).publicKey, await mlKem768PublicFromSeed(seed));
});

Deno.test("age keys: the hybrid recipient of split keys is age's recipient of the seed they expand from", async () => {
  const pq = await age.generateHybridIdentity();
  const seed = bech32.decodeToBytes(pq).bytes;
  const parts = expandXwingSeed(seed);
  const split = new SplitHybridIdentity(parts.mlKem, parts.x25519);
  assertEquals(split.recipient, await age.identityToRecipient(pq));
  assertEquals(
    split.recipient,
    ageHybridRecipient(mlKem768KeyPair(parts.mlKem).publicKey, x25519PublicOf(parts.x25519)),
  );
});

Deno.test("age keys: X-Wing decapsulation with split keys equals noble's MLKEM768X25519", () => {
  const seed = seeded(32, 99);
  const parts = expandXwingSeed(seed);
  const publicKey = MLKEM768X25519.getPublicKey(seed);
  for (let i = 0; i < 3; i++) {
    const { cipherText, sharedSecret } = MLKEM768X25519.encapsulate(publicKey);
    const ours = xwingDecapsulate(
      cipherText,
      mlKem768KeyPair(parts.mlKem).secretKey,
      parts.x25519,
      x25519PublicOf(parts.x25519),
    );
    assertEquals(ours, sharedSecret);
    assertEquals(MLKEM768X25519.decapsulate(cipherText, seed), sharedSecret);
  }
});

Deno.test("age keys: files age-encryption encrypts to age1pq1 open with the split identity, both ways", async () => {
  const pq = await age.generateHybridIdentity();
  const parts = expandXwingSeed(bech32.decodeToBytes(pq).bytes);
  const split = new SplitHybridIdentity(parts.mlKem, parts.x25519);
  const plaintext = new TextEncoder().encode("hybrid hello");
  // age-encryption's recipient, our identity (twice: the identity is reusable).
  const encrypter = new age.Encrypter();
  encrypter.addRecipient(split.recipient);
  for (let i = 0; i < 2; i++) {
    const file = await encrypter.encrypt(plaintext);
    const decrypter = new age.Decrypter();
    decrypter.addIdentity(split);
    assertEquals(await decrypter.decrypt(file), plaintext);
    // and age-encryption's own hybrid identity opens the same file
    const theirs = new age.Decrypter();
    theirs.addIdentity(pq);
    assertEquals(await theirs.decrypt(file), plaintext);
  }
});

Deno.test("age keys: another hybrid key does not open the file; a malformed stanza is an error", async () => {
  const a = new SplitHybridIdentity(seeded(64, 1), seeded(32, 2));
  const b = new SplitHybridIdentity(seeded(64, 3), seeded(32, 4));
  const encrypter = new age.Encrypter();
  encrypter.addRecipient(a.recipient);
  const file = await encrypter.encrypt("secret");
  const decrypter = new age.Decrypter();
  decrypter.addIdentity(b);
  await assertRejects(() => decrypter.decrypt(file));
  assertEquals(b.unwrapFileKey([new age.Stanza(["X25519", "AAAA"], new Uint8Array(32))]), null);
  assertThrows(() => a.unwrapFileKey([new age.Stanza(["mlkem768x25519"], new Uint8Array(32))]));
  assertThrows(() =>
    a.unwrapFileKey([new age.Stanza(["mlkem768x25519", "AAAA"], new Uint8Array(32))])
  );
});
