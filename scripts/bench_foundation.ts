/**
 * Foundation benchmark: envelope sign/verify throughput as a ratio of raw
 * Ed25519 measured in the same run (sign: WebCrypto; verify: the fastest
 * native verify here, `node:crypto`, which icn uses, with WebCrypto's verify
 * against it for reference), and CLI start-up wall time.
 */
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { ownBytes } from "../core/bytes.ts";
import { type SealedEnvelope, sealEnvelope, signingBytes } from "../core/envelope/envelope.ts";
import { verifySignatures } from "../core/identity/kel.ts";
import { ed25519SpkiPrefix, signEd25519 } from "../core/identity/keys.ts";
import { testIdentity } from "../core/testing.ts";
import { paired as pairedRates } from "./_bench.ts";
import { parseScriptArgs, scriptSpec } from "./_args.ts";

parseScriptArgs(scriptSpec({
  usage: "deno run -A scripts/bench_foundation.ts",
  description: "Envelope sign/verify throughput against raw Ed25519, and CLI start-up time\n" +
    "(a markdown report on stdout).",
}));

const count = 5000;
const alice = await testIdentity(1);
const body = { to: alice.did, amount: 1250, currency: "hours", memo: "bench", id: "x" };

async function paired(
  label: string,
  baseline: (i: number) => Promise<unknown>,
  subject: (i: number) => Promise<unknown>,
): Promise<[number, number]> {
  const rates = await pairedRates(baseline, subject, { count, warmup: 200 });
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `  ${label}: raw ${rates[0].toFixed(0)}/s, envelope ${rates[1].toFixed(0)}/s\n`,
    ),
  );
  return rates;
}

const sealed: SealedEnvelope[] = [];
for (let i = 0; i < count; i++) {
  sealed.push(
    await sealEnvelope({
      net: "bafynet",
      kind: "ledger.transfer",
      seq: i + 1,
      prev: alice.inception.cid,
      ts: i,
      body,
    }, alice.signer),
  );
}
const messages = sealed.map((s) => signingBytes(s.envelope));

const [rawSign, envSign] = await paired(
  "sign",
  (i) => signEd25519(alice.ed25519, messages[i]),
  (i) =>
    sealEnvelope({
      net: "bafynet",
      kind: "ledger.transfer",
      seq: i + 1,
      prev: alice.inception.cid,
      ts: i,
      body,
    }, alice.signer),
);
const spki = new Uint8Array([
  ...ed25519SpkiPrefix,
  ...alice.keys.ed25519,
]);
const nodeKey = createPublicKey({ key: spki as never, format: "der", type: "spki" });
const webKey = await crypto.subtle.importKey(
  "raw",
  ownBytes(alice.keys.ed25519),
  "Ed25519",
  false,
  [
    "verify",
  ],
);
const rawVerifyOf = (i: number) =>
  Promise.resolve(nodeVerify(null, messages[i], nodeKey, sealed[i].envelope.sigs[0].sig));
const [rawVerify, envVerify] = await paired(
  "verify",
  rawVerifyOf,
  (i) => verifySignatures(sealed[i].envelope, signingBytes(sealed[i].envelope), alice.keys),
);
const [webVerify, nativeVerify] = await paired(
  "WebCrypto verify vs node:crypto verify",
  (i) =>
    crypto.subtle.verify(
      "Ed25519",
      webKey,
      ownBytes(sealed[i].envelope.sigs[0].sig),
      ownBytes(messages[i]),
    ),
  rawVerifyOf,
);

async function wallMs(args: string[], env: Record<string, string> = {}): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 11; i++) {
    const start = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      env,
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.code !== 0) throw new Error(`${args.join(" ")} exited ${out.code}`);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[5];
}

const main = new URL("../cli/main.ts", import.meta.url).pathname;
const home = await Deno.makeTempDir();
const env = { ICN_PASSPHRASE: "bench", ICN_SCRYPT_LOG_N: "10" };
await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", main, "--data-dir", home, "id", "init"],
  env,
  stdout: "null",
}).output();
const denoBaseline = await wallMs(["eval", "0"]);
const help = await wallMs(["run", "-A", main, "--help"]);
const show = await wallMs(["run", "-A", main, "--data-dir", home, "id", "show"], env);
await Deno.remove(home, { recursive: true });

const lines = [
  "### Foundation",
  "",
  "| measure | value | target |",
  "| --- | --- | --- |",
  `| envelope seal ÷ raw Ed25519 sign | ${(envSign / rawSign).toFixed(2)} (${
    envSign.toFixed(0)
  }/s vs ${rawSign.toFixed(0)}/s) | ≥ 0.8 |`,
  `| envelope verify ÷ raw Ed25519 verify | ${(envVerify / rawVerify).toFixed(2)} (${
    envVerify.toFixed(0)
  }/s vs ${rawVerify.toFixed(0)}/s) | ≥ 0.8 |`,
  `| raw Ed25519 verify: node:crypto ÷ WebCrypto | ${(nativeVerify / webVerify).toFixed(2)} (${
    nativeVerify.toFixed(0)
  }/s vs ${webVerify.toFixed(0)}/s) | (reference) |`,
  `| \`icn --help\` wall time (median of 11) | ${help.toFixed(0)} ms (bare \`deno eval 0\`: ${
    denoBaseline.toFixed(0)
  } ms) | ≤ 100 ms |`,
  `| \`icn id show\` wall time (median of 11) | ${show.toFixed(0)} ms | ≤ 100 ms |`,
];
Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
