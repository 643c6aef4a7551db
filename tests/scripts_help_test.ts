/**
 * Every script a user runs (each `deno task`, the benchmarks, the SBOM and
 * trust-graph generators) answers `--help` with its usage on stdout and exit 0,
 * and refuses an unknown option or a surplus argument with a usage error on
 * stderr and exit 2, before doing any work. The scripts run directly with
 * `deno run`, as their tasks run them.
 */
import denoJson from "../deno.json" with { type: "json" };

const root = new URL("..", import.meta.url).pathname;

/** Scripts that are run by hand or by `deno task bench` rather than by a task of their own. */
const directScripts = [
  "bench_foundation",
  "bench_governance",
  "bench_identity",
  "bench_layout",
  "bench_ledger",
  "bench_ledger_layouts",
  "bench_node",
  "bench_release",
  "bench_trust",
  "sbom",
  "trust_graph",
];

/** The script of every `deno task` that runs one (`deno run ... scripts/NAME.ts`). */
function taskScripts(): string[] {
  const tasks = denoJson.tasks as Record<string, string>;
  return Object.values(tasks)
    .map((command) => /\bscripts\/([a-z_]+)\.ts\b/.exec(command)?.[1])
    .filter((name): name is string => name !== undefined);
}

const scripts = [...new Set([...taskScripts(), ...directScripts])].sort();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function runScript(name: string, args: string[]): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      "--config",
      `${root}deno.json`,
      `${root}scripts/${name}.ts`,
      ...args,
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs `fn` over `items` with at most `limit` at a time (each run is a Deno process). */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  const queue = [...items];
  const failures: unknown[] = [];
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      await fn(item).catch((error) => failures.push(error));
    }
  }));
  if (failures.length > 0) throw new AggregateError(failures, (failures[0] as Error).message);
}

function expect(condition: boolean, what: string, run: Run): void {
  if (!condition) {
    throw new Error(`${what} (exit ${run.code})\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

Deno.test("every task's script is checked here", () => {
  for (
    const name of ["release", "compile", "install", "demo", "gen_docs", "ledger_crash", "bench"]
  ) {
    if (!scripts.includes(name)) throw new Error(`scripts/${name}.ts is not covered`);
  }
});

Deno.test("every user-run script prints its usage on stdout and exits 0 on --help", async () => {
  await eachLimited(scripts, 3, async (name) => {
    const run = await runScript(name, ["--help"]);
    expect(run.code === 0, `${name} --help`, run);
    expect(run.stdout.startsWith("Usage: "), `${name} --help prints no usage`, run);
    expect(run.stdout.includes("--help"), `${name} --help does not list --help`, run);
    expect(run.stderr === "", `${name} --help writes to stderr`, run);
  });
});

Deno.test("every user-run script refuses an unknown option with a usage error (exit 2)", async () => {
  await eachLimited(scripts, 3, async (name) => {
    const run = await runScript(name, ["--no-such-option"]);
    expect(run.code === 2, `${name} --no-such-option`, run);
    expect(run.stderr.includes("--no-such-option"), `${name}: the error names the option`, run);
    expect(run.stderr.includes("Usage: "), `${name}: the error shows the usage`, run);
    expect(run.stdout === "", `${name}: a usage error writes to stdout`, run);
  });
});

Deno.test("scripts refuse surplus arguments and bad numbers with a usage error (exit 2)", async () => {
  const cases: [string, string[], string][] = [
    ["release", ["extra"], "Unexpected argument"],
    ["bench", ["no_such_bench"], 'No benchmark named "no_such_bench"'],
    ["bench", ["ledger", "node"], 'Unexpected argument "node"'],
    ["ledger_crash", ["many"], 'Cannot use RUNS "many"'],
    ["bench_ledger", ["0"], 'Cannot use TRANSFERS "0"'],
    ["bench_trust", ["--members", "1e5"], 'Cannot use --members "1e5"'],
    ["bench_node", ["--only", "sink"], 'Unknown phase "sink"'],
    ["sbom", ["--out"], "argument missing"],
  ];
  await eachLimited(cases, 3, async ([name, args, message]) => {
    const run = await runScript(name, args);
    expect(run.code === 2, `${name} ${args.join(" ")}`, run);
    expect(run.stderr.includes(message), `${name} ${args.join(" ")}: no "${message}"`, run);
  });
});
