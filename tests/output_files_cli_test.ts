/**
 * Every command that writes a file the user names (`--out`) fails the same way
 * on a bad destination: exit 1, a message naming the user's path and the
 * cause, no temp file left, nothing changed. `--out -` writes to stdout.
 */
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-out-" });
const home = `${dir}/home`;
const file = `${dir}/hello.txt`;
await Deno.writeTextFile(file, "hello cooperative\n");
await icnExpect(0, ["--data-dir", home, "id", "init"]);
await Deno.mkdir(`${dir}/a-directory`);

/** Commands that write `--out`, as argument lists ending where the path goes. */
const writers: [string, string[]][] = [
  ["id sign", ["id", "sign", file, "--out"]],
  ["id backup", ["id", "backup", "--out"]],
  ["governance genesis create", ["governance", "genesis", "create", "--name", "Coop", "--out"]],
];

const destinations: [string, string, RegExp][] = [
  ["a missing directory", `${dir}/no/such/dir/out`, /does not exist/],
  ["a directory", `${dir}/a-directory`, /is a directory/],
  ["/dev/full", "/dev/full", /no space left/],
];

async function tempFilesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.name.endsWith(".tmp")) out.push(entry.name);
  }
  return out;
}

Deno.test("--out to a missing directory, a directory or a full device exits 1 naming the path, leaving nothing behind", async () => {
  for (const [command, args] of writers) {
    for (const [what, path, cause] of destinations) {
      const before = await snapshotDir(home);
      const run = await icn(["--data-dir", home, ...args, path]);
      const context = `${command} --out ${what}: exit ${run.code}\n${run.stderr}`;
      assertEquals(run.code, 1, context);
      assertMatch(run.stderr, new RegExp(path.replace(/[/.]/g, "\\$&")));
      assertMatch(run.stderr, cause);
      if (/\.tmp\b|at .*\.ts:\d+/.test(run.stderr)) {
        throw new Error(`temp file or trace: ${context}`);
      }
      if (!sameSnapshot(before, await snapshotDir(home))) {
        throw new Error(`state changed: ${context}`);
      }
    }
  }
  assertEquals(await tempFilesUnder(dir), []);
  assertEquals(await tempFilesUnder(`${dir}/a-directory`), []);
});

Deno.test("--out - writes the result to standard output", async () => {
  const run = await icnExpect(0, ["--data-dir", home, "id", "sign", file, "--out", "-"]);
  assertMatch(run.stdout, /^untrusted comment: /);
  assertMatch(run.stdout, /\ntrusted comment: /);
});
