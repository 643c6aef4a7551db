/**
 * `deno task compile` up to the base runtime step. The real denort cannot be
 * downloaded here, so most tests use a STAND-IN BASE BINARY (a copy of
 * `/bin/true`, not denort): `deno compile` accepts it through DENORT_BIN and
 * appends the real payload (metadata, permissions, embedded modules), which
 * the tests then inspect. The result is not runnable as icn. When a real denort
 * is provided in DENORT_BIN, one more test runs the compiled binary.
 */
import {
  bakedPermissions,
  buildInfoSource,
  compileArgs,
  denortEnvName,
  denortZipPath,
  resolveDenort,
} from "../scripts/compile.ts";
import { installArgs } from "../scripts/install.ts";
import { defaultHeapSizing, v8HeapFlags } from "../cli/node_heap.ts";
import { exists, ReleaseError } from "../scripts/release_common.ts";

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const compileScript = `${root}/scripts/compile.ts`;
const hostTarget = Deno.build.target;

async function runCompile(
  args: string[],
  env: Record<string, string>,
  options: { checkout?: string } = {},
) {
  const base = Deno.env.toObject();
  delete base.DENORT_BIN;
  const script = options.checkout ? `${options.checkout}/scripts/compile.ts` : compileScript;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env: { ...base, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

/** A stand-in base binary: NOT denort, only something `deno compile` can append a payload to. */
async function standInBase(dir: string): Promise<string> {
  const path = `${dir}/stand-in-not-denort`;
  await Deno.copyFile("/bin/true", path);
  return path;
}

/** A clone of the checkout's HEAD: commits landing meanwhile cannot change what is compiled. */
async function cloneCheckout(dir: string): Promise<string> {
  const clone = `${dir}/clone`;
  const output = await new Deno.Command("git", {
    args: ["clone", "-q", "--no-hardlinks", root, clone],
    stderr: "piped",
  }).output();
  assert(output.success, new TextDecoder().decode(output.stderr));
  return clone;
}

async function headCommit(cwd = root): Promise<string> {
  const output = await new Deno.Command("git", {
    args: ["rev-parse", "HEAD"],
    cwd,
    stdout: "piped",
  })
    .output();
  return new TextDecoder().decode(output.stdout).trim();
}

/** The JSON metadata `deno compile` embeds (it is stored as plain text in the payload). */
function embeddedMetadata(binary: Uint8Array): Record<string, unknown> {
  const text = new TextDecoder("latin1").decode(binary);
  const start = text.indexOf(`{"argv":`);
  assert(start >= 0, "no compile metadata in the binary");
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return JSON.parse(text.slice(start, i + 1));
  }
  throw new Error("unterminated metadata");
}

Deno.test("compileArgs() enables KV, bakes unscoped permissions and names the output per target", () => {
  const args = compileArgs("aarch64-apple-darwin", "/out/icn-1.0.0-aarch64-apple-darwin");
  const at = (flag: string) => args[args.indexOf(flag) + 1];
  assert(at("--target") === "aarch64-apple-darwin", "target");
  assert(at("--output") === "/out/icn-1.0.0-aarch64-apple-darwin", "output");
  assert(args.includes("--unstable-kv"), "KV enabled");
  for (const permission of bakedPermissions) assert(args.includes(permission), permission);
  assert(args.every((a) => !a.startsWith("--allow-") || !a.includes("=")), "no scoped permissions");
  assert(!args.includes("--allow-all") && !args.includes("-A"), "no allow-all");
  assert(args.includes(`--v8-flags=${v8HeapFlags}`), "small-heap V8 flags baked in");
  assert(args.at(-1) === "cli/main.ts", "entry point");
  const plain = compileArgs("aarch64-apple-darwin", "/out/icn", [], "");
  assert(plain.every((a) => !a.startsWith("--v8-flags")), "--v8-flags '' keeps V8's defaults");
});

Deno.test("v8HeapFlags size the heap at start; setting flags at run time changes nothing", async () => {
  const script = `import v8 from "node:v8";
const before = v8.getHeapStatistics().heap_size_limit;
v8.setFlagsFromString("--max-old-space-size=64");
console.log(JSON.stringify([before, v8.getHeapStatistics().heap_size_limit]));`;
  const env = Deno.env.toObject();
  delete env.DENO_V8_FLAGS;
  const limits = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", ...args, script],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert(out.success, "deno eval failed");
    return JSON.parse(new TextDecoder().decode(out.stdout)) as [number, number];
  };
  const [flagged, flaggedAfter] = await limits([`--v8-flags=${v8HeapFlags}`]);
  // 512 MB old generation + 3 × 2 MB young generation.
  assert(Math.round(flagged / 2 ** 20) === 518, `heap limit ${flagged}`);
  assert(!defaultHeapSizing(flagged), "the small heap is not default sizing");
  assert(flaggedAfter === flagged, "setFlagsFromString changed the limit");
  const [plain, plainAfter] = await limits([]);
  assert(plainAfter === plain, "setFlagsFromString changed the default limit");
  assert(defaultHeapSizing(4192 * 2 ** 20) && !defaultHeapSizing(1030 * 2 ** 20), "threshold");
});

