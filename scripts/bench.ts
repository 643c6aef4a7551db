/**
 * `deno task bench`: runs every `scripts/bench_*.ts` in turn (each prints a
 * markdown report with ratios against a baseline from the same run).
 * `deno task bench NAME` runs only `scripts/bench_NAME.ts`.
 */
import { parseScriptArgs, scriptSpec, usageError } from "./_args.ts";

const dir = new URL(".", import.meta.url).pathname;
const names = [...Deno.readDirSync(dir)]
  .map((entry) => /^bench_([a-z_]+)\.ts$/.exec(entry.name)?.[1])
  .filter((name): name is string => name !== undefined)
  .sort();
const usage = scriptSpec({
  usage: "deno task bench [NAME]",
  description: "Runs every benchmark (scripts/bench_*.ts) in turn, or only the one named;\n" +
    "each prints a markdown report with ratios against a baseline from the same run.",
  positionals: [{ name: "NAME", description: `one of ${names.join(", ")}` }],
});
const only = parseScriptArgs(usage).positionals[0];
if (only !== undefined && !names.includes(only)) {
  usageError(usage, `No benchmark named "${only}"`);
}
let failed = 0;
for (const name of names.filter((name) => only === undefined || name === only)) {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${dir}bench_${name}.ts`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) failed++;
}
Deno.exit(failed === 0 ? 0 : 1);
