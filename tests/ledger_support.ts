/** Helpers for the ledger's CLI tests: run `icn` (in-process or as a subprocess), set up a small cooperative. */
import { icn as runIcn } from "./_cli.ts";

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const cliEnv = { ICN_PASSPHRASE: "correct horse battery", ICN_SCRYPT_LOG_N: "10" };

/** Runs `icn --data-dir DIR ARGS...` (in-process where it can, `./_cli.ts`) and returns its exit code and output. */
export async function icn(dir: string, ...args: string[]): Promise<RunResult> {
  const { code, stdout, stderr } = await runIcn(["--data-dir", dir, ...args], { env: cliEnv });
  return { code, stdout, stderr };
}

/** Like `icn`, always as its own process (processes racing on one data dir). */
export async function icnProcess(dir: string, ...args: string[]): Promise<RunResult> {
  const { code, stdout, stderr } = await runIcn(["--data-dir", dir, ...args], {
    env: cliEnv,
    process: true,
  });
  return { code, stdout, stderr };
}

/** Like `icn` but fails on a non-zero exit; returns stdout. */
export async function icnOk(dir: string, ...args: string[]): Promise<string> {
  const result = await icn(dir, ...args);
  if (result.code !== 0) {
    throw new Error(`icn ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return result.stdout;
}

/** Starts a child `icn` process (for concurrency and crash tests). */
export function spawnIcn(dir: string, ...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", mainPath, "--data-dir", dir, ...args],
    env: cliEnv,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

export interface Coop {
  root: string;
  dirs: string[];
  dids: string[];
  genesisPath: string;
}

/**
 * `n` identities in their own data dirs, a genesis with all of them as
 * founders (`sets` are `--set KEY=VALUE` parameters), signed and joined by
 * each, and every KEL inception exchanged so each dir knows every member.
 */
export async function setupCoop(n: number, sets: string[] = []): Promise<Coop> {
  const root = await Deno.makeTempDir({ prefix: "icn-ledger-" });
  const dirs = Array.from({ length: n }, (_, i) => `${root}/m${i}`);
  const dids = await Promise.all(dirs.map(async (dir) => {
    await icnOk(dir, "id", "init");
    return JSON.parse(await icnOk(dir, "--json", "id", "show")).did as string;
  }));
  const genesisPath = `${root}/genesis.json`;
  await icnOk(
    dirs[0],
    "governance",
    "genesis",
    "create",
    "--name",
    "Test coop",
    ...dids.flatMap((did) => ["--member", did]),
    ...sets.flatMap((s) => ["--set", s]),
    "--out",
    genesisPath,
  );
  for (const dir of dirs) await icnOk(dir, "governance", "genesis", "sign", genesisPath);
  await Promise.all(dirs.map((dir) => icnOk(dir, "governance", "join", genesisPath)));
  await exchange(dirs);
  return { root, dirs, dids, genesisPath };
}

/** Every dir exports everything it has; every dir imports every other's bundle. */
export async function exchange(dirs: string[]): Promise<void> {
  const bundles = await Promise.all(dirs.map(async (dir, i) => {
    const path = `${dir}/../bundle-${i}.car`;
    await icnOk(dir, "node", "export", "--out", path);
    return path;
  }));
  await Promise.all(dirs.map(async (dir, i) => {
    for (let j = 0; j < bundles.length; j++) {
      if (j !== i) await icnOk(dir, "node", "import", bundles[j]);
    }
  }));
}
