/**
 * `deno task bench:clearing`: what clearing costs in the federation, in one process, no network:
 * the pure fold of positions over 1,000 and 10,000 payments (what `icn federation check` does),
 * reading the stored positions of a store holding as many (what `positions`, the agent's
 * answers and the handlers read), and the federation handlers (a commit and its accept, signed,
 * verified and stored in an in-memory federation store) as history grows. Prints a markdown
 * report with the date, the commit and the machine load. Payments end to end between nodes on
 * loopback: `deno task bench:clearing:e2e`.
 */
import { foldClearing, parseRate } from "../core/federation/clearing.ts";
import type { AnswerRecord, CommitRecord } from "../core/federation/clearing.ts";
import { answerKind, commitKind } from "../core/federation/clearing_kinds.ts";
import {
  openByPair,
  readStored,
  storeAnswer,
  storeCommit,
} from "../core/federation/clearing_state.ts";
import { StateOverlay } from "../core/chain/state.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import { federationRulesFor } from "../core/federation/params.ts";
import { FederationNet, t0, testCoop, testFederation } from "../core/federation/_fixture.ts";
import { parseScriptArgs, scriptSpec } from "./_args.ts";

const usage = scriptSpec({
  usage: "deno task bench:clearing",
  description:
    "Clearing in the federation: the positions fold over 1,000 and 10,000 payments, and a\n" +
    "commit + accept through the handlers as history grows (a markdown report on stdout).",
  options: {},
});
parseScriptArgs(usage);

const A = "bafyaaaaaaaaaaaa", B = "bafybbbbbbbbbbbb";
const agreement = {
  id: "bafyagreement",
  coopA: A,
  coopB: B,
  limit: 1_000_000_000n,
  rateA: parseRate("1"),
  rateB: parseRate("1"),
  settlementInterval: 86_400_000,
  end: false,
  effective: 0,
};

function records(n: number): { commits: CommitRecord[]; answers: AnswerRecord[] } {
  const commits: CommitRecord[] = [];
  const answers: AnswerRecord[] = [];
  for (let i = 0; i < n; i++) {
    const from = i % 2 === 0 ? A : B;
    const cid = `c${i.toString().padStart(8, "0")}`;
    commits.push({
      cid,
      id: `p${i}`,
      from,
      to: from === A ? B : A,
      payer: "did:icn:zpayer",
      payee: "did:icn:zpayee",
      amount: 100n,
      amountFrom: 100n,
      amountTo: 100n,
      expires: 10 * i + 1000,
      ts: 10 * i,
      author: "did:icn:zdelegate",
    });
    answers.push({
      cid: `r${i.toString().padStart(8, "0")}`,
      commit: cid,
      choice: i % 7 === 0 ? "refuse" : "accept",
      ts: 10 * i + 5,
      author: "did:icn:zdelegate",
    });
  }
  return { commits, answers };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const lines: string[] = [];
const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3);
const commit = new TextDecoder().decode(
  (await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"] }).output()).stdout,
).trim();
lines.push(
  `## Clearing (${new Date().toISOString().slice(0, 10)}, ${commit}, load ${load.join(" ")})`,
  "",
);

lines.push("| payments folded | median ms (11 runs) |", "| --- | --- |");
for (const n of [1000, 10_000]) {
  const { commits, answers } = records(n);
  const times: number[] = [];
  for (let run = 0; run < 11; run++) {
    const start = performance.now();
    foldClearing({
      agreements: [agreement],
      commits,
      answers,
      settlements: [],
      now: 10 * n + 2000,
    });
    times.push(performance.now() - start);
  }
  lines.push(`| ${n.toLocaleString("en")} | ${median(times).toFixed(2)} |`);
}

// The stored positions of a store holding n payments (written through the stored-state
// functions the handlers call, one commit per record), read as `positions` reads them.
lines.push(
  "",
  "| payments stored | read stored positions, median ms (11 runs) | fold, median ms |",
  "| --- | --- | --- |",
);
for (const n of [1000, 10_000]) {
  const { commits, answers } = records(n);
  const store = new MemoryStore();
  for (let i = 0; i < n; i++) {
    const state = new StateOverlay(store);
    storeCommit(state, commits[i]);
    await storeAnswer(state, [agreement], answers[i], commits[i]);
    await store.commit([], state.mutations());
  }
  const reader = new StateOverlay(store);
  const stored: number[] = [], folded: number[] = [];
  for (let run = 0; run < 11; run++) {
    let start = performance.now();
    await readStored(reader, [agreement], 10 * n + 2000, { commits: false });
    await openByPair(reader, 10 * n + 2000);
    stored.push(performance.now() - start);
    start = performance.now();
    foldClearing({
      agreements: [agreement],
      commits,
      answers,
      settlements: [],
      now: 10 * n + 2000,
    });
    folded.push(performance.now() - start);
  }
  lines.push(
    `| ${n.toLocaleString("en")} | ${median(stored).toFixed(2)} | ${median(folded).toFixed(2)} |`,
  );
}

// Through the handlers: a delegate of each cooperative, a commit by Alpha, an accept by Beta.
const params = { "federation.clearing.votingPeriod": 1000 };
const alpha = await testCoop("Alpha", [1, 2]);
const beta = await testCoop("Beta", [3, 4]);
const file = await testFederation([alpha, beta], { params });
const [a] = alpha.members;
const [b] = beta.members;
const fed = await FederationNet.create(file, [a, b]);
const proposal = await fed.submit(a, "fed.proposal", {
  coop: alpha.net,
  kind: "clearing",
  title: "Clearing",
  body: "",
  action: {
    coopA: alpha.net,
    coopB: beta.net,
    limit: 1_000_000_000,
    rateA: "1",
    rateB: "1",
    settlementInterval: 86_400_000,
  },
  rules: federationRulesFor(params, "clearing"),
}, t0 + 1);
await fed.submit(a, "fed.vote", { proposal, coop: alpha.net, choice: "for" }, t0 + 2);
await fed.submit(b, "fed.vote", { proposal, coop: beta.net, choice: "for" }, t0 + 3);
const payments = 400;
const latencies: number[] = [];
const started = performance.now();
for (let i = 0; i < payments; i++) {
  const ts = t0 + 2000 + i * 10;
  const start = performance.now();
  const cid = await fed.submit(a, commitKind, {
    id: `p${i}`,
    from: alpha.net,
    to: beta.net,
    payer: alpha.members[1].did,
    payee: beta.members[1].did,
    amount: 100,
    amountFrom: 100,
    amountTo: 100,
    expires: ts + 60_000,
  }, ts);
  await fed.submit(b, answerKind, { commit: cid, choice: "accept" }, ts + 1);
  latencies.push(performance.now() - start);
}
const total = (performance.now() - started) / 1000;
const first = latencies.slice(0, 50), last = latencies.slice(-50);
lines.push(
  "",
  `Commit + accept through the handlers (sign, verify, check, store), ${payments} payments in one ` +
    `in-memory federation store: ${(payments / total).toFixed(1)} payments/s; ` +
    `first 50: p50 ${median(first).toFixed(1)} ms, p99 ${percentile(first, 0.99).toFixed(1)} ms; ` +
    `last 50: p50 ${median(last).toFixed(1)} ms, p99 ${percentile(last, 0.99).toFixed(1)} ms ` +
    "(each handler reads and updates the pair's stored positions: the cost does not grow with history).",
);
Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
