/**
 * web/static/vendor/ holds exactly what `deno task vendor:web` copies from the npm packages at
 * the versions deno.json pins (and deno.lock verifies): a version bump without re-vendoring, or a
 * hand edit of a vendored file, fails here. And every module the dashboard loads is a file the
 * gateway serves (no bare import left that only an import map could resolve).
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

Deno.test("web/static/vendor/ matches deno.json (deno task vendor:web --check)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      "--config",
      `${root}deno.json`,
      `${root}scripts/vendor_web.ts`,
      "--check",
    ],
    cwd: root,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(out.code, 0, decoder.decode(out.stderr));
  assert.match(decoder.decode(out.stdout), /matches deno\.json/);
});

Deno.test("every import in the dashboard's modules is a relative path to a file that exists", async () => {
  const dirs = [`${root}web/static`, `${root}web/static/vendor`];
  let checked = 0;
  for (const dir of dirs) {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !/\.(m?js)$/.test(entry.name)) continue;
      const text = await Deno.readTextFile(`${dir}/${entry.name}`);
      const specifiers = [
        ...text.matchAll(/(?:^|[;\s}])(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]/g),
      ]
        .map((m) => m[1]);
      for (const specifier of specifiers) {
        assert.ok(
          specifier.startsWith("./"),
          `${entry.name} imports "${specifier}", not a relative file`,
        );
        const target = new URL(specifier, `file://${dir}/`).pathname;
        assert.ok(
          (await Deno.stat(target)).isFile,
          `${entry.name} imports ${specifier}, which is missing`,
        );
        checked++;
      }
    }
  }
  assert.ok(checked > 20, `only ${checked} imports found: the pattern misses them`);
});
