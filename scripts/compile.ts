/**
 * `deno task compile [--target T ...] [--out-dir dist] [--no-check] [--v8-flags F]`
 *
 * Compiles the CLI into standalone binaries `dist/icn-<version>-<target>[.exe]`
 * with Deno KV enabled, the CLI's permissions baked in (not scoped to any
 * path of the build machine), build metadata embedded and the small-heap V8
 * flags baked in (`v8HeapFlags` of cli/node_heap.ts; `--v8-flags F` replaces
 * them, `--v8-flags ""` keeps V8's defaults). A compiled binary does not read
 * `DENO_V8_FLAGS`, so what is baked in here is what it runs with. It compiles from an
 * isolated copy of the committed tree (`git archive HEAD`), so nothing else
 * on the machine (uncommitted edits, untracked files, caches) ends up in the
 * binary.
 *
 * The base runtime (denort) must be available offline, per target:
 *   1. `DENORT_BIN_<TARGET>` (e.g. `DENORT_BIN_X86_64_UNKNOWN_LINUX_GNU=/path/to/denort`),
 *   2. `DENORT_BIN` (read by `deno compile` itself) for the only target, or the host target,
 *   3. `denort-<target>.zip` pre-seeded in `$DENO_DIR/dl/release/v<deno version>/`.
 * Without one, nothing is compiled and one message says how to provide it.
 */
import { parseScriptArgs, scriptSpec } from "./_args.ts";
import { v8HeapFlags } from "../cli/node_heap.ts";
import {
  binaryName,
  dirtyFiles,
  exists,
  formatBytes,
  git,
  gitFacts,
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

/** The permissions the CLI needs, with no paths: a binary must work on any machine. */
export const bakedPermissions = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
  "--allow-run",
] as const;

export type DenortSource = { kind: "bin"; path: string; from: string } | {
  kind: "zip";
  path: string;
};

export function denortEnvName(target: string): string {
  return `DENORT_BIN_${target.toUpperCase().replaceAll("-", "_")}`;
}

export function denortZipPath(denoDir: string, target: string, denoVersion: string): string {
  return `${denoDir}/dl/release/v${denoVersion}/denort-${target}.zip`;
}

export async function denoDirectory(env: Record<string, string>): Promise<string> {
  if (env.DENO_DIR) return env.DENO_DIR;
  const result = await run(Deno.execPath(), ["info", "--json"], { env });
  if (result.code !== 0) throw new ReleaseError(`deno info failed: ${result.stderr.trim()}`);
  return (JSON.parse(result.stdout) as { denoDir: string }).denoDir;
}

/** Where each target's base runtime comes from; one clear error naming every missing one. */
export async function resolveDenort(
  targets: ReleaseTarget[],
  env: Record<string, string>,
  options: { denoDir: string; denoVersion: string; hostTarget: string },
): Promise<Map<ReleaseTarget, DenortSource>> {
  const sources = new Map<ReleaseTarget, DenortSource>();
  const missing: string[] = [];
  for (const target of targets) {
    const specific = env[denortEnvName(target)];
    const generic = env.DENORT_BIN &&
        (targets.length === 1 || target === options.hostTarget)
      ? env.DENORT_BIN
      : undefined;
    const bin = specific ?? generic;
    if (bin) {
      if (!(await exists(bin))) {
        throw new ReleaseError(
          `Cannot compile for ${target}: ${
            specific ? denortEnvName(target) : "DENORT_BIN"
          } names ${bin}, which does not exist`,
        );
      }
      sources.set(target, {
        kind: "bin",
        path: bin,
        from: specific ? denortEnvName(target) : "DENORT_BIN",
      });
      continue;
    }
    const zip = denortZipPath(options.denoDir, target, options.denoVersion);
    if (await exists(zip)) sources.set(target, { kind: "zip", path: zip });
    else missing.push(target);
  }
  if (missing.length > 0) {
    const v = options.denoVersion;
    throw new ReleaseError(
      `Cannot compile for ${missing.join(", ")}: the Deno base runtime (denort ${v}) is not ` +
        `available offline. Provide it per target with DENORT_BIN_<TARGET>=/path/to/denort ` +
        `(e.g. ${denortEnvName(missing[0])}), with DENORT_BIN=/path/to/denort for a single ` +
        `--target or the host target, or put denort-<target>.zip from ` +
        `https://dl.deno.land/release/v${v}/denort-<target>.zip into ` +
        `${options.denoDir}/dl/release/v${v}/`,
    );
  }
  return sources;
}

