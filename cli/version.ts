/** Handler of `icn version`. */
import { buildInfo } from "./build_info.ts";
import type { CliContext } from "./context.ts";
import denoJson from "../deno.json" with { type: "json" };
import type { CommandResult } from "./output.ts";

/** Bounds the `git rev-parse` a source checkout runs to name its commit. */
const gitTimeoutMs = 2_000;

export interface VersionInfo {
  icn: string;
  commit: string | null;
  buildDate: string | null;
  build: "compiled" | "source";
  deno: string;
  v8: string;
  typescript: string;
  target: string;
}

/** The commit of a source checkout, or null when git is absent or this is not a checkout. */
async function sourceCommit(): Promise<string | null> {
  try {
    const dir = new URL("..", import.meta.url);
    if (dir.protocol !== "file:") return null;
    const output = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      cwd: dir,
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(gitTimeoutMs),
    }).output();
    if (!output.success) return null;
    const commit = new TextDecoder().decode(output.stdout).trim();
    return /^[0-9a-f]{40}$/.test(commit) ? commit : null;
  } catch {
    return null;
  }
}

export async function versionInfo(): Promise<VersionInfo> {
  return {
    icn: buildInfo.version ?? denoJson.version,
    commit: buildInfo.commit ?? (buildInfo.source === "source" ? await sourceCommit() : null),
    buildDate: buildInfo.date,
    build: buildInfo.source,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    target: Deno.build.target,
  };
}

export async function version(
  _ctx: CliContext,
  _args: string[],
): Promise<CommandResult> {
  const info = await versionInfo();
  const commit = info.commit ? info.commit.slice(0, 12) : "unknown";
  return {
    data: info,
    text: [
      `icn ${info.icn} (${info.build}, commit ${commit}${
        info.buildDate ? `, built ${info.buildDate}` : ""
      })`,
      `deno ${info.deno}`,
      `v8 ${info.v8}`,
      `typescript ${info.typescript}`,
      `target ${info.target}`,
    ],
  };
}
