/**
 * The fast path (`cli/fast_path.ts`) takes a command line only when commander, given the same
 * line, runs the same handler with the same positional arguments, options and global options:
 * checked on generated lines (valid forms and random token soup), plus the forms the benchmark
 * and the docs use, which it must take.
 */
import fc from "fast-check";
import { assertEquals } from "./_cli.ts";
import { type FastParse, fastRoutes, parseFast } from "../cli/fast_path.ts";
import { buildProgram, configureRecursively } from "../cli/program.ts";
import { createRegistrar, type Handler, isNetworkScoped } from "../cli/command.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";

interface Parsed {
  path: string[];
  handler: Handler;
  args: string[];
  options: Record<string, unknown>;
  globals: Record<string, unknown>;
  networkScoped: boolean;
}

const globalKeys = ["dataDir", "json", "debug", "color", "passphraseFile"];

function pathOf(command: CommandUnknownOpts): string[] {
  const names: string[] = [];
  for (let c: CommandUnknownOpts | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}

function pick(values: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => values[k] !== undefined).map((k) => [k, values[k]]));
}

/** What commander runs for `argv`, or `undefined` when it refuses the line. */
async function commanderParse(argv: string[]): Promise<Parsed | undefined> {
  let parsed: Parsed | undefined;
  const program = buildProgram(createRegistrar(async (load, args, command) => {
    parsed = {
      path: pathOf(command),
      handler: await load(),
      args,
      options: { ...command.opts() },
      globals: pick(command.optsWithGlobals() as Record<string, unknown>, globalKeys),
      networkScoped: isNetworkScoped(command),
    };
  }));
  configureRecursively(program, () => {});
  program.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  const quiet = (c: CommandUnknownOpts) => {
    c.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
    c.commands.forEach(quiet);
  };
  quiet(program);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch {
    return undefined;
  }
  return parsed;
}

async function fastParsed(fast: FastParse): Promise<Parsed> {
  const handler = (await fast.route.load())[fast.route.handler] as Handler;
  return {
    path: [...fast.route.path],
    handler,
    args: fast.args,
    options: fast.options,
    globals: pick(fast.globals, globalKeys),
    networkScoped: true,
  };
}

/** Fails unless commander runs what the fast path would (when the fast path takes `argv`). */
async function checkAgrees(argv: string[]): Promise<boolean> {
  const fast = parseFast(argv);
  if (!fast) return false;
  const viaCommander = await commanderParse(argv);
  if (!viaCommander) {
    throw new Error(`fast path took a line commander refuses: ${JSON.stringify(argv)}`);
  }
  const viaFast = await fastParsed(fast);
  assertEquals(
    viaFast.handler === viaCommander.handler,
    true,
    `handler for ${JSON.stringify(argv)}`,
  );
  assertEquals(
    { ...viaFast, handler: undefined },
    { ...viaCommander, handler: undefined },
    JSON.stringify(argv),
  );
  return true;
}

const did = "did:icn:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";

Deno.test("the fast path takes the plain forms of balance, limit and history, as commander parses them", async () => {
  const taken: string[][] = [
    ["ledger", "balance"],
    ["ledger", "limit"],
    ["ledger", "history"],
    ["--data-dir", "/tmp/d", "ledger", "balance"],
    ["--data-dir", "/tmp/d", "ledger", "history", "--limit", "20"],
    ["--json", "ledger", "history", did, "--limit", "5", "--offset", "3", "--currency", "hours"],
    ["ledger", "balance", "alice", "--net", "coop", "--json", "--no-color", "--debug"],
    ["--passphrase-file", "p.txt", "ledger", "limit", "--net", "bafy"],
    ["ledger", "history", "--offset", "0", did],
  ];
  for (const argv of taken) assertEquals(await checkAgrees(argv), true, JSON.stringify(argv));
  const declined: string[][] = [
    [],
    ["--help"],
    ["-V"],
    ["ledger"],
    ["ledger", "--help"],
    ["ledger", "balance", "--help"],
    ["ledger", "balance", "-h"],
    ["ledger", "balances"],
    ["ledger", "transfer", "--to", did, "--amount", "1"],
    ["ledger", "history", "--limit=5"],
    ["ledger", "history", "--limit", "0"],
    ["ledger", "history", "--limit", "5", "--limit", "6"],
    ["ledger", "history", "--limit"],
    ["ledger", "history", "--limit", "-1"],
    ["ledger", "balance", did, did],
    ["ledger", "balance", "--"],
    ["ledger", "balance", "did:icn:bogus"],
    ["ledger", "balance", "--net", ""],
    ["--data-dir", "", "ledger", "balance"],
    ["ledger", "--json", "balance"],
    ["ledger", "balance", "--unknown"],
    ["ledger", "balance", "--limit", "5"],
    ["help", "ledger"],
    ["trust", "list"],
  ];
  for (const argv of declined) assertEquals(parseFast(argv), undefined, JSON.stringify(argv));
});

Deno.test("every line the fast path takes, commander runs the same way (generated lines)", async () => {
  const routeNames = fastRoutes.map((r) => r.path[1]);
  const value = fc.constantFrom(
    "/tmp/d",
    "p.txt",
    "hours",
    "coop",
    "5",
    "20",
    "0",
    "1000",
    "1001",
    "abc",
    "-3",
    "",
    did,
    "alice",
    "x".repeat(300),
  );
  const option = fc.oneof(
    fc.constantFrom(["--json"], ["--debug"], ["--no-color"], ["--color"], ["-h"], ["--help"], [
      "-V",
    ], ["--"]),
    fc.tuple(
      fc.constantFrom(
        "--data-dir",
        "--passphrase-file",
        "--currency",
        "--limit",
        "--offset",
        "--net",
        "--to",
        "--all",
      ),
      value,
    ).map(([flag, v]) => [flag, v]),
    fc.tuple(fc.constantFrom("--limit=", "--net=", "--data-dir="), value).map(([f, v]) => [f + v]),
  );
  const plain = fc.tuple(
    fc.array(option, { maxLength: 3 }),
    fc.constantFrom(...routeNames, "balances", "check"),
    fc.array(fc.oneof(option, value.map((v) => [v])), { maxLength: 5 }),
  ).map(([before, name, after]) => [...before.flat(), "ledger", name, ...after.flat()]);
  const soup = fc.array(
    fc.oneof(
      fc.constantFrom("ledger", "balance", "history", "limit", "trust", "help", "id"),
      value,
      option.map((o) => o[0]),
    ),
    { maxLength: 8 },
  );
  // Mostly well-formed lines: the fast path should take many of them.
  const globalPieces = [["--json"], ["--debug"], ["--no-color"], ["--data-dir", "/tmp/d"], [
    "--passphrase-file",
    "p.txt",
  ]];
  const commandPieces = [
    ["--currency", "hours"],
    ["--net", "coop"],
    ["--limit", "7"],
    ["--offset", "2"],
    [did],
    ["alice"],
    ["--limit", "1000"],
  ];
  const wellFormed = fc.tuple(
    fc.shuffledSubarray(globalPieces),
    fc.constantFrom(...routeNames),
    fc.shuffledSubarray([...globalPieces, ...commandPieces], { maxLength: 5 }),
  ).map(([before, name, after]) => [...before.flat(), "ledger", name, ...after.flat()]);
  let taken = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(wellFormed, plain, soup), async (argv) => {
      if (await checkAgrees(argv)) taken++;
    }),
    { numRuns: 600 },
  );
  // The generator reaches the taken forms, not only declined ones.
  if (taken < 100) throw new Error(`only ${taken} generated lines were taken by the fast path`);
});
