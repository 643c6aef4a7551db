/**
 * `deno task bench`: runs every `scripts/bench_*.ts` in turn (each prints a
 * markdown report with ratios against a baseline from the same run).
 * `deno task bench NAME` runs only `scripts/bench_NAME.ts`.
 */
const only = Deno.args[0];
const dir = new URL(".", import.meta.url).pathname;
const files = [...Deno.readDirSync(dir)]
  .map((entry) => entry.name)
  .filter((name) => /^bench_[a-z_]+\.ts$/.test(name))
  .filter((name) => !only || name === `bench_${only}.ts`)
  .sort();
if (files.length === 0) {
  Deno.stderr.writeSync(new TextEncoder().encode(`No benchmark named "${only}"\n`));
  Deno.exit(1);
}
let failed = 0;
for (const file of files) {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${dir}${file}`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) failed++;
}
Deno.exit(failed === 0 ? 0 : 1);
