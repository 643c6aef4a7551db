/**
 * The bad-input sweep: every command of the tree (walked from `buildProgram`, so a new command
 * is swept without editing this file), each argument and option that takes a file or a typed
 * value, given a bad input of its kind. Each run must exit 1 or 2 (never 0, never 3), print no
 * stack trace, name the bad input on stderr, and leave the data dir as it was.
 *
 * Inputs are chosen per kind, not as a cross product: input files get a missing file, a
 * directory, /dev/zero, an empty file and random bytes (JSON ones also `null`, `[]`, `{}`);
 * `--out` gets /dev/full, a directory and a missing directory; DIDs a typo; amounts a negative
 * and a huge one; dates an impossible one; durations and counts out-of-range ones; choices an
 * unknown one; and every single-value option is given twice. Every placeholder in the
 * tree must be classified in `kinds` (a new one fails the test until it is).
 */
import { type CommandUnknownOpts as Command, type Option } from "@commander-js/extra-typings";
import { buildProgram } from "../cli/program.ts";
import { collect, createRegistrar, refuseRepeatedOptions } from "../cli/command.ts";
import { sameSnapshot, snapshotDir } from "./_cli.ts";

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;
const configPath = new URL("../deno.json", import.meta.url).pathname;
const env = { ICN_PASSPHRASE: "correct horse", ICN_SCRYPT_LOG_N: "10", NO_COLOR: "1" };
/** CLI processes at once: the sweep must stay near two minutes on a loaded 2-core machine. */
const concurrency = 3;
/** One run may take this long; a run that hangs (an endless read, a node that started) fails. */
const runTimeoutMs = 60_000;

type Kind =
  | "input" // a file read
  | "output" // a file written
  | "did"
  | "amount"
  | "count" // a non-negative integer
  | "score"
  | "duration"
  | "date" // a date or a duration from now
  | "choice" // one of a fixed set of words
  | "value" // a typed value with its own syntax (badValues has a bad one)
  | "text"; // free text, or checked elsewhere (not swept; still gets the repeated-option case)

/** Placeholder (`<file>`, argument name) → kind. Every placeholder of the tree must be here. */
const kinds: Record<string, Kind> = {
  file: "input",
  sig: "input",
  request: "input",
  attestations: "input",
  did: "did",
  amount: "amount",
  n: "count",
  m: "count",
  position: "count",
  port: "count",
  score: "score",
  duration: "duration",
  when: "date",
  date: "date",
  graph: "choice",
  format: "choice",
  profile: "choice",
  state: "choice",
  kind: "choice",
  reason: "choice",
  level: "choice",
  choice: "choice",
  shell: "choice",
  code: "value",
  "code:decimals": "value",
  "key=value": "value",
  "x.y.z": "value",
  id: "value",
  addr: "value",
  "host:port": "value",
  scope: "value",
  coop: "value",
  "coop=did": "value",
  net: "value",
  rate: "value",
  // Free text (any text is a name, a title, a memo, an idempotency key), or the data dir itself.
  text: "text",
  name: "text",
  title: "text",
  key: "text",
  dir: "text",
  // A clearing payment's or commit's id (cli/clearing.ts): looked up, any text may be one.
  payment: "text",
  commit: "text",
  // A gateway's URL (icn id login).
  url: "value",
  // A proposal's voting method (cli/ballot_flags.ts).
  method: "choice",
  // A ballot's parts: an option of the proposal, OPT=N, a ranking, a meeting time.
  option: "value",
  "option=n": "value",
  options: "value",
  time: "value",
};

