/**
 * `deno run -A scripts/bench_release.ts`: how fast the reproducible archive
 * writer is against GNU tar + gzip on the same payload (a compiled-size,
 * 40 MiB binary stand-in: pseudo-random bytes mixed with repeated text, so it
 * compresses about like a real one), plus the SBOM and completion generators.
 */
import { createTarGz, createZip } from "./release_archive.ts";
import { createSbom } from "./sbom.ts";
import { parseScriptArgs, scriptSpec } from "./_args.ts";

parseScriptArgs(scriptSpec({
  usage: "deno run -A scripts/bench_release.ts",
  description: "The reproducible archive writer against GNU tar + gzip, plus the SBOM and\n" +
    "completion generators (a markdown report on stdout).",
}));

const payloadBytes = 40 * 1024 * 1024;
const rounds = 3;

function payload(): Uint8Array {
  const out = new Uint8Array(payloadBytes);
  let x = 0x2545f491;
  const text = new TextEncoder().encode("function icn() { return 'cooperative'; }\n");
  for (let i = 0; i < out.length; i++) {
    if ((i >> 12) % 2 === 0) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    } else out[i] = text[i % text.length];
  }
  return out;
}

async function best(fn: () => Promise<unknown>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await fn();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

const data = payload();
const dir = await Deno.makeTempDir({ prefix: "icn-bench-release-" });
try {
  await Deno.mkdir(`${dir}/icn-0.0.0-x`);
  await Deno.writeFile(`${dir}/icn-0.0.0-x/icn`, data);
  const entries = [
    { path: "icn-0.0.0-x/", mode: 0o755 },
    { path: "icn-0.0.0-x/icn", data, mode: 0o755 },
  ];
  let tarGzSize = 0;
  const ours = await best(async () => {
    tarGzSize = (await createTarGz(entries, 1_700_000_000)).length;
  });
  let zipSize = 0;
  const zip = await best(async () => {
    zipSize = (await createZip(entries, 1_700_000_000)).length;
  });
  const gnu = await best(async () => {
    const result = await new Deno.Command("tar", {
      args: ["-czf", `${dir}/gnu.tar.gz`, "--owner=0", "--group=0", "-C", dir, "icn-0.0.0-x"],
      env: { GZIP: "-6" },
    }).output();
    if (!result.success) throw new Error("tar failed");
  });
  const gnuSize = (await Deno.stat(`${dir}/gnu.tar.gz`)).size;
  const lockText = await Deno.readTextFile(new URL("../deno.lock", import.meta.url));
  const sbom = await best(() =>
    createSbom(lockText, { version: "0", timestamp: "2026-01-01T00:00:00Z" })
  );
  const { bashCompletion } = await import("../cli/completions.ts");
  const { describeCli } = await import("../cli/main.ts");
  const completions = await best(async () => bashCompletion(await describeCli()));
  const mib = payloadBytes / 1024 / 1024;
  const lines = [
    "## Release engineering",
    "",
    `Payload: ${mib} MiB stand-in binary; best of ${rounds}.`,
    "",
    "| operation | time | throughput | output | vs GNU tar+gzip |",
    "| --- | ---: | ---: | ---: | ---: |",
    `| GNU tar -czf (baseline) | ${gnu.toFixed(0)} ms | ${(mib / gnu * 1000).toFixed(1)} MiB/s | ${
      (gnuSize / 1048576).toFixed(1)
    } MiB | 1.00× |`,
    `| createTarGz (reproducible) | ${ours.toFixed(0)} ms | ${
      (mib / ours * 1000).toFixed(1)
    } MiB/s | ${(tarGzSize / 1048576).toFixed(1)} MiB | ${(gnu / ours).toFixed(2)}× |`,
    `| createZip (reproducible) | ${zip.toFixed(0)} ms | ${(mib / zip * 1000).toFixed(1)} MiB/s | ${
      (zipSize / 1048576).toFixed(1)
    } MiB | ${(gnu / zip).toFixed(2)}× |`,
    `| CycloneDX SBOM from deno.lock | ${sbom.toFixed(1)} ms | | | |`,
    `| bash completions from the tree | ${completions.toFixed(1)} ms | | | |`,
    "",
  ];
  await Deno.stdout.write(new TextEncoder().encode(lines.join("\n")));
} finally {
  await Deno.remove(dir, { recursive: true });
}
