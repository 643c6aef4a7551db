/**
 * Several networks on one node (issue 16, "Benchmark"): a node serving 5 networks ingests and
 * forwards at ≥ 0.8 of the throughput of a node serving one, measured in the same run.
 *
 * Two pairs of in-process nodes over loopback TCP, every network on its own Deno KV store as
 * `icn node run` keeps them (`IcnNode.create` with `networks: [...]`):
 * - baseline: sender and receiver sharing 1 network;
 * - compared: sender and receiver each serving 5 networks, two ways:
 *   - spread: the same total of N envelopes, N/5 in each network, published interleaved (what a
 *     busy federated node sees: 5 write lanes, 5 topics, 5 validators at once);
 *   - one busy: N envelopes in one network while the 4 others are idle (the cost of merely
 *     serving them: their topics, heads, maintenance).
 * The sender publishes N pre-signed envelopes (trust edges) as fast as it can (it holds them, so
 * that what gossip loses the receiver fetches by sync, as between real nodes); the figure is
 * envelopes/s until the receiver accepted the last one. The gossip validator accepts (validates
 * and stores) an envelope before gossipsub forwards it, so this is the rate at which the receiver
 * would forward too. The three are measured in alternating rounds so load from other processes
 * hits them alike, after one unmeasured pass of each; the best round of each counts.
 *
 * `deno run -A scripts/bench_networks.ts [--envelopes N] [--rounds R] [--timeout-s S]` prints a
 * markdown report on stdout (progress on stderr).
 */
import { ingest } from "../core/chain/ingest.ts";
import { type SealedEnvelope, sealEnvelope } from "../core/envelope/envelope.ts";
import { createGenesis, genesisId } from "../core/governance/genesis.ts";
import { joinNetwork } from "../core/governance/join.ts";
import { createKindRegistry } from "../core/kinds.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { type TestIdentity, testIdentity } from "../core/testing.ts";
import { defaultConfig } from "../net/config.ts";
import { IcnNode } from "../net/node.ts";
import { quietLogger, systemClock, waitFor } from "../tests/_node_fixture.ts";
import { parseScriptArgs, scriptSpec, usageError, wholeNumberArg } from "./_args.ts";

const usage = scriptSpec({
  usage: "deno run -A scripts/bench_networks.ts [--envelopes N] [--rounds R] [--timeout-s S]",
  description:
    "Throughput of a node serving 5 networks against one serving 1, on loopback, in the same\n" +
    "run (target ≥ 0.8); a markdown report on stdout, progress on stderr.",
  options: {
    envelopes: {
      type: "string",
      value: "N",
      default: "2000",
      description: "envelopes per measurement",
    },
    rounds: { type: "string", value: "R", default: "3", description: "alternating rounds" },
    "timeout-s": {
      type: "string",
      value: "S",
      default: "60",
      description: "limit on each measurement and each start-up, in seconds",
    },
  },
});
const flags = parseScriptArgs(usage).values;
/** Envelopes per measurement; a multiple of `networksCompared` so that spread splits evenly. */
const networksCompared = 5;
const count = wholeNumberArg(usage, flags.envelopes, {
  name: "--envelopes",
  fallback: 2000,
  min: networksCompared,
  max: 100_000,
});
if (count % networksCompared !== 0) {
  usageError(
    usage,
    `Cannot use --envelopes "${count}": expected a multiple of ${networksCompared}`,
  );
}
const rounds = wholeNumberArg(usage, flags.rounds, { name: "--rounds", fallback: 3, max: 20 });
const phaseTimeoutMs = 1000 *
  wholeNumberArg(usage, flags["timeout-s"], { name: "--timeout-s", fallback: 60, max: 600 });
/** Trust-edge timestamps start this far back, one millisecond apart: room for every chain. */
const historyMs = 3_600_000;

const encoder = new TextEncoder();
const log = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));
const fmt = (n: number) => n.toLocaleString("en", { maximumFractionDigits: 0 });
const met = (ok: boolean) => ok ? "met" : "**NOT met**";

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

function git(...args: string[]): string {
  try {
    const out = new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).outputSync();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "";
  }
}

/** One author's chain in one network, signed ahead of each measurement. */
interface Chain {
  net: string;
  seq: number;
  prev: string | null;
}

interface Pair {
  label: string;
  nets: string[];
  sender: IcnNode;
  receiver: IcnNode;
  /** The sender's store of each network. */
  senderStores: Map<string, KvStore>;
  accepted: { count: number; last: number; bySync: number };
  chains: Map<string, Chain>;
  stop(): Promise<void>;
}

