import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert";
import { InvalidInputError } from "../errors.ts";
import { testIdentity } from "../testing.ts";
import { sealEnvelope } from "../envelope/envelope.ts";
import { type BundleManifest, decodeBundle, encodeBundle, splitForImport } from "./bundle.ts";

const manifest: BundleManifest = { v: 1, net: null, count: 1, since: 0, next: 1, created: 1 };

async function refused(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await rejects(decodeBundle(bytes), (error: unknown) => {
    assert(error instanceof InvalidInputError, `not an InvalidInputError: ${error}`);
    assert(pattern.test(error.message), error.message);
    return true;
  });
}

Deno.test("decodeBundle() reads back what encodeBundle() wrote", async () => {
  const { inception } = await testIdentity(1);
  const decoded = await decodeBundle(await encodeBundle(manifest, [inception.bytes]));
  assertEquals(decoded.manifest, manifest);
  assertEquals(decoded.envelopes, [inception.bytes]);
});

Deno.test("decodeBundle() refuses a manifest with unknown fields (was accepted)", async () => {
  const { inception } = await testIdentity(1);
  const loose = { ...manifest, extra: "x" } as unknown as BundleManifest;
  await refused(await encodeBundle(loose, [inception.bytes]), /unexpected field "extra"/);
});

Deno.test("decodeBundle() refuses manifest fields of the wrong type or range (were accepted)", async () => {
  const { inception } = await testIdentity(1);
  for (
    const [bad, pattern] of [
      [{ since: -1 }, /\$\.since/],
      [{ created: "yesterday" }, /\$\.created/],
      [{ net: 5 }, /\$\.net/],
      [{ count: 1.5 }, /\$\.count/],
      [{ since: 5, next: 2 }, /ends \(2\) before it starts \(5\)/],
    ] as const
  ) {
    const loose = { ...manifest, ...bad } as unknown as BundleManifest;
    await refused(await encodeBundle(loose, [inception.bytes]), pattern);
  }
});

Deno.test("splitForImport() sets a network's envelopes aside only while no network is joined", async () => {
  const { inception, signer } = await testIdentity(1);
  const edge = await sealEnvelope({
    net: "bafynet",
    kind: "trust.edge",
    seq: 0,
    prev: null,
    ts: inception.envelope.ts,
    body: { to: inception.envelope.author, score: 500, graph: "social" },
  }, signer);
  const garbage = new Uint8Array([1, 2, 3]);
  const bytes = [inception.bytes, edge.bytes, garbage];
  const fresh = await splitForImport(bytes, null);
  assertEquals(fresh.now.length, 2);
  assertEquals((fresh.now[0] as { cid: string }).cid, inception.cid);
  // Bytes that do not decode stay for ingest to refuse (and with them the whole bundle).
  assertEquals(fresh.now[1], garbage);
  assertEquals([...fresh.notJoined], [["bafynet", 1]]);
  // Once joined, nothing is set aside: another network's envelope is refused as ever.
  for (const joined of ["bafynet", "bafyother"]) {
    const split = await splitForImport(bytes, joined);
    assertEquals([split.now.length, split.notJoined.size], [3, 0]);
  }
});
