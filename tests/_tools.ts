/**
 * Independent tools that tests check icn's output against (minisign, age,
 * hledger, promtool, script, zsh, fish, systemd-analyze, python3, unzip, ...).
 *
 * A fresh checkout runs `deno task test` with only Deno from npm, so a check
 * that needs such a tool must not fail when the tool is missing: it says so
 * loudly on stderr (`SKIPPED: <check> needs <tool> (apt-get install <pkg>)`)
 * and is skipped. CI (`.ci/run`) installs every tool listed here and sets
 * `ICN_REQUIRE_TOOLS=1`, which turns every such skip into a failure, so a
 * check can never go quiet there.
 *
 * How to use it in a test:
 *
 * ```ts
 * import { needsTools, requireTool } from "./_tools.ts";
 *
 * // A whole test needs the tool: it shows as "ignored" when the tool is missing.
 * Deno.test(needsTools(["minisign"], { name: "minisign -V accepts ...", fn: async () => {} }));
 *
 * // The same, keeping a `Deno.test({ ignore })` object as it is:
 * Deno.test({ name: "age -d ...", ignore: ignoreWithout(["age", "script"], "age -d ..."), fn });
 *
 * // One part of a test needs it: the rest still runs.
 * if (requireTool("promtool", "promtool check metrics on /metrics")) { ... }
 * ```
 *
 * A new tool gets a line in `toolPackages` (its Debian package), which is also
 * where `.ci/run` learns what to install (`deno run -A tests/_tools.ts --packages`).
 *
 * Environment:
 * - `ICN_REQUIRE_TOOLS=1`: a missing tool fails the check instead of skipping it.
 * - `ICN_TEST_HIDE_TOOLS=promtool,minisign`: treat these tools as missing (to try the
 *   fresh-machine path on a machine that has them).
 * - `ICN_TEST_SKIP_LOG=FILE`: append one line per skipped check to FILE (`.ci/run` fails
 *   if it is not empty).
 *
 * Tools every machine that can clone the repository has (sh, bash, git, tar,
 * gzip, sha256sum) are used directly.
 */

/** Each tool a test may need, and the Debian package that provides it. */
export const toolPackages: Readonly<Record<string, string>> = {
  age: "age",
  chromium: "chromium",
  fish: "fish",
  hledger: "hledger",
  minisign: "minisign",
  promtool: "prometheus",
  python3: "python3",
  script: "bsdutils",
  "systemd-analyze": "systemd",
  unzip: "unzip",
  zsh: "zsh",
};

const encoder = new TextEncoder();

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

function hidden(): Set<string> {
  return new Set((env("ICN_TEST_HIDE_TOOLS") ?? "").split(",").map((s) => s.trim()));
}

/** Whether `name` is an executable on PATH (and not hidden by `ICN_TEST_HIDE_TOOLS`). */
export function hasCommand(name: string): boolean {
  if (hidden().has(name)) return false;
  for (const dir of (env("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Whether missing tools fail checks (CI) rather than skip them (a fresh checkout). */
export function toolsRequired(): boolean {
  return env("ICN_REQUIRE_TOOLS") === "1";
}

function installHint(tools: string[]): string {
  const packages = [...new Set(tools.map((tool) => toolPackages[tool] ?? tool))];
  return `apt-get install ${packages.join(" ")}`;
}

function recordSkip(check: string, missing: string[]): void {
  const line = `SKIPPED: ${check} needs ${missing.join(", ")} (${installHint(missing)})`;
  Deno.stderr.writeSync(encoder.encode(`\n!!! ${line}\n`));
  const log = env("ICN_TEST_SKIP_LOG");
  if (log) Deno.writeTextFileSync(log, `${line}\n`, { append: true });
}

function missingError(check: string, missing: string[]): Error {
  return new Error(
    `${check} needs ${missing.join(", ")}, which ${missing.length > 1 ? "are" : "is"} not ` +
      `installed, and ICN_REQUIRE_TOOLS=1 forbids skipping it (${installHint(missing)})`,
  );
}

/**
 * Whether the part of a test named `check` can run: true when `tool` is installed.
 * When it is missing, prints a loud SKIPPED line and returns false, or throws
 * when `ICN_REQUIRE_TOOLS=1`. Call it inside the test, where a throw fails that test.
 */
export function requireTool(tool: string, check: string): boolean {
  return requireTools([tool], check);
}

/** `requireTool` for a check that needs several tools. */
export function requireTools(tools: string[], check: string): boolean {
  const missing = tools.filter((tool) => !hasCommand(tool));
  if (missing.length === 0) return true;
  if (toolsRequired()) throw missingError(check, missing);
  recordSkip(check, missing);
  return false;
}

/**
 * A test definition that needs `tools` as a whole: with a tool missing it is
 * ignored (and says so loudly), or fails when `ICN_REQUIRE_TOOLS=1`.
 */
export function needsTools(tools: string[], definition: Deno.TestDefinition): Deno.TestDefinition {
  const missing = tools.filter((tool) => !hasCommand(tool));
  if (missing.length === 0) return definition;
  if (toolsRequired()) {
    return {
      ...definition,
      fn: () => {
        throw missingError(definition.name, missing);
      },
    };
  }
  recordSkip(definition.name, missing);
  return { ...definition, ignore: true };
}

/**
 * For `Deno.test({ ignore })`: true (ignore, loudly) when a tool is missing on a
 * fresh checkout. With `ICN_REQUIRE_TOOLS=1` it ignores the test too, but
 * registers a failing test in its place that names the missing tool.
 */
export function ignoreWithout(tools: string[], check: string): boolean {
  const missing = tools.filter((tool) => !hasCommand(tool));
  if (missing.length === 0) return false;
  if (toolsRequired()) {
    Deno.test(`${check} (a required tool is missing)`, () => {
      throw missingError(check, missing);
    });
    return true;
  }
  recordSkip(check, missing);
  return true;
}

if (import.meta.main) {
  // `.ci/run` asks which packages to install: those of the tools missing here.
  if (Deno.args[0] !== "--packages" || Deno.args.length !== 1) {
    Deno.stderr.writeSync(
      encoder.encode(
        "Usage: deno run -A tests/_tools.ts --packages\n" +
          "Prints the Debian packages of the test tools missing on this machine.\n",
      ),
    );
    Deno.exit(Deno.args[0] === "--help" ? 0 : 2);
  }
  const missing = Object.keys(toolPackages).filter((tool) => !hasCommand(tool));
  const packages = [...new Set(missing.map((tool) => toolPackages[tool]))];
  Deno.stdout.writeSync(encoder.encode(packages.length ? `${packages.join(" ")}\n` : ""));
}
