/**
 * `deno task bench:federation`: the federation tally with 1,000 cooperatives
 * and 200 delegates' votes (issue 16: ≤ 50 ms), under both vote weights,
 * beside the cooperative tally over 1,000 members with the same votes as a
 * baseline from the same run. Prints a markdown report with the date, the
 * commit and the machine load, since a figure without them cannot be compared.
 */
import { tallyFederation } from "../core/federation/tally.ts";
import type { CoopVoters, DelegateVote } from "../core/federation/tally.ts";
import { type Choice, tally } from "../core/governance/tally.ts";
import { seededRng } from "../core/ports.ts";
import { parseScriptArgs, scriptSpec } from "./_args.ts";

const usage = scriptSpec({
  usage: "deno task bench:federation",
  description:
    "Federation tally over 1,000 cooperatives and 200 delegates' votes (target <= 50 ms),\n" +
    "beside the cooperative tally as a baseline (a markdown report on stdout).",
  options: {},
});
parseScriptArgs(usage);

const cooperativesCount = 1000;
const delegatesPerCoop = 3;
const votesCount = 200;
const runs = 51;
const targetMs = 50;

const rng = seededRng(16);
/** A deterministic integer in 0..n-1. */
const below = (n: number) => new DataView(rng.bytes(4).buffer).getUint32(0) % n;
const cooperatives = new Map<string, CoopVoters>();
for (let i = 0; i < cooperativesCount; i++) {
  const net = `bafy${i.toString().padStart(6, "0")}`;
  cooperatives.set(net, {
    delegates: new Set(Array.from({ length: delegatesPerCoop }, (_, d) => `did:icn:z${i}d${d}`)),
    members: 3 + below(300),
  });
}
const nets = [...cooperatives.keys()];
const choiceList: Choice[] = ["for", "for", "against", "abstain"];
const votes: DelegateVote[] = [];
for (let i = 0; i < votesCount; i++) {
  // Votes spread over 150 cooperatives: some cooperatives' delegates vote more than once.
  const coop = below(150);
  const delegate = below(delegatesPerCoop);
  votes.push({
    coop: nets[coop],
    did: `did:icn:z${coop}d${delegate}`,
    choice: choiceList[below(choiceList.length)],
    ts: 1_000 + i,
  });
}
const rules = { quorum: 10, approval: 50, mode: "majority" as const };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(run: () => unknown): number {
  for (let i = 0; i < 5; i++) run();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    run();
    ms.push(performance.now() - start);
  }
  return median(ms);
}

const baseVotes = new Map(votes.map((v) => [v.coop, v.choice]));
const baseMs = time(() =>
  tally({ eligible: nets, votes: baseVotes, delegations: new Map(), rules })
);
const equal = tallyFederation({ cooperatives, votes, weight: "equal", rules });
const equalMs = time(() => tallyFederation({ cooperatives, votes, weight: "equal", rules }));
const weighted = tallyFederation({ cooperatives, votes, weight: "members", rules });
const membersMs = time(() => tallyFederation({ cooperatives, votes, weight: "members", rules }));

let commit = "unknown";
try {
  const out = await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"] }).output();
  if (out.success) commit = new TextDecoder().decode(out.stdout).trim();
} catch {
  // Not a git checkout: the report says "unknown".
}
const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" / ");
const worst = Math.max(equalMs, membersMs);
const lines = [
  "## Federation tally",
  "",
  `${
    new Date().toISOString().slice(0, 10)
  }, commit ${commit}, ${Deno.build.os}/${Deno.build.arch}, ` +
  `load average (1/5/15 min) ${load}, ${navigator.hardwareConcurrency} CPUs.`,
  "",
  `${cooperativesCount.toLocaleString("en")} cooperatives (${delegatesPerCoop} delegates each), ` +
  `${votesCount} delegates' votes over ${baseVotes.size} cooperatives; median of ${runs} runs.`,
  "",
  "| what | ms | vs baseline |",
  "| --- | ---: | ---: |",
  `| baseline: cooperative tally(), 1,000 members, one vote each | ${baseMs.toFixed(3)} | 1.0× |`,
  `| tallyFederation(), equal weight | ${equalMs.toFixed(3)} | ${(equalMs / baseMs).toFixed(1)}× |`,
  `| tallyFederation(), weighted by members | ${membersMs.toFixed(3)} | ${
    (membersMs / baseMs).toFixed(1)
  }× |`,
  "",
  `Result (equal): cast ${equal.cast} of ${equal.eligible}, for ${equal.for}, ${equal.outcome}; ` +
  `(members): cast ${weighted.cast} of ${weighted.eligible}, for ${weighted.for}, ${weighted.outcome}.`,
  `Target: ≤ ${targetMs} ms — ${worst <= targetMs ? "met" : "NOT met"}.`,
];
Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
if (worst > targetMs) Deno.exit(1);
