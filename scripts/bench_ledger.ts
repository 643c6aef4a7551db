/**
 * Ledger benchmark (`deno run -A scripts/bench_ledger.ts [TRANSFERS] [BIG]`):
 * 1. ingest of pre-signed transfers among 1,000 members into an empty KvStore
 *    (validation + commit through `ingest`, batched), against raw Ed25519
 *    verification throughput measured in the same run;
 * 2. wall time of `icn ledger balance` and `icn ledger history --limit 20` on a
 *    store holding the derived state of 1,000,000 transfers (written directly in
 *    batches: ingesting a million envelopes would take the whole time budget).
 */
import { ingest, type IngestDeps } from "../core/chain/ingest.ts";
import { StateOverlay } from "../core/chain/state.ts";
import type { VerifyRequest } from "../core/chain/verifier.ts";
import { VerifyPool, verifyPoolSize } from "../net/verify_pool.ts";
import { cooperativeScore, cooperativeScoreByWalk } from "../core/trust/view.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { createGenesis, genesisId } from "../core/governance/genesis.ts";
import { ed25519FromSeed, signEd25519, verifyEd25519 } from "../core/identity/keys.ts";
import { createKindRegistry } from "../core/kinds.ts";
import type { Member } from "../core/ledger/_testing.ts";
import {
  type Account,
  historyPageEntries,
  type HistoryRef,
  ledgerKeys,
} from "../core/ledger/keys.ts";
import { fixedClock } from "../core/ports.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { compareKeys, type StoreKey, type StoreMutation } from "../core/store/store.ts";
import { parseScriptArgs, scriptSpec, wholeNumberArg } from "./_args.ts";
import {
  benchMembersTotal,
  recordingStore,
  rng,
  signBenchTransfers,
} from "./_bench_ledger_world.ts";

const usage = scriptSpec({
  usage: "deno run -A scripts/bench_ledger.ts [TRANSFERS] [BIG]",
  description: "Ingest of pre-signed transfers against raw Ed25519 verification, and reads on\n" +
    "a store holding a million transfers (a markdown report on stdout).",
  positionals: [
    { name: "TRANSFERS", description: "transfers to ingest (default 100000)" },
    {
      name: "BIG",
      description: "transfers in the store that reads are timed on (default 1000000)",
    },
  ],
});
const { positionals } = parseScriptArgs(usage);
const transfersTotal = wholeNumberArg(usage, positionals[0], {
  name: "TRANSFERS",
  fallback: 100_000,
});
const bigTransfers = wholeNumberArg(usage, positionals[1], { name: "BIG", fallback: 1_000_000 });
const membersTotal = benchMembersTotal;
/** Envelopes per `ingest` call, as a sync page; ingest splits them into KV-sized commits itself. */
const ingestBatch = 5_000;
const encoder = new TextEncoder();
const progress = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

async function verifyRate(): Promise<number> {
  const key = await ed25519FromSeed(new Uint8Array(32).fill(7));
  const messages = Array.from(
    { length: 2_000 },
    (_, i) => encoder.encode(`message ${i}`.repeat(8)),
  );
  const sigs = await Promise.all(messages.map((m) => signEd25519(key, m)));
  const start = performance.now();
  let rounds = 0;
  while (performance.now() - start < 3_000) {
    for (let i = 0; i < messages.length; i++) {
      if (!(await verifyEd25519(key.publicKey, messages[i], sigs[i]))) throw new Error("verify");
    }
    rounds++;
  }
  return rounds * messages.length / ((performance.now() - start) / 1000);
}

function signTransfers() {
  return signBenchTransfers(transfersTotal, progress);
}

type Signed = Awaited<ReturnType<typeof signTransfers>>;

