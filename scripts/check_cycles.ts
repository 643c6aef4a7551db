/**
 * Import cycles among the modules under `cli/`, `net/` and `core/` (tests left out), as
 * denoland/std checks its own: a cycle makes load order matter and lets a low layer reach a
 * high one. Edges are what `deno info` resolves as code: value imports and re-exports, and
 * `import()` calls; `import type` and `export type` load nothing and do not count.
 *
 *   deno run --allow-read --allow-write --allow-run scripts/check_cycles.ts [--dir DIR]...
 *
 * Prints each cycle found (`a.ts -> b.ts -> a.ts`) and exits 1, or prints nothing and exits 0.
 */
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeStderr, writeStdout } from "../cli/output.ts";
import { parseScriptArgs, scriptSpec } from "./_args.ts";

/** The directories `deno task ok` keeps free of cycles. */
export const checkedDirsDefault = ["cli", "net", "core"];

/** A dependency as `deno info --json` describes it. */
interface InfoDependency {
  code?: { specifier: string };
  type?: { specifier: string };
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

/** Every `.ts` module under `dir`, tests (`*_test.ts`) left out, as absolute paths. */
async function modulesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return found;
    throw error;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) found.push(...await modulesUnder(path));
    else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      found.push(path);
    }
  }
  return found;
}

/** The code edges among `modules`, from one `deno info --json` over all of them. */
async function codeGraph(root: string, modules: string[]): Promise<Map<string, string[]>> {
  const entryDir = await Deno.makeTempDir({ prefix: "icn-cycles-" });
  try {
    const entry = join(entryDir, "all.ts");
    await Deno.writeTextFile(
      entry,
      modules.map((path) => `import ${JSON.stringify(pathToFileURL(path).href)};\n`).join(""),
    );
    const config = join(root, "deno.json");
    const hasConfig = await Deno.stat(config).then(() => true, () => false);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", ...(hasConfig ? ["--config", config] : ["--no-config"]), entry],
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno info failed: ${new TextDecoder().decode(output.stderr).trim()}`);
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] };
    const wanted = new Set(modules.map((path) => pathToFileURL(path).href));
    const graph = new Map<string, string[]>();
    for (const module of info.modules) {
      if (!wanted.has(module.specifier)) continue;
      const targets = (module.dependencies ?? [])
        .map((dependency) => dependency.code?.specifier)
        .filter((target): target is string => target !== undefined && wanted.has(target));
      graph.set(module.specifier, [...new Set(targets)].sort());
    }
    return graph;
  } finally {
    await Deno.remove(entryDir, { recursive: true });
  }
}

/**
 * The import cycles among the modules under `dirs` of `root`, each as the paths (relative to
 * `root`) around it, first path repeated last. A depth-first search reports each back edge once,
 * so every cycle shows up through at least one of its edges.
 */
export async function findCycles(root: string, dirs: readonly string[]): Promise<string[][]> {
  root = resolve(root);
  const modules = (await Promise.all(dirs.map((dir) => modulesUnder(join(root, dir))))).flat();
  const graph = await codeGraph(root, modules);
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (module: string) => {
    state.set(module, "open");
    stack.push(module);
    for (const target of graph.get(module) ?? []) {
      if (state.get(target) === "open") {
        cycles.push([...stack.slice(stack.indexOf(target)), target]);
      } else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(module, "done");
  };
  for (const module of [...graph.keys()].sort()) if (!state.has(module)) visit(module);
  const path = (url: string) => relative(root, fileURLToPath(url));
  return cycles.map((cycle) => cycle.map(path));
}

if (import.meta.main) {
  const spec = scriptSpec({
    usage: "deno task cycles [options]",
    description:
      "Lists import cycles among the modules under cli/, net/ and core/ (value imports and import() calls; import type does not count); exits 1 if there is one",
    options: {
      dir: {
        type: "string",
        multiple: true,
        value: "DIR",
        description: `a directory to check, repeatable (default: ${checkedDirsDefault.join(", ")})`,
      },
    },
  });
  const { values } = parseScriptArgs(spec);
  const root = fileURLToPath(new URL("..", import.meta.url));
  const dirs = values.dir?.length ? values.dir : checkedDirsDefault;
  const cycles = await findCycles(root, dirs);
  for (const cycle of cycles) writeStdout(cycle.join(" -> ") + "\n");
  if (cycles.length > 0) {
    writeStderr(`${cycles.length} import cycle(s) among ${dirs.join(", ")}\n`);
    Deno.exit(1);
  }
}
