/** docs/cli.md is generated from the command tree; this fails when the committed file is stale. */
import { flattenCommands } from "../cli/completions.ts";
import { describeCli } from "../cli/main.ts";
import { cliDocPath, generateCliReference } from "../scripts/gen_docs.ts";

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

Deno.test("docs/cli.md matches a fresh generation from the command tree (run `deno task docs`)", async () => {
  const committed = await Deno.readTextFile(cliDocPath);
  const fresh = await generateCliReference();
  if (committed !== fresh) {
    const a = committed.split("\n");
    const b = fresh.split("\n");
    const line = a.findIndex((l, i) => l !== b[i]);
    throw new Error(
      `docs/cli.md is out of date: run \`deno task docs\` (first difference at line ${line + 1}: ` +
        `committed ${JSON.stringify(a[line])}, generated ${JSON.stringify(b[line])})`,
    );
  }
});

Deno.test("the generated reference documents every command, argument and option", async () => {
  const root = await describeCli();
  const doc = await generateCliReference();
  for (const spec of flattenCommands(root)) {
    const name = ["icn", ...spec.path].join(" ");
    assert(doc.includes(`## ${name}\n`), `no section for ${name}`);
    for (const option of spec.options) {
      if (option.long === "--help" && spec !== root) continue;
      assert(doc.includes(`\`${option.flags}\``), `${name}: option ${option.flags} missing`);
    }
    for (const argument of spec.arguments) {
      assert(doc.includes(argument.name), `${name}: argument ${argument.name} missing`);
    }
  }
});

Deno.test("gen_docs --check exits 1 and names the fix when the reference is stale", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Run a copy of the generator whose output path points at a stale file.
    const script = await Deno.readTextFile(new URL("../scripts/gen_docs.ts", import.meta.url));
    const root = new URL("..", import.meta.url).pathname;
    await Deno.writeTextFile(`${dir}/cli.md`, "stale\n");
    const patched = script
      .replaceAll(`"../cli/`, `"${root}cli/`)
      .replaceAll(`"./_args.ts"`, `"${root}scripts/_args.ts"`)
      .replace(`new URL("../docs/cli.md", import.meta.url)`, `new URL("file://${dir}/cli.md")`);
    await Deno.writeTextFile(`${dir}/gen_docs.ts`, patched);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", `${root}deno.json`, `${dir}/gen_docs.ts`, "--check"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(output.code === 1, `exit code ${output.code}`);
    assert(
      new TextDecoder().decode(output.stderr).includes("deno task docs"),
      "message names `deno task docs`",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
