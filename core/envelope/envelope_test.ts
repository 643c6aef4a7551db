import fc from "fast-check";
import * as dagCbor from "@ipld/dag-cbor";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesEqual } from "../bytes.ts";
import { RejectedError } from "../errors.ts";
import { envelopeBytesMax, kelNet } from "../constants.ts";
import { testIdentity } from "../testing.ts";
import { decodeEnvelope, encodeEnvelope, sealEnvelope, signingBytes } from "./envelope.ts";
import { verifySignatures } from "../identity/kel.ts";
import { signEd25519 } from "../identity/keys.ts";

const alice = await testIdentity(1);

const bodyArbitrary = fc.oneof(
  fc.record({ to: fc.string(), amount: fc.integer(), memo: fc.string() }),
  fc.dictionary(
    fc.string({ maxLength: 8 }),
    fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 16 })),
  ),
);

Deno.test("decodeEnvelope() round-trips every sealed envelope with the same CID", async () => {
  await fc.assert(
    fc.asyncProperty(bodyArbitrary, fc.nat({ max: 1000 }), fc.nat(), async (body, seq, ts) => {
      const sealed = await sealEnvelope({
        net: "bafynet",
        kind: "test.thing",
        seq,
        prev: seq === 0 ? null : alice.inception.cid,
        ts,
        body,
      }, alice.signer);
      const decoded = await decodeEnvelope(sealed.bytes);
      if (decoded.cid !== sealed.cid) throw new Error("cid differs");
      if (encodeEnvelope(decoded.envelope).length !== sealed.bytes.length) {
        throw new Error("bytes differ");
      }
      await verifySignatures(decoded.envelope, signingBytes(decoded.envelope), alice.keys);
      // The signing bytes cut out of the received encoding equal a fresh encoding of a copy.
      const fresh = signingBytes({ ...decoded.envelope });
      if (!bytesEqual(signingBytes(decoded.envelope), fresh)) {
        throw new Error("signing bytes differ");
      }
    }),
    { numRuns: 60 },
  );
});

Deno.test("decodeEnvelope() rejects random and mutated bytes without crashing or accepting garbage", async () => {
  const valid = alice.inception.bytes;
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      try {
        await decodeEnvelope(bytes);
      } catch (error) {
        if (!(error instanceof RejectedError)) throw error;
      }
    }),
    { numRuns: 300 },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: valid.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      async (index, delta) => {
        const mutated = valid.slice();
        mutated[index] = (mutated[index] + delta) & 0xff;
        let decoded;
        try {
          decoded = await decodeEnvelope(mutated);
        } catch (error) {
          if (!(error instanceof RejectedError)) throw error;
          return;
        }
        // If a mutation still decodes, the signature must not verify against the original keys.
        let verified = true;
        try {
          await verifySignatures(decoded.envelope, signingBytes(decoded.envelope), alice.keys);
        } catch {
          verified = false;
        }
        if (verified) throw new Error(`mutation at ${index} was accepted`);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("decodeEnvelope() rejects non-canonical encodings, extra fields and oversize input", async () => {
  const env = alice.inception.envelope;
  const extra = dagCbor.encode({ ...env, extra: 1 });
  await expectReject(decodeEnvelope(extra), "malformed");
  const big = new Uint8Array(envelopeBytesMax + 1);
  await expectReject(decodeEnvelope(big), "too_large");
  // Non-canonical: integer encoded with a longer head than needed (seq 0 as 0x18 0x00).
  const bytes = alice.inception.bytes;
  const canonicalSeq = new Uint8Array([0x63, 0x73, 0x65, 0x71, 0x00]);
  const index = indexOf(bytes, canonicalSeq);
  if (index < 0) throw new Error("seq field not found");
  const nonCanonical = new Uint8Array([
    ...bytes.slice(0, index + 4),
    0x18,
    0x00,
    ...bytes.slice(index + 5),
  ]);
  await expectReject(decodeEnvelope(nonCanonical), "malformed");
});

Deno.test("sealEnvelope() refuses shapes the decoder would reject", async () => {
  await expectReject(
    sealEnvelope(
      { net: kelNet, kind: "Bad Kind", seq: 0, prev: null, ts: 0, body: {} },
      alice.signer,
    ),
    "malformed",
  );
  await expectReject(
    sealEnvelope({ net: kelNet, kind: "a.b", seq: 1, prev: null, ts: 0, body: {} }, alice.signer),
    "malformed",
  );
  await expectReject(
    sealEnvelope({ net: kelNet, kind: "a.b", seq: -1, prev: null, ts: 0, body: {} }, alice.signer),
    "malformed",
  );
  await expectReject(
    sealEnvelope({
      net: "n",
      kind: "a.b",
      seq: 0,
      prev: null,
      ts: 0,
      body: new Uint8Array(envelopeBytesMax),
    }, alice.signer),
    "too_large",
  );
});

Deno.test("WebCrypto envelope signatures verify with @noble/curves and noble signatures verify with WebCrypto", async () => {
  const message = signingBytes(alice.inception.envelope);
  const sig = alice.inception.envelope.sigs[0].sig;
  if (!ed25519.verify(sig, message, alice.keys.ed25519)) {
    throw new Error("noble rejected a WebCrypto signature");
  }
  const nobleSig = ed25519.sign(message, alice.ed25519.seed);
  const webSig = await signEd25519(alice.ed25519, message);
  if (nobleSig.some((b, i) => b !== webSig[i])) {
    throw new Error("Ed25519 is deterministic: signatures should match");
  }
  await verifySignatures(
    { ...alice.inception.envelope, sigs: [{ alg: "ed25519", sig: nobleSig }] },
    message,
    alice.keys,
  );
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function expectReject(promise: Promise<unknown>, reason: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RejectedError && error.reason === reason) return;
    throw error;
  }
  throw new Error(`expected rejection "${reason}"`);
}
