/**
 * `deno task release [--target T ...] [--out-dir dist] [--release-home DIR]
 *                    [--allow-dirty] [--binary-dir DIR] [--no-check]`
 *
 * Builds a signed, reproducible release into `dist/`:
 *   - `icn-<version>-<target>.tar.gz` (`.zip` for Windows): the binary, README.md,
 *     LICENSE, the manual (`docs/`) and shell completions, with fixed order, mtime (the commit's),
 *     owner 0:0 and modes, so two runs from one commit are byte-identical;
 *   - `icn-<version>.cdx.json`: CycloneDX SBOM from deno.lock;
 *   - `RELEASE_NOTES.md`: the git log since the last tag;
 *   - `SHA256SUMS` over all of those, and `SHA256SUMS.minisig` signed with the
 *     release identity through `icn id sign` (verifiable with `minisign -V`);
 *   - `icn-release.pub`: the release identity's minisign public key.
 *
 * The release identity is an icn data dir (`--release-home` or `ICN_RELEASE_HOME`)
 * whose passphrase comes from `ICN_RELEASE_PASSPHRASE` (or `ICN_PASSPHRASE`, or
 * `--passphrase-file`). All or nothing: everything is built in a staging dir and
 * only a complete release replaces `dist/`.
 *
 * `--binary-dir DIR` skips compiling and takes `icn-<version>-<target>[.exe]`
 * from DIR instead: for CI jobs that compiled already, and for tests, which use
 * stand-in binaries because the real base runtime cannot be downloaded here.
 */
import { parseScriptArgs, scriptSpec } from "./_args.ts";
import { compile } from "./compile.ts";
import { createSbom } from "./sbom.ts";
import { type ArchiveEntry, createTarGz, createZip } from "./release_archive.ts";
import {
  binaryName,
  dirtyFiles,
  exists,
  formatBytes,
  git,
  type GitFacts,
  gitFacts,
  isWindowsTarget,
  parseTargets,
  projectVersion,
  ReleaseError,
  type ReleaseTarget,
  releaseTargets,
  removeIfExists,
  repoRoot,
  run,
  runMain,
  say,
} from "./release_common.ts";

export interface ReleaseOptions {
  targets: ReleaseTarget[];
  outDir: string;
  /** Data dir of the release identity. */
  releaseHome: string;
  /** Environment of the signing subprocess and of `deno compile`. */
  env: Record<string, string>;
  allowDirty?: boolean;
  /** Take binaries from here instead of compiling (CI reuse, tests). */
  binaryDir?: string;
  passphraseFile?: string;
  check?: boolean;
}

export interface ReleaseResult {
  outDir: string;
  files: { name: string; bytes: number }[];
}

/** `icn` from this checkout, with the release identity's data dir. */
function icnArgs(home: string, args: string[], passphraseFile?: string): string[] {
  return [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-net",
    "--allow-sys",
    "--allow-run",
    `${repoRoot}/cli/main.ts`,
    "--data-dir",
    home,
    ...(passphraseFile ? ["--passphrase-file", passphraseFile] : []),
    ...args,
  ];
}

async function icn(
  options: ReleaseOptions,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...options.env };
  const passphrase = env.ICN_RELEASE_PASSPHRASE ?? env.ICN_PASSPHRASE;
  delete env.ICN_RELEASE_PASSPHRASE;
  delete env.ICN_PASSPHRASE;
  if (passphrase !== undefined) env.ICN_PASSPHRASE = passphrase;
  return await run(
    Deno.execPath(),
    icnArgs(options.releaseHome, args, options.passphraseFile),
    { env },
  );
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => l.trim()).at(-1)?.replace(/^error: /, "") ?? "";
}

/** Fails early (before compiling) when the release identity is missing or locked to us. */
async function checkReleaseIdentity(options: ReleaseOptions, probeDir: string): Promise<string> {
  for (const name of ["identity.json", "identity.age"]) {
    if (!(await exists(`${options.releaseHome}/${name}`))) {
      throw new ReleaseError(
        `Cannot sign the release: no release identity in ${options.releaseHome} (${name} is missing); ` +
          `create one with \`icn --data-dir ${options.releaseHome} id init\` or set ICN_RELEASE_HOME`,
      );
    }
  }
  const probe = `${probeDir}/probe`;
  await Deno.writeTextFile(probe, "icn release signing probe\n");
  const signed = await icn(options, ["id", "sign", probe, "--out", `${probe}.minisig`]);
  if (signed.code !== 0) {
    throw new ReleaseError(`Cannot sign with the release identity: ${lastLine(signed.stderr)}`);
  }
  const exported = await icn(options, ["id", "export", "--minisign"]);
  if (exported.code !== 0) {
    throw new ReleaseError(`Cannot export the release public key: ${lastLine(exported.stderr)}`);
  }
  return exported.stdout;
}