/**
 * The `test/` directories of the locked npm packages in the npm cache. They
 * are never imported at run time, and one of them (bintrees' 2 MB perf
 * fixture) makes `deno compile` 2.9.6 overflow its stack, so they are left
 * out of the binary with `--exclude`.
 */
export async function npmTestDirs(denoDir: string, lockText: string): Promise<string[]> {
  const { lockedNpmPackages } = await import("./sbom.ts");
  const dirs: string[] = [];
  for (const p of lockedNpmPackages(lockText)) {
    const dir = `${denoDir}/npm/registry.npmjs.org/${p.name}/${p.version}/test`;
    if (await exists(dir)) dirs.push(dir);
  }
  return dirs;
}

/** The `deno compile` arguments for one target (run in the isolated copy). */
export function compileArgs(
  target: string,
  output: string,
  exclude: string[] = [],
  v8Flags: string = v8HeapFlags,
): string[] {
  return [
    "compile",
    "--target",
    target,
    "--output",
    output,
    "--unstable-kv",
    ...bakedPermissions,
    ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
    "--no-check",
    "--config",
    "deno.json",
    "--lock",
    "deno.lock",
    "--frozen-lockfile",
    ...exclude.flatMap((path) => ["--exclude", path]),
    "cli/main.ts",
  ];
}

export function buildInfoSource(
  info: { version: string; commit: string; date: string },
): string {
  return `/** Generated by scripts/compile.ts for a release binary. */
export interface BuildInfo {
  version: string | null;
  commit: string | null;
  date: string | null;
  source: "compiled" | "source";
}

export const buildInfo: BuildInfo = ${
    JSON.stringify({
      version: info.version,
      commit: info.commit,
      date: info.date,
      source: "compiled",
    })
  };
`;
}

/**
 * Extracts the committed tree (`git archive HEAD`) into a fresh temp dir: the
 * binary is exactly the commit it names, whatever else the working tree holds.
 */
export async function isolatedCopy(
  info: { version: string; commit: string; date: string },
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "icn-build-" });
  const archive = `${dir}.tar`;
  try {
    await git(["archive", "--format=tar", "-o", archive, info.commit]);
    const extracted = await run("tar", ["-xf", archive, "-C", dir]);
    if (extracted.code !== 0) {
      throw new ReleaseError(`Cannot extract the source tree: ${extracted.stderr.trim()}`);
    }
  } catch (error) {
    await removeIfExists(dir);
    throw error;
  } finally {
    await removeIfExists(archive);
  }
  const buildInfoPath = `${dir}/cli/build_info.ts`;
  await Deno.writeTextFile(buildInfoPath, buildInfoSource(info));
  // deno compile records file mtimes: use the commit's, like git archive does, so builds repeat.
  const commitTime = new Date(info.date);
  await Deno.utime(buildInfoPath, commitTime, commitTime);
  return dir;
}

export interface CompiledBinary {
  target: ReleaseTarget;
  path: string;
  bytes: number;
}

export interface CompileOptions {
  targets: ReleaseTarget[];
  outDir: string;
  /** Type-check the CLI once before compiling (default true). */
  check?: boolean;
  /** V8 flags baked into the binaries (default `v8HeapFlags`; "" for V8's defaults). */
  v8Flags?: string;
  env?: Record<string, string>;
}

/**
 * Compiles every target into `outDir`. All or nothing: binaries are built in
 * a staging dir beside `outDir` and moved in only when every target succeeded.
 */
