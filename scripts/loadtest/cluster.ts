/**
 * Real `icn node run` processes for the load test, on loopback: a cooperative whose founders are
 * the nodes' own identities and the simulated members, each node with the gateway on
 * `127.0.0.1:0`. The members are deterministic test identities (core/testing.ts) whose keys the
 * load generator holds, as each member's app would; their inceptions are imported into every
 * node's store before it starts. The nodes' keystores are throwaway: low scrypt work
 * (`ICN_SCRYPT_LOG_N=10`) and a fixed passphrase, so that set-up takes seconds.
 */
import { ingest } from "../../core/chain/ingest.ts";
import {
  addGenesisSignature,
  createGenesis,
  type GenesisFile,
  genesisId,
  genesisSigningBytes,
  serializeGenesisFile,
} from "../../core/governance/genesis.ts";
import { signEd25519 } from "../../core/identity/keys.ts";
import { createKindRegistry } from "../../core/kinds.ts";
import { KvStore } from "../../core/store/kv_store.ts";
import { type TestIdentity, testIdentity } from "../../core/testing.ts";

const mainPath = new URL("../../cli/main.ts", import.meta.url).pathname;
const configPath = new URL("../../deno.json", import.meta.url).pathname;

/** The environment of the throwaway keystores (never use these for a real identity). */
export const throwawayEnv = {
  ICN_PASSPHRASE: "loadtest throwaway",
  ICN_SCRYPT_LOG_N: "10",
  NO_COLOR: "1",
};

/** The first member's seed: members are `testIdentity(memberSeed + i)`. */
export const memberSeed = 100_000;

/**
 * The cooperative's parameters: the hourly transfer caps (10 transfers an hour for a new member)
 * and the credit ramp are lifted, since they are per-member rules, not the server's capacity;
 * every other parameter is the default.
 */
export const loadParams = {
  ...Object.fromEntries(
    ["isolated", "known", "partner", "federated"].map((c) => [`policy.${c}.velocity`, 1_000_000]),
  ),
  "credit.rampStart": 100,
};

/** The simulated members `0 .. count-1` (deterministic: the same for every run). */
export function members(count: number, ts: number): Promise<TestIdentity[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => testIdentity(memberSeed + i, ts)));
}

async function icn(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", configPath, mainPath, "--data-dir", dir, ...args],
    env: throwawayEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(
      `icn ${args.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

export interface Prepared {
  root: string;
  dirs: string[];
  nodeDids: string[];
  members: TestIdentity[];
  net: string;
  currency: string;
}

/**
 * Prepares `nodes` data dirs under `root`: each node's identity (`icn id init`), one genesis
 * signed by all founders (`icn governance genesis sign` for the nodes, in process for the
 * members), `icn governance join`, and the members' inceptions imported into each store.
 */
export async function prepareNodes(
  root: string,
  options: { nodes: number; users: number; log: (line: string) => void },
): Promise<Prepared> {
  const now = Date.now();
  const dirs = Array.from({ length: options.nodes }, (_, i) => `${root}/node${i + 1}`);
  options.log(`setting up ${options.nodes} node(s) and ${options.users} members in ${root}`);
  const nodeDids = await Promise.all(dirs.map(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    await icn(dir, "id", "init");
    return JSON.parse(await icn(dir, "--json", "id", "show")).did as string;
  }));
  const people = await members(options.users, now - 60_000);
  const genesis = createGenesis({
    name: "Load test",
    members: [...nodeDids, ...people.map((m) => m.did)],
    created: now - 120_000,
    params: loadParams,
  });
  const net = await genesisId(genesis);
  let file: GenesisFile = { id: net, genesis, signatures: [] };
  const bytes = genesisSigningBytes(genesis);
  for (const m of people) {
    file = addGenesisSignature(file, m.did, await signEd25519(m.ed25519, bytes));
  }
  const path = `${root}/genesis.json`;
  await Deno.writeTextFile(path, serializeGenesisFile(file));
  for (const dir of dirs) await icn(dir, "governance", "genesis", "sign", path);
  await Promise.all(dirs.map((dir) => icn(dir, "governance", "join", path)));
  for (const dir of dirs) {
    const store = await KvStore.open(`${dir}/icn.kv`);
    try {
      const deps = { store, clock: { now: () => Date.now() }, kinds: createKindRegistry() };
      const outcomes = await ingest(deps, people.map((m) => m.inception), { source: "import" });
      const refused = outcomes.filter((o) => o.status !== "accepted" && o.status !== "duplicate");
      if (refused.length > 0) {
        throw new Error(`importing members' inceptions: ${JSON.stringify(refused[0])}`);
      }
    } finally {
      store.close();
    }
  }
  return { root, dirs, nodeDids, members: people, net, currency: genesis.currencies[0].code };
}

