/**
 * `deno task bench:methods`: tally of each decision method with 100,000
 * eligible members and 100,000 ballots (ranked: 10 options), through
 * `tallyMethod` (ballot resolution, quorum and the method's count). Target:
 * ≤ 200 ms each. Ballots come from a fixed-seed generator.
 *
 * Each run reports wall time and the process's CPU time (user + system, all
 * threads): on a shared machine under load the wall time mostly measures the
 * wait for a core, and the CPU time is the closer estimate of an idle run.
 */
import process from "node:process";
import {
  checkMethodSpec,
  type MethodBallot,
  type MethodSpec,
  tallyMethod,
} from "../core/governance/methods/mod.ts";
import { parseScriptArgs, scriptSpec, wholeNumberArg } from "./_args.ts";

const usage = scriptSpec({
  usage: "deno task bench:methods [options]",
  description: "Tally of each decision method with 100,000 eligible members and 100,000 ballots\n" +
    "(ranked: 10 options); wall and CPU time per method (a markdown report on stdout).",
  options: {
    members: {
      type: "string",
      value: "N",
      description: "eligible members and ballots (default 100000)",
    },
    runs: { type: "string", value: "N", description: "rounds, median kept (default 5)" },
  },
});
const { values: args } = parseScriptArgs(usage);
const members = wholeNumberArg(usage, args.members, {
  name: "--members",
  fallback: 100_000,
  max: 1_000_000,
});
const runs = wholeNumberArg(usage, args.runs, { name: "--runs", fallback: 5, max: 50 });
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (n: number) => Math.floor(random() * n);
const options = (n: number) => Array.from({ length: n }, (_, i) => `option ${i + 1}`);

const cases: [MethodSpec, () => MethodBallot][] = [
  [
    checkMethodSpec({ name: "sense-check", options: [] }),
    () => ["good", "unsure", "concerned"][pick(3)],
  ],
  [checkMethodSpec({ name: "poll", options: options(10) }), () => pick(10)],
  [
    checkMethodSpec({ name: "score", options: options(10), maxScore: 5 }),
    () => Array.from({ length: 10 }, () => pick(6)),
  ],
  [
    checkMethodSpec({ name: "dot", options: options(10), points: 10 }),
    () => Array.from({ length: 10 }, () => pick(2)),
  ],
  [
    checkMethodSpec({ name: "ranked", options: options(10), seats: 1 }),
    () => {
      const order = [...Array(10).keys()];
      for (let i = order.length - 1; i > 0; i--) {
        const j = pick(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      return order.slice(0, 1 + pick(10));
    },
  ],
  [
    checkMethodSpec({ name: "meeting", options: options(10) }),
    () => Array.from({ length: 10 }, () => pick(3)),
  ],
];

const eligible = new Set(Array.from({ length: members }, (_, i) => `did:icn:member${i}`));
const rows: string[] = [];
for (const [spec, ballot] of cases) {
  const votes = new Map<string, MethodBallot>();
  for (const did of eligible) votes.set(did, ballot());
  const times: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < runs; run++) {
    const startCpu = process.cpuUsage();
    const start = performance.now();
    tallyMethod({ spec, eligible, votes, delegations: new Map(), quorum: 50 });
    times.push(performance.now() - start);
    const used = process.cpuUsage(startCpu);
    cpu.push((used.user + used.system) / 1000);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const median = times[Math.floor(runs / 2)];
  const cpuMedian = cpu[Math.floor(runs / 2)];
  rows.push(
    `| ${spec.name} (${spec.options.length || 3} options) | ${median.toFixed(1)} | ${
      times[runs - 1].toFixed(1)
    } | ${cpuMedian.toFixed(1)} | ${cpuMedian <= 200 ? "yes" : "NO"} |`,
  );
}
const load = await Deno.readTextFile("/proc/loadavg").then((t) => t.split(" ")[0]).catch(() => "?");
const lines = [
  `bench:methods — ${members.toLocaleString("en")} eligible, ${
    members.toLocaleString("en")
  } ballots, ${runs} runs, load ${load}`,
  "| method | wall median ms | wall max ms | CPU median ms | CPU ≤ 200 ms |",
  "|---|---|---|---|---|",
  ...rows,
];
Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
