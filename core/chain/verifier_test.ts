import assert from "node:assert/strict";
import { signingBytes } from "../envelope/envelope.ts";
import { ed25519FromSeed, signEd25519, verifyEd25519 } from "../identity/keys.ts";
import { listAll, type Store } from "../store/store.ts";
import { EdgeWriter, t0, trustNetwork } from "../trust/_testing.ts";
import { type BatchRejectedError, ingest, type IngestOutcome } from "./ingest.ts";
import {
  mainThreadVerifier,
  type SignatureVerifier,
  verifyPoolThreshold,
  type VerifyRequest,
  verifyRequests,
} from "./verifier.ts";

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

Deno.test("verifyRequests() and mainThreadVerifier give verifyEd25519's answers in order", async () => {
  const { list, expected } = await requests(300);
  assert.ok(expected.includes(false) && expected.includes(true));
  assert.deepEqual(Array.from(await verifyRequests(list), (ok) => ok === 1), expected);
  assert.deepEqual(await mainThreadVerifier.verify(list), expected);
  assert.deepEqual(await mainThreadVerifier.verify([]), []);
});

async function snapshot(store: Store): Promise<string> {
  const rows = await listAll(store, { prefix: [] });
  return JSON.stringify(
    rows.map((r) => [r.key, r.value]),
    (_k, v) => typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
  );
}

/** A batch above the threshold: trust edges a→b, one with a broken signature in the middle. */
async function batch(broken: boolean) {
  const net = await trustNetwork(2);
  const [a, b] = net.members;
  const writer = new EdgeWriter(net.net);
  const inputs: Uint8Array[] = [];
  for (let i = 0; i < verifyPoolThreshold + 40; i++) {
    const sealed = await writer.edge(a, b, 1 + (i % 1000), { ts: t0 + i });
    const bytes = sealed.bytes.slice();
    if (broken && i === 150) {
      const sig = sealed.envelope.sigs[0].sig;
      const at = indexOf(bytes, sig);
      assert.ok(at >= 0);
      bytes[at + 10] ^= 0x40;
      assert.ok(signingBytes(sealed.envelope).length > 0);
    }
    inputs.push(bytes);
  }
  return { net, inputs };
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function summary(outcomes: IngestOutcome[]): string[] {
  return outcomes.map((o) =>
    o.status === "rejected" ? `rejected:${o.reason}:${o.message}` : `${o.status}:${o.cid}`
  );
}

/**
 * A verifier that counts calls and answers as the single-thread verifier
 * (`verify`; the pool's own answers are tested in net/verify_pool_test.ts),
 * or rejects every call as a pool whose worker died (`fail`).
 */
function fakeVerifier(answer: "verify" | "fail"): SignatureVerifier & { calls: number } {
  return {
    calls: 0,
    verify(list) {
      this.calls++;
      return answer === "verify"
        ? mainThreadVerifier.verify(list)
        : Promise.reject(new Error("worker died"));
    },
    close() {},
  };
}

for (const broken of [false, true]) {
  Deno.test(
    `ingest with a verifier gives the same outcomes and store as without (${
      broken ? "one forged signature" : "all valid"
    })`,
    async () => {
      const plain = await batch(broken);
      const expected = summary(await ingest(plain.net.deps, plain.inputs, { source: "sync" }));
      if (broken) {
        assert.match(expected[150], /rejected:.*Ed25519/);
        assert.match(expected[151], /rejected:gap/);
      } else assert.ok(expected.every((o) => o.startsWith("accepted")));
      for (const kind of ["verify", "fail"] as const) {
        const pooled = await batch(broken);
        const verifier = fakeVerifier(kind);
        try {
          const got = summary(
            await ingest({ ...pooled.net.deps, verifier }, pooled.inputs, { source: "sync" }),
          );
          assert.deepEqual(got, expected);
          assert.ok(verifier.calls > 0);
          assert.equal(await snapshot(pooled.net.deps.store), await snapshot(plain.net.deps.store));
        } finally {
          verifier.close();
        }
      }
    },
  );
}

Deno.test("ingest leaves the verifier alone below the threshold and when a gate is set", async () => {
  const verifier = fakeVerifier("fail");
  const small = await batch(false);
  const outcomes = await ingest(
    { ...small.net.deps, verifier },
    small.inputs.slice(0, verifyPoolThreshold - 1),
    { source: "sync" },
  );
  assert.ok(outcomes.every((o) => o.status === "accepted"));
  const gated = await batch(false);
  let gateCalls = 0;
  await ingest({ ...gated.net.deps, verifier }, gated.inputs, {
    source: "gossip",
    gate: () => void gateCalls++,
  });
  // (An envelope that starts a new commit batch meets the gate again: existing behaviour.)
  assert.ok(gateCalls >= gated.inputs.length);
  assert.equal(verifier.calls, 0);
});

Deno.test("an all-or-nothing import with a verifier refuses at the same envelope, or accepts the same", async () => {
  for (const broken of [false, true]) {
    const plain = await batch(broken);
    const before = await snapshot(plain.net.deps.store);
    const expected = await ingest(plain.net.deps, plain.inputs, {
      source: "import",
      atomicity: "all",
    }).then(summary, (error: BatchRejectedError) => `${error.index}:${error.message}`);
    if (broken) {
      assert.match(String(expected), /^150:.*Ed25519/);
      assert.equal(await snapshot(plain.net.deps.store), before);
    }
    for (const kind of ["verify", "fail"] as const) {
      const pooled = await batch(broken);
      const verifier = fakeVerifier(kind);
      try {
        const got = await ingest({ ...pooled.net.deps, verifier }, pooled.inputs, {
          source: "import",
          atomicity: "all",
        }).then(summary, (error: BatchRejectedError) => `${error.index}:${error.message}`);
        assert.deepEqual(got, expected);
        assert.ok(verifier.calls > 0);
        assert.equal(await snapshot(pooled.net.deps.store), await snapshot(plain.net.deps.store));
      } finally {
        verifier.close();
      }
    }
  }
});

Deno.test("an all-or-nothing import verifies each signature once, and a forged one is still refused", async () => {
  for (const broken of [false, true]) {
    const { net, inputs } = await batch(broken);
    const before = await snapshot(net.deps.store);
    let checked = 0;
    const verifier: SignatureVerifier = {
      verify(list) {
        checked += list.length;
        return mainThreadVerifier.verify(list);
      },
      close() {},
    };
    const result = await ingest({ ...net.deps, verifier }, inputs, {
      source: "import",
      atomicity: "all",
    }).then(summary, (error: BatchRejectedError) => `${error.index}:${error.message}`);
    if (broken) {
      assert.match(String(result), /^150:.*Ed25519/);
      assert.equal(await snapshot(net.deps.store), before);
    } else {
      assert.ok(Array.isArray(result) && result.every((o) => o.startsWith("accepted")));
      // One Ed25519 signature per envelope: validating first and committing after checks it once.
      assert.equal(checked, inputs.length);
    }
  }
});
