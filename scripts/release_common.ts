/** Shared by the release scripts: targets, git facts, subprocesses, errors. */

/** Every target `deno compile` supports. */
export const releaseTargets = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
  "aarch64-pc-windows-msvc",
] as const;
export type ReleaseTarget = typeof releaseTargets[number];

/** An expected failure of a release script: printed as one line, exit code 1. */
export class ReleaseError extends Error {
  override name = "ReleaseError";
}

/** Bounds every git call, so a hung git cannot hang a release. */
const gitTimeoutMs = 30_000;

export const repoRoot: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export function isWindowsTarget(target: string): boolean {
  return target.includes("windows");
}

export function binaryName(version: string, target: string): string {
  return `icn-${version}-${target}${isWindowsTarget(target) ? ".exe" : ""}`;
}

/** Validates `--target` values; none means all. */
export function parseTargets(values: string[]): ReleaseTarget[] {
  if (values.length === 0) return [...releaseTargets];
  const unknown = values.filter((t) => !(releaseTargets as readonly string[]).includes(t));
  if (unknown.length > 0) {
    throw new ReleaseError(
      `Cannot build for unknown target "${unknown[0]}": choose from ${releaseTargets.join(", ")}`,
    );
  }
  return [...new Set(values)] as ReleaseTarget[];
}

export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: command === "git" ? AbortSignal.timeout(gitTimeoutMs) : undefined,
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

export async function git(args: string[], cwd = repoRoot): Promise<string> {
  const result = await run("git", args, { cwd });
  if (result.code !== 0) {
    throw new ReleaseError(`git ${args.join(" ")} failed: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

export interface GitFacts {
  commit: string;
  /** Commit time, seconds since the epoch: the mtime of every archive entry. */
  commitTime: number;
  /** Commit time as ISO 8601 (UTC, no fraction). */
  commitDate: string;
}

export async function gitFacts(cwd = repoRoot): Promise<GitFacts> {
  const [commit, time] = (await git(["log", "-1", "--format=%H %ct"], cwd)).trim().split(" ");
  const commitTime = Number(time);
  return {
    commit,
    commitTime,
    commitDate: new Date(commitTime * 1000).toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

/** Tracked files with uncommitted changes (untracked files are never built, so they do not count). */
export async function dirtyFiles(cwd = repoRoot): Promise<string[]> {
  const status = await git(["status", "--porcelain", "--untracked-files=no"], cwd);
  return status.split("\n").filter((line) => line.trim().length > 0).map((line) => line.slice(3));
}

export async function projectVersion(cwd = repoRoot): Promise<string> {
  const denoJson = JSON.parse(await Deno.readTextFile(`${cwd}/deno.json`)) as { version?: string };
  if (!denoJson.version) throw new ReleaseError("deno.json has no version");
  return denoJson.version;
}

export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** True when something exists at `path`: the CLI's own check. */
export { pathExists as exists } from "../cli/files.ts";

const encoder = new TextEncoder();

/** Progress and reports of the scripts go to stderr. */
export function say(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text + "\n"));
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** Runs a script's main and maps a ReleaseError to one line and exit code 1. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof ReleaseError) {
      say(`error: ${error.message}`);
      Deno.exit(1);
    }
    throw error;
  }
}
