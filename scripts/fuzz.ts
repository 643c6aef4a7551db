/**
 * `deno task fuzz [--seconds N] [--seed S] [--target NAME]...`: feeds every
 * decoder of untrusted input and every CLI file input (genesis, bundle,
 * backup, recovery request and attestation, minisign signature and key,
 * config, envelopes, hello and sync messages, control API bodies) mutated
 * and random inputs, and checks that each one is either handled or refused
 * with a typed error (an IcnError: exit 1 in the CLI), leaves the store
 * unchanged, finishes within its time bound, and keeps memory bounded.
 *
 * The targets run in a worker; this thread watches it, so an input that
 * never returns is caught and kept. Findings are written to the corpus
 * (`tests/fuzz_corpus/TARGET/HASH`), which every run (and `deno task test`)
 * replays first: fix the bug and the finding stays as a regression case.
 */
import { toHex } from "../core/bytes.ts";
import { parseScriptArgs, scriptSpec, usageError, wholeNumberArg } from "./_args.ts";
import type { FindingKind, TargetStats, WorkerMessage, WorkerRequest } from "./_fuzz_worker.ts";

/** Default run time: a useful session, not the short run in the test suite. */
const secondsDefault = 60;
/** Time one input may take before it counts as a hang (a busy 2-core machine included). */
const inputMsMaxDefault = 5_000;
/** Resident memory of the whole process past which a run stops with a finding. */
const rssBytesMaxDefault = 1536 * 1024 * 1024;
/** Time the worker has to build its targets and samples, beyond the run time. */
const setupMsMax = 60_000;
/** How often the main thread checks the current input's time. */
const watchdogIntervalMs = 100;

export const corpusDirDefault = new URL("../tests/fuzz_corpus", import.meta.url).pathname;

