import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert";
import * as dagCbor from "@ipld/dag-cbor";
import { RejectedError } from "../core/errors.ts";
import { ed25519FromSeed } from "../core/identity/keys.ts";
import { didFromPublicKey } from "../core/identity/did.ts";
import * as protocol from "./protocol.ts";

const peerA = "12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8";
const peerB = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo";

/** A CBOR map of text keys in the given order (DAG-CBOR's encoder always sorts them). */
function encodeMapInOrder(fields: [string, unknown][]): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0xa0 + fields.length])];
  for (const [key, value] of fields) parts.push(dagCbor.encode(key), dagCbor.encode(value));
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

async function signedHello() {
  const key = await ed25519FromSeed(new Uint8Array(32).fill(7));
  return await protocol.signHello({
    did: didFromPublicKey(key.publicKey),
    net: "bafyreigenesis",
    version: "1.0.0",
    from: peerA,
    to: peerB,
    ts: 1_700_000_000_000,
  }, key);
}

Deno.test("parseHello() takes a well-formed hello", async () => {
  const hello = await signedHello();
  assertEquals(protocol.parseHello(dagCbor.encode(hello)), hello);
});

Deno.test("parseHello() refuses a hello with an unknown field (was accepted)", async () => {
  const hello = { ...(await signedHello()), extra: "x" };
  assertEquals(protocol.parseHello(dagCbor.encode(hello)), null);
});

Deno.test("parseHello() refuses a non-canonical encoding, a fractional ts and a short signature", async () => {
  const hello = await signedHello();
  const bytes = dagCbor.encode(hello);
  // The same hello with its first two fields swapped (keys out of canonical order).
  const fields = Object.entries(hello);
  [fields[0], fields[1]] = [fields[1], fields[0]];
  const swapped = encodeMapInOrder(fields);
  assert(!bytes.every((b, i) => b === swapped[i]));
  assertEquals(protocol.parseHello(swapped), null);
  assertEquals(protocol.parseHello(dagCbor.encode({ ...hello, ts: 1.5 })), null);
  assertEquals(protocol.parseHello(dagCbor.encode({ ...hello, sig: new Uint8Array(3) })), null);
  assertEquals(protocol.parseHello(dagCbor.encode({ ...hello, did: "did:icn:znope" })), null);
  assertEquals(protocol.parseHello(new Uint8Array(protocol.helloBytesMax + 1)), null);
});

Deno.test("decodeSyncRequest() takes heads and range requests and refuses anything else", () => {
  const author = didFromPublicKey(new Uint8Array(32).fill(9));
  const range = { t: "range", net: "kel", author, from: 0, limit: 10 };
  assertEquals(protocol.decodeSyncRequest(dagCbor.encode({ t: "heads" })), { t: "heads" });
  assertEquals(protocol.decodeSyncRequest(dagCbor.encode(range)), range);
  for (
    const bad of [
      { ...range, from: -1 },
      { ...range, from: 1.5 },
      { ...range, limit: 0 },
      { ...range, limit: protocol.rangeLimitMax + 1 },
      { ...range, author: "someone" },
      { ...range, extra: 1 },
      { t: "heads", extra: 1 },
      { t: "tails" },
      [1, 2],
    ]
  ) {
    assertThrows(
      () => protocol.decodeSyncRequest(dagCbor.encode(bad)),
      (error: unknown) => error instanceof RejectedError && error.reason === "malformed",
      JSON.stringify(bad),
    );
  }
  assertThrows(
    () => protocol.decodeSyncRequest(new Uint8Array(protocol.syncRequestBytesMax + 1)),
    RejectedError,
  );
});

