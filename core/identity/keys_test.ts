import fc from "fast-check";
import { ownBytes } from "../bytes.ts";
import { verifyEd25519 } from "./keys.ts";

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
