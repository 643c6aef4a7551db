/**
 * `deno task loadtest`: drives the app gateway of real `icn node run` processes (or of gateways
 * given by URL) with simulated members doing the reference system's mix (trust edges 5 :
 * transfers 3 : balance reads 2), phase by phase, and writes a dated report with SVG figures to
 * docs/loadtest/. See docs/loadtest.md.
 */
import { percentile } from "./loadtest/stats.ts";
import {
  breakingPoint,
  defaultThresholds,
  summarize,
  type Thresholds,
  timeSeries,
} from "./loadtest/stats.ts";
import {
  members as memberIdentities,
  nodeArgs,
  nodeEnv,
  prepareNodes,
  startNodes,
} from "./loadtest/cluster.ts";
import { drive, type Member, runOperation, signIn, usersAt } from "./loadtest/driver.ts";
import { mix } from "./loadtest/mix.ts";
import { histogramSpec, latencySpec, renderSvg, throughputSpec } from "./loadtest/plots.ts";
import { breakingText, renderReport } from "./loadtest/report.ts";
import {
  peakUsers,
  type ScenarioName,
  scenarioNames,
  scenarios,
  scenarioSeconds,
  withDuration,
} from "./loadtest/scenarios.ts";
import { parseScriptArgs, scriptSpec, usageError, wholeNumberArg } from "./_args.ts";

const usage = scriptSpec({
  usage:
    "deno task loadtest --scenario baseline|medium|high|stress|spike [--nodes N | --url URL ...] [options]",
  description:
    "Load-tests the app gateway: starts real `icn node run` processes with the gateway on loopback\n" +
    "(or targets gateways by URL), signs in simulated members and drives them with the mix\n" +
    "trust edges 5 : transfers 3 : balance reads 2, phase by phase; writes a dated report with\n" +
    "SVG plots (docs/loadtest.md).",
  options: {
    scenario: {
      type: "string",
      value: "NAME",
      default: "baseline",
      description: `one of ${scenarioNames.join(", ")}`,
    },
    nodes: {
      type: "string",
      value: "N",
      default: "1",
      description: "node processes to start (1–8); members are spread over their gateways",
    },
    url: {
      type: "string",
      value: "URL",
      multiple: true,
      description:
        "target this gateway instead (repeatable); its network must hold the members (see --prepare)",
    },
    duration: {
      type: "string",
      value: "S",
      description: "scale the scenario's phases to last S seconds in all (2–3600)",
    },
    out: {
      type: "string",
      value: "DIR",
      default: "docs/loadtest",
      description: "where the report and its figures go",
    },
    "p99-ms": {
      type: "string",
      value: "MS",
      default: String(defaultThresholds.p99Ms),
      description: "a load step breaks when its p99 latency exceeds this",
    },
    "max-errors": {
      type: "string",
      value: "PERMILLE",
      default: String(defaultThresholds.errorRate * 1000),
      description: "... or when more than this many per mille of its operations fail",
    },
    "timeout-ms": {
      type: "string",
      value: "MS",
      default: "10000",
      description: "each HTTP request's timeout (a timed-out operation fails as `timeout`)",
    },
    prepare: {
      type: "string",
      value: "DIR",
      description:
        "only set up --nodes data dirs in DIR with the scenario's members, print how to start them, exit",
    },
  },
  notes: [
    'The nodes\' keystores are throwaway (passphrase "loadtest throwaway", ICN_SCRYPT_LOG_N=10) and',
    "their data dirs are removed at the end. Every run is bounded: its phases, then at most 15 s",
    "for operations in flight. Progress goes to stderr; the breaking point and report path to stdout.",
  ],
});

const { values } = parseScriptArgs(usage);
const scenarioName = values.scenario;
if (!(scenarioNames as readonly string[]).includes(scenarioName)) {
  usageError(
    usage,
    `Unknown scenario "${scenarioName}": expected one of ${scenarioNames.join(", ")}`,
  );
}
const nodeCount = wholeNumberArg(usage, values.nodes, { name: "--nodes", fallback: 1, max: 8 });
const urls = values.url ?? [];
if (urls.length > 0 && values.nodes !== "1") usageError(usage, "Give --nodes or --url, not both");
if (urls.length > 0 && values.prepare !== undefined) {
  usageError(usage, "Give --prepare or --url, not both");
}
for (const url of urls) {
  let ok = false;
  try {
    ok = ["http:", "https:"].includes(new URL(url).protocol);
  } catch {
    ok = false;
  }
  if (!ok) usageError(usage, `Cannot use --url "${url}": expected an http(s) URL of a gateway`);
}
const duration = values.duration === undefined
  ? undefined
  : wholeNumberArg(usage, values.duration, { name: "--duration", fallback: 60, min: 2, max: 3600 });