/** Raw Ed25519 verification through a `VerifyPool` of `size` workers (both cores). */
async function poolVerifyRate(size: number): Promise<number> {
  const key = await ed25519FromSeed(new Uint8Array(32).fill(7));
  const requests: VerifyRequest[] = [];
  for (let i = 0; i < 2_000; i++) {
    const message = encoder.encode(`message ${i}`.repeat(8));
    requests.push({
      alg: "ed25519",
      publicKey: key.publicKey,
      message,
      signature: await signEd25519(key, message),
    });
  }
  const pool = new VerifyPool(size);
  try {
    await pool.verify(requests.slice(0, 200));
    const start = performance.now();
    let rounds = 0;
    while (performance.now() - start < 3_000) {
      if ((await pool.verify(requests)).includes(false)) throw new Error("verify");
      rounds++;
    }
    return rounds * requests.length / ((performance.now() - start) / 1000);
  } finally {
    pool.close();
  }
}

async function benchIngest(dir: string, signed: Signed, name: string, verifier?: VerifyPool) {
  const { members, genesis, net, envelopes, signSeconds } = signed;
  const last = envelopes[envelopes.length - 1].envelope.ts;
  await Deno.mkdir(`${dir}/${name}`);
  const store = await KvStore.open(`${dir}/${name}/icn.kv`);
  const recorder = recordingStore(store);
  const commits = recorder.commits;
  const deps: IngestDeps = {
    store: recorder.store,
    clock: fixedClock(last),
    kinds: createKindRegistry(),
    ...(verifier ? { verifier } : {}),
  };
  await store.commit([], [
    { type: "set", key: chainKeys.genesis(net), value: genesis },
    { type: "set", key: chainKeys.network, value: net },
  ]);
  await ingest(deps, members.map((m) => m.inception), { source: "import" });
  // Bytes in, as from a bundle or the network: decoding is part of validation.
  const inputs = envelopes.map((e) => e.bytes);
  progress(`ingesting`);
  recorder.recording = true;
  // Resident memory of this process, sampled while ingesting (it also holds the pre-signed inputs).
  const rssBefore = Deno.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss), 50);
  const start = performance.now();
  let accepted = 0;
  for (let i = 0; i < inputs.length; i += ingestBatch) {
    const outcomes = await ingest(deps, inputs.slice(i, i + ingestBatch), { source: "sync" });
    for (const o of outcomes) {
      if (o.status === "accepted") accepted++;
      else throw new Error(`transfer rejected: ${o.status === "rejected" ? o.message : o.status}`);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss);
  recorder.recording = false;
  store.close();
  progress(`replaying ${commits.length} commits into a fresh store`);
  const writeSeconds = await replayWrites(`${dir}/${name}-replay.kv`, commits);
  const writes = commits.reduce((n, c) => n + c.length, 0);
  const kinds = classifyWrites(commits);
  const commitCount = commits.length;
  // Free the recorded writes before the next ingest measures its memory.
  commits.length = 0;
  return {
    accepted,
    seconds,
    signSeconds,
    writeSeconds,
    writes,
    kinds,
    commits: commitCount,
    members,
    rssBefore,
    rssPeak,
  };
}

/**
 * What the store does with each write, in the order the commits made them: an append (a new
 * key after every key written before in its family, e.g. the log or the ledger's lines), a rewrite of a
 * key that exists (accounts, chain heads: a hot set), or a scattered insert (a new key in the
 * middle of its key space: a B-tree page somewhere else each time). Counted per key family
 * (the first two key parts) too.
 */
function classifyWrites(commits: readonly StoreMutation[][]) {
  const seen = new Set<string>();
  const last = new Map<string, StoreKey>();
  const families = new Map<string, { append: number; rewrite: number; scattered: number }>();
  const total = { append: 0, rewrite: 0, scattered: 0 };
  for (const mutations of commits) {
    for (const { key } of mutations) {
      const id = JSON.stringify(key, (_, v) => typeof v === "bigint" ? `${v}n` : v);
      const family = key[0] === "ledger" ? `ledger/${String(key[1])}` : String(key[0]);
      const counts = families.get(family) ?? { append: 0, rewrite: 0, scattered: 0 };
      families.set(family, counts);
      let kind: "append" | "rewrite" | "scattered";
      if (seen.has(id)) kind = "rewrite";
      else {
        seen.add(id);
        // Per key family: a new key after every key of its family lands at the end of that range
        // (the ledger's lines, the log), which is an append for the store's B-tree too.
        const before = last.get(family);
        kind = before === undefined || compareKeys(key, before) > 0 ? "append" : "scattered";
        if (kind === "append") last.set(family, key);
      }
      counts[kind]++;
      total[kind]++;
    }
  }
  return { total, families };
}