export async function compile(options: CompileOptions): Promise<CompiledBinary[]> {
  const env = options.env ?? Deno.env.toObject();
  const denoDir = await denoDirectory(env);
  const sources = await resolveDenort(options.targets, env, {
    denoDir,
    denoVersion: Deno.version.deno,
    hostTarget: Deno.build.target,
  });
  const version = await projectVersion();
  const facts = await gitFacts();
  const dirty = await dirtyFiles();
  if (dirty.length > 0) {
    say(
      `note: ${dirty.length} uncommitted change(s) are not compiled: the binary is commit ${
        facts.commit.slice(0, 12)
      }`,
    );
  }
  const info = { version, commit: facts.commit, date: facts.commitDate };
  const source = await isolatedCopy(info);
  const staging = `${options.outDir}.partial-${Deno.pid}`;
  try {
    await Deno.mkdir(staging, { recursive: true });
    if (options.check !== false) {
      say("type-checking cli/main.ts");
      const checked = await run(Deno.execPath(), ["check", "cli/main.ts"], { cwd: source, env });
      if (checked.code !== 0) throw new ReleaseError(`Type check failed:\n${checked.stderr}`);
    }
    const exclude = await npmTestDirs(denoDir, await Deno.readTextFile(`${source}/deno.lock`));
    const built: CompiledBinary[] = [];
    for (const target of options.targets) {
      const denort = sources.get(target)!;
      const childEnv = { ...env };
      delete childEnv.DENORT_BIN;
      if (denort.kind === "bin") childEnv.DENORT_BIN = denort.path;
      const output = `${staging}/${binaryName(version, target)}`;
      say(
        `compiling ${target} (base runtime from ${
          denort.kind === "bin" ? denort.from : denort.path
        })`,
      );
      const result = await run(
        Deno.execPath(),
        compileArgs(target, output, exclude, options.v8Flags ?? v8HeapFlags),
        {
          cwd: source,
          env: childEnv,
        },
      );
      if (result.code !== 0) {
        throw new ReleaseError(
          `deno compile for ${target} failed: ${
            result.stderr.trim().split("\n").slice(-5).join(" | ")
          }`,
        );
      }
      built.push({ target, path: output, bytes: (await Deno.stat(output)).size });
    }
    await Deno.mkdir(options.outDir, { recursive: true });
    const moved: CompiledBinary[] = [];
    for (const binary of built) {
      const final = `${options.outDir}/${binary.path.slice(staging.length + 1)}`;
      await Deno.rename(binary.path, final);
      moved.push({ ...binary, path: final });
    }
    return moved;
  } finally {
    await removeIfExists(staging);
    await removeIfExists(source);
  }
}

const usage = scriptSpec({
  usage: "deno task compile [options]",
  description:
    "Compiles standalone icn binaries (Deno KV on, the release permissions and V8 flags baked in).",
  options: {
    target: {
      type: "string",
      multiple: true,
      default: [],
      value: "TARGET",
      description: "compile for this target (repeatable; default: every target below)",
    },
    "out-dir": {
      type: "string",
      default: `${repoRoot}/dist`,
      value: "DIR",
      description: "output dir",
    },
    "no-check": { type: "boolean", default: false, description: "skip type checking" },
    "v8-flags": {
      type: "string",
      default: v8HeapFlags,
      value: "FLAGS",
      description: 'V8 flags to bake in ("" keeps V8\'s defaults)',
    },
  },
  notes: [`Targets: ${releaseTargets.join(", ")}`],
});

async function main(): Promise<void> {
  const { values } = parseScriptArgs(usage);
  const targets = parseTargets(values.target ?? []);
  const binaries = await compile({
    targets,
    outDir: values["out-dir"]!,
    check: !values["no-check"],
    v8Flags: values["v8-flags"],
  });
  for (const binary of binaries) say(`${formatBytes(binary.bytes).padStart(10)}  ${binary.path}`);
}

if (import.meta.main) await runMain(main);