const thresholds: Thresholds = {
  p99Ms: wholeNumberArg(usage, values["p99-ms"], { name: "--p99-ms", fallback: 1000, min: 1 }),
  errorRate: wholeNumberArg(usage, values["max-errors"], {
    name: "--max-errors",
    fallback: 10,
    min: 0,
    max: 1000,
  }) / 1000,
};
const requestTimeoutMs = wholeNumberArg(usage, values["timeout-ms"], {
  name: "--timeout-ms",
  fallback: 10_000,
  min: 100,
  max: 120_000,
});
const scenario = withDuration(scenarios[scenarioName as ScenarioName], duration);
const peak = peakUsers(scenario);

const configPath = new URL("../deno.json", import.meta.url).pathname;
const encoder = new TextEncoder();
const log = (line: string) => Deno.stderr.writeSync(encoder.encode(`loadtest: ${line}\n`));
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

function commit(): string {
  try {
    const out = new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return new TextDecoder().decode(out.stdout).trim() || "unknown";
  } catch {
    return "unknown";
  }
}

if (values.prepare !== undefined) {
  const root = values.prepare;
  const prepared = await prepareNodes(root, { nodes: nodeCount, users: peak, log });
  print(`Prepared ${prepared.dirs.length} data dir(s) in ${root} (network ${prepared.net}).`);
  print(
    "Start each node (the first printed listen address of node 1 as --bootstrap of the others):",
  );
  for (const dir of prepared.dirs) {
    const env = Object.entries(nodeEnv).map(([k, v]) => `${k}='${v}'`).join(" ");
    print(`  ${env} ${Deno.execPath()} ${nodeArgs(dir).join(" ")}`);
  }
  print(
    `then: deno task loadtest --scenario ${scenario.name} --url GATEWAY_URL (from each node.json)`,
  );
  Deno.exit(0);
}

