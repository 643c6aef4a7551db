/**
 * The short fuzz run of `deno task test`: the corpus of earlier findings
 * (tests/fuzz_corpus, each a fixed bug) is replayed, then a fixed number of
 * seeded mutated and random inputs per target, so the run is the same on
 * every machine; only a machine too busy to finish in `secondsMax` runs
 * fewer. `deno task fuzz` runs longer, with a fresh seed each time.
 */
import { ok as assert } from "node:assert";
import { toBase64 } from "../core/bytes.ts";
import { corpusDirDefault, formatReport, readCorpus, runFuzz } from "../scripts/fuzz.ts";

/** Seed of the suite's run (any fixed value; a new one is tried by `deno task fuzz`). */
const seed = 20_261_202;
/** Inputs per target (slow targets, e.g. backups doing scrypt, run a fraction of it). */
const inputsPerTarget = 300;
/** Bound of the whole run: well under the suite's budget on a loaded 2-core machine. */
const secondsMax = 50;

Deno.test("fuzz: every decoder and CLI file input refuses bad input with a typed error, changes no state, ends in time (corpus, then seeded inputs)", async () => {
  const report = await runFuzz({ seconds: secondsMax, seed, inputsPerTarget, saveDir: null });
  const findings = report.findings.map((f) =>
    `${f.kind} in ${f.target} (${f.origin}): ${f.message}\n  input (base64): ${
      toBase64(f.input).slice(0, 2000)
    }`
  );
  assert(findings.length === 0, `${findings.join("\n")}\n\n${formatReport(report)}`);
  const targets = Object.entries(report.targets);
  assert(targets.length >= 20, `only ${targets.length} targets ran`);
  for (const [name, stats] of targets) assert(stats.inputs > 0, `${name} ran no input`);
  assert(report.corpusEntries === (await readCorpus(corpusDirDefault)).length);
});

Deno.test("fuzz: the same seed gives the same inputs", async () => {
  const { nextInput, Random } = await import("../scripts/_fuzz_mutate.ts");
  const samples = [new Uint8Array([0xa1, 0x61, 0x61, 0x01]), new TextEncoder().encode('{"a":1}')];
  const run = (format: "cbor" | "json") => {
    const random = new Random(seed);
    return Array.from({ length: 200 }, () => toBase64(nextInput(random, samples, format)));
  };
  assert(run("cbor").join() === run("cbor").join());
  assert(run("json").join() === run("json").join());
  assert(new Set(run("cbor")).size > 100, "inputs barely vary");
});

Deno.test("fuzz: a typed refusal passes; an exception, a state change and a hang are findings", async () => {
  const report = await runFuzz({
    seconds: 30,
    seed,
    inputsPerTarget: 3,
    inputMsMax: 1000,
    corpusDir: null,
    saveDir: null,
    targetsModule: new URL("./_fuzz_broken_targets.ts", import.meta.url).href,
  });
  const found = new Set(report.findings.map((f) => `${f.kind} in ${f.target}`));
  for (const expected of ["exception in throws", "state in writes", "hang in hangs"]) {
    assert(found.has(expected), `missing "${expected}": ${[...found].join(", ")}`);
  }
  assert(![...found].some((f) => f.endsWith("in refuses")), [...found].join(", "));
});