export interface FuzzOptions {
  seconds: number;
  seed: number;
  /** Only these targets (default: all); an unknown name is a RangeError. */
  targets?: string[];
  inputMsMax?: number;
  rssBytesMax?: number;
  /** Run exactly this many inputs per target (scaled down for slow ones), within `seconds`. */
  inputsPerTarget?: number;
  /** Module URL whose `buildTargets(dir)` replaces the real targets (for the harness's tests). */
  targetsModule?: string;
  /** Corpus replayed first (default `tests/fuzz_corpus`); null for none. */
  corpusDir?: string | null;
  /** Where findings are written (TARGET/HASH); null to keep them in the report only. */
  saveDir?: string | null;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface FuzzFinding {
  target: string;
  kind: FindingKind;
  message: string;
  /** "corpus T/NAME", "sample N" or "seed S input N": how to get the input again. */
  origin: string;
  input: Uint8Array;
  /** Where it was saved, when it was. */
  file?: string;
}

export interface FuzzReport {
  seed: number;
  seconds: number;
  setupMs: number;
  inputs: number;
  inputsPerSecond: number;
  corpusEntries: number;
  rssMaxBytes: number;
  targets: Record<string, TargetStats>;
  findings: FuzzFinding[];
}

/** Reads `DIR/TARGET/NAME` files; a missing directory is an empty corpus. */
export async function readCorpus(dir: string): Promise<WorkerRequest["corpus"]> {
  const out: WorkerRequest["corpus"] = [];
  try {
    for await (const target of Deno.readDir(dir)) {
      if (!target.isDirectory) continue;
      const names: string[] = [];
      for await (const entry of Deno.readDir(`${dir}/${target.name}`)) {
        if (entry.isFile) names.push(entry.name);
      }
      for (const name of names.sort()) {
        out.push({
          target: target.name,
          name,
          bytes: await Deno.readFile(`${dir}/${target.name}/${name}`),
        });
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort((a, b) => `${a.target}/${a.name}` < `${b.target}/${b.name}` ? -1 : 1);
}

async function saveFinding(dir: string, finding: FuzzFinding): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", finding.input.slice()));
  const path = `${dir}/${finding.target}/${toHex(digest).slice(0, 16)}`;
  await Deno.mkdir(`${dir}/${finding.target}`, { recursive: true });
  await Deno.writeFile(path, finding.input);
  return path;
}

/** Runs the fuzzer for `options.seconds` and reports what it ran and found. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const corpusDir = options.corpusDir === undefined ? corpusDirDefault : options.corpusDir;
  const corpus = corpusDir ? await readCorpus(corpusDir) : [];
  const request: WorkerRequest = {
    seed: options.seed >>> 0,
    seconds: options.seconds,
    targets: options.targets ?? [],
    inputMsMax: options.inputMsMax ?? inputMsMaxDefault,
    rssBytesMax: options.rssBytesMax ?? rssBytesMaxDefault,
    inputsPerTarget: options.inputsPerTarget,
    targetsModule: options.targetsModule,
    corpus,
  };
  const report: FuzzReport = {
    seed: request.seed,
    seconds: options.seconds,
    setupMs: 0,
    inputs: 0,
    inputsPerSecond: 0,
    corpusEntries: corpus.length,
    rssMaxBytes: 0,
    targets: {},
    findings: [],
  };
  const started = performance.now();
  const worker = new Worker(new URL("./_fuzz_worker.ts", import.meta.url).href, {
    type: "module",
  });
  let current: { target: string; input: Uint8Array; since: number; limitMs: number } | null = null;
  let readyAt = 0;
  const saving: Promise<void>[] = [];
  let usageProblem: string | undefined;
  const record = (finding: FuzzFinding) => {
    report.findings.push(finding);
    log(`FINDING ${finding.kind} in ${finding.target} (${finding.origin}): ${finding.message}`);
    // Only inputs are kept: a failure of the fuzzer itself has none worth replaying.
    if (options.saveDir && finding.origin !== "setup") {
      saving.push(
        saveFinding(options.saveDir, finding).then((file) => {
          finding.file = file;
          log(`  kept as ${file}`);
        }),
      );
    }
  };
  await new Promise<void>((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      worker.terminate();
      resolve();
    };
    const watchdog = setInterval(() => {
      const now = performance.now();
      if (current && now - current.since > current.limitMs * 2) {
        record({
          target: current.target,
          kind: "hang",
          message: `no answer after ${
            Math.round(now - current.since)
          } ms (bound ${current.limitMs} ms)`,
          origin: "the input being run",
          input: current.input,
        });
        finish();
      } else if (
        now - started > setupMsMax + options.seconds * 1000 + (current ? current.limitMs * 2 : 0)
      ) {
        record({
          target: current?.target ?? "(setup)",
          kind: "hang",
          message: `the run did not end in ${Math.round((now - started) / 1000)} s`,
          origin: "the input being run",
          input: current?.input ?? new Uint8Array(0),
        });
        finish();
      }
    }, watchdogIntervalMs);
    worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
      const message = event.data;
      switch (message.type) {
        case "ready":
          readyAt = performance.now();
          report.setupMs = message.setupMs;
          log(
            `fuzz: seed ${request.seed}, ${message.targets.length} targets, ${corpus.length} corpus entries, setup ${message.setupMs} ms`,
          );
          break;
        case "begin":
          current = {
            target: message.target,
            input: message.input,
            since: performance.now(),
            limitMs: message.limitMs,
          };
          break;
        case "end":
          current = null;
          break;
        case "finding":
          record({
            target: message.target,
            kind: message.kind,
            message: message.message,
            origin: message.origin,
            input: message.input,
          });
          break;
        case "done":
          report.targets = message.stats;
          report.rssMaxBytes = message.rssMaxBytes;
          finish();
          break;
        case "failed":
          if (message.usage) {
            usageProblem = message.message;
            finish();
            break;
          }
          record({
            target: "(fuzzer)",
            kind: "crash",
            message: message.message,
            origin: "setup",
            input: new Uint8Array(0),
          });
          finish();
          break;
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      record({
        target: current?.target ?? "(fuzzer)",
        kind: "crash",
        message: `the worker died: ${event.message}`,
        origin: current ? "the input being run" : "setup",
        input: current?.input ?? new Uint8Array(0),
      });
      finish();
    };
    worker.postMessage(request);
  });
  await Promise.all(saving);
  if (usageProblem) throw new RangeError(usageProblem);
  report.inputs = Object.values(report.targets).reduce((n, t) => n + t.inputs, 0);
  const fuzzSeconds = (performance.now() - (readyAt || started)) / 1000;
  report.inputsPerSecond = Math.round(report.inputs / Math.max(fuzzSeconds, 0.001));
  return report;
}

/** The summary table printed at the end of a run. */
export function formatReport(report: FuzzReport): string {
  const rows = Object.entries(report.targets).map(([name, t]) => [
    name,
    String(t.inputs),
    String(Math.round(t.inputs / Math.max(t.totalMs / 1000, 0.001))),
    `${t.inputs ? Math.round((100 * t.refused) / t.inputs) : 0}%`,
    `${Math.round(t.maxMs)}`,
  ]);
  const header = ["target", "inputs", "inputs/s", "refused", "max ms"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [
    line(header),
    ...rows.map(line),
    "",
    `seed ${report.seed}: ${report.inputs} inputs in ${report.seconds} s (${report.inputsPerSecond}/s after ${report.setupMs} ms setup), ${report.corpusEntries} corpus entries replayed, peak RSS ${
      Math.round(report.rssMaxBytes / 1024 / 1024)
    } MiB, ${report.findings.length} finding(s)`,
  ].join("\n");
}

const spec = scriptSpec({
  usage: "deno task fuzz [options]",
  description: [
    "Feeds every decoder of untrusted input and every CLI file input mutated and random",
    "inputs. Each input must be handled or refused with a typed error, leave the store",
    "unchanged, end within its time bound, and keep memory bounded. The corpus",
    "(tests/fuzz_corpus/TARGET/NAME) is replayed first; findings are added to it.",
    "Exits 1 when anything was found.",
  ].join("\n"),
  options: {
    seconds: {
      type: "string",
      value: "N",
      description: `run time in seconds, setup included (default: ${secondsDefault})`,
    },
    seed: {
      type: "string",
      value: "S",
      description: "seed of the input streams, 0 to 4294967295 (default: random, printed)",
    },
    target: {
      type: "string",
      multiple: true,
      value: "NAME",
      description: "fuzz only this target (repeatable; --list shows them)",
    },
    list: { type: "boolean", description: "print the targets and what they stand for" },
    "input-ms": {
      type: "string",
      value: "N",
      description: `time one input may take before it is a finding (default: ${inputMsMaxDefault})`,
    },
    "no-save": { type: "boolean", description: "do not write findings to the corpus" },
    corpus: {
      type: "string",
      value: "DIR",
      description: "corpus to replay and to add findings to (default: tests/fuzz_corpus)",
    },
  },
});

const encoder = new TextEncoder();

function printOut(text: string): void {
  Deno.stdout.writeSync(encoder.encode(`${text}\n`));
}

function printErr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(`${text}\n`));
}

async function main(): Promise<number> {
  const { values } = parseScriptArgs(spec);
  if (values.list) {
    const { buildTargets } = await import("./_fuzz_targets.ts");
    const dir = await Deno.makeTempDir({ prefix: "icn-fuzz-" });
    try {
      for (const t of await buildTargets(dir)) printOut(`${t.name.padEnd(22)} ${t.what}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    return 0;
  }
  const seconds = wholeNumberArg(spec, values.seconds, {
    name: "--seconds",
    fallback: secondsDefault,
    max: 86_400,
  });
  const seed = wholeNumberArg(spec, values.seed, {
    name: "--seed",
    fallback: crypto.getRandomValues(new Uint32Array(1))[0],
    min: 0,
    max: 0xffff_ffff,
  });
  const inputMsMax = wholeNumberArg(spec, values["input-ms"], {
    name: "--input-ms",
    fallback: inputMsMaxDefault,
    max: 600_000,
  });
  const corpusDir = values.corpus ?? corpusDirDefault;
  printErr(`fuzz: seed ${seed} (repeat with --seed ${seed})`);
  let report: FuzzReport;
  try {
    report = await runFuzz({
      seconds,
      seed,
      targets: values.target,
      inputMsMax,
      corpusDir,
      saveDir: values["no-save"] ? null : corpusDir,
      log: printErr,
    });
  } catch (error) {
    if (error instanceof RangeError) usageError(spec, error.message);
    throw error;
  }
  printOut(formatReport(report));
  return report.findings.length > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