export async function releaseNotes(version: string, facts: GitFacts): Promise<string> {
  let since: string | undefined;
  try {
    since = (await git(["describe", "--tags", "--abbrev=0", "HEAD"])).trim() || undefined;
  } catch {
    since = undefined; // no tag yet: the whole history
  }
  const range = since ? [`${since}..HEAD`] : ["HEAD"];
  const log = await git(["log", "--no-merges", "--format=- %s (%h)", ...range]);
  const lines = log.trim().split("\n").filter((l) => l.length > 0);
  return [
    `# icn ${version}`,
    "",
    `Built from commit ${facts.commit} (${facts.commitDate}).`,
    "",
    `## Changes since ${since ?? "the first commit"}`,
    "",
    ...(lines.length > 0 ? lines : ["- (no changes)"]),
    "",
    "## Verify",
    "",
    "```sh",
    "minisign -Vm SHA256SUMS -p icn-release.pub",
    "sha256sum --ignore-missing -c SHA256SUMS",
    "```",
    "",
  ].join("\n");
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Completion scripts of the commit being released (run from its isolated copy). */
async function completionFiles(source: string, env: Record<string, string>) {
  const names = { bash: "icn.bash", zsh: "_icn", fish: "icn.fish" } as const;
  const out: { name: string; data: Uint8Array }[] = [];
  for (const [shell, name] of Object.entries(names)) {
    const result = await run(
      Deno.execPath(),
      ["run", "--allow-read", "--allow-env", "--allow-run", "cli/main.ts", "completions", shell],
      { cwd: source, env },
    );
    if (result.code !== 0) {
      throw new ReleaseError(`Cannot generate ${shell} completions: ${lastLine(result.stderr)}`);
    }
    out.push({ name, data: new TextEncoder().encode(result.stdout) });
  }
  return out;
}

/**
 * The manual (`docs/` of the commit being released) as archive entries under `top`, in path
 * order so the archive stays reproducible. The README is a front door; the reference is here.
 */
async function docsEntries(source: string, top: string): Promise<ArchiveEntry[]> {
  if (!(await exists(`${source}/docs`))) {
    throw new ReleaseError("Cannot release without a committed docs/ (the manual)");
  }
  const entries: ArchiveEntry[] = [];
  const walk = async (relative: string): Promise<void> => {
    entries.push({ path: `${top}/${relative}/`, mode: 0o755 });
    const children = (await Array.fromAsync(Deno.readDir(`${source}/${relative}`)))
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const child of children) {
      const path = `${relative}/${child.name}`;
      if (child.isDirectory) await walk(path);
      else if (child.isFile) {
        entries.push({
          path: `${top}/${path}`,
          data: await Deno.readFile(`${source}/${path}`),
          mode: 0o644,
        });
      }
    }
  };
  await walk("docs");
  return entries;
}

