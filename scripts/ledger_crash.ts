/**
 * Crash test (`deno task crash:ledger [RUNS]`, default 50): streams of
 * `icn ledger transfer` processes on one data dir are killed with SIGKILL at
 * random moments. After each run `icn ledger check` must pass, every transfer
 * a process reported as committed (exit 0) must be in the history exactly
 * once, and re-sending a killed transfer's id must never pay twice.
 */
import { parseScriptArgs, scriptSpec, wholeNumberArg } from "./_args.ts";
import { icn, icnOk, setupCoop, spawnIcn } from "../tests/ledger_support.ts";

export interface CrashReport {
  runs: number;
  reported: number;
  killed: number;
  /** Killed processes whose transfer had committed anyway (found before re-sending). */
  killedAfterCommit: number;
  /** Wall time of an unkilled transfer among the concurrent ones, ms (median). */
  transferMs: number;
  failures: string[];
}

const velocity = ["isolated", "known", "partner", "federated"].map((c) =>
  `policy.${c}.velocity=1000000`
);
/** Concurrent transfer processes per run. */
const streamProcesses = 3;
/**
 * Kills land at a uniform moment between these fractions of an unkilled
 * transfer's wall time (measured at the start of the test on this machine),
 * so most fall in unlock, validation and commit rather than in process start.
 */
const killWindow = [0.5, 1.15] as const;

async function historyIds(dir: string): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0;; offset += 1000) {
    const page = JSON.parse(
      await icnOk(
        dir,
        "--json",
        "ledger",
        "history",
        "--limit",
        "1000",
        "--offset",
        String(offset),
      ),
    );
    ids.push(...page.entries.map((e: { id: string }) => e.id));
    if (page.entries.length < 1000) return ids;
  }
}

export async function runCrashTrials(
  runs: number,
  log: (line: string) => void = () => {},
): Promise<CrashReport> {
  const coop = await setupCoop(2, [...velocity, "credit.baseline=1000000000"]);
  const [dir] = coop.dirs;
  const payee = coop.dids[1];
  // Calibrate under the same contention as the runs: the processes at once, unkilled. Spawned
  // like the runs' (`icnOk` may run the CLI in this process, which takes no process start).
  const timings = await Promise.all(Array.from({ length: streamProcesses }, async (_, i) => {
    const start = performance.now();
    const child = spawnIcn(
      dir,
      "ledger",
      "transfer",
      "--to",
      payee,
      "--amount",
      "1",
      "--id",
      `warm-${i}`,
    );
    const out = await child.output();
    if (out.code !== 0) {
      throw new Error(`calibration transfer failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return performance.now() - start;
  }));
  const transferMs = timings.sort((a, b) => a - b)[1];
  const report: CrashReport = {
    runs,
    reported: 0,
    killed: 0,
    killedAfterCommit: 0,
    transferMs,
    failures: [],
  };
  const reported: string[] = [];
  const unknown: string[] = [];
  for (let run = 0; run < runs; run++) {
    const children = Array.from({ length: streamProcesses }, (_, k) => {
      const id = `crash-${run}-${k}`;
      const child = spawnIcn(dir, "ledger", "transfer", "--to", payee, "--amount", "1", "--id", id);
      const delay = Math.floor(
        transferMs * (killWindow[0] + Math.random() * (killWindow[1] - killWindow[0])),
      );
      let killed = false;
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
          killed = true;
        } catch {
          // Already exited.
        }
      }, delay);
      return child.output().then((out) => {
        clearTimeout(timer);
        return { id, code: out.code, killed };
      });
    });
    for (const result of await Promise.all(children)) {
      if (result.code === 0 && !result.killed) reported.push(result.id);
      else {
        report.killed++;
        unknown.push(result.id);
      }
    }
    const check = await icn(dir, "ledger", "check");
    if (check.code !== 0) {
      report.failures.push(`run ${run}: ledger check failed: ${check.stdout}${check.stderr}`);
    }
    log(`run ${run + 1}/${runs}: ${reported.length} reported, ${report.killed} killed`);
  }
  const committed = new Set(await historyIds(dir));
  report.killedAfterCommit = unknown.filter((id) => committed.has(id)).length;
  // Re-send every killed transfer: each must end up present exactly once.
  for (const id of unknown) {
    const again = await icn(dir, "ledger", "transfer", "--to", payee, "--amount", "1", "--id", id);
    if (again.code !== 0) report.failures.push(`re-sending ${id} failed: ${again.stderr}`);
  }
  const ids = await historyIds(dir);
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const id of [...reported, ...unknown]) {
    if (counts.get(id) !== 1) {
      report.failures.push(`transfer ${id} is present ${counts.get(id) ?? 0} times`);
    }
  }
  const final = await icn(dir, "ledger", "check");
  if (final.code !== 0) report.failures.push(`final ledger check failed: ${final.stdout}`);
  report.reported = reported.length;
  await Deno.remove(coop.root, { recursive: true });
  return report;
}

if (import.meta.main) {
  const usage = scriptSpec({
    usage: "deno task crash:ledger [RUNS]",
    description: "Kills concurrent `icn ledger transfer` processes at random moments and checks\n" +
      "that the ledger stays consistent and no transfer is lost or paid twice.",
    positionals: [{ name: "RUNS", description: "number of runs (default 50)" }],
  });
  const runs = wholeNumberArg(usage, parseScriptArgs(usage).positionals[0], {
    name: "RUNS",
    fallback: 50,
  });
  const encoder = new TextEncoder();
  const report = await runCrashTrials(
    runs,
    (line) => Deno.stderr.writeSync(encoder.encode(line + "\n")),
  );
  const lines = [
    `## Ledger crash test`,
    ``,
    `- runs: ${report.runs} (${streamProcesses} concurrent transfer processes each, SIGKILL at ${
      killWindow.join("–")
    }× an unkilled transfer's ${Math.round(report.transferMs)} ms)`,
    `- transfers reported committed: ${report.reported}; killed: ${report.killed}, of which ${report.killedAfterCommit} had committed before the kill`,
    `- failures: ${report.failures.length}`,
    ...report.failures.map((f) => `  - ${f}`),
  ];
  Deno.stdout.writeSync(encoder.encode(lines.join("\n") + "\n"));
  Deno.exit(report.failures.length === 0 ? 0 : 1);
}
