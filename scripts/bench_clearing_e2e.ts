/**
 * `deno task bench:clearing:e2e`: payments across cooperatives end to end on loopback, against
 * the same run's payments inside a cooperative. Four `icn node run` processes in temporary data
 * dirs: Alpha {a1, a2} and Beta {b1, b2}, every node serving its cooperative and the federation,
 * the clearing agent (`federation.agent`) on the delegates' nodes a1 and b1; agreement limit
 * 1,000,000, rates 1 (the set-up of tests/clearing_nodes_test.ts, built by
 * tests/_federation_world.ts; the clock stepped past the voting periods with
 * `ICN_TEST_CLOCK_OFFSET_MS`).
 *
 * Measured, one payment after another, each with `icn ledger transfer` through a2's running
 * node: first `--inside` payments a2 → a1 (Alpha), then `--payments` payments a2 → b2
 * (`--coop Beta`). A payment's latency runs from the start of its `transfer` command to the
 * moment its credit is in the payee's own node's store (a1's for Alpha, b2's for Beta; polled
 * every 25 ms); payments/s is the count over the time from the first command's start to the last
 * credit. Commands are issued without waiting for credits, so cross-cooperative payments overlap.
 * Prints a markdown report (date, commit, load before and after) on stdout, progress on stderr.
 * The commands run in this process (tests/_cli.ts, `ICN_TEST_CLI=in-process`, the default here),
 * so what is measured is the nodes' work rather than `deno` starting; `ICN_TEST_CLI=process`
 * spawns one `icn` process per command instead.
 */
import { KvStore } from "../core/store/kv_store.ts";
import { readHistoryRange } from "../core/ledger/history.ts";
import { type Account, type HistoryEntry, ledgerKeys } from "../core/ledger/keys.ts";
import {
  createFederationWorld,
  fullCreditSets,
  quickDelegatesSets,
  transferArgs,
} from "../tests/_federation_world.ts";
import { waitFor } from "../tests/_node_fixture.ts";
import { nodeInfo, spawnNodeWithEnv } from "../tests/_node_process.ts";
import { parseScriptArgs, scriptSpec, wholeNumberArg } from "./_args.ts";

const usage = scriptSpec({
  usage: "deno task bench:clearing:e2e [--payments N] [--inside N] [--timeout-s S]",
  description:
    "Cross-cooperative payments end to end on four loopback nodes with the clearing agent,\n" +
    "against in-cooperative payments in the same run (a markdown report on stdout).",
  options: {
    payments: { type: "string", value: "N", description: "cross-cooperative payments (20)" },
    inside: { type: "string", value: "N", description: "in-cooperative payments (20)" },
    "timeout-s": {
      type: "string",
      value: "S",
      description: "longest wait for one phase's credits (300)",
    },
  },
});
const { values: flags } = parseScriptArgs(usage);
if (Deno.env.get("ICN_TEST_CLI") === undefined) Deno.env.set("ICN_TEST_CLI", "in-process");
// Imported after the mode is chosen: tests/_cli.ts reads it once.
const { icn } = await import("../tests/_cli.ts");
const crossCount = wholeNumberArg(usage, flags.payments, {
  name: "--payments",
  fallback: 20,
  max: 500,
});
const insideCount = wholeNumberArg(usage, flags.inside, {
  name: "--inside",
  fallback: 20,
  max: 500,
});
const phaseTimeoutMs = 1000 *
  wholeNumberArg(usage, flags["timeout-s"], { name: "--timeout-s", fallback: 300, max: 1800 });
/** Set-up waits (nodes starting and syncing) on a loaded 2-core machine. */
const setupWaitMs = 120_000;
/** How often the payee's store is read for new credits. */
const pollMs = 25;
/** A node still running this long after SIGTERM is killed. */
const stopMs = 20_000;

const encoder = new TextEncoder();
const log = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));
const loadavg = async () =>
  (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3).join(" ");

const names = ["a1", "a2", "b1", "b2"] as const;
type Name = typeof names[number];
const coopOf = (n: Name) => (n.startsWith("a") ? "Alpha" : "Beta");
const agents: Name[] = ["a1", "b1"];