/** A bad value for each typed placeholder: [label, value, the part stderr must name]. */
const badValues: Record<string, [string, string, string][]> = {
  code: [["an unknown currency", "nosuchcurrency", "nosuchcurrency"]],
  "code:decimals": [["a currency without decimals", "HOURS", "HOURS"]],
  "key=value": [["an unknown parameter", "no.such.key=1", "no.such.key"]],
  "x.y.z": [["a version that is not x.y.z", "1.2", "1.2"]],
  id: [["an unknown id", "bafynosuchproposal", "bafynosuchproposal"]],
  addr: [["an address that is not a multiaddr", "not-a-multiaddr", "not-a-multiaddr"]],
  "host:port": [["an address that is not loopback", "0.0.0.0:5601", "0.0.0.0"]],
  scope: [["an unknown scope", "bogus:scope", "bogus:scope"]],
  coop: [["an unknown cooperative", "nosuchcoop", "nosuchcoop"]],
  "coop=did": [["a delegate without its cooperative", "nosuchcoop", "nosuchcoop"]],
  net: [["an unknown network", "nosuchnet", "nosuchnet"]],
  rate: [["a rate that is not a decimal", "1e3", "1e3"]],
  url: [
    ["a URL that is not http(s)", "ftp://127.0.0.1/login", "ftp://127.0.0.1/login"],
    ["an unreachable gateway", "http://127.0.0.1:1", "http://127.0.0.1:1"],
  ],
  option: [["an option the proposal does not have", "nosuchoption", "nosuchoption"]],
  "option=n": [["a malformed OPT=N", "red=lots", "red=lots"]],
  options: [["an option the proposal does not have", "red,nosuchoption", "nosuchoption"]],
  time: [["a time the meeting does not offer", "nosuchtime", "nosuchtime"]],
};

/**
 * Bad values for one command's option where its placeholder's usual bad value is a good one
 * there: the app gateway may bind any address (a public one warns), unlike --http.
 */
const badValuesOf: Record<string, [string, string, string][]> = {
  "node run|--gateway": [["a port out of range", "127.0.0.1:99999", "99999"]],
};

/**
 * Options and arguments a case needs besides the required ones, so that the swept input is the
 * only thing wrong: a proposal's kind and method are the ones its swept option belongs to, with
 * their other options; a ballot flag votes on a proposal of its method; --pending's options come
 * with --pending. Keys are flags or `<argument>`; each value is given once per element (none: a
 * flag without a value).
 */
function companions(command: string, swept: Slot | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const flag = swept?.flag;
  if (flag == null) return out;
  const methodOf: Record<string, string> = {
    "--points": "dot",
    "--max-score": "score",
    "--seats": "ranked",
  };
  if (command === "governance propose" || command === "federation propose") {
    if (methodOf[flag]) {
      out.set("--kind", ["text"]);
      out.set("--method", [methodOf[flag]]);
      out.set("--option", ["red", "blue"]);
    } else if (flag === "--method") out.set("--option", ["red", "blue"]);
  }
  if (command === "governance propose") {
    const upgrade = ["--upgrade-version", "--deadline", "--min-version"];
    if (upgrade.includes(flag)) {
      out.set("--kind", ["upgrade"]);
      for (const f of upgrade) {
        if (f !== flag) out.set(f, [f === "--deadline" ? "30d" : "9.9.9"]);
      }
    } else if (flag === "--set") out.set("--kind", ["config"]);
    else if (flag === "--admit" || flag === "--remove") out.set("--kind", ["membership"]);
  }
  if (command === "governance vote" && ballotProposals[flag]) {
    out.set("<id>", [ballotProposals[flag]]);
  }
  if (command === "ledger transfer" && (flag === "--timeout" || flag === "--poster")) {
    out.set("--pending", []);
  }
  return out;
}

interface Slot {
  /** The option's long flag, or null for a positional argument. */
  flag: string | null;
  /** Positional index. */
  index: number;
  placeholder: string;
  kind: Kind;
  required: boolean;
  repeatable: boolean;
  description: string;
}

interface Leaf {
  path: string[];
  slots: Slot[];
}

function placeholderOf(option: Option): string {
  return /<([^>]+)>|\[([^\]]+)\]/.exec(option.flags)?.slice(1).find((x) => x) ?? "";
}

function kindOf(placeholder: string, flag: string | null, where: string): Kind {
  const name = placeholder.replace(/\.\.\.$/, "");
  const kind = kinds[name];
  if (!kind) throw new Error(`Classify placeholder <${name}> of ${where} in the sweep's kinds`);
  return flag === "--out" ? "output" : kind;
}

function hasAction(command: Command): boolean {
  return typeof (command as unknown as { _actionHandler: unknown })._actionHandler === "function";
}

