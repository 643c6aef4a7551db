/**
 * `icn node run` as real processes in temporary data dirs: start, find, query and stop them,
 * and set up a small cooperative of several data dirs. Shared by the multi-process tests.
 */
import { icn as icnRun } from "./_cli.ts";
import { waitFor } from "./_node_fixture.ts";

export const icn = (dir: string, ...args: string[]) => icnRun(["--data-dir", dir, ...args]);

export async function ok(dir: string, ...args: string[]): Promise<string> {
  const run = await icn(dir, ...args);
  if (run.code !== 0) throw new Error(`icn ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;
const configPath = new URL("../deno.json", import.meta.url).pathname;

export function spawnNode(dir: string, ...args: string[]): Deno.ChildProcess {
  return spawnNodeWithEnv(dir, {}, ...args);
}

export async function nodeInfo(dir: string): Promise<{ url: string; listen: string[] }> {
  let info: { url: string; listen: string[] } | undefined;
  await waitFor(`node.json in ${dir}`, async () => {
    try {
      info = JSON.parse(await Deno.readTextFile(`${dir}/node.json`));
      return true;
    } catch {
      return false;
    }
  }, 30_000);
  return info!;
}

export async function status(
  dir: string,
): Promise<{ envelopes: number; peers: { did: string | null }[] }> {
  return JSON.parse(await ok(dir, "--json", "node", "status"));
}

export async function stopWithin(
  child: Deno.ChildProcess,
  ms: number,
): Promise<{ code: number; elapsed: number }> {
  const started = Date.now();
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), ms + 5000);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, elapsed: Date.now() - started };
}

/** Identities in `dirs` that found one cooperative together and join it; returns their DIDs. */
export async function foundCooperative(root: string, dirs: string[]): Promise<string[]> {
  const dids = await Promise.all(dirs.map(async (dir) => {
    await ok(dir, "id", "init");
    return JSON.parse(await ok(dir, "--json", "id", "show")).did as string;
  }));
  const genesis = `${root}/genesis.json`;
  await ok(
    dirs[0],
    "governance",
    "genesis",
    "create",
    "--name",
    "Node coop",
    ...dids.flatMap((d) => ["--member", d]),
    "--out",
    genesis,
  );
  for (const dir of dirs) await ok(dir, "governance", "genesis", "sign", genesis);
  await Promise.all(dirs.map((dir) => ok(dir, "governance", "join", genesis)));
  return dids;
}

/** Stops every node still running (SIGKILL), for `finally` blocks. */
export async function killAll(children: Iterable<Deno.ChildProcess>): Promise<void> {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
      await child.output();
    } catch {
      // already gone
    }
  }
}

/** The standing (ok, quarantined, banned) in which `dir`'s running node holds `did`'s peer. */
export async function standingOf(dir: string, did: string): Promise<string | undefined> {
  const peers = JSON.parse(await ok(dir, "--json", "node", "peers")) as {
    did: string | null;
    standing?: string;
  }[];
  return peers.find((p) => p.did === did)?.standing;
}

/** Stops every node in `nodes` with SIGTERM, each exiting 0 within 10 s, and forgets it. */
export async function stopAll(nodes: Map<string, Deno.ChildProcess>): Promise<void> {
  for (const [dir, child] of [...nodes]) {
    const { code } = await stopWithin(child, 10_000);
    if (code !== 0) throw new Error(`node of ${dir} exited ${code} on SIGTERM`);
    nodes.delete(dir);
  }
}

/** `spawnNode` with extra environment (e.g. `ICN_TEST_CLOCK_OFFSET_MS` to step the node's clock). */
export function spawnNodeWithEnv(
  dir: string,
  env: Record<string, string>,
  ...args: string[]
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      configPath,
      mainPath,
      "--data-dir",
      dir,
      "node",
      "run",
      "--profile",
      "test",
      "--log-level",
      "warn",
      ...args,
    ],
    env: { ICN_PASSPHRASE: "correct horse", ICN_SCRYPT_LOG_N: "10", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** The value of counter `name` with label `net="<net>"` in a running node's `/metrics` (0 if absent). */
export async function netCounter(url: string, name: string, net: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{net="${net}"}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}