const root = await Deno.makeTempDir({ prefix: "icn-bench-clearing-e2e-" });
const home = Object.fromEntries(names.map((n) => [n, `${root}/${n}`])) as Record<Name, string>;
const nodes = new Map<Name, Deno.ChildProcess>();
let offsetMs = 0;

async function cli<T = Record<string, unknown>>(n: Name, args: string[]): Promise<T> {
  const run = await icn(["--json", "--data-dir", home[n], ...args], {
    env: { ICN_TEST_CLOCK_OFFSET_MS: String(offsetMs) },
  });
  if (run.code !== 0) {
    throw new Error(`icn ${args.join(" ")} (${n}) exited ${run.code}: ${run.stderr}`);
  }
  return run.json<T>();
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** The store file of `net` in data dir `n` (the first network joined is `icn.kv`). */
async function storeFile(n: Name, net: string): Promise<string> {
  const other = `${home[n]}/networks/${net}.kv`;
  try {
    await Deno.stat(other);
    return other;
  } catch {
    return `${home[n]}/icn.kv`;
  }
}

/**
 * Runs `count` payments from a2, one command after another, while reading the payee's store for
 * credits; `creditKey` names the credit a history entry is for (the key `transfer` printed).
 */
async function measure(
  phase: string,
  count: number,
  payee: Name,
  args: (i: number) => string[],
  creditKey: (entry: HistoryEntry) => string | undefined,
  keyOf: (printed: { id: string; cid: string }) => string,
) {
  const store = await KvStore.open(await storeFile(payee, nets[coopOf(payee)]));
  const started = new Map<string, number>();
  const credited = new Map<string, number>();
  const commandMs: number[] = [];
  let done = false;
  const poller = (async () => {
    while (!done) {
      const count = (await store.get<Account>(ledgerKeys.account(currency, did[payee])))?.value
        .count ?? 0;
      for (const entry of await readHistoryRange(store, currency, did[payee], 0, count - 1)) {
        const key = creditKey(entry);
        if (key !== undefined && !credited.has(key)) credited.set(key, performance.now());
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  })();
  try {
    const first = performance.now();
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      const printed = await cli<{ id: string; cid: string }>("a2", args(i));
      commandMs.push(performance.now() - start);
      started.set(keyOf(printed), start);
    }
    await waitFor(
      `${phase}: ${count} credits at ${payee}`,
      () => [...started.keys()].every((k) => credited.has(k)),
      phaseTimeoutMs,
    );
    const last = Math.max(...credited.values());
    const latencies = [...started].map(([k, t]) => credited.get(k)! - t);
    return {
      count,
      rate: count / ((last - first) / 1000),
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      commandP50: percentile(commandMs, 0.5),
    };
  } finally {
    done = true;
    await poller;
    store.close();
  }
}

const did = {} as Record<Name, string>;
const nets: Record<string, string> = {};
const currency = "hours";
const loadBefore = await loadavg();
const commit = new TextDecoder().decode(
  (await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"], stderr: "null" })
    .output().catch(() => ({ stdout: new TextEncoder().encode("?") }))).stdout,
).trim() || "?";
const cliMode = Deno.env.get("ICN_TEST_CLI") === "in-process" ? "in-process" : "a process each";

try {
  log("set-up: identities, two cooperatives, a federation, delegates, an agreement");
  const world = await createFederationWorld(cli, {
    root,
    names,
    coops: [{ name: "Alpha", founders: ["a1", "a2"] }, { name: "Beta", founders: ["b1", "b2"] }],
    sets: [
      ...quickDelegatesSets,
      ...fullCreditSets,
      // Above the default 100 transfers an hour, which a run of a few hundred payments would pass.
      ...["isolated", "known", "partner", "federated"].map((c) => `policy.${c}.velocity=2000`),
    ],
    federation: { name: "Bench federation", sets: ["federation.clearing.votingPeriod=1h"] },
    agreement: { limit: "1000000", rate: "1", partnerRate: "1" },
  });
  Object.assign(did, world.did);
  Object.assign(nets, world.nets);
  offsetMs = world.decidedAt + 2000 - Date.now();

  log("starting four nodes (agents on a1 and b1)");
  const listen: string[] = [];
  const start = async (n: Name) => {
    const env: Record<string, string> = { ICN_TEST_CLOCK_OFFSET_MS: String(offsetMs) };
    if (agents.includes(n)) env.ICN_FEDERATION_AGENT = "true";
    const child = spawnNodeWithEnv(home[n], env, ...listen.flatMap((a) => ["--bootstrap", a]));
    nodes.set(n, child);
    // Drained so the pipe never fills.
    child.stderr.pipeTo(new WritableStream()).catch(() => {});
    const info = await nodeInfo(home[n]);
    listen.push(info.listen.find((addr) => addr.startsWith("/ip4/127.0.0.1/"))!);
  };
  await start("a1");
  await start("b1");
  await Promise.all([start("a2"), start("b2")]);
  await waitFor("the agreement in force on every node", async () => {
    const seen = await Promise.all(
      names.map((n) =>
        cli<{ positions: { limit: string | null }[] }>(n, ["federation", "positions"])
      ),
    );
    return seen.every((s) => s.positions.length === 1 && s.positions[0].limit !== null);
  }, setupWaitMs);
  await waitFor("a2 holds Alpha's delegates (its payments can be posted)", async () => {
    const shown = await icn([
      "--json",
      "--data-dir",
      home.a2,
      ...transferArgs({ net: "Alpha", to: did.b2, coop: "Beta", amount: "1", id: "warm-up" }),
    ], { env: { ICN_TEST_CLOCK_OFFSET_MS: String(offsetMs) } });
    return shown.code === 0;
  }, setupWaitMs);
  // The warm-up payment reaches b2 before measuring (every step has run once).
  await waitFor("the warm-up payment is credited to b2", async () => {
    const b = await cli<{ balance: string }>("b2", ["ledger", "balance", "--net", "Beta"]);
    return b.balance !== "0.00";
  }, setupWaitMs);

  log(`in-cooperative: ${insideCount} payments a2 → a1`);
  const inside = await measure(
    "inside Alpha",
    insideCount,
    "a1",
    (i) => transferArgs({ net: "Alpha", to: did.a1, amount: "1", id: `in-${i}` }),
    (entry) => (entry.from === did.a2 ? entry.id : undefined),
    (printed) => printed.id,
  );
  log(`cross-cooperative: ${crossCount} payments a2 → b2`);
  const cross = await measure(
    "Alpha to Beta",
    crossCount,
    "b2",
    (i) => transferArgs({ net: "Alpha", to: did.b2, coop: "Beta", amount: "1", id: `x-${i}` }),
    // The agent's credit names the payment (the CID of the member's pending) in its memo.
    (entry) => /^clearing payment (\S+) from /.exec(entry.memo)?.[1],
    (printed) => printed.cid,
  );
  const loadAfter = await loadavg();
  const row = (what: string, m: typeof inside) =>
    `| ${what} | ${m.count} | ${m.rate.toFixed(2)} | ${m.p50.toFixed(0)} | ${m.p99.toFixed(0)} | ${
      m.commandP50.toFixed(0)
    } |`;
  Deno.stdout.writeSync(encoder.encode(
    [
      `## Clearing end to end (${
        new Date().toISOString().slice(0, 10)
      }, ${commit}, load ${loadBefore} before, ${loadAfter} after)`,
      "",
      "Four `icn node run` processes on loopback, agents on both delegates' nodes; one `icn ledger",
      `transfer\` after another through the payer's node (commands ${cliMode}); latency from the`,
      "command's start to the credit in the payee's node's store.",
      "",
      "| payments | count | payments/s | p50 ms | p99 ms | transfer command p50 ms |",
      "| --- | --- | --- | --- | --- | --- |",
      row("inside Alpha (a2 → a1)", inside),
      row("Alpha → Beta (a2 → b2, clearing)", cross),
      "",
      `Cross-cooperative rate ÷ in-cooperative rate: ${(cross.rate / inside.rate).toFixed(2)}.`,
      "",
    ].join("\n"),
  ));
} finally {
  // SIGTERM, then SIGKILL after `stopMs` (stderr is drained above, so not `stopWithin`).
  await Promise.all([...nodes.values()].map(async (child) => {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), stopMs);
    await child.status;
    clearTimeout(timer);
  }));
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
