import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert";
import { InvalidInputError } from "../errors.ts";
import { testIdentity } from "../testing.ts";
import { type BundleManifest, decodeBundle, encodeBundle } from "./bundle.ts";

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