Deno.test("deno task icn and the systemd unit's release binary start icn with the small-heap V8 flags", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)).tasks;
  const task = String(tasks.icn).split(" ");
  const at = task.indexOf(`--v8-flags=${v8HeapFlags}`);
  assert(at > 0 && at < task.indexOf("cli/main.ts"), `deno task icn: ${tasks.icn}`);
  const unit = await Deno.readTextFile(`${root}/scripts/icn-node.service`);
  assert(unit.includes("ExecStart=/usr/local/bin/icn "), "the unit runs the installed binary");
  assert(unit.includes(v8HeapFlags), "the unit names the flags its binary is compiled with");
});

Deno.test("resolveDenort() takes DENORT_BIN_<TARGET>, DENORT_BIN for the host, or a pre-seeded zip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = await standInBase(dir);
    const zip = denortZipPath(dir, "aarch64-apple-darwin", "2.9.6");
    await Deno.mkdir(zip.slice(0, zip.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(zip, new Uint8Array([0x50, 0x4b, 5, 6])); // stand-in zip, never opened here
    const sources = await resolveDenort(
      ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"],
      { DENORT_BIN: base, [denortEnvName("x86_64-pc-windows-msvc")]: base },
      { denoDir: dir, denoVersion: "2.9.6", hostTarget: "x86_64-unknown-linux-gnu" },
    );
    assert(sources.get("x86_64-unknown-linux-gnu")?.kind === "bin", "host from DENORT_BIN");
    assert(sources.get("aarch64-apple-darwin")?.path === zip, "darwin from the zip");
    const windows = sources.get("x86_64-pc-windows-msvc");
    assert(
      windows?.kind === "bin" && windows.from === "DENORT_BIN_X86_64_PC_WINDOWS_MSVC",
      "per target",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolveDenort() names every missing target and all three ways to provide denort", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let error: unknown;
    try {
      await resolveDenort(["aarch64-unknown-linux-gnu", "x86_64-apple-darwin"], {}, {
        denoDir: dir,
        denoVersion: "2.9.6",
        hostTarget: "x86_64-unknown-linux-gnu",
      });
    } catch (e) {
      error = e;
    }
    assert(error instanceof ReleaseError, String(error));
    const message = error.message;
    for (
      const part of [
        "aarch64-unknown-linux-gnu, x86_64-apple-darwin",
        "DENORT_BIN",
        "DENORT_BIN_AARCH64_UNKNOWN_LINUX_GNU",
        `${dir}/dl/release/v2.9.6/`,
      ]
    ) assert(message.includes(part), `message lacks "${part}": ${message}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile without a base runtime stops with one clear message and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/dist`;
    const result = await runCompile(["--target", "aarch64-unknown-linux-gnu", "--out-dir", out], {
      DENO_DIR: `${dir}/deno-dir`,
    });
    assert(result.code === 1, `exit ${result.code}: ${result.stderr}`);
    const lines = result.stderr.trim().split("\n");
    assert(lines.length === 1 && lines[0].startsWith("error: Cannot compile for"), result.stderr);
    assert(lines[0].includes("DENORT_BIN"), result.stderr);
    assert(!(await exists(out)), "no dist/ left behind");
    assert(
      (await Array.fromAsync(Deno.readDir(dir))).every((e) => e.name === "deno-dir"),
      "no partial dir",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile rejects an unknown target before doing anything", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await runCompile(["--target", "riscv64-linux", "--out-dir", `${dir}/dist`], {});
    assert(result.code === 1, `exit ${result.code}`);
    assert(result.stderr.includes(`unknown target "riscv64-linux"`), result.stderr);
    assert(result.stderr.includes("x86_64-unknown-linux-gnu"), "lists the valid targets");
    assert(!(await exists(`${dir}/dist`)), "no dist/");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile with a STAND-IN base binary embeds KV, permissions and build metadata, reproducibly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = await standInBase(dir);
    const checkout = await cloneCheckout(dir);
    const outputs: Uint8Array[] = [];
    for (const out of [`${dir}/dist1`, `${dir}/dist2`]) {
      const result = await runCompile(
        ["--target", hostTarget, "--out-dir", out, "--no-check"],
        { DENORT_BIN: base },
        { checkout },
      );
      assert(result.code === 0, result.stderr);
      const names = (await Array.fromAsync(Deno.readDir(out))).map((e) => e.name);
      const version = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)).version;
      const name = `icn-${version}-${hostTarget}${hostTarget.includes("windows") ? ".exe" : ""}`;
      assert(names.length === 1 && names[0] === name, `outputs ${names}`);
      assert(result.stderr.includes("MiB") || result.stderr.includes("KiB"), "reports the size");
      outputs.push(await Deno.readFile(`${out}/${name}`));
    }
    const [binary, again] = outputs;
    assert(
      binary.length === again.length && binary.every((b, i) => b === again[i]),
      "same commit + same base → byte-identical binary",
    );
    const metadata = embeddedMetadata(binary);
    assert(metadata.entrypoint_key === "cli/main.ts", `entry ${metadata.entrypoint_key}`);
    const unstable = metadata.unstable_config as { features: string[] };
    assert(unstable.features.includes("kv"), "Deno KV enabled");
    // Deno's own defaults come first; ours last, so they win.
    const baked = metadata.v8_flags as string[];
    assert(
      JSON.stringify(baked.slice(-2)) === JSON.stringify(v8HeapFlags.split(",")),
      `V8 flags baked in: ${JSON.stringify(baked)}`,
    );
    const permissions = metadata.permissions as Record<string, unknown>;
    for (
      const name of [
        "allow_read",
        "allow_write",
        "allow_env",
        "allow_net",
        "allow_sys",
        "allow_run",
      ]
    ) {
      const granted = permissions[name];
      assert(
        Array.isArray(granted) && granted.length === 0,
        `${name} is granted unscoped: ${granted}`,
      );
    }
    assert(permissions.allow_ffi === null, "no FFI");
    const text = new TextDecoder("latin1").decode(binary);
    assert(
      text.includes(`"commit":"${await headCommit(checkout)}"`),
      "commit embedded in build_info",
    );
    assert(text.includes(`"source":"compiled"`), "build marked compiled");
    // (deno compile 2.9.6 itself keeps npm cache paths in CJS-analysis error strings of
    // non-JS files such as LICENSE; those are not ours to remove.)
    assert(!text.includes(`${checkout}/`), `no path of the checkout (${checkout})`);
    assert(!text.includes("icn-build-"), "no path of the isolated build dir");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildInfoSource() writes a module with the same shape as cli/build_info.ts", async () => {
  const source = buildInfoSource({ version: "9.9.9", commit: "abc", date: "2026-01-01T00:00:00Z" });
  const module = await import(`data:application/typescript;base64,${btoa(source)}`);
  assert(module.buildInfo.version === "9.9.9" && module.buildInfo.source === "compiled", source);
});

Deno.test("deno task install runs deno install --global with KV and the release permissions", () => {
  const args = installArgs({ root: "/opt/icn" });
  assert(
    args[0] === "install" && args.includes("--global") && args.includes("--force"),
    "install -g -f",
  );
  assert(args[args.indexOf("--name") + 1] === "icn", "named icn");
  assert(args[args.indexOf("--config") + 1] === `${root}/deno.json`, "project config");
  assert(args.includes("--unstable-kv"), "KV");
  assert(args.includes("--unstable-lazy-dynamic-imports"), "loads only the modules a command runs");
  assert(args.includes(`--v8-flags=${v8HeapFlags}`), "small V8 heap");
  for (const permission of bakedPermissions) assert(args.includes(permission), permission);
  assert(args[args.indexOf("--root") + 1] === "/opt/icn", "root");
  assert(args.at(-1) === `${root}/cli/main.ts`, "entry point");
});

const realDenort = Deno.env.get("DENORT_BIN");
Deno.test({
  name: "a binary compiled with the real denort runs icn version, id init and id show",
  ignore: !realDenort,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const checkout = await cloneCheckout(dir);
      const result = await runCompile(
        ["--target", hostTarget, "--out-dir", `${dir}/dist`, "--no-check"],
        { DENORT_BIN: realDenort! },
        { checkout },
      );
      assert(result.code === 0, result.stderr);
      const [entry] = await Array.fromAsync(Deno.readDir(`${dir}/dist`));
      const binary = `${dir}/dist/${entry.name}`;
      const icn = async (args: string[]) => {
        const output = await new Deno.Command(binary, {
          args: ["--data-dir", `${dir}/home`, ...args],
          env: { ICN_PASSPHRASE: "compiled binary test", ICN_SCRYPT_LOG_N: "10" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = new TextDecoder().decode(output.stdout);
        assert(output.success, `${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
        return stdout;
      };
      const version = JSON.parse(await icn(["--json", "version"]));
      assert(
        version.build === "compiled" && version.commit === await headCommit(checkout),
        "version",
      );
      assert(version.target === hostTarget, "target");
      const init = JSON.parse(await icn(["--json", "id", "init"]));
      const show = JSON.parse(await icn(["--json", "id", "show"]));
      assert(typeof init.did === "string" && show.did === init.did, "id init / show");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("icn version --json reports icn, commit, Deno/V8/TypeScript and target from a checkout", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}/cli/main.ts`, "--json", "version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(output.success, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout));
  const version = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)).version;
  assert(info.icn === version && info.build === "source", JSON.stringify(info));
  assert(info.commit === await headCommit(), `commit ${info.commit}`);
  assert(info.deno === Deno.version.deno && info.v8 === Deno.version.v8, "Deno and V8");
  assert(info.typescript === Deno.version.typescript && info.target === hostTarget, "TS, target");
  const text = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}/cli/main.ts`, "version"],
    stdout: "piped",
  }).output();
  const first = new TextDecoder().decode(text.stdout).split("\n")[0];
  assert(first.startsWith(`icn ${version} (source, commit ${info.commit.slice(0, 12)}`), first);
});
