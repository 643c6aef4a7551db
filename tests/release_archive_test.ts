/** Reproducible archives and the SBOM, checked against the real `tar`, `gzip`, `unzip` and deno.lock. */
import { crc32, createTar, createTarGz, createZip, gzip } from "../scripts/release_archive.ts";
import { createSbom, integrityHash, lockedNpmPackages, purlOf } from "../scripts/sbom.ts";
import { requireTool } from "./_tools.ts";

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const encoder = new TextEncoder();
const mtime = 1_700_000_000;
const entries = [
  { path: "icn-1.0.0-x/", mode: 0o755 },
  { path: "icn-1.0.0-x/README.md", data: encoder.encode("# icn\n".repeat(300)), mode: 0o644 },
  { path: "icn-1.0.0-x/icn", data: encoder.encode("#!/bin/sh\necho stand-in\n"), mode: 0o755 },
  { path: "icn-1.0.0-x/empty", data: new Uint8Array(0), mode: 0o600 },
];

async function tool(command: string, args: string[], cwd?: string) {
  const output = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("createTarGz() is byte-identical across runs and readable by tar with owner 0/0 and fixed modes", async () => {
  const a = await createTarGz(entries, mtime);
  const b = await createTarGz(entries.map((e) => ({ ...e })), mtime);
  assert(equalBytes(a, b), "two runs differ");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.tar.gz`, a);
    const listing = await tool("tar", ["--numeric-owner", "-tzvf", `${dir}/a.tar.gz`]);
    assert(listing.code === 0, listing.stderr);
    const lines = listing.stdout.trim().split("\n");
    assert(lines.length === entries.length, listing.stdout);
    assert(lines.every((l) => / 0\/0 /.test(l)), `owners: ${listing.stdout}`);
    assert(lines[2].startsWith("-rwxr-xr-x") && lines[2].endsWith("icn-1.0.0-x/icn"), lines[2]);
    assert(lines[3].startsWith("-rw-------"), lines[3]);
    assert(lines.every((l) => l.includes("2023-11-14")), "mtime is the given one");
    const extracted = await tool("tar", ["-xzf", "a.tar.gz"], dir);
    assert(extracted.code === 0, extracted.stderr);
    const script = await Deno.readTextFile(`${dir}/icn-1.0.0-x/icn`);
    assert(script === "#!/bin/sh\necho stand-in\n", "content round-trips");
    const gzipTest = await tool("gzip", ["-t", `${dir}/a.tar.gz`]);
    assert(gzipTest.code === 0, gzipTest.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gzip() writes a fixed header: mtime 0 and OS byte 255", async () => {
  const out = await gzip(encoder.encode("hello"));
  assert(out[0] === 0x1f && out[1] === 0x8b && out[2] === 8, "gzip magic and deflate");
  assert(out.subarray(4, 8).every((b) => b === 0), "mtime is 0");
  assert(out[9] === 255, "OS byte is 255");
});

Deno.test("createTar() rejects a path longer than ustar allows", () => {
  let error: unknown;
  try {
    createTar([{ path: "x".repeat(101), data: new Uint8Array(1), mode: 0o644 }], mtime);
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError && error.message.includes("longer than 100"), String(error));
});

Deno.test("createZip() is byte-identical across runs and passes unzip -t with Unix modes", async () => {
  const a = await createZip(entries, mtime);
  const b = await createZip(entries, mtime);
  assert(equalBytes(a, b), "two runs differ");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.zip`, a);
    if (requireTool("python3", "python3's zipfile reads createZip() output")) {
      const python = await tool("python3", [
        "-c",
        "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n" +
        "for i in z.infolist(): print(i.filename, oct(i.external_attr >> 16), i.date_time)",
        `${dir}/a.zip`,
      ]);
      assert(python.code === 0, python.stderr);
      assert(
        python.stdout.includes("icn-1.0.0-x/icn 0o100755 (2023, 11, 14, 22, 13, 20)"),
        python.stdout,
      );
      assert(python.stdout.includes("icn-1.0.0-x/ 0o40755"), python.stdout);
    }
    if (requireTool("unzip", "unzip -t tests createZip() output")) {
      const unzip = await tool("unzip", ["-t", `${dir}/a.zip`]);
      if (unzip.code !== 0) throw new Error(`unzip -t failed: ${unzip.stdout}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crc32() matches the standard check value", () => {
  assert(crc32(encoder.encode("123456789")) === 0xcbf43926, "CRC-32 check value");
});

Deno.test("createSbom() lists every npm package of deno.lock with its version and integrity hash", async () => {
  const lockText = await Deno.readTextFile(new URL("../deno.lock", import.meta.url));
  const lock = JSON.parse(lockText) as { npm: Record<string, { integrity: string }> };
  const sbom = await createSbom(lockText, { version: "1.2.3", timestamp: "2026-01-01T00:00:00Z" });
  const components = sbom.components as {
    name: string;
    version: string;
    purl: string;
    hashes: { alg: string; content: string }[];
  }[];
  assert(sbom.bomFormat === "CycloneDX" && sbom.specVersion === "1.5", "CycloneDX 1.5");
  const packages = lockedNpmPackages(lockText);
  assert(packages.length === Object.keys(lock.npm).length, "every lock entry is read");
  for (const p of packages) {
    const component = components.find((c) => c.purl === purlOf(p.name, p.version));
    assert(component, `${p.key} missing from the SBOM`);
    assert(component.version === p.version && component.name === p.name, `${p.key} name/version`);
    const expected = integrityHash(lock.npm[p.key].integrity);
    assert(
      component.hashes.some((h) => h.alg === expected.alg && h.content === expected.content),
      `${p.key} hash`,
    );
    assert(/^[0-9a-f]{128}$/.test(expected.content), "SHA-512 as hex");
  }
  const again = await createSbom(lockText, { version: "1.2.3", timestamp: "2026-01-01T00:00:00Z" });
  assert(JSON.stringify(again) === JSON.stringify(sbom), "deterministic");
  assert(purlOf("@ipld/car", "5.4.7") === "pkg:npm/%40ipld/car@5.4.7", "scoped purl");
});

Deno.test("createSbom() refuses a lock entry without an integrity hash", async () => {
  let error: unknown;
  try {
    await createSbom(JSON.stringify({ version: "5", npm: { "left-pad@1.0.0": {} } }), {
      version: "1",
      timestamp: "2026-01-01T00:00:00Z",
    });
  } catch (e) {
    error = e;
  }
  assert(error instanceof SyntaxError && error.message.includes("left-pad@1.0.0"), String(error));
});
