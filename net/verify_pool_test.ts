import assert from "node:assert/strict";
import { ed25519FromSeed, signEd25519, verifyEd25519 } from "../core/identity/keys.ts";
import { type VerifyRequest, verifyRequests } from "../core/chain/verifier.ts";
import { VerifyPool, verifyPoolSize } from "./verify_pool.ts";

const utf8 = new TextEncoder();

async function requests(count: number): Promise<{ list: VerifyRequest[]; expected: boolean[] }> {
  const key = await ed25519FromSeed(new Uint8Array(32).fill(3));
  const list: VerifyRequest[] = [];
  const expected: boolean[] = [];
  for (let i = 0; i < count; i++) {
    const message = utf8.encode(`message ${i}`);
    const signature = await signEd25519(key, message);
    if (i % 7 === 3) signature[5] ^= 1;
    const publicKey = i % 11 === 5 ? new Uint8Array(31) : key.publicKey;
    list.push({ alg: "ed25519", publicKey, message, signature });
    expected.push(await verifyEd25519(publicKey, message, signature));
  }
  return { list, expected };
}

Deno.test("VerifyPool gives verifyEd25519's answers in order, and close() ends its workers", async () => {
  const pool = new VerifyPool(2);
  try {
    const { list, expected } = await requests(300);
    assert.ok(expected.includes(false) && expected.includes(true));
    assert.deepEqual(await pool.verify(list), expected);
    assert.deepEqual(Array.from(await verifyRequests(list), (ok) => ok === 1), expected);
    assert.deepEqual(await pool.verify([]), []);
  } finally {
    pool.close();
  }
  pool.close();
  await assert.rejects(pool.verify((await requests(1)).list), /closed/);
  // The test sanitizers fail this test if a worker were left running.
});

Deno.test("VerifyPool refuses a size outside 1–8; the default follows the cores", () => {
  assert.throws(() => new VerifyPool(0), RangeError);
  assert.throws(() => new VerifyPool(9), RangeError);
  const size = verifyPoolSize();
  assert.ok(size >= 1 && size <= 8);
  assert.equal(size, Math.min(8, Math.max(1, navigator.hardwareConcurrency)));
});