const loadBefore = loadAverage();
let stopNodes: (() => Promise<void>) | undefined;
let root: string | undefined;
const cleanUp = async () => {
  await stopNodes?.();
  stopNodes = undefined;
  if (root !== undefined) await Deno.remove(root, { recursive: true }).catch(() => {});
  root = undefined;
};
const onSignal = () => {
  log("interrupted: stopping the nodes");
  cleanUp().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

let exitCode = 0;
let nodeLogs: () => string[] = () => [];
try {
  let gateways: string[];
  let target: string;
  if (urls.length > 0) {
    gateways = urls.map((u) => u.replace(/\/+$/, ""));
    target = `the gateway(s) ${gateways.join(", ")}`;
  } else {
    root = await Deno.makeTempDir({ prefix: "icn-loadtest-" });
    const prepared = await prepareNodes(root, { nodes: nodeCount, users: peak, log });
    const started = await startNodes(prepared);
    stopNodes = started.stop;
    nodeLogs = () => started.nodes.map((n) => n.stderr());
    gateways = started.nodes.map((n) => n.gateway);
    target =
      `${nodeCount} \`icn node run\` process(es) started by the harness (profile test, gateway on loopback, default gateway limits)`;
    log(`nodes up: ${gateways.join(", ")}`);
  }

  // Sign every member in, a few at a time (on_start of the Locust users).
  const identities = await memberIdentities(peak, Date.now() - 60_000);
  const signInStarted = performance.now();
  const signInMs: number[] = [];
  const signed: Member[] = new Array(identities.length);
  const deadline = Date.now() + 180_000;
  let nextIndex = 0;
  await Promise.all(Array.from({ length: Math.min(16, identities.length) }, async () => {
    while (nextIndex < identities.length) {
      const i = nextIndex++;
      const api = `${gateways[i % gateways.length]}/api/v1`;
      const t = performance.now();
      const token = await signIn(api, identities[i], i, deadline);
      signInMs.push(performance.now() - t);
      signed[i] = { index: i, identity: identities[i], api, token };
    }
  }));
  const signInSeconds = (performance.now() - signInStarted) / 1000;
  log(`${signed.length} members signed in in ${signInSeconds.toFixed(1)} s`);

  const first = signed[0];
  const balance = await fetch(`${first.api}/accounts/${first.identity.did}/balance`, {
    headers: { authorization: `Bearer ${first.token}` },
    signal: AbortSignal.timeout(30_000),
  });
  const balanceBody = await balance.json();
  if (balance.status !== 200) {
    throw new Error(`reading a member's balance: ${balance.status} ${JSON.stringify(balanceBody)}`);
  }
  const currency = String(balanceBody.currency);

  // Warm-up, not measured: a few members do each operation once, so that the first phase does
  // not measure the node's start (compilation, first store reads).
  const warmUp = signed.slice(0, Math.min(4, signed.length));
  let warmUpFailed = 0;
  for (const member of warmUp) {
    for (const { op } of mix) {
      const done = await runOperation(
        op,
        member,
        identities.filter((id) => id.did !== member.identity.did),
        currency,
        { run: AbortSignal.timeout(4 * requestTimeoutMs), requestTimeoutMs },
      );
      if (done.status !== "ok") warmUpFailed++;
    }
  }
  const warmUpText = `${warmUp.length * mix.length} operations (${warmUpFailed} failed)`;
  log(`warm-up: ${warmUpText}`);

  log(`scenario ${scenario.name}: ${scenarioSeconds(scenario)} s, up to ${peak} members`);
  const result = await drive({
    scenario,
    members: signed,
    currency,
    requestTimeoutMs,
    graceMs: 15_000,
    log,
  });
  const nodeLog = nodeLogs().map((text) => text.split("\n").filter((l) => l.trim() !== ""));
  await cleanUp();
  const loadAfter = loadAverage();

  const phases = result.windows.map((w) => summarize(result.samples, w));
  const total = summarize(result.samples, {
    name: "all",
    users: peak,
    start: 0,
    end: result.endMs,
  });
  const breaking = breakingPoint(phases, thresholds);
  const series = timeSeries(result.samples, result.endMs, (ms) => usersAt(result.users, ms));
  const date = new Date().toISOString().slice(0, 10);
  const out = values.out;
  await Deno.mkdir(out, { recursive: true });
  // A later run of the same scenario on the same day gets -2, -3, ...: reports are not overwritten.
  let base = `${date}-${scenario.name}`;
  for (let n = 2; n <= 1000; n++) {
    const taken = await Deno.stat(`${out}/${base}.md`).then(() => true, () => false);
    if (!taken) break;
    base = `${date}-${scenario.name}-${n}`;
  }
  const title = `${base.slice(date.length + 1)}, ${date}`;
  const figures = {
    throughput: `${base}-throughput.svg`,
    latency: `${base}-latency.svg`,
    histogram: `${base}-histogram.svg`,
  };
  await Deno.writeTextFile(
    `${out}/${figures.throughput}`,
    await renderSvg(throughputSpec(series, result.windows, `Throughput (${title})`)),
  );
  await Deno.writeTextFile(
    `${out}/${figures.latency}`,
    await renderSvg(latencySpec(series, result.windows, `Operation latency (${title})`)),
  );
  await Deno.writeTextFile(
    `${out}/${figures.histogram}`,
    await renderSvg(histogramSpec(result.samples, `Latency histogram (${title})`)),
  );
  const sortedSignIn = [...signInMs].sort((a, b) => a - b);
  const command = ["deno task loadtest", ...Deno.args].join(" ");
  const report = renderReport({
    date,
    scenario,
    commit: commit(),
    target,
    members: peak,
    cpus: navigator.hardwareConcurrency,
    loadBefore,
    loadAfter,
    signIn: {
      members: signInMs.length,
      seconds: signInSeconds,
      p50: percentile(sortedSignIn, 0.5),
      p99: percentile(sortedSignIn, 0.99),
    },
    phases,
    total,
    thresholds,
    breaking,
    figures,
    command,
    warmUp: warmUpText,
    nodeLog: nodeLog.map((lines) => ({ lines: lines.length, last: lines.slice(-5) })),
  });
  await Deno.writeTextFile(`${out}/${base}.md`, report);
  await Deno.writeTextFile(
    `${out}/${base}.json`,
    JSON.stringify(
      { date, scenario: scenario.name, thresholds, breaking, phases, total },
      null,
      2,
    ) +
      "\n",
  );
  // The report is committed: format it (figures too) as `deno fmt --check` (deno task ok) expects.
  const formatted = await new Deno.Command(Deno.execPath(), {
    args: [
      "fmt",
      "--quiet",
      "--config",
      configPath,
      `${out}/${base}.md`,
      `${out}/${base}.json`,
      ...Object.values(figures).map((f) => `${out}/${f}`),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (formatted.code !== 0) {
    log(`deno fmt of the report failed: ${new TextDecoder().decode(formatted.stderr)}`);
  }
  print(`Breaking point: ${breakingText(breaking, thresholds, peak)}`);
  print(`Report: ${out}/${base}.md`);
} catch (error) {
  log(`failed: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  await cleanUp();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}
Deno.exit(exitCode);
