/**
 * `deno task bench:age`: encryption and decryption throughput of a 10 MB file
 * as `icn id encrypt | decrypt` do it (age-encryption in process, X25519 and
 * hybrid ML-KEM-768 + X25519 stanzas), against the `age` tool on the same
 * file in the same run, with the ratio. The `age` tool's time includes its
 * process start (a few ms); icn's excludes Deno's start and the keystore's
 * scrypt unlock, which every `icn` command pays once (reported apart). Debian's
 * age 1.1.1 has no post-quantum recipients, so the hybrid rows are compared with
 * its X25519 run: the payload cost, which dominates, is the same ChaCha20-Poly1305
 * stream. Prints a markdown report with the date, commit and machine load.
 */
import { parseScriptArgs, scriptSpec, wholeNumberArg } from "./_args.ts";
import { decryptWith, type DidRecipient, encryptTo } from "../cli/id_encrypt.ts";
import type { KeystoreSecrets } from "../cli/keystore.ts";
import { toBase64 } from "../core/bytes.ts";
import {
  ageHybridRecipient,
  ageX25519Identity,
  ageX25519Recipient,
  mlKem768KeyPair,
  x25519PublicOf,
} from "../core/identity/age_keys.ts";

const usage = scriptSpec({
  usage: "deno task bench:age [options]",
  description:
    "Encrypt and decrypt a 10 MB file as icn id encrypt/decrypt do, beside the age tool\n" +
    "on the same file (a markdown report on stdout).",
  options: {
    mb: { type: "string", value: "N", description: "file size in MB (default 10)" },
    runs: { type: "string", value: "N", description: "rounds, median kept (default 7)" },
  },
});
const { values: args } = parseScriptArgs(usage);
const mb = wholeNumberArg(usage, args.mb, { name: "--mb", fallback: 10, max: 1000 });
const runs = wholeNumberArg(usage, args.runs, { name: "--runs", fallback: 7, max: 50 });

const bytes = mb * 1_000_000;
const dir = await Deno.makeTempDir({ prefix: "icn-bench-age-" });
const plainPath = `${dir}/plain.bin`;
const data = new Uint8Array(bytes);
for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
await Deno.writeFile(plainPath, data);

const x25519Seed = crypto.getRandomValues(new Uint8Array(32));
const mlKemSeed = crypto.getRandomValues(new Uint8Array(64));
const x25519Public = x25519PublicOf(x25519Seed);
const secrets: KeystoreSecrets = {
  v: 1,
  did: "did:icn:bench",
  created: 0,
  ed25519: toBase64(new Uint8Array(32)),
  x25519: toBase64(x25519Seed),
  mlKem768: toBase64(mlKemSeed),
  next: { ed25519: toBase64(new Uint8Array(32)), x25519: toBase64(new Uint8Array(32)) },
};
const classical: DidRecipient = {
  did: "did:icn:bench",
  seq: 0,
  stanza: "X25519",
  recipient: ageX25519Recipient(x25519Public),
};
const hybrid: DidRecipient = {
  did: "did:icn:bench",
  seq: 0,
  stanza: "mlkem768x25519",
  recipient: ageHybridRecipient(mlKem768KeyPair(mlKemSeed).publicKey, x25519Public),
};
const identityPath = `${dir}/key.txt`;
await Deno.writeTextFile(identityPath, ageX25519Identity(x25519Seed) + "\n", { mode: 0o600 });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function ageTool(args: string[]): Promise<void> {
  const out = await new Deno.Command("age", { args, stdout: "null", stderr: "piped" }).output();
  if (out.code !== 0) {
    throw new Error(`age ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

let hasAge = true;
try {
  await new Deno.Command("age", { args: ["--version"], stdout: "null", stderr: "null" }).output();
} catch {
  hasAge = false;
}

const encClassical = await encryptTo([classical], data);
const encHybrid = await encryptTo([hybrid], data);
await Deno.writeFile(`${dir}/icn-classical.age`, encClassical);

/**
 * Every operation once per round, rounds interleaved, so a change in the machine's load
 * during the run hits all of them alike; the first round warms up and is dropped.
 */
const operations: Record<string, () => Promise<unknown>> = {
  "icn encrypt X25519": () => encryptTo([classical], data),
  "icn encrypt hybrid": () => encryptTo([hybrid], data),
  "icn decrypt X25519": () => decryptWith(secrets, encClassical, "bench"),
  "icn decrypt hybrid": () => decryptWith(secrets, encHybrid, "bench"),
};
if (hasAge) {
  operations["age encrypt"] = () =>
    ageTool(["-r", classical.recipient, "-o", `${dir}/age.age`, plainPath]);
  operations["age decrypt"] = () =>
    ageTool(["-d", "-i", identityPath, "-o", `${dir}/age.out`, `${dir}/age.age`]);
}
const samples = new Map<string, number[]>(Object.keys(operations).map((k) => [k, []]));
for (let round = 0; round <= runs; round++) {
  for (const [name, fn] of Object.entries(operations)) {
    const start = performance.now();
    await fn();
    if (round > 0) samples.get(name)!.push(performance.now() - start);
  }
}
const ms = (name: string) => samples.has(name) ? median(samples.get(name)!) : null;
const rows = [
  { what: "encrypt, X25519", icnMs: ms("icn encrypt X25519")!, ageMs: ms("age encrypt") },
  {
    what: "encrypt, hybrid ML-KEM-768 + X25519",
    icnMs: ms("icn encrypt hybrid")!,
    ageMs: ms("age encrypt"),
  },
  { what: "decrypt, X25519", icnMs: ms("icn decrypt X25519")!, ageMs: ms("age decrypt") },
  {
    what: "decrypt, hybrid ML-KEM-768 + X25519",
    icnMs: ms("icn decrypt hybrid")!,
    ageMs: ms("age decrypt"),
  },
];
// The same file both ways: what icn writes, the age tool reads.
if (hasAge) {
  await ageTool(["-d", "-i", identityPath, "-o", `${dir}/check.out`, `${dir}/icn-classical.age`]);
}

const commit = await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"] }).output()
  .then((o) => new TextDecoder().decode(o.stdout).trim()).catch(() => "?");
const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "? ? ?")).split(" ").slice(0, 3)
  .join(" ");
const ageVersion = hasAge
  ? new TextDecoder().decode(
    (await new Deno.Command("age", { args: ["--version"] }).output()).stdout,
  )
    .trim()
  : "not installed";
const mbps = (ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);
const lines = [
  `## age encryption, ${mb} MB (${
    new Date().toISOString().slice(0, 10)
  }, commit ${commit}, load ${load})`,
  "",
  `Median of ${runs} interleaved rounds after a warm-up round; age tool ${ageVersion}; Deno ${Deno.version.deno}.`,
  "",
  "| operation | icn (age-encryption) | age tool | icn / age time |",
  "|---|---|---|---|",
];
for (const row of rows) {
  const ratio = row.ageMs === null ? "—" : (row.icnMs / row.ageMs).toFixed(2);
  const age = row.ageMs === null ? "—" : `${row.ageMs.toFixed(0)} ms (${mbps(row.ageMs)} MB/s)`;
  lines.push(
    `| ${row.what} | ${row.icnMs.toFixed(0)} ms (${mbps(row.icnMs)} MB/s) | ${age} | ${ratio} |`,
  );
}
Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
await Deno.remove(dir, { recursive: true });
