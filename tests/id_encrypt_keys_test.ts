/** The keystore's superseded encryption keys (`retired`): kept across key events, bounded. */
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert";
import { toBase64 } from "../core/bytes.ts";
import { didFromPublicKey } from "../core/identity/did.ts";
import {
  adoptSeeds,
  decryptSecrets,
  encryptSecrets,
  type KeySeeds,
  type KeystoreSecrets,
  retiredKeysMax,
} from "../cli/keystore.ts";

const seed = (n: number, length = 32) => toBase64(new Uint8Array(length).fill(n));
const generation = (n: number, pq = false): KeySeeds => ({
  ed25519: seed(n),
  x25519: seed(n + 100),
  ...(pq ? { mlDsa65: seed(n + 50), mlKem768: seed(n + 150, 64) } : {}),
});

function start(pq = false): KeystoreSecrets {
  return {
    v: 1,
    did: didFromPublicKey(new Uint8Array(32).fill(7)),
    created: 0,
    ...generation(0, pq),
    next: generation(1, pq),
  };
}

Deno.test("adoptSeeds keeps each replaced encryption key, newest last, at most retiredKeysMax", () => {
  let secrets = start(true);
  for (let i = 1; i <= retiredKeysMax + 4; i++) {
    secrets = adoptSeeds(secrets, { ...generation(i, true), next: generation(i + 1, true) });
    assertEquals(secrets.x25519, seed(i + 100));
    assertEquals(secrets.retired!.at(-1), {
      x25519: seed(i - 1 + 100),
      mlKem768: seed(i - 1 + 150, 64),
    });
  }
  assertEquals(secrets.retired!.length, retiredKeysMax);
  // The oldest were dropped first: generation 4 is the oldest kept after 20 key events.
  assertEquals(secrets.retired![0].x25519, seed(4 + 100));
});

Deno.test("adoptSeeds: an event that keeps the encryption keys retires nothing; pending goes; pq keys follow", () => {
  const secrets: KeystoreSecrets = {
    ...start(),
    pending: { envelope: "", cid: "", seq: 1, secrets: { ...generation(0), next: generation(1) } },
  };
  const same = adoptSeeds(secrets, { ...generation(0), next: generation(1) });
  assertEquals(same.retired, undefined);
  assertEquals(same.pending, undefined);
  // An upgrade to pq retires the classical X25519 key.
  const upgraded = adoptSeeds(start(), { ...generation(2, true), next: generation(3, true) });
  assertEquals(upgraded.retired, [{ x25519: seed(100) }]);
  assert(upgraded.mlKem768 !== undefined);
});

Deno.test("a keystore with retired keys round-trips; one past the bound or with a bad seed is refused", async () => {
  let secrets = start();
  for (let i = 1; i <= 3; i++) {
    secrets = adoptSeeds(secrets, { ...generation(i), next: generation(i + 1) });
  }
  const back = await decryptSecrets(await encryptSecrets(secrets, "pw"), "pw");
  assertEquals(back.retired, secrets.retired);
  const tooMany = {
    ...secrets,
    retired: Array.from({ length: retiredKeysMax + 1 }, (_, i) => ({ x25519: seed(i) })),
  };
  await rejects(
    async () => decryptSecrets(await encryptSecrets(tooMany, "pw"), "pw"),
    /not an icn keystore/,
  );
  const bad = { ...secrets, retired: [{ x25519: "short" }] };
  await rejects(
    async () => decryptSecrets(await encryptSecrets(bad, "pw"), "pw"),
    /not an icn keystore/,
  );
});