function leaves(command: Command, path: string[]): Leaf[] {
  const out: Leaf[] = [];
  if (path.length > 0 && hasAction(command)) {
    const where = `icn ${path.join(" ")}`;
    const slots: Slot[] = command.registeredArguments.map((a, index) => ({
      flag: null,
      index,
      placeholder: a.name(),
      kind: kindOf(a.name(), null, where),
      required: a.required,
      repeatable: a.variadic,
      description: a.description,
    }));
    for (const o of command.options) {
      if (!(o.required || o.optional) || !o.long) continue;
      slots.push({
        flag: o.long,
        index: -1,
        placeholder: placeholderOf(o),
        kind: kindOf(placeholderOf(o), o.long, `${where} ${o.long}`),
        required: o.mandatory,
        repeatable: o.variadic || (o.parseArg as unknown) === collect,
        description: o.description,
      });
    }
    out.push({ path, slots });
  }
  for (const sub of command.commands) out.push(...leaves(sub, [...path, sub.name()]));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The world: two founders of one cooperative (A is swept, B is the other member), a proposal,
// a signed file, a backup, a bundle, and the bad inputs.

const root = await Deno.makeTempDir({ prefix: "icn-sweep-" });
const home = `${root}/a`;
const homeB = `${root}/b`;
const scratch = `${root}/scratch`;
await Deno.mkdir(scratch);

async function icn(
  args: string[],
  home_ = home,
): Promise<{ code: number; stderr: string; stdout: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", configPath, mainPath, "--data-dir", home_, ...args],
    env,
    cwd: scratch,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(runTimeoutMs),
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

async function ok(args: string[], home_ = home): Promise<string> {
  const run = await icn(args, home_);
  if (run.code !== 0) throw new Error(`setup: icn ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

await ok(["id", "init"]);
const didB = JSON.parse(await ok(["--json", "id", "init"], homeB)).did as string;
const genesis = `${root}/genesis.json`;
await ok([
  "governance",
  "genesis",
  "create",
  "--name",
  "Sweep",
  "--member",
  didB,
  "--out",
  genesis,
]);
for (const h of [home, homeB]) await ok(["governance", "genesis", "sign", genesis], h);
for (const h of [home, homeB]) await ok(["governance", "join", genesis], h);
const proposal = JSON.parse(
  await ok(["--json", "governance", "propose", "--kind", "text", "--title", "Sweep"]),
) as { id: string };
/** A proposal of each ballot flag's method, so that a bad ballot is the only thing wrong. */
const ballotProposals: Record<string, string> = {};
for (
  const [method, flags] of [
    ["poll", ["--choice"]],
    ["score", ["--score"]],
    ["dot", ["--points"]],
    ["ranked", ["--rank"]],
    ["meeting", ["--can", "--if-need-be"]],
  ] as const
) {
  const { id } = JSON.parse(
    await ok([
      "--json",
      "governance",
      "propose",
      "--kind",
      "text",
      "--title",
      method,
      "--method",
      method,
      "--option",
      "red",
      "--option",
      "blue",
    ]),
  ) as { id: string };
  for (const flag of flags) ballotProposals[flag] = id;
}
const text = `${root}/hello.txt`;
await Deno.writeTextFile(text, "hello cooperative\n");
await ok(["id", "sign", text]);
const backup = `${root}/a.backup`;
await ok(["id", "backup", "--out", backup]);
const bundle = `${root}/a.car`;
await ok(["node", "export", "--out", bundle]);
// A read checkpoints the store's write-ahead log, so later reads change no byte of it.
await ok(["ledger", "balance"]);

const bad = {
  missing: `${scratch}/no-such-file.json`,
  directory: `${scratch}/a-directory`,
  zero: "/dev/zero",
  empty: `${scratch}/empty.json`,
  random: `${scratch}/random.bin`,
  null: `${scratch}/null.json`,
  array: `${scratch}/array.json`,
  object: `${scratch}/object.json`,
  full: "/dev/full",
};
await Deno.mkdir(bad.directory);
await Deno.writeFile(bad.empty, new Uint8Array());
await Deno.writeFile(bad.random, crypto.getRandomValues(new Uint8Array(4096)));
await Deno.writeTextFile(bad.null, "null\n");
await Deno.writeTextFile(bad.array, "[]\n");
await Deno.writeTextFile(bad.object, "{}\n");

/** A DID with a typo: one character swapped for `0`, which base58 does not have. */
const didTypo = `${didB.slice(0, 20)}0${didB.slice(21)}`;

// ---------------------------------------------------------------------------------------------
// Good values, so that in each case only the swept input is bad.

/** Good files for required file arguments, by command. */
const goodFiles: Record<string, string> = {
  "id sign": text,
  "id verify": text,
  "id backup verify": backup,
  "id restore": backup,
  "governance genesis sign": genesis,
  "governance genesis show": genesis,
  "governance join": genesis,
  "federation create": genesis,
  "node import": bundle,
};

/** Good values for required options and arguments that are not files, by placeholder. */
function goodValue(leaf: Leaf, slot: Slot, n: number): string {
  const command = leaf.path.join(" ");
  switch (slot.kind) {
    case "input":
      return goodFiles[command] ?? text;
    case "output":
      return `${scratch}/out-${n}`;
    case "did":
      return didB;
    case "amount":
      return "1";
    case "count":
      return "1";
    case "score":
      return "0.5";
    case "duration":
      return "1d";
    case "date":
      return "30d";
    case "choice": {
      const fixed: Record<string, string> = {
        kind: "text",
        choice: "for",
        shell: "bash",
        graph: "social",
        format: "csv",
        profile: "test",
        state: "Open",
        reason: "manual",
        level: "info",
        method: "poll",
      };
      return fixed[slot.placeholder] ?? "x";
    }
    case "value":
    case "text": {
      const fixed: Record<string, string> = {
        code: "hours",
        "host:port": "127.0.0.1:0",
        scope: "all",
        id: proposal.id,
        name: "sweep",
        addr: "/ip4/127.0.0.1/tcp/1",
        "key=value": "credit.baseline=1",
        "code:decimals": "hours:2",
        "x.y.z": "9.9.9",
        rate: "1",
        url: "http://127.0.0.1:1",
      };
      return fixed[slot.placeholder] ?? "x";
    }
  }
}

/** Bad inputs of each kind: [label, value, what stderr must name]. */
function badInputs(command: string, slot: Slot): [string, string, string][] {
  switch (slot.kind) {
    case "input": {
      const files: [string, string, string][] = [
        ["a missing file", bad.missing, bad.missing],
        ["a directory", bad.directory, bad.directory],
        ["/dev/zero", bad.zero, bad.zero],
        ["an empty file", bad.empty, bad.empty],
        ["random bytes", bad.random, bad.random],
      ];
      if (/genesis/.test(slot.description)) {
        files.push(
          ["null", bad.null, bad.null],
          ["[]", bad.array, bad.array],
          ["{}", bad.object, bad.object],
        );
      }
      return files;
    }
    case "output":
      // A missing directory is the same refusal in writeFileAtomic (output_files_cli_test.ts).
      return [
        ["/dev/full", bad.full, bad.full],
        ["a directory", bad.directory, bad.directory],
      ];
    case "did":
      return [["a DID with a typo", didTypo, didTypo]];
    case "amount":
      return [["a negative amount", "-5", "-5"], [
        "a huge amount",
        "99999999999999999999999999",
        "99999999999999999999999999",
      ]];
    case "count":
      return [["a negative number", "-1", "-1"]];
    case "score":
      return [["a score above 1", "2", "2"]];
    case "duration":
      return [["a negative duration", "-3d", "-3d"]];
    case "date":
      return [["an impossible date", "2027-02-30", "2027-02-30"]];
    case "choice":
      return [["an unknown choice", "bogus-choice", "bogus-choice"]];
    case "value":
      return badValuesOf[`${command}|${slot.flag}`] ?? badValues[slot.placeholder];
    case "text":
      return [];
  }
}

/**
 * Cases not run, by `command|flag or <argument>|label` (`*` for every label), each with why:
 * a case that legitimately succeeds, or another open issue's bug (named) not fixed here.
 */
const exceptions: Record<string, string> = {
  // Any bytes can be signed: an empty file and random bytes are files to sign like any other.
  "id sign|<file>|an empty file": "legitimate",
  "id sign|<file>|random bytes": "legitimate",
  // An empty TOML file is a valid config (every key at its default): the node would start.
  "node run|--config|an empty file": "legitimate",
  // The sweep has no valid recovery request to attest (one needs a second, fresh data dir
  // whose key log knows the DID), so attest's other inputs cannot be reached with only
  // themselves bad.
  "id recovery attest|--out|*": "needs a recovery request",
  "id recovery attest|--expires|*": "needs a recovery request",
  // Any bytes can be encrypted (issue 21).
  "id encrypt|<file>|an empty file": "legitimate",
  "id encrypt|<file>|random bytes": "legitimate",
  // The sweep has no age file encrypted to A nor a trustee backup naming A as a trustee, so
  // these outputs cannot be reached with only themselves bad (tests/id_encrypt_cli_test.ts and
  // tests/id_trustee_cli_test.ts check refusals that write nothing).
  "id decrypt|--out|*": "needs an age file for the swept identity",
  // Encrypting needs the recipient's key event log, which the sweep's A does not hold for B.
  "id encrypt|--out|/dev/full": "needs a recipient whose key event log A holds",
  "id share-open|--out|*": "needs a trustee backup naming the swept identity",
  // The sweep's world joins no federation; tests/clearing_nodes_test.ts checks a bad --out.
  "federation export|--out|*": "needs a federation",
  // A ballot flag is checked against the proposal's method and options, and the sweep's world
  // joins no federation, so a federation vote is refused for that first (naming the proposal id);
  // tests/federation_methods_cli_test.ts checks bad federation ballots with the data dir unchanged.
  "federation vote|--score|*": "needs a federation proposal of that method",
  "federation vote|--points|*": "needs a federation proposal of that method",
  "federation vote|--rank|*": "needs a federation proposal of that method",
  "federation vote|--can|*": "needs a federation proposal of that method",
  "federation vote|--if-need-be|*": "needs a federation proposal of that method",
};

function excepted(command: string, slot: Slot, label: string): boolean {
  const where = `${command}|${slot.flag ?? `<${slot.placeholder}>`}`;
  return exceptions[`${where}|${label}`] !== undefined || exceptions[`${where}|*`] !== undefined;
}

/**
 * Commands swept on another data dir: `id recovery request` creates keys in an empty one (in
 * the swept one it refuses before reading anything else), so it runs where none exists yet.
 */
const fresh = `${root}/fresh`;
const homes: Record<string, string> = { "id recovery request": fresh };

interface Case {
  name: string;
  /** The data dir it runs on, which must not change. */
  home: string;
  /** A bad --data-dir given instead of `home` (home is then only watched). */
  dataDir?: string;
  /** Where the input must be named: stderr, or stdout for doctor, whose report is its result. */
  namedOn?: "stdout";
  args: string[];
  expect: string;
  exitCodes: number[];
}

function argsFor(leaf: Leaf, swept: Slot | null, value: string | null, repeat = false): string[] {
  const positional: string[] = [];
  const options: string[] = [];
  const extra = companions(leaf.path.join(" "), swept);
  let n = 0;
  for (const slot of leaf.slots) {
    const isSwept = slot === swept;
    const key = slot.flag ?? `<${slot.placeholder}>`;
    if (!isSwept && !slot.required && !extra.has(key)) continue;
    const values = isSwept && value !== null
      ? [value]
      : extra.get(key) ?? [goodValue(leaf, slot, n++)];
    extra.delete(key);
    if (slot.flag === null) positional.push(...values);
    else {
      for (const v of values) options.push(slot.flag, v);
      if (isSwept && repeat) options.push(slot.flag, values[0]);
    }
  }
  // Companions that are not slots: flags without a value.
  for (const [flag, values] of extra) {
    if (values.length === 0) options.push(flag);
    else for (const v of values) options.push(flag, v);
  }
  return [...leaf.path, ...positional, ...options];
}

function casesOf(leaf: Leaf): Case[] {
  const command = leaf.path.join(" ");
  const out: Case[] = [];
  for (const slot of leaf.slots) {
    for (const [label, value, named] of badInputs(command, slot)) {
      if (excepted(command, slot, label)) continue;
      out.push({
        name: `icn ${command} ${slot.flag ?? `<${slot.placeholder}>`} = ${label}`,
        home: homes[command] ?? home,
        args: argsFor(leaf, slot, value),
        expect: named,
        exitCodes: [1, 2],
      });
    }
  }
  return out;
}

const program = buildProgram(createRegistrar(() => Promise.resolve()));
const tree = leaves(program, []);
const cases = tree.flatMap(casesOf);
// A repeated single-value option, end to end on two commands (every command is checked below, in
// process, against the same tree and the same refuseRepeatedOptions main.ts wires in).
for (
  const [flag, args] of [
    ["--to", ["ledger", "transfer", "--to", didB, "--to", didB, "--amount", "1"]],
    ["--title", ["governance", "propose", "--kind", "text", "--title", "x", "--title", "y"]],
  ] as const
) {
  cases.push({
    name: `icn ${args.slice(0, 2).join(" ")} with ${flag} twice`,
    home,
    args: [...args],
    expect: flag,
    exitCodes: [2],
  });
}
// The global --data-dir as a regular file, for a reader, a writer, doctor and the node.
for (
  const args of [["doctor"], ["id", "show"], ["ledger", "balance"], ["trust", "add", didB, "0.5"], [
    "node",
    "run",
  ]]
) {
  cases.push({
    name: `icn --data-dir = a regular file (${args.slice(0, 2).join(" ")})`,
    home,
    dataDir: bad.random,
    namedOn: args[0] === "doctor" ? "stdout" : undefined,
    args,
    expect: bad.random,
    exitCodes: [1, 2],
  });
}
// The global --passphrase-file, on a command that needs the keys.
for (
  const [label, value] of [["a missing file", bad.missing], ["a directory", bad.directory], [
    "/dev/zero",
    bad.zero,
  ], ["an empty file", bad.empty]]
) {
  cases.push({
    name: `icn --passphrase-file = ${label} (ledger transfer)`,
    home,
    args: ["--passphrase-file", value, "ledger", "transfer", "--to", didB, "--amount", "1"],
    expect: value,
    exitCodes: [1, 2],
  });
}

/** The data dir's files, or none when it does not exist (a run must not create it). */
async function snapshotOf(dir: string): Promise<Map<string, string>> {
  try {
    return await snapshotDir(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Map();
    throw error;
  }
}

function problemsOf(c: Case, run: { code: number; stderr: string; stdout: string }): string[] {
  const problems: string[] = [];
  if (!c.exitCodes.includes(run.code)) problems.push(`exit ${run.code}`);
  if (/\bat .*\.ts:\d+/.test(run.stderr)) problems.push("stack trace");
  const output = c.namedOn === "stdout" ? run.stdout : run.stderr;
  if (!output.includes(c.expect)) {
    problems.push(`${c.namedOn ?? "stderr"} does not name ${c.expect}`);
  }
  return problems;
}

Deno.test("every command refuses a repeated single-value option as a usage error naming it", async () => {
  const failures: string[] = [];
  let checked = 0;
  for (const leaf of tree) {
    for (const slot of leaf.slots.filter((s) => s.flag !== null && !s.repeatable)) {
      // A fresh tree per parse: commander keeps option values between parses.
      const program = buildProgram(createRegistrar(() => Promise.resolve()));
      let usage = "";
      const wire = (command: Command) => {
        command.exitOverride();
        refuseRepeatedOptions(command);
        command.configureOutput({ writeErr: () => {}, outputError: (text) => usage += text });
        command.commands.forEach(wire);
      };
      wire(program);
      const args = argsFor(leaf, slot, null, true);
      checked++;
      try {
        await program.parseAsync(args, { from: "user" });
        failures.push(`icn ${args.join(" ")}: accepted`);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== "icn.repeatedOption" || !usage.includes(slot.flag!)) {
          failures.push(`icn ${args.join(" ")}: ${code} ${usage.trim()}`);
        }
      }
    }
  }
  if (checked < 40) throw new Error(`only ${checked} single-value options found`);
  if (failures.length > 0) throw new Error(failures.join("\n"));
});

Deno.test({
  name:
    "every command refuses bad files and values: exit 1 or 2, the input named, no trace, no change",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (tree.length < 40) throw new Error(`the tree walk found only ${tree.length} commands`);
    const before = new Map<string, Map<string, string>>();
    for (const h of new Set(cases.map((c) => c.home))) before.set(h, await snapshotOf(h));
    const failures: string[] = [];
    let next = 0;
    async function worker() {
      while (next < cases.length) {
        const c = cases[next++];
        let run;
        try {
          run = await icn(c.args, c.dataDir ?? c.home);
        } catch (error) {
          failures.push(`${c.name}: ${(error as Error).message}`);
          continue;
        }
        const problems = problemsOf(c, run);
        const after = await snapshotOf(c.home);
        if (!sameSnapshot(before.get(c.home)!, after)) {
          problems.push("the data dir changed");
          // The next cases are judged against the changed dir, so one bug is reported once.
          before.set(c.home, after);
        }
        if (problems.length > 0) {
          failures.push(
            `${c.name}: ${problems.join(", ")}\n    icn ${c.args.join(" ")}\n    ${
              run.stderr.trim().split("\n").slice(0, 3).join("\n    ")
            }`,
          );
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (failures.length > 0) {
      throw new Error(
        `${failures.length} of ${cases.length} cases failed:\n${failures.join("\n")}`,
      );
    }
  },
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(root, { recursive: true });
});
