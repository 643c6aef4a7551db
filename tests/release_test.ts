/**
 * Each test releases from a fresh clone of the checkout's HEAD, so commits that
 * land meanwhile (and uncommitted work) cannot change what is built.
 *
 * `deno task release` end to end with STAND-IN BINARIES (`--binary-dir`): small
 * shell scripts named like the compiled binaries, because the real base runtime
 * cannot be downloaded here. Everything after compiling is real: archives,
 * SHA256SUMS, the signature (checked by the real `minisign -V` and by
 * `icn id verify`), the SBOM, release notes, reproducibility and bad input.
 */
import { requireTool } from "./_tools.ts";

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const version = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)).version as string;
const passphrase = "release test passphrase";
const targets = ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"];

async function exec(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const output = await new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** A temp dir with a release identity and stand-in binaries for `targets`. */
async function fixture(): Promise<{ dir: string; home: string; bins: string; clone: string }> {
  const dir = await Deno.makeTempDir({ prefix: "icn-release-test-" });
  const clone = `${dir}/clone`;
  const cloned = await exec("git", ["clone", "-q", "--no-hardlinks", root, clone]);
  assert(cloned.code === 0, cloned.stderr);
  const home = `${dir}/release-id`;
  const bins = `${dir}/bins`;
  await Deno.mkdir(bins);
  for (const target of targets) {
    const name = `icn-${version}-${target}${target.includes("windows") ? ".exe" : ""}`;
    await Deno.writeTextFile(
      `${bins}/${name}`,
      `#!/bin/sh\necho "stand-in for ${target}, not icn"\n`,
    );
  }
  const init = await exec(Deno.execPath(), [
    "run",
    "-A",
    `${root}/cli/main.ts`,
    "--data-dir",
    home,
    "id",
    "init",
  ], {
    env: { ICN_PASSPHRASE: passphrase, ICN_SCRYPT_LOG_N: "10" },
  });
  assert(init.code === 0, init.stderr);
  return { dir, home, bins, clone };
}

async function release(clone: string, args: string[], env: Record<string, string> = {}) {
  return await exec(Deno.execPath(), ["run", "-A", `${clone}/scripts/release.ts`, ...args], {
    env: { ICN_SCRYPT_LOG_N: "10", ICN_RELEASE_PASSPHRASE: passphrase, ...env },
  });
}

function targetArgs(list = targets): string[] {
  return list.flatMap((t) => ["--target", t]);
}

async function listing(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("deno task release builds signed, verifiable, byte-reproducible archives, SBOM and notes", async () => {
  const { dir, home, bins, clone } = await fixture();
  try {
    const outs = [`${dir}/dist1`, `${dir}/dist2`];
    for (const out of outs) {
      const result = await release(clone, [
        ...targetArgs(),
        "--binary-dir",
        bins,
        "--release-home",
        home,
        "--out-dir",
        out,
      ]);
      assert(result.code === 0, result.stderr);
    }
    const [out, out2] = outs;
    const files = await listing(out);
    const expected = [
      "RELEASE_NOTES.md",
      "SHA256SUMS",
      "SHA256SUMS.minisig",
      `icn-${version}-aarch64-apple-darwin.tar.gz`,
      `icn-${version}-x86_64-pc-windows-msvc.zip`,
      `icn-${version}-x86_64-unknown-linux-gnu.tar.gz`,
      `icn-${version}.cdx.json`,
      "icn-release.pub",
    ].sort();
    assert(JSON.stringify(files) === JSON.stringify(expected), `dist: ${files}`);
    assert((await listing(dir)).every((n) => !n.includes(".partial-")), "no staging dir left");

    // Reproducible: everything but the signature (it carries a timestamp) is byte-identical.
    for (const name of files.filter((n) => n !== "SHA256SUMS.minisig")) {
      const a = await Deno.readFile(`${out}/${name}`);
      const b = await Deno.readFile(`${out2}/${name}`);
      assert(
        a.length === b.length && a.every((x, i) => x === b[i]),
        `${name} differs between runs`,
      );
    }

    // Checksums and signature, checked by the real tools.
    const sums = await exec("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });
    assert(sums.code === 0, sums.stdout + sums.stderr);
    assert(sums.stdout.trim().split("\n").length === 5, sums.stdout);
    if (requireTool("minisign", "minisign -V verifies the release's SHA256SUMS")) {
      const minisign = await exec("minisign", ["-Vm", "SHA256SUMS", "-p", "icn-release.pub"], {
        cwd: out,
      });
      assert(minisign.code === 0, minisign.stdout + minisign.stderr);
      assert(minisign.stdout.includes(`icn ${version}`), minisign.stdout);
    }
    const verify = await exec(Deno.execPath(), [
      "run",
      "-A",
      `${root}/cli/main.ts`,
      "--data-dir",
      `${dir}/verifier`,
      "id",
      "verify",
      `${out}/SHA256SUMS`,
      "--pubkey",
      `${out}/icn-release.pub`,
    ]);
    assert(verify.code === 0, verify.stderr);
    const byDid = await exec(Deno.execPath(), [
      "run",
      "-A",
      `${root}/cli/main.ts`,
      "--data-dir",
      `${dir}/verifier`,
      "id",
      "verify",
      `${out}/SHA256SUMS`,
    ]);
    assert(byDid.code === 0, byDid.stderr);
    // A tampered archive fails the checksum.
    const tampered = `${dir}/tampered`;
    await Deno.mkdir(tampered);
    for (const name of files) await Deno.copyFile(`${out}/${name}`, `${tampered}/${name}`);
    const zip = `${tampered}/icn-${version}-x86_64-pc-windows-msvc.zip`;
    const bytes = await Deno.readFile(zip);
    bytes[40] ^= 1;
    await Deno.writeFile(zip, bytes);
    assert((await exec("sha256sum", ["-c", "SHA256SUMS"], { cwd: tampered })).code !== 0, "tamper");

    // Archive contents: binary, README, LICENSE, the manual, completions; owner 0/0, fixed modes.
    const tar = await exec("tar", [
      "--numeric-owner",
      "-tzvf",
      `${out}/icn-${version}-x86_64-unknown-linux-gnu.tar.gz`,
    ]);
    assert(tar.code === 0, tar.stderr);
    const top = `icn-${version}-x86_64-unknown-linux-gnu`;
    // Every file of the committed manual, beside the binary and README.
    const docs = (await exec("git", ["ls-files", "docs"], { cwd: clone })).stdout.trim()
      .split("\n");
    assert(docs.includes("docs/cli.md"), `the manual is committed: ${docs.join(", ")}`);
    assert(/drwxr-xr-x 0\/0 .*\/docs\/\n/.test(tar.stdout), "docs/ is a 0755 root-owned dir");
    for (
      const path of [
        "icn",
        "README.md",
        "LICENSE",
        "completions/icn.bash",
        "completions/_icn",
        "completions/icn.fish",
        ...docs,
      ]
    ) {
      assert(
        tar.stdout.includes(`${top}/${path}\n`),
        `${path} missing from the archive:\n${tar.stdout}`,
      );
    }
    assert(/-rwxr-xr-x 0\/0 .*\/icn\n/.test(tar.stdout), "binary is 0755 root-owned");
    const extract = await exec("tar", [
      "-xzf",
      `${out}/icn-${version}-x86_64-unknown-linux-gnu.tar.gz`,
    ], { cwd: dir });
    assert(extract.code === 0, extract.stderr);
    const bash = await Deno.readTextFile(`${dir}/${top}/completions/icn.bash`);
    assert(bash.includes("complete -o filenames -F _icn icn"), "bash completions inside");
    if (requireTool("python3", "python3's zipfile reads the release's zip")) {
      const unzip = await exec("python3", [
        "-c",
        "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint('\\n'.join(z.namelist()))",
        `${out}/icn-${version}-x86_64-pc-windows-msvc.zip`,
      ]);
      assert(
        unzip.code === 0 && unzip.stdout.includes(`icn-${version}-x86_64-pc-windows-msvc/icn.exe`),
        unzip.stdout + unzip.stderr,
      );
      for (const path of docs) {
        assert(
          unzip.stdout.includes(`icn-${version}-x86_64-pc-windows-msvc/${path}\n`),
          `${path} missing from the zip:\n${unzip.stdout}`,
        );
      }
    }

    // SBOM: every npm package of the committed deno.lock, with its integrity hash.
    const lockText = await Deno.readTextFile(`${clone}/deno.lock`);
    const lock = JSON.parse(lockText) as { npm: Record<string, { integrity: string }> };
    const sbom = JSON.parse(await Deno.readTextFile(`${out}/icn-${version}.cdx.json`));
    assert(sbom.bomFormat === "CycloneDX", "CycloneDX");
    assert(
      sbom.components.length === new Set(Object.keys(lock.npm).map((k) => k.split("_")[0])).size,
      "one component per package",
    );
    for (const [key, entry] of Object.entries(lock.npm)) {
      const at = key.indexOf("@", 1);
      const name = key.slice(0, at);
      const pkgVersion = key.slice(at + 1).split("_")[0];
      const component = sbom.components.find((c: { name: string; version: string }) =>
        c.name === name && c.version === pkgVersion
      );
      assert(component, `${key} missing`);
      const hex = Array.from(
        atob(entry.integrity.slice(7)),
        (c) => c.charCodeAt(0).toString(16).padStart(2, "0"),
      ).join("");
      assert(component.hashes[0].content === hex, `${key} hash`);
    }

    const notes = await Deno.readTextFile(`${out}/RELEASE_NOTES.md`);
    const subject = (await exec("git", ["log", "-1", "--format=%s"], { cwd: clone })).stdout
      .trim();
    assert(notes.startsWith(`# icn ${version}`) && notes.includes(subject), notes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task release refuses bad input with one clear error and leaves no dist/", async () => {
  const { dir, home, bins, clone } = await fixture();
  try {
    const out = `${dir}/dist`;
    const base = ["--binary-dir", bins, "--allow-dirty", "--out-dir", out];
    const cases: { args: string[]; env?: Record<string, string>; message: string }[] = [
      {
        args: [...base, "--release-home", home, "--target", "sparc-sun-solaris"],
        message: `unknown target "sparc-sun-solaris"`,
      },
      {
        args: [...base, ...targetArgs()],
        env: { ICN_RELEASE_HOME: "" },
        message: "no release identity",
      },
      {
        args: [...base, ...targetArgs(), "--release-home", `${dir}/nobody`],
        message: "no release identity in",
      },
      {
        args: [...base, ...targetArgs(), "--release-home", home],
        env: { ICN_RELEASE_PASSPHRASE: "wrong" },
        message: "Cannot sign with the release identity",
      },
      {
        args: [...base, "--target", "aarch64-unknown-linux-gnu", "--release-home", home],
        message: "does not exist",
      },
    ];
    for (const c of cases) {
      const result = await release(clone, c.args, c.env);
      assert(result.code === 1, `${c.message}: exit ${result.code} ${result.stderr}`);
      assert(result.stderr.includes(c.message), `expected "${c.message}" in: ${result.stderr}`);
      assert(result.stderr.trim().split("\n").length === 1, `one line: ${result.stderr}`);
      assert(!(await exists(out)), `${c.message}: dist/ left behind`);
      assert(
        (await listing(dir)).every((n) => !n.includes(".partial-")),
        "no staging dir left",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task release refuses a dirty git tree unless --allow-dirty", async () => {
  const { dir, home, bins, clone } = await fixture();
  try {
    await Deno.writeTextFile(`${clone}/README.md`, "\nlocal edit\n", { append: true });
    const out = `${dir}/dist`;
    const args = [
      "run",
      "-A",
      `${clone}/scripts/release.ts`,
      ...targetArgs(["x86_64-unknown-linux-gnu"]),
      "--binary-dir",
      bins,
      "--release-home",
      home,
      "--out-dir",
      out,
    ];
    const env = { ICN_SCRYPT_LOG_N: "10", ICN_RELEASE_PASSPHRASE: passphrase };
    const refused = await exec(Deno.execPath(), args, { env });
    assert(refused.code === 1, refused.stderr);
    assert(
      refused.stderr.includes("Refusing to release from a dirty tree") &&
        refused.stderr.includes("README.md"),
      refused.stderr,
    );
    assert(!(await exists(out)), "no dist/");
    const allowed = await exec(Deno.execPath(), [...args, "--allow-dirty"], { env });
    assert(allowed.code === 0, allowed.stderr);
    assert(await exists(`${out}/SHA256SUMS.minisig`), "released with --allow-dirty");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