Deno.test("decodeHeadsResponse() and decodeRangeResponse() check every item", () => {
  const author = didFromPublicKey(new Uint8Array(32).fill(9));
  const heads = { heads: [["kel", author, 3]] };
  assertEquals(protocol.decodeHeadsResponse(dagCbor.encode(heads)), heads);
  for (const bad of [{ heads: [["kel", author, -1]] }, { heads: [["kel", author]] }, {}]) {
    assertThrows(() => protocol.decodeHeadsResponse(dagCbor.encode(bad)), RejectedError);
  }
  const envs = { envs: [new Uint8Array([1, 2])] };
  assertEquals(protocol.decodeRangeResponse(dagCbor.encode(envs)), envs);
  for (const bad of [{ envs: ["x"] }, { envs: [new Uint8Array(64 * 1024 + 1)] }, { envs: 1 }]) {
    assertThrows(() => protocol.decodeRangeResponse(dagCbor.encode(bad)), RejectedError);
  }
  assert(protocol.decodeMessage(dagCbor.encode({ any: [1] }), 100));
  assertThrows(() => protocol.decodeMessage(dagCbor.encode({ any: [1] }), 3), RejectedError);
});

Deno.test("parseHello() takes the key events a rotated sender carries, within their count and size", async () => {
  const hello = await signedHello();
  const event = new Uint8Array(512).fill(1);
  const withKel = { ...hello, kel: [event, event] };
  assertEquals(protocol.parseHello(dagCbor.encode(withKel)), withKel);
  // The events are not signed by the hello: the same signature verifies with or without them.
  const key = await ed25519FromSeed(new Uint8Array(32).fill(7));
  assert(await protocol.verifyHello(withKel, key.publicKey));
  const tooMany = { ...hello, kel: Array(protocol.helloKelEventsMax + 1).fill(event) };
  assertEquals(protocol.parseHello(dagCbor.encode(tooMany)), null);
  assertEquals(protocol.parseHello(dagCbor.encode({ ...hello, kel: [] })), null);
  const oversized = { ...hello, kel: [new Uint8Array(64 * 1024 + 1)] };
  assertEquals(protocol.parseHello(dagCbor.encode(oversized)), null);
});

Deno.test("a hello's networks and topology are signed, bounded, and absent from an older hello's signature", async () => {
  const key = await ed25519FromSeed(new Uint8Array(32).fill(7));
  const fields = {
    did: didFromPublicKey(key.publicKey),
    net: "bafyreigenesis",
    networks: ["bafyreigenesis", "bafyreifederation"],
    topology: { region: "eu", cluster: "bakers", role: "edge" },
    version: "1.0.0",
    from: peerA,
    to: peerB,
    ts: 1_700_000_000_000,
  };
  const hello = await protocol.signHello(fields, key);
  const parsed = protocol.parseHello(dagCbor.encode(hello));
  assert(parsed && await protocol.verifyHello(parsed, key.publicKey));
  // Changing the networks or the topology breaks the signature.
  assert(!(await protocol.verifyHello({ ...hello, networks: ["bafyreigenesis"] }, key.publicKey)));
  assert(
    !(await protocol.verifyHello(
      { ...hello, topology: { ...fields.topology, role: "archive" } },
      key.publicKey,
    )),
  );
  // An older hello (neither field) still verifies: they are signed only when present.
  assert(await protocol.verifyHello(await signedHello(), key.publicKey));
  const tooMany = Array.from({ length: protocol.networksPerNodeMax + 1 }, (_, i) => `bafy${i}`);
  assertEquals(protocol.parseHello(dagCbor.encode({ ...hello, networks: tooMany })), null);
  assertEquals(protocol.parseHello(dagCbor.encode({ ...hello, networks: [] })), null);
});

Deno.test("decodeSyncRequest() takes the network a request is for, when named", () => {
  const heads = { t: "heads", network: "bafyreifederation" };
  assertEquals(protocol.decodeSyncRequest(dagCbor.encode(heads)), heads);
  const range = {
    t: "range",
    net: "kel",
    author: didFromPublicKey(new Uint8Array(32)),
    from: 0,
    limit: 1,
    network: "bafyreia",
  };
  assertEquals(protocol.decodeSyncRequest(dagCbor.encode(range)), range);
  assertThrows(
    () => protocol.decodeSyncRequest(dagCbor.encode({ t: "heads", network: "" })),
    RejectedError,
  );
});