/** Sender and receiver, both founders of each of `networks` networks, each network on its own KV store. */
async function startPair(
  label: string,
  networks: number,
  ids: { sender: TestIdentity; receiver: TestIdentity },
  dir: string,
): Promise<Pair> {
  const created = Date.now() - 2 * historyMs;
  const nets: { id: string; genesis: ReturnType<typeof createGenesis> }[] = [];
  for (let i = 0; i < networks; i++) {
    const genesis = createGenesis({
      name: `${label} network ${i + 1}`,
      members: [ids.sender.did, ids.receiver.did],
      created,
    });
    nets.push({ id: await genesisId(genesis), genesis });
  }
  const stores: KvStore[] = [];
  const nodes: IcnNode[] = [];
  const accepted = { count: 0, last: 0, bySync: 0 };
  const senderStores = new Map<string, KvStore>();
  const start = async (who: TestIdentity, role: string, receiving: boolean) => {
    const served = [];
    for (const { id, genesis } of nets) {
      const store = await KvStore.open(`${dir}/${label}-${role}-${id.slice(-8)}.kv`);
      stores.push(store);
      await joinNetwork(store, { id, genesis });
      // Both key logs in every store: each peer verifies the other without a sync round.
      await ingest(
        { store, clock: systemClock, kinds: createKindRegistry() },
        [ids.sender.inception, ids.receiver.inception],
        { source: "import" },
      );
      served.push({ id, store });
      if (!receiving) senderStores.set(id, store);
    }
    const node = await IcnNode.create(
      {
        store: served[0].store,
        clock: systemClock,
        kinds: createKindRegistry(),
        logger: quietLogger,
        identity: { did: who.did, signer: who.signer, ed25519: who.ed25519 },
        networks: served,
      },
      // No rate limit in the way, and no sync round during a measurement.
      {
        ...defaultConfig("test"),
        globalRate: 1_000_000,
        peerRate: 1_000_000,
        syncIntervalMs: 600_000,
        // A receiver that fell behind fetches the gap by sync; the gossip copies that arrive after
        // count as replays (1 point each), enough to ban an honest sender in a burst of thousands.
        quarantinePoints: 1_000_000,
        banPoints: 1_000_000,
      },
      {
        authorLimits: false,
        onAccepted: receiving
          ? (_sealed, source) => {
            if (source === "local") return;
            accepted.count++;
            if (source === "sync") accepted.bySync++;
            accepted.last = performance.now();
          }
          : undefined,
      },
    );
    await node.start();
    nodes.push(node);
    return node;
  };
  const sender = await start(ids.sender, "sender", false);
  const receiver = await start(ids.receiver, "receiver", true);
  const topics = nets.map((n) => `/icn/${n.id}/envelopes/1`);
  await receiver.connect(sender.addrs()[0]);
  await waitFor(`${label}: both nodes meshed in every network`, () => {
    const peer = sender.peers().find((p) => p.peer === receiver.peerId);
    const pubsub = sender.libp2p.services.pubsub;
    return peer?.networks.length === networks &&
      topics.every((topic) => pubsub.getSubscribers(topic).length > 0);
  }, phaseTimeoutMs);
  const chains = new Map(nets.map(({ id }) => [id, { net: id, seq: 0, prev: null } as Chain]));
  return {
    label,
    nets: nets.map((n) => n.id),
    sender,
    receiver,
    senderStores,
    accepted,
    chains,
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      for (const store of stores) store.close();
    },
  };
}

/** The next `n` trust edges of `author`'s chain in `chain.net`. */
async function extend(
  chain: Chain,
  author: TestIdentity,
  to: string,
  n: number,
  base: number,
): Promise<SealedEnvelope[]> {
  const out: SealedEnvelope[] = [];
  for (let i = 0; i < n; i++) {
    const sealed: SealedEnvelope = await sealEnvelope({
      net: chain.net,
      // Trust edges: ledger transfers would hit the per-hour velocity rule.
      kind: "trust.edge",
      seq: chain.seq,
      prev: chain.prev,
      ts: base + chain.seq,
      body: { to, score: 1 + (chain.seq % 999), graph: "social" },
    }, author.signer);
    out.push(sealed);
    chain.seq++;
    chain.prev = sealed.cid;
  }
  return out;
}

/**
 * Publishes `count` envelopes over the networks `over` (an equal share each, interleaved) and
 * returns the receiver's rate, envelopes/s from the first publish to the last acceptance.
 */
