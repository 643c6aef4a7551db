/**
 * What each step of the ledger write layout buys, measured on the store alone
 * (`deno run -A scripts/bench_ledger_layouts.ts [TRANSFERS]`): one real ingest
 * of pre-signed transfers among 1,000 members records every commit's writes;
 * those commits are then rewritten into candidate layouts and replayed into
 * empty Deno KV stores without validation. The replay rate of a layout is the
 * ceiling ingest could reach with it on this machine, so it says which step of
 * the ledger layout is worth building next, before it is built. Candidates:
 *
 * - `built`: the writes as ingest makes them now (layout 4: each line once, appended, and
 *   each account's side in a page of 64 refs);
 * - `short keys`: every DID in a key replaced by a store-local member number
 *   (chain positions, heads, accounts, history pages, idempotency index);
 * - `envelope in log`: the log entry carries the envelope, the chain position
 *   keeps only its CID and log position (keys unchanged);
 * - `both`: short keys and the envelope in the log;
 * - `log only`: the log entries alone (the floor: pure appends).
 */
import { ingest, type IngestDeps } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { createKindRegistry } from "../core/kinds.ts";
import { fixedClock } from "../core/ports.ts";
import { KvStore } from "../core/store/kv_store.ts";
import type { StoreKey, StoreMutation } from "../core/store/store.ts";
import { parseScriptArgs, scriptSpec, wholeNumberArg } from "./_args.ts";
import {
  benchMembersTotal,
  benchT0,
  recordingStore,
  signBenchTransfers,
} from "./_bench_ledger_world.ts";

const usage = scriptSpec({
  usage: "deno run -A scripts/bench_ledger_layouts.ts [TRANSFERS]",
  description: "Replays one ingest's writes rewritten into candidate ledger layouts, store only\n" +
    "(a markdown table on stdout).",
  positionals: [{ name: "TRANSFERS", description: "transfers to ingest (default 20000)" }],
});
const { positionals } = parseScriptArgs(usage);
const transfersTotal = wholeNumberArg(usage, positionals[0], {
  name: "TRANSFERS",
  fallback: 20_000,
});
const membersTotal = benchMembersTotal;
const encoder = new TextEncoder();
const progress = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

async function recordIngest(dir: string) {
  const { members, genesis, net, envelopes } = await signBenchTransfers(transfersTotal, progress);
  const inputs = envelopes.map((e) => e.bytes);
  const t0 = benchT0;
  const store = await KvStore.open(`${dir}/ingest.kv`);
  const recorder = recordingStore(store);
  const commits = recorder.commits;
  const deps: IngestDeps = {
    store: recorder.store,
    clock: fixedClock(t0 + 1e10),
    kinds: createKindRegistry(),
  };
  await store.commit([], [
    { type: "set", key: chainKeys.genesis(net), value: genesis },
    { type: "set", key: chainKeys.network, value: net },
  ]);
  await ingest(deps, members.map((m) => m.inception), { source: "import" });
  progress("ingesting");
  recorder.recording = true;
  const start = performance.now();
  for (let i = 0; i < inputs.length; i += 5_000) {
    for (const o of await ingest(deps, inputs.slice(i, i + 5_000), { source: "sync" })) {
      if (o.status !== "accepted") throw new Error(`transfer ${o.status}`);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  store.close();
  return { commits, seconds };
}

/** Store-local member numbers, in order of first sight, as a later layout would assign them. */
const numbers = new Map<string, number>();
const numberOf = (did: string) => {
  let n = numbers.get(did);
  if (n === undefined) numbers.set(did, n = numbers.size);
  return n;
};

function shortKey(key: StoreKey): StoreKey {
  const [a, b] = key;
  if (a === "chain") return ["c", numberOf(key[2] as string), key[3]];
  if (a === "head") return ["hd", numberOf(key[2] as string)];
  if (a === "ledger" && b === "acct") return ["l", "a", key[2], numberOf(key[3] as string)];
  if (a === "ledger" && b === "hp") {
    return ["l", "h", key[2], numberOf(key[3] as string), key[4]];
  }
  if (a === "ledger" && b === "id") return ["l", "i", numberOf(key[2] as string), key[3]];
  return key;
}

type Rewrite = (commit: StoreMutation[]) => StoreMutation[];

/** Moves each envelope into its log entry; the chain position keeps `{cid, log}`. */
function envelopeInLog(short: boolean): Rewrite {
  let position = 0;
  return (commit) => {
    const out: StoreMutation[] = [];
    const logged = new Map<string, number>();
    for (const m of commit) {
      const key = m.key;
      if (key[0] === "log" && m.type === "set") {
        const entry = m.value as { net: string; author: string; seq: number };
        logged.set(`${entry.net}/${entry.author}/${entry.seq}`, key[1] as number);
      }
    }
    for (const m of commit) {
      const key = m.key;
      if (m.type !== "set") {
        out.push(m);
      } else if (key[0] === "chain") {
        const log = logged.get(`${key[1]}/${key[2]}/${key[3]}`) ?? position;
        const stored = m.value as { cid: string; bytes?: Uint8Array };
        out.push({ type: "set", key: ["log", log], value: { ...stored, net: key[1] } });
        out.push({
          type: "set",
          key: short ? shortKey(key) : key,
          value: { cid: stored.cid, log },
        });
        position = log + 1;
      } else if (key[0] === "log") {
        // Written with the envelope above.
      } else {
        out.push({ ...m, key: short ? shortKey(key) : key });
      }
    }
    return out;
  };
}

async function replay(path: string, commits: StoreMutation[][]) {
  const store = await KvStore.open(path);
  const start = performance.now();
  for (const mutations of commits) {
    if ((await store.commit([], mutations)) === null) throw new Error("replay commit failed");
  }
  const seconds = (performance.now() - start) / 1000;
  store.close();
  return seconds;
}

function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").trim();
  } catch {
    return "unknown";
  }
}

const loadStart = loadavg();
const dir = await Deno.makeTempDir({ prefix: "icn-bench-layouts-" });
try {
  const { commits, seconds } = await recordIngest(dir);
  const candidates: [string, Rewrite][] = [
    ["built", (c) => c],
    ["short keys", (c) => c.map((m) => ({ ...m, key: shortKey(m.key) }))],
    ["envelope in log", envelopeInLog(false)],
    ["both", envelopeInLog(true)],
    ["log only (floor)", (c) => envelopeInLog(false)(c).filter((m) => m.key[0] === "log")],
  ];
  const f = (n: number) => Math.round(n).toLocaleString("en-US");
  const rows = [
    `Ingest of ${f(transfersTotal)} transfers among ${f(membersTotal)} members: ${
      f(transfersTotal / seconds)
    } transfers/s (${seconds.toFixed(1)} s). Store-only replays of its writes:`,
    "",
    "| layout | writes per transfer | transfers/s (store only) |",
    "| --- | --- | --- |",
  ];
  for (const [name, rewrite] of candidates) {
    progress(`replaying: ${name}`);
    const rewritten = commits.map(rewrite);
    const writes = rewritten.reduce((n, c) => n + c.length, 0);
    const replaySeconds = await replay(`${dir}/${rows.length}.kv`, rewritten);
    rows.push(
      `| ${name} | ${(writes / transfersTotal).toFixed(1)} | ${
        f(transfersTotal / replaySeconds)
      } |`,
    );
  }
  rows.push("", `Load: ${loadStart} at the start, ${loadavg()} at the end`);
  Deno.stdout.writeSync(encoder.encode(rows.join("\n") + "\n"));
} finally {
  await Deno.remove(dir, { recursive: true });
}