/** The store's share alone: the same mutations, in the same commits, into an empty store. */
async function replayWrites(path: string, commits: StoreMutation[][]): Promise<number> {
  const store = await KvStore.open(path);
  const start = performance.now();
  for (const mutations of commits) {
    if ((await store.commit([], mutations)) === null) throw new Error("replay commit failed");
  }
  const seconds = (performance.now() - start) / 1000;
  store.close();
  return seconds;
}

async function buildBigStore(path: string, members: Member[]) {
  // Ten founders (the trust anchors), the other members' accounts as if admitted later.
  const genesis = createGenesis({
    name: "Big",
    members: members.slice(0, 10).map((m) => m.did),
    created: Date.UTC(2026, 0, 1) - 1000,
  });
  const net = await genesisId(genesis);
  const store = await KvStore.open(path);
  await store.commit([], [
    { type: "set", key: chainKeys.genesis(net), value: genesis },
    { type: "set", key: chainKeys.network, value: net },
  ]);
  const pick = rng(7);
  const accounts = new Map<string, Account>();
  const account = (did: string) => {
    let a = accounts.get(did);
    if (!a) accounts.set(did, a = { balance: 0n, received: 0n, count: 0 });
    return a;
  };
  const pages = new Map<string, HistoryRef[]>();
  let mutations: StoreMutation[] = [];
  const flush = async () => {
    if (!(await store.commit([], mutations))) throw new Error("commit failed");
    mutations = [];
  };
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < bigTransfers; i++) {
    const from = members[pick(members.length)].did;
    let to = members[pick(members.length)].did;
    if (to === from) to = members[(pick(members.length - 1) + 1) % members.length].did;
    const amount = BigInt(1 + pick(100));
    const a = account(from);
    const b = account(to);
    a.balance -= amount;
    b.balance += amount;
    b.received += amount;
    const line = {
      cid: `bafyreib${i.toString(36).padStart(51, "x")}`,
      id: `b${i}`,
      from,
      to,
      amount,
      currency: "hours",
      memo: "",
      ts: t0 + i * 1000,
    };
    // Layout 4: the line once, each side's ref in its account's page (written when full).
    mutations.push({ type: "set", key: ledgerKeys.line(i), value: line });
    for (
      const [did, side, ref] of [
        [from, a, [i, a.balance, 1_000_000n]],
        [to, b, [i, b.balance]],
      ] as const
    ) {
      const page = pages.get(did) ?? [];
      page.push(ref);
      pages.set(did, page);
      if (page.length === historyPageEntries) {
        mutations.push({
          type: "set",
          key: ledgerKeys.historyPage("hours", did, Math.floor(side.count / historyPageEntries)),
          value: page,
        });
        pages.set(did, []);
      }
      side.count++;
    }
    if (mutations.length >= 800) await flush();
    if (i % 200_000 === 0) progress(`big store: ${i} transfers written`);
  }
  for (const [did, a] of accounts) {
    mutations.push({ type: "set", key: ledgerKeys.account("hours", did), value: a });
    const page = pages.get(did) ?? [];
    if (page.length > 0) {
      mutations.push({ type: "set", key: ledgerKeys.historyTail("hours", did), value: page });
    }
  }
  mutations.push({ type: "set", key: ledgerKeys.lineNext, value: bigTransfers });
  while (mutations.length > 0) {
    const rest = mutations.splice(800);
    await flush();
    mutations = rest;
  }
  store.close();
}

async function cliMs(dir: string, args: string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      // As `deno task icn` runs it (lazy dynamic imports, icn's heap flags), without the task runner.
      args: [
        "run",
        "--unstable-lazy-dynamic-imports",
        "-A",
        "--quiet",
        "--v8-flags=--max-semi-space-size=2,--max-old-space-size=512",
        new URL("../cli/main.ts", import.meta.url).pathname,
        "--data-dir",
        dir,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    times.push(performance.now() - start);
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  }
  return times.sort((a, b) => a - b)[2];
}

