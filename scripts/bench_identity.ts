/**
 * Identity benchmark: hybrid (Ed25519 + ML-DSA-65) envelope sign/verify
 * throughput as a ratio of Ed25519-only envelopes measured in the same run,
 * and resolution time of an identity with 1,000 rotations: a cold replay
 * that verifies every event from bytes, and a warm lookup of the folded
 * record in a Deno KV store (what `ingest` does per envelope).
 */
import { ingest } from "../core/chain/ingest.ts";
import { type SealedEnvelope, sealEnvelope, signingBytes } from "../core/envelope/envelope.ts";
import { TestIdentity } from "../core/identity/_kel_fixture.ts";
import {
  identityKey,
  type IdentityRecord,
  signingKeysAt,
  verifySignatures,
} from "../core/identity/kel.ts";
import { identityKinds } from "../core/identity/kinds.ts";
import { replayKel } from "../core/identity/replay.ts";
import { seededRng } from "../core/ports.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { paired as pairedRates } from "./_bench.ts";
import { parseScriptArgs, scriptSpec } from "./_args.ts";

parseScriptArgs(scriptSpec({
  usage: "deno run -A scripts/bench_identity.ts",
  description: "Hybrid (Ed25519 + ML-DSA-65) envelope throughput against Ed25519 only, and\n" +
    "resolution of an identity with 1,000 rotations (a markdown report on stdout).",
}));

const count = 1000;
const rotations = 1000;
const t0 = 1_700_000_000_000;
const body = { to: "did:icn:zbench", amount: 1250, currency: "hours", memo: "bench", id: "x" };
const log = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));

async function paired(
  label: string,
  baseline: (i: number) => Promise<unknown>,
  subject: (i: number) => Promise<unknown>,
): Promise<[number, number]> {
  const rates = await pairedRates(baseline, subject, { count, warmup: 50 });
  log(`  ${label}: Ed25519-only ${rates[0].toFixed(0)}/s, hybrid ${rates[1].toFixed(0)}/s`);
  return rates;
}

const classic = new TestIdentity(seededRng(1), false);
await classic.incept(t0);
const hybrid = new TestIdentity(seededRng(2), true);
await hybrid.incept(t0);

function seal(who: TestIdentity, i: number): Promise<SealedEnvelope> {
  return sealEnvelope(
    { net: "bafynet", kind: "ledger.transfer", seq: i + 1, prev: who.head.cid, ts: t0 + i, body },
    who.signer(),
  );
}

const classicSealed: SealedEnvelope[] = [];
const hybridSealed: SealedEnvelope[] = [];
for (let i = 0; i < count; i++) {
  classicSealed.push(await seal(classic, i));
  hybridSealed.push(await seal(hybrid, i));
}
const [edSign, pqSign] = await paired("sign", (i) => seal(classic, i), (i) => seal(hybrid, i));
const [edVerify, pqVerify] = await paired(
  "verify",
  (i) =>
    verifySignatures(
      classicSealed[i].envelope,
      signingBytes(classicSealed[i].envelope),
      classic.current.keys,
    ),
  (i) =>
    verifySignatures(
      hybridSealed[i].envelope,
      signingBytes(hybridSealed[i].envelope),
      hybrid.current.keys,
    ),
);

// An identity with 1,000 rotations.
const rotating = new TestIdentity(seededRng(3), false);
await rotating.incept(t0);
for (let i = 1; i <= rotations; i++) await rotating.rotation(t0 + i * 1000);
const kelBytes = rotating.log.map((s) => s.bytes);
const replayMs: number[] = [];
for (let i = 0; i < 5; i++) {
  const start = performance.now();
  const record = (await replayKel(kelBytes)).get(rotating.did)!;
  replayMs.push(performance.now() - start);
  if (record.seq !== rotations) throw new Error("replay did not reach the head");
}
const dir = await Deno.makeTempDir({ prefix: "icn-bench-id-" });
const store = await KvStore.open(`${dir}/icn.kv`);
await ingest(
  { store, clock: { now: () => t0 + (rotations + 1) * 1000 }, kinds: identityKinds },
  kelBytes,
  { source: "import", atomicity: "all" },
);
const lookups = 1000;
const start = performance.now();
for (let i = 0; i < lookups; i++) {
  const record = (await store.get<IdentityRecord>(identityKey(rotating.did)))!.value;
  signingKeysAt(record, t0 + rotations * 1000 + 1);
}
const lookupMs = (performance.now() - start) / lookups;
store.close();
await Deno.remove(dir, { recursive: true });
replayMs.sort((a, b) => a - b);
const median = replayMs[Math.floor(replayMs.length / 2)];

const lines = [
  "## Identity",
  "",
  "| measure | Ed25519-only | hybrid (Ed25519 + ML-DSA-65) | hybrid / Ed25519 |",
  "| --- | ---: | ---: | ---: |",
  `| envelope sign | ${edSign.toFixed(0)}/s | ${pqSign.toFixed(0)}/s | ${
    (pqSign / edSign).toFixed(3)
  } |`,
  `| envelope verify | ${edVerify.toFixed(0)}/s | ${pqVerify.toFixed(0)}/s | ${
    (pqVerify / edVerify).toFixed(3)
  } |`,
  "",
  `| KEL with ${rotations} rotations | time | target |`,
  "| --- | ---: | ---: |",
  `| cold replay, every event verified from bytes (median of 5) | ${median.toFixed(1)} ms | — |`,
  `| resolve current keys from the folded record (Deno KV get + signingKeysAt) | ${
    lookupMs.toFixed(3)
  } ms | ≤ 50 ms |`,
  "",
];
Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
