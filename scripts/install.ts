/**
 * `deno task install [--root DIR] [--dry-run]`: installs `icn` from this
 * checkout for people who already have Deno (`deno install --global`), with
 * Deno KV enabled and the same permissions as the release binaries.
 */
import { parseScriptArgs, scriptSpec } from "./_args.ts";
import { v8HeapFlags } from "../cli/node_heap.ts";
import { bakedPermissions } from "./compile.ts";
import { repoRoot, run, runMain, say } from "./release_common.ts";

export function installArgs(options: { root?: string } = {}): string[] {
  return [
    "install",
    "--global",
    "--force",
    "--name",
    "icn",
    "--config",
    `${repoRoot}/deno.json`,
    "--unstable-kv",
    // Load only the modules a command runs, as `deno task icn` does (see docs/benchmarks.md).
    "--unstable-lazy-dynamic-imports",
    `--v8-flags=${v8HeapFlags}`,
    ...bakedPermissions,
    ...(options.root ? ["--root", options.root] : []),
    `${repoRoot}/cli/main.ts`,
  ];
}

const usage = scriptSpec({
  usage: "deno task install [--root DIR] [--dry-run]",
  description:
    "Installs `icn` from this checkout with `deno install --global` (Deno KV on, the release\n" +
    "binaries' permissions and V8 flags).",
  options: {
    root: {
      type: "string",
      value: "DIR",
      description: "install under DIR/bin (else Deno's default)",
    },
    "dry-run": {
      type: "boolean",
      default: false,
      description: "print the deno command, run nothing",
    },
  },
});

async function main(): Promise<void> {
  const { values } = parseScriptArgs(usage);
  const args = installArgs({ root: values.root });
  if (values["dry-run"]) {
    await Deno.stdout.write(new TextEncoder().encode(["deno", ...args].join(" ") + "\n"));
    return;
  }
  const result = await run(Deno.execPath(), args);
  if (result.code !== 0) {
    say(result.stderr.trim());
    Deno.exit(result.code);
  }
  say(result.stderr.trim() || result.stdout.trim());
  say("installed `icn`; try `icn --help` (and `icn completions bash` for completions)");
}

if (import.meta.main) await runMain(main);
