/**
 * Copies the dashboard's browser dependencies (Preact, its hooks, htm, uPlot, eventsource-parser) from Deno's npm
 * cache into `web/static/vendor/`, so the dashboard runs as plain ES modules with no build step while
 * the versions stay pinned in `deno.json` and verified by `deno.lock`.
 *
 *   deno task vendor:web            write web/static/vendor/ (after changing a version in deno.json)
 *   deno task vendor:web --check    exit 1 if web/static/vendor/ differs from what it would write
 *
 * The only change made to a file is that bare imports between the vendored modules become
 * relative ("preact" -> "./preact.mjs"), because an import map would have to be an inline
 * script, which the gateway's CSP forbids, and that source-map comments are dropped (the maps
 * are not vendored).
 */

const root = new URL("..", import.meta.url).pathname;
const vendorDir = `${root}web/static/vendor`;

/** One vendored file: where it comes from in its npm package and what it is called here. */
interface VendoredFile {
  pkg: string;
  from: string;
  to: string;
  /** Bare import specifiers to rewrite, each expected exactly once in the file. */
  rewrite?: Record<string, string>;
}

const files: VendoredFile[] = [
  { pkg: "preact", from: "dist/preact.mjs", to: "preact.mjs" },
  {
    pkg: "preact",
    from: "hooks/dist/hooks.mjs",
    to: "preact-hooks.mjs",
    rewrite: { 'from"preact"': 'from"./preact.mjs"' },
  },
  { pkg: "preact", from: "LICENSE", to: "preact.LICENSE" },
  { pkg: "htm", from: "dist/htm.mjs", to: "htm.mjs" },
  { pkg: "htm", from: "LICENSE", to: "htm.LICENSE" },
  { pkg: "uplot", from: "dist/uPlot.esm.js", to: "uplot.mjs" },
  { pkg: "uplot", from: "dist/uPlot.min.css", to: "uplot.css" },
  { pkg: "uplot", from: "LICENSE", to: "uplot.LICENSE" },
  { pkg: "eventsource-parser", from: "dist/errors.js", to: "eventsource-parser-errors.mjs" },
  {
    pkg: "eventsource-parser",
    from: "dist/parse.js",
    to: "eventsource-parser-parse.mjs",
    rewrite: { "'./errors.js'": "'./eventsource-parser-errors.mjs'" },
  },
  {
    pkg: "eventsource-parser",
    from: "dist/stream.js",
    to: "eventsource-parser.mjs",
    rewrite: {
      "'./parse.js'": "'./eventsource-parser-parse.mjs'",
      "'./errors.js'": "'./eventsource-parser-errors.mjs'",
    },
  },
  { pkg: "eventsource-parser", from: "LICENSE", to: "eventsource-parser.LICENSE" },
];

const usage = "Usage: deno task vendor:web [--check] [--help]\n" +
  "Copies preact, htm, uplot and eventsource-parser (versions from deno.json) from the npm cache into web/static/vendor/.\n" +
  "  --check  exit 1 if web/static/vendor/ differs from what it would write\n" +
  "  --help   show this help\n";

function fail(message: string, code = 1): never {
  Deno.stderr.writeSync(new TextEncoder().encode(`${message}\n`));
  Deno.exit(code);
}

/** The exact version `deno.json` pins for `pkg` (`npm:pkg@x.y.z`). */
async function pinnedVersion(pkg: string): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const spec: unknown = config.imports?.[pkg];
  const match = typeof spec === "string"
    ? /^npm:(?:@[^/]+\/)?[^@]+@(\d+\.\d+\.\d+)$/.exec(spec)
    : null;
  if (!match) fail(`deno.json must pin "${pkg}" exactly as npm:${pkg}@x.y.z (found ${spec})`);
  return match[1];
}

async function run(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: root, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    fail(`deno ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** The package's folder in Deno's npm cache (any registry host). */
async function packageDir(npmCache: string, pkg: string, version: string): Promise<string> {
  for await (const host of Deno.readDir(npmCache)) {
    if (!host.isDirectory) continue;
    const dir = `${npmCache}/${host.name}/${pkg}/${version}`;
    try {
      if ((await Deno.stat(`${dir}/package.json`)).isFile) return dir;
    } catch {
      // not from this registry
    }
  }
  return fail(`${pkg}@${version} is not in the npm cache ${npmCache} (run deno install)`);
}

function transform(file: VendoredFile, text: string): string {
  let out = text;
  for (const [from, to] of Object.entries(file.rewrite ?? {})) {
    const count = out.split(from).length - 1;
    if (count !== 1) {
      fail(`${file.pkg}/${file.from}: expected ${from} once, found it ${count} times`);
    }
    out = out.replace(from, to);
  }
  return out.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
}

async function main(): Promise<void> {
  const args = Deno.args;
  if (args.includes("--help")) {
    Deno.stdout.writeSync(new TextEncoder().encode(usage));
    return;
  }
  const unknown = args.find((a) => a !== "--check");
  if (unknown !== undefined) {
    fail(
      `${
        unknown.startsWith("-") ? "Unknown option" : "Unexpected argument"
      } "${unknown}"\n${usage}`,
      2,
    );
  }
  const check = args.includes("--check");

  // The lockfile's integrity hashes are checked as the packages enter the cache.
  await run(["install", "--frozen"]);
  const { npmCache } = JSON.parse(await run(["info", "--json"])) as { npmCache: string };

  const versions: Record<string, string> = {};
  const wanted = new Map<string, string>();
  for (const file of files) {
    versions[file.pkg] ??= await pinnedVersion(file.pkg);
    const dir = await packageDir(npmCache, file.pkg, versions[file.pkg]);
    wanted.set(file.to, transform(file, await Deno.readTextFile(`${dir}/${file.from}`)));
  }
  wanted.set(
    "VERSIONS.json",
    JSON.stringify(
      { note: "written by `deno task vendor:web` from deno.json; do not edit", versions },
      null,
      2,
    ) + "\n",
  );

  const stale: string[] = [];
  for (const [name, text] of wanted) {
    let current: string | undefined;
    try {
      current = await Deno.readTextFile(`${vendorDir}/${name}`);
    } catch {
      current = undefined;
    }
    if (current !== text) stale.push(name);
  }
  const extra: string[] = [];
  try {
    for await (const entry of Deno.readDir(vendorDir)) {
      if (!wanted.has(entry.name)) extra.push(entry.name);
    }
  } catch {
    // no vendor dir yet
  }

  if (check) {
    if (stale.length || extra.length) {
      fail(
        `web/static/vendor/ is out of date with deno.json (run deno task vendor:web): ` +
          [...stale.map((n) => `${n} differs`), ...extra.map((n) => `${n} is not vendored`)]
            .join(", "),
      );
    }
    Deno.stdout.writeSync(new TextEncoder().encode("web/static/vendor/ matches deno.json\n"));
    return;
  }
  await Deno.mkdir(vendorDir, { recursive: true });
  for (const name of extra) await Deno.remove(`${vendorDir}/${name}`);
  for (const name of stale) await Deno.writeTextFile(`${vendorDir}/${name}`, wanted.get(name)!);
  Deno.stdout.writeSync(
    new TextEncoder().encode(
      `web/static/vendor/: ${stale.length} written, ${extra.length} removed (${
        Object.entries(versions).map(([p, v]) => `${p}@${v}`).join(", ")
      })\n`,
    ),
  );
}

if (import.meta.main) await main();