export interface RunningNode {
  dir: string;
  gateway: string;
  child: Deno.ChildProcess;
  /** The node's stderr (warnings and errors), collected while it runs. */
  stderr: () => string;
}

/** The command line a prepared node is started with (also printed by `--prepare`). */
export function nodeArgs(dir: string, bootstrap?: string): string[] {
  return [
    "run",
    "-A",
    "--config",
    configPath,
    // the memory limits of `deno task icn`
    "--v8-flags=--max-semi-space-size=2,--max-old-space-size=512",
    mainPath,
    "--data-dir",
    dir,
    "node",
    "run",
    "--profile",
    "test",
    "--log-level",
    "warn",
    "--gateway",
    "127.0.0.1:0",
    ...(bootstrap === undefined ? [] : ["--bootstrap", bootstrap]),
  ];
}

/**
 * The environment of a load-test node: the throwaway keystore's, and loopback as a trusted proxy,
 * so that each simulated member's sign-in counts against its own address (sent as
 * `X-Forwarded-For`) rather than all against 127.0.0.1.
 */
export const nodeEnv = { ...throwawayEnv, ICN_GATEWAY_TRUSTED_PROXIES: "127.0.0.1" };

async function waitForNodeJson(
  dir: string,
  child: Deno.ChildProcess,
  deadlineMs: number,
): Promise<{ gateway: string; listen: string[] }> {
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadlineMs) {
    try {
      const info = JSON.parse(await Deno.readTextFile(`${dir}/node.json`));
      if (typeof info.gateway === "string" && info.gateway !== "") return info;
    } catch {
      // not written yet
    }
    if (exited) throw new Error(`the node of ${dir} exited before serving its gateway`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the node of ${dir} did not serve its gateway within the start deadline`);
}

function spawn(dir: string, bootstrap?: string): RunningNode & { drained: Promise<void> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: nodeArgs(dir, bootstrap),
    env: nodeEnv,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Drain stderr as it comes (a full pipe would block the node), keeping the last 64 KiB.
  let text = "";
  const decoder = new TextDecoder();
  const drained = child.stderr.pipeTo(
    new WritableStream({
      write(chunk) {
        text = (text + decoder.decode(chunk, { stream: true })).slice(-65_536);
      },
    }),
  ).catch(() => {});
  return { dir, gateway: "", child, stderr: () => text, drained };
}

/** Starts the prepared nodes (the first, then the others bootstrapping to it). */
export async function startNodes(
  prepared: Prepared,
  options: { startTimeoutMs?: number } = {},
): Promise<{ nodes: RunningNode[]; stop: () => Promise<void> }> {
  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  const started: (RunningNode & { drained: Promise<void> })[] = [];
  const stop = async () => {
    for (const node of started) {
      try {
        node.child.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
    for (const node of started) {
      const timer = setTimeout(() => {
        try {
          node.child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 15_000);
      await node.child.status;
      clearTimeout(timer);
      await node.drained;
    }
  };
  try {
    const first = spawn(prepared.dirs[0]);
    started.push(first);
    const info = await waitForNodeJson(first.dir, first.child, deadline);
    first.gateway = info.gateway;
    const bootstrap = info.listen.find((addr) => addr.startsWith("/ip4/127.0.0.1/"));
    for (const dir of prepared.dirs.slice(1)) started.push(spawn(dir, bootstrap));
    for (const node of started.slice(1)) {
      node.gateway = (await waitForNodeJson(node.dir, node.child, deadline)).gateway;
    }
  } catch (error) {
    await stop();
    const logs = started.map((n) => `${n.dir}:\n${n.stderr().slice(-2000)}`).join("\n");
    throw new Error(`${(error as Error).message}\n${logs}`);
  }
  return { nodes: started, stop };
}
