import fc from "fast-check";
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { fromHex, ownBytes } from "../bytes.ts";
import {
  mlDsa65FromSeed,
  signMlDsa65,
  verifyEd25519,
  verifyMlDsa65,
  weakEd25519Key,
} from "./keys.ts";

/** The reference: WebCrypto's Ed25519 verify. */
async function webCryptoVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) {
  try {
    const key = await crypto.subtle.importKey("raw", ownBytes(publicKey), "Ed25519", false, [
      "verify",
    ]);
    return await crypto.subtle.verify("Ed25519", key, ownBytes(signature), ownBytes(message));
  } catch {
    return false;
  }
}

const order = 2n ** 252n + 27742317777372353535851937790883648493n;
const prime = 2n ** 255n - 19n;

function littleEndian(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

function fromLittleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

async function keyPair() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const sign = async (message: Uint8Array) =>
    new Uint8Array(await crypto.subtle.sign("Ed25519", pair.privateKey, ownBytes(message)));
  return { publicKey, sign };
}

Deno.test("verifyEd25519 agrees with WebCrypto on RFC 8032 edge cases", async () => {
  const { publicKey, sign } = await keyPair();
  const message = new TextEncoder().encode("edge cases");
  const signature = await sign(message);
  const malleable = signature.slice();
  malleable.set(littleEndian(fromLittleEndian(signature.slice(32)) + order), 32);
  const identity = littleEndian(1n);
  const trivial = new Uint8Array(64);
  trivial[0] = 1;
  const orderTwo = littleEndian(prime - 1n);
  const orderTwoSignature = new Uint8Array(64);
  orderTwoSignature.set(orderTwo, 0);
  // `null`: depends on the message (the hash's parity for an order-2 key); only agreement matters.
  const cases: [string, Uint8Array, Uint8Array, boolean | null][] = [
    ["valid", publicKey, signature, true],
    ["S + L (malleated)", publicKey, malleable, false],
    ["identity key, trivial signature", identity, trivial, true],
    ["order-2 key and R, S = 0", orderTwo, orderTwoSignature, null],
    ["non-canonical key encoding", littleEndian(prime + 1n), trivial, false],
    ["short signature", publicKey, signature.slice(0, 63), false],
    ["short key", publicKey.slice(1), signature, false],
  ];
  for (const [name, key, sig, expected] of cases) {
    const reference = await webCryptoVerify(key, message, sig);
    const ours = await verifyEd25519(key, message, sig);
    if (ours !== reference || (expected !== null && ours !== expected)) {
      throw new Error(
        `${name}: WebCrypto ${reference}, verifyEd25519 ${ours}, expected ${expected}`,
      );
    }
  }
});

Deno.test("verifyEd25519 agrees with WebCrypto on valid and corrupted signatures (property)", async () => {
  const { publicKey, sign } = await keyPair();
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 512 }),
      fc.nat(64 * 8 + 32 * 8 - 1),
      fc.boolean(),
      async (message, bit, corrupt) => {
        const signature = await sign(message);
        const key = publicKey.slice();
        if (corrupt) {
          if (bit < 512) signature[bit >> 3] ^= 1 << (bit & 7);
          else key[(bit - 512) >> 3] ^= 1 << (bit & 7);
        }
        const reference = await webCryptoVerify(key, message, signature);
        const ours = await verifyEd25519(key, message, signature);
        if (ours !== reference) throw new Error(`disagree: WebCrypto ${reference}, ours ${ours}`);
        if (!corrupt && !ours) throw new Error("a valid signature was refused");
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("verifyMlDsa65 keys its cache by the whole key: a look-alike key sharing a 64-byte prefix never answers for the real one", async () => {
  const real = await mlDsa65FromSeed(new Uint8Array(32).fill(7));
  const message = new TextEncoder().encode("cache by whole key");
  const signature = await signMlDsa65(real, message);
  const lookAlike = real.publicKey.slice();
  lookAlike[lookAlike.length - 1] ^= 1;
  // The look-alike first: it must not poison the cache for the real key, nor verify the real signature.
  assertEquals(await verifyMlDsa65(lookAlike, message, signature), false);
  assertEquals(await verifyMlDsa65(real.publicKey, message, signature), true);
  // And again in the other order, now that both are cached.
  assertEquals(await verifyMlDsa65(lookAlike, message, signature), false);
  assertEquals(await verifyMlDsa65(real.publicKey, message, signature), true);
  const lookAlikeOfSeen = real.publicKey.slice();
  lookAlikeOfSeen[100] ^= 0x80;
  assertEquals(await verifyMlDsa65(lookAlikeOfSeen, message, signature), false);
});

Deno.test("weakEd25519Key() refuses the 8 small-order points and non-canonical encodings, and accepts real keys", async () => {
  // The 8 canonical encodings of points of order dividing 8 on edwards25519.
  const smallOrder = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  ];
  let refused = 0;
  for (const hex of smallOrder) {
    const reason = weakEd25519Key(fromHex(hex));
    assert(reason !== null, `${hex} must be refused`);
    refused++;
  }
  assertEquals(refused, 8);
  assert(weakEd25519Key(littleEndian(prime + 1n)) !== null, "non-canonical y must be refused");
  assert(weakEd25519Key(new Uint8Array(31)) !== null);
  const { publicKey } = await keyPair();
  assertEquals(weakEd25519Key(publicKey), null);
});