export async function release(options: ReleaseOptions): Promise<ReleaseResult> {
  const dirty = await dirtyFiles();
  if (dirty.length > 0 && !options.allowDirty) {
    throw new ReleaseError(
      `Refusing to release from a dirty tree (${dirty.length} changed file(s), e.g. ${
        dirty[0]
      }): commit or stash them, or pass --allow-dirty (the release is built from HEAD either way)`,
    );
  }
  const version = await projectVersion();
  const facts = await gitFacts();
  const staging = `${options.outDir}.partial-${Deno.pid}`;
  const source = await Deno.makeTempDir({ prefix: "icn-release-src-" });
  await removeIfExists(staging);
  await Deno.mkdir(staging, { recursive: true });
  try {
    const publicKey = await checkReleaseIdentity(options, source);

    // Binaries: compiled now, or taken from --binary-dir.
    const binaries = new Map<ReleaseTarget, string>();
    if (options.binaryDir) {
      for (const target of options.targets) {
        const path = `${options.binaryDir}/${binaryName(version, target)}`;
        if (!(await exists(path))) {
          throw new ReleaseError(`Cannot release ${target}: ${path} does not exist`);
        }
        binaries.set(target, path);
      }
    } else {
      const compiled = await compile({
        targets: options.targets,
        outDir: `${staging}/bin`,
        check: options.check,
        env: options.env,
      });
      for (const binary of compiled) binaries.set(binary.target, binary.path);
    }

    // Files of the released commit, not of the working tree.
    const archive = `${source}.tar`;
    await git(["archive", "--format=tar", "-o", archive, facts.commit]);
    const extracted = await run("tar", ["-xf", archive, "-C", source]);
    await removeIfExists(archive);
    if (extracted.code !== 0) throw new ReleaseError(`Cannot extract HEAD: ${extracted.stderr}`);
    const readme = await Deno.readFile(`${source}/README.md`);
    if (!(await exists(`${source}/LICENSE`))) {
      throw new ReleaseError("Cannot release without a committed LICENSE file");
    }
    const license = await Deno.readFile(`${source}/LICENSE`);
    const completions = await completionFiles(source, options.env);

    const files: { name: string; data: Uint8Array }[] = [];
    for (const target of options.targets) {
      const top = `icn-${version}-${target}`;
      const windows = isWindowsTarget(target);
      const entries: ArchiveEntry[] = [
        { path: `${top}/`, mode: 0o755 },
        { path: `${top}/LICENSE`, data: license, mode: 0o644 },
        { path: `${top}/README.md`, data: readme, mode: 0o644 },
        ...await docsEntries(source, top),
        { path: `${top}/completions/`, mode: 0o755 },
        ...completions.map((c) => ({
          path: `${top}/completions/${c.name}`,
          data: c.data,
          mode: 0o644,
        })),
        {
          path: `${top}/${windows ? "icn.exe" : "icn"}`,
          data: await Deno.readFile(binaries.get(target)!),
          mode: 0o755,
        },
      ];
      const name = `${top}${windows ? ".zip" : ".tar.gz"}`;
      const data = windows
        ? await createZip(entries, facts.commitTime)
        : await createTarGz(entries, facts.commitTime);
      files.push({ name, data });
    }
    const sbom = await createSbom(await Deno.readTextFile(`${source}/deno.lock`), {
      version,
      timestamp: facts.commitDate,
    });
    files.push({
      name: `icn-${version}.cdx.json`,
      data: new TextEncoder().encode(JSON.stringify(sbom, null, 2) + "\n"),
    });
    files.push({
      name: "RELEASE_NOTES.md",
      data: new TextEncoder().encode(await releaseNotes(version, facts)),
    });
    files.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const sums: string[] = [];
    for (const file of files) {
      await Deno.writeFile(`${staging}/${file.name}`, file.data);
      sums.push(`${await sha256Hex(file.data)}  ${file.name}`);
    }
    await Deno.writeTextFile(`${staging}/SHA256SUMS`, sums.join("\n") + "\n");
    await Deno.writeTextFile(`${staging}/icn-release.pub`, publicKey);
    const signed = await icn(options, [
      "id",
      "sign",
      `${staging}/SHA256SUMS`,
      "--out",
      `${staging}/SHA256SUMS.minisig`,
      "--comment",
      `icn ${version} ${facts.commit}`,
    ]);
    if (signed.code !== 0) {
      throw new ReleaseError(`Cannot sign SHA256SUMS: ${lastLine(signed.stderr)}`);
    }
    await removeIfExists(`${staging}/bin`);

    await removeIfExists(options.outDir);
    await Deno.rename(staging, options.outDir);
    const result: ReleaseResult = { outDir: options.outDir, files: [] };
    const names = [
      ...files.map((f) => f.name),
      "SHA256SUMS",
      "SHA256SUMS.minisig",
      "icn-release.pub",
    ];
    for (const name of names.sort()) {
      result.files.push({ name, bytes: (await Deno.stat(`${options.outDir}/${name}`)).size });
    }
    return result;
  } finally {
    await removeIfExists(staging);
    await removeIfExists(source);
  }
}

const usage = scriptSpec({
  usage: "deno task release [options]",
  description:
    "Builds a signed, reproducible release (archives, SBOM, notes, SHA256SUMS and its minisign\n" +
    "signature, the release public key) in a staging dir, then replaces the output dir with it.",
  options: {
    target: {
      type: "string",
      multiple: true,
      default: [],
      value: "TARGET",
      description: "build for this target (repeatable; default: every target below)",
    },
    "out-dir": {
      type: "string",
      default: `${repoRoot}/dist`,
      value: "DIR",
      description: "output dir",
    },
    "release-home": {
      type: "string",
      value: "DIR",
      description: "icn data dir of the release identity (else ICN_RELEASE_HOME)",
    },
    "allow-dirty": { type: "boolean", default: false, description: "release uncommitted changes" },
    "binary-dir": {
      type: "string",
      value: "DIR",
      description: "take icn-<version>-<target>[.exe] from DIR instead of compiling",
    },
    "passphrase-file": {
      type: "string",
      value: "FILE",
      description:
        "passphrase of the release identity (else ICN_RELEASE_PASSPHRASE or ICN_PASSPHRASE)",
    },
    "no-check": {
      type: "boolean",
      default: false,
      description: "skip type checking when compiling",
    },
  },
  notes: [
    `Targets: ${releaseTargets.join(", ")}`,
    "Check a release with: minisign -Vm SHA256SUMS -p icn-release.pub",
  ],
});

async function main(): Promise<void> {
  const { values } = parseScriptArgs(usage);
  const targets = parseTargets(values.target ?? []);
  const env = Deno.env.toObject();
  const releaseHome = values["release-home"] ?? env.ICN_RELEASE_HOME;
  if (!releaseHome) {
    throw new ReleaseError(
      "Cannot sign the release: no release identity; pass --release-home DIR or set ICN_RELEASE_HOME",
    );
  }
  const result = await release({
    targets,
    outDir: values["out-dir"]!,
    releaseHome,
    env,
    allowDirty: values["allow-dirty"],
    binaryDir: values["binary-dir"],
    passphraseFile: values["passphrase-file"],
    check: !values["no-check"],
  });
  for (const file of result.files) {
    say(`${formatBytes(file.bytes).padStart(10)}  ${result.outDir}/${file.name}`);
  }
}

if (import.meta.main) await runMain(main);