/** A bare `deno run` of a one-line script: the process start no command can go below. */
async function baselineMs(): Promise<number> {
  const file = await Deno.makeTempFile({ suffix: ".js" });
  try {
    await Deno.writeTextFile(file, "0;\n");
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await new Deno.Command(Deno.execPath(), { args: ["run", "--quiet", file] }).output();
      times.push(performance.now() - start);
    }
    return times.sort((a, b) => a - b)[2];
  } finally {
    await Deno.remove(file);
  }
}

/** The credit limit's trust term on a store whose genesis has 1,000 founders: new read vs the walk. */
async function trustTermMs(path: string, signed: Signed, did: string) {
  const store = await KvStore.open(path);
  try {
    const ts = signed.envelopes[signed.envelopes.length - 1].envelope.ts;
    const time = async (f: typeof cooperativeScore) => {
      const times: number[] = [];
      let score = 0;
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        score = await f(new StateOverlay(store), signed.genesis, did, ts);
        times.push(performance.now() - start);
      }
      return { ms: times.sort((a, b) => a - b)[2], score };
    };
    const fast = await time(cooperativeScore);
    const walk = await time(cooperativeScoreByWalk);
    return { fast: fast.ms, walk: walk.ms, same: fast.score === walk.score };
  } finally {
    store.close();
  }
}

