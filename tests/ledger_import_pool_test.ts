/**
 * `icn node import` of a bundle above the verify pool's threshold: signatures
 * are checked on worker threads in the CLI process, the import gives the same
 * result as one by one, a forged signature refuses the whole bundle and
 * changes nothing, and the process exits (the pool's workers are terminated).
 */
import { encodeBundle } from "../core/chain/bundle.ts";
import { verifyPoolThreshold } from "../core/chain/verifier.ts";
import { testIdentity } from "../core/testing.ts";
import { assertEquals, assertMatch, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const t0 = 1_700_000_000_000;

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("icn node import: a bundle of key logs above the pool threshold, and one forged signature in it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icn-import-pool-" });
  try {
    const count = verifyPoolThreshold + 44;
    const inceptions: Uint8Array[] = [];
    const forged: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const { inception } = await testIdentity(1_000 + i, t0);
      inceptions.push(inception.bytes);
      const bytes = inception.bytes.slice();
      if (i === 200) {
        const at = indexOf(bytes, inception.envelope.sigs[0].sig);
        if (at < 0) throw new Error("signature not found in the encoding");
        bytes[at + 7] ^= 0x20;
      }
      forged.push(bytes);
    }
    const manifest = { v: 1 as const, net: null, count, since: 0, next: count, created: t0 };
    await Deno.writeFile(`${dir}/good.car`, await encodeBundle(manifest, inceptions));
    await Deno.writeFile(`${dir}/forged.car`, await encodeBundle(manifest, forged));

    const home = `${dir}/home`;
    const imported = await icnExpect(0, [
      "--json",
      "--data-dir",
      home,
      "node",
      "import",
      `${dir}/good.car`,
    ]);
    assertEquals(imported.json<{ accepted: number }>().accepted, count);

    const other = `${dir}/other`;
    // A data dir that exists already (importing into a new one creates it, as recovery does).
    const seed = { ...manifest, count: 1, next: 1 };
    await Deno.writeFile(`${dir}/seed.car`, await encodeBundle(seed, [inceptions[0]]));
    await icnExpect(0, ["--data-dir", other, "node", "import", `${dir}/seed.car`]);
    const before = await snapshotDir(other);
    const bad = await icnExpect(1, ["--data-dir", other, "node", "import", `${dir}/forged.car`]);
    assertMatch(bad.stderr, /Ed25519/);
    if (!sameSnapshot(before, await snapshotDir(other))) {
      throw new Error("a refused bundle changed the data dir");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
