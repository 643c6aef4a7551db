import { deepStrictEqual as assertEquals } from "node:assert";
import { findCycles } from "./check_cycles.ts";

/** Writes `files` (path → source) under a fresh temp dir and returns it. */
async function fixture(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "icn-cycles-test-" });
  for (const [path, source] of Object.entries(files)) {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, source);
  }
  return root;
}

Deno.test("findCycles() finds a cycle made of a value import and an import() call", async () => {
  const root = await fixture({
    "cli/a.ts": 'import { b } from "./b.ts";\nexport const a = () => b;\n',
    "cli/b.ts": 'export const b = () => import("../core/c.ts");\n',
    "core/c.ts": 'export { a } from "../cli/a.ts";\n',
  });
  try {
    assertEquals(await findCycles(root, ["cli", "core"]), [
      ["cli/a.ts", "cli/b.ts", "core/c.ts", "cli/a.ts"],
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("findCycles() passes a graph whose only way back is `import type`, and leaves tests out", async () => {
  const root = await fixture({
    "cli/a.ts":
      'import { b } from "./b.ts";\nexport interface A { n: number }\nexport const a = b;\n',
    "cli/b.ts": 'import type { A } from "./a.ts";\nexport const b = (x: A) => x.n;\n',
    "cli/a_test.ts": 'import "./b_test.ts";\nimport "./a.ts";\n',
    "cli/b_test.ts": 'import "./a_test.ts";\n',
  });
  try {
    assertEquals(await findCycles(root, ["cli"]), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