function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").trim();
  } catch {
    return "unknown";
  }
}
const loadStart = loadavg();
const dir = await Deno.makeTempDir({ prefix: "icn-bench-ledger-" });
try {
  progress("measuring raw Ed25519 verification");
  const verifyPerSecond = await verifyRate();
  const workers = verifyPoolSize();
  progress(`measuring Ed25519 verification on ${workers} workers`);
  const poolVerifyPerSecond = await poolVerifyRate(workers);
  const signed = await signTransfers();
  // The machine's load drifts during a run: BENCH_POOL_FIRST=1 runs the pooled ingest first,
  // so two runs in opposite orders bound the drift's share of the difference.
  const plainIngest = () => {
    progress("ingest, main thread verifying");
    return benchIngest(dir, signed, "ingest");
  };
  const pooledIngest = async () => {
    progress(`ingest, ${workers} verify workers`);
    const pool = new VerifyPool(workers);
    try {
      return await benchIngest(dir, signed, "ingest-pool", pool);
    } finally {
      pool.close();
    }
  };
  const poolFirst = Deno.env.get("BENCH_POOL_FIRST") === "1";
  const pooledEarly = poolFirst ? await pooledIngest() : undefined;
  const result = await plainIngest();
  const rate = result.accepted / result.seconds;
  const pooled = pooledEarly ?? await pooledIngest();
  const pooledRate = pooled.accepted / pooled.seconds;
  progress(`building a store of ${bigTransfers} transfers`);
  const bigDir = `${dir}/big`;
  await Deno.mkdir(bigDir);
  const buildStart = performance.now();
  await buildBigStore(`${bigDir}/icn.kv`, result.members);
  const buildSeconds = (performance.now() - buildStart) / 1000;
  const did = result.members[0].did;
  const balanceMs = await cliMs(bigDir, ["ledger", "balance", did]);
  const historyMs = await cliMs(bigDir, ["ledger", "history", did, "--limit", "20"]);
  const denoMs = await baselineMs();
  const anchorsMs = await cliMs(`${dir}/ingest`, ["ledger", "balance", did]);
  const trustTerm = await trustTermMs(`${dir}/ingest/icn.kv`, signed, did);
  const f = (n: number) => Math.round(n).toLocaleString("en-US");
  const lines = [
    "## Ledger",
    "",
    `- Ingest of ${f(result.accepted)} pre-signed transfers among ${
      f(membersTotal)
    } members into an empty KvStore (decode + validation + commit, batches of ${ingestBatch}): **${
      f(rate)
    } transfers/s** (${result.seconds.toFixed(1)} s)`,
    `- Raw Ed25519 verify in the same run: ${f(verifyPerSecond)} /s → ratio **${
      (rate / verifyPerSecond).toFixed(2)
    }** (target ≥ 0.6; ≥ 20,000 transfers/s)`,
    `- The store's share: the same ${f(result.writes)} writes (${
      (result.writes / result.accepted).toFixed(1)
    } per transfer) in the same ${
      f(result.commits)
    } commits, replayed into an empty KvStore without validation: ${
      f(result.accepted / result.writeSeconds)
    } transfers/s (${
      result.writeSeconds.toFixed(1)
    } s) — the ceiling for ingest into Deno KV on this machine; ingest reaches ${
      (result.writeSeconds / result.seconds).toFixed(2)
    } of it`,
    `- Writes per transfer by what the store does with them: ${
      (result.kinds.total.append / result.accepted).toFixed(2)
    } appends, ${
      (result.kinds.total.rewrite / result.accepted).toFixed(2)
    } rewrites of existing keys, **${
      (result.kinds.total.scattered / result.accepted).toFixed(2)
    } scattered inserts** (target ≤ 4); by key family: ${
      [...result.kinds.families].map(([family, c]) =>
        `${family} ${((c.append + c.rewrite + c.scattered) / result.accepted).toFixed(2)} (${
          c.scattered
            ? `${(c.scattered / result.accepted).toFixed(2)} scattered`
            : c.rewrite > c.append
            ? "rewrites"
            : "appends"
        })`
      ).join(", ")
    }`,
    `- Resident memory of the bench process during the main-thread ingest: ${
      f(result.rssBefore / 2 ** 20)
    } MB before (it holds the pre-signed transfers), peak ${
      f(result.rssPeak / 2 ** 20)
    } MB (target ≤ 200 MB; this process also keeps every write it recorded for the replay, so the figure is an upper bound, not the ingest's own; a node's is in the node benchmark's sync-ledger phase); pooled ingest peak ${
      f(pooled.rssPeak / 2 ** 20)
    } MB`,
    `- Signing the transfers (seal: encode + sign + CID): ${
      f(result.accepted / result.signSeconds)
    } /s`,
    `- Store of ${f(bigTransfers)} transfers (derived state written directly in batches, ${
      buildSeconds.toFixed(0)
    } s; no envelopes): \`icn ledger balance\` **${
      f(balanceMs)
    } ms**, \`icn ledger history --limit 20\` **${
      f(historyMs)
    } ms** wall (median of 5; target ≤ 150 ms; a bare \`deno run\` of a one-line script takes ${
      f(denoMs)
    } ms)`,
    `- \`icn ledger balance\` on the ingest store, whose genesis has 1,000 founders (1,000 trust anchors): ${
      f(anchorsMs)
    } ms wall; its trust term (\`cooperativeScore\`, in process, median of 5) ${
      trustTerm.fast.toFixed(1)
    } ms reading the target's side of the graph against ${
      f(trustTerm.walk)
    } ms for the walk from every anchor (same result: ${trustTerm.same})`,
    `- Ed25519 verification on ${workers} workers (\`VerifyPool\`): ${f(poolVerifyPerSecond)} /s (${
      (poolVerifyPerSecond / verifyPerSecond).toFixed(2)
    }× the main thread alone)`,
    `- The same ingest with \`IngestDeps.verifier\` = a pool of ${workers} workers: **${
      f(pooledRate)
    } transfers/s** (${pooled.seconds.toFixed(1)} s; ${
      (pooledRate / rate).toFixed(2)
    }× the main-thread ingest, run ${
      poolFirst ? "before" : "after"
    } it; ratio to raw verify on all workers ${
      (pooledRate / poolVerifyPerSecond).toFixed(3)
    }; to its own store-only replay ${(pooled.writeSeconds / pooled.seconds).toFixed(2)})`,
    `- Load: ${loadStart} at the start, ${loadavg()} at the end`,
  ];
  Deno.stdout.writeSync(encoder.encode(lines.join("\n") + "\n"));
} finally {
  if (Deno.env.get("BENCH_KEEP")) progress(`kept ${dir}`);
  else await Deno.remove(dir, { recursive: true });
}