async function measure(
  pair: Pair,
  over: string[],
  ids: { sender: TestIdentity; receiver: TestIdentity },
  base: number,
): Promise<number> {
  const share = count / over.length;
  const batches = await Promise.all(
    over.map((net) => extend(pair.chains.get(net)!, ids.sender, ids.receiver.did, share, base)),
  );
  const queue: [Uint8Array, string][] = [];
  for (let i = 0; i < share; i++) {
    for (let n = 0; n < over.length; n++) queue.push([batches[n][i].bytes, over[n]]);
  }
  // The sender holds what it publishes, as a publisher does, so that the receiver fetches by sync
  // what gossip lost (a gap asks the peer at once). Stored before the clock starts.
  for (const [n, net] of over.entries()) {
    const store = pair.senderStores.get(net)!;
    await ingest({ store, clock: systemClock, kinds: createKindRegistry() }, batches[n], {
      source: "import",
    });
  }
  pair.accepted.count = 0;
  const started = performance.now();
  for (const [bytes, net] of queue) await pair.sender.publish(bytes, net);
  try {
    await waitFor(
      `${pair.label}: receiver accepted ${count} envelopes`,
      () => pair.accepted.count >= count,
      phaseTimeoutMs,
    );
  } catch (error) {
    const dropped = (await pair.receiver.metrics.dropped.get()).values
      .filter((v) => v.value > 0)
      .map((v) => `${v.labels.channel}/${v.labels.reason} ${v.value}`);
    throw new Error(
      `${(error as Error).message}: ${pair.accepted.count} accepted; dropped: ${
        dropped.join(", ") || "none"
      }`,
    );
  }
  return count / ((pair.accepted.last - started) / 1000);
}

async function main(): Promise<void> {
  const commit = git("rev-parse", "--short", "HEAD") || "unknown";
  const dirty = git("status", "--porcelain", "--untracked-files=no", "core", "net") !== "";
  const loadStart = loadAverage();
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  log(`networks: ${count} envelopes per measurement, ${rounds} rounds, load ${loadStart}`);
  const now = Date.now();
  const ids = {
    sender: await testIdentity(1, now - 60_000),
    receiver: await testIdentity(2, now - 60_000),
  };
  const base = now - historyMs;
  const dir = await Deno.makeTempDir({ prefix: "icn-bench-networks-" });
  const pairs: Pair[] = [];
  const results = { one: [] as number[], spread: [] as number[], busy: [] as number[] };
  let bySync = "";
  try {
    const single = await startPair("one", 1, ids, dir);
    pairs.push(single);
    const five = await startPair("five", networksCompared, ids, dir);
    pairs.push(five);
    // One unmeasured pass of each, so that no measured round pays for compiling the code.
    await measure(single, single.nets, ids, base);
    await measure(five, five.nets, ids, base);
    for (let round = 1; round <= rounds; round++) {
      results.one.push(await measure(single, single.nets, ids, base));
      results.spread.push(await measure(five, five.nets, ids, base));
      results.busy.push(await measure(five, five.nets.slice(0, 1), ids, base));
      log(
        `  round ${round}: 1 network ${fmt(results.one.at(-1)!)}/s, 5 spread ${
          fmt(results.spread.at(-1)!)
        }/s, 5 with one busy ${fmt(results.busy.at(-1)!)}/s (load ${loadAverage()})`,
      );
    }
    bySync = pairs.map((p) => `${fmt(p.accepted.bySync)} of the ${p.label} pair's`).join(", ");
  } finally {
    for (const pair of pairs) await pair.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const loadEnd = loadAverage();
  const best = (values: number[]) => Math.max(...values);
  const one = best(results.one);
  const spread = best(results.spread);
  const busy = best(results.busy);
  const ratios = (values: number[]) =>
    values.map((v, i) => (v / results.one[i]).toFixed(2)).join(", ");
  const lines = [
    "# Several networks benchmark",
    "",
    `Measured ${date} UTC at ${commit}${
      dirty ? " (with uncommitted changes in core/ or net/)" : ""
    }; loopback, ${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}; load average ${loadStart} at the start, ${loadEnd} at the end.`,
    "",
    `Two nodes, every network on its own Deno KV store; ${
      fmt(count)
    } pre-signed envelopes per measurement, best of ${rounds} alternating rounds (after one unmeasured pass); the receivers fetched by sync what gossip left out of order: ${bySync}.`,
    "",
    `- 1 network: ${fmt(one)} envelopes/s accepted by the receiver.`,
    `- 5 networks, ${fmt(count / networksCompared)} in each: ${fmt(spread)}/s, ratio **${
      (spread / one).toFixed(2)
    }** (per round ${ratios(results.spread)}); target ≥ 0.8: ${met(spread / one >= 0.8)}.`,
    `- 5 networks, all ${fmt(count)} in one, 4 idle: ${fmt(busy)}/s, ratio **${
      (busy / one).toFixed(2)
    }** (per round ${ratios(results.busy)}); target ≥ 0.8: ${met(busy / one >= 0.8)}.`,
  ];
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
}

await main();
Deno.exit(0);
