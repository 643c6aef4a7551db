/**
 * Text from other members reaches a member's terminal only as visible escapes:
 * a memo, trust label, proposal title, vote reason or signed comment holding
 * an OSC sequence, a bidi override or a newline cannot retitle the terminal,
 * reorder a line or forge a row of `ledger history`, `trust list` or
 * `governance show`; `--json` keeps every value exact; CSV exports neutralise
 * spreadsheet formulas; the hledger journal still passes `hledger check`.
 */
import assert from "node:assert/strict";
import { exchange, icn, icnOk, setupCoop } from "./ledger_support.ts";
import { requireTool } from "./_tools.ts";

const nasty = "\x1b]0;pwned\x07 \u202eevil\nfake row";
const formula = '=HYPERLINK("http://evil.example","click")';

// Characters a terminal acts on; none may reach text output raw (the test's own oracle).
function rawControls(text: string): string[] {
  const found = [...text].filter((char) => {
    const c = char.codePointAt(0)!;
    return (c <= 0x1f && c !== 0x0a) || (c >= 0x7f && c <= 0x9f) ||
      (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c === 0x200e ||
      c === 0x200f || c === 0x2028 || c === 0x2029;
  });
  return found.map((c) => `U+${c.codePointAt(0)!.toString(16).padStart(4, "0")}`);
}

function assertTerminalSafe(text: string, what: string): void {
  assert.deepEqual(rawControls(text), [], `${what} prints raw control characters:\n${text}`);
  for (const line of text.split("\n")) {
    assert.ok(!line.startsWith("fake row"), `${what} has a forged row:\n${text}`);
  }
  assert.ok(text.includes("\\x1b]0;pwned\\x07"), `${what} does not show the escape:\n${text}`);
  assert.ok(
    text.includes("\\u202eevil\\nfake row"),
    `${what} does not show bidi/newline:\n${text}`,
  );
}

const coop = await setupCoop(2, ["credit.trustMultiplier=0", "credit.historyRate=0"]);
const [alice, bob] = coop.dirs;
const [aliceDid] = coop.dids;
// Bob writes the hostile text; Alice reads it.
await icnOk(bob, "ledger", "transfer", "--to", aliceDid, "--amount", "2", "--memo", nasty);
await icnOk(bob, "ledger", "transfer", "--to", aliceDid, "--amount", "1", "--memo", formula);
await icnOk(bob, "trust", "add", aliceDid, "0.5", "--label", nasty);
const proposal = JSON.parse(
  await icnOk(bob, "--json", "governance", "propose", "--kind", "text", "--title", nasty),
) as { id: string };
await icnOk(bob, "governance", "vote", proposal.id, "for", "--reason", nasty);
await exchange(coop.dirs);

Deno.test("text output shows other members' escape sequences, bidi controls and newlines as escapes", async () => {
  const reads: [string, string[]][] = [
    ["ledger history", ["ledger", "history"]],
    ["trust list --to", ["trust", "list", "--to", aliceDid]],
    ["governance list", ["governance", "list"]],
    ["governance show", ["governance", "show", proposal.id]],
  ];
  for (const [what, args] of reads) assertTerminalSafe(await icnOk(alice, ...args), what);
});

Deno.test("a genesis name reaches the terminal escaped and cannot forge a founder's row", async () => {
  const path = `${coop.root}/hostile-genesis.json`;
  const forged = `${nasty}\n    signed  ${aliceDid}`;
  await icnOk(
    bob,
    "governance",
    "genesis",
    "create",
    "--name",
    forged,
    "--member",
    aliceDid,
    "--out",
    path,
  );
  const show = await icnOk(alice, "governance", "genesis", "show", path);
  assertTerminalSafe(show, "genesis show");
  assert.ok(!show.includes("\n    signed "), show);
  const json = JSON.parse(await icnOk(alice, "--json", "governance", "genesis", "show", path));
  assert.equal(json.genesis.name, forged);
});

Deno.test("--json output keeps other members' text exact", async () => {
  const history = JSON.parse(await icnOk(alice, "--json", "ledger", "history")) as {
    entries: { memo: string }[];
  };
  assert.deepEqual(history.entries.map((e) => e.memo).sort(), [formula, nasty].sort());
  const edges = JSON.parse(await icnOk(alice, "--json", "trust", "list", "--to", aliceDid)) as {
    edges: { label?: string }[];
  };
  assert.deepEqual(edges.edges.map((e) => e.label), [nasty]);
  const show = JSON.parse(await icnOk(alice, "--json", "governance", "show", proposal.id)) as {
    title: string;
    votes: { reason?: string }[];
  };
  assert.equal(show.title, nasty);
  assert.deepEqual(show.votes.map((v) => v.reason), [nasty]);
});

Deno.test("a signed file's trusted comment and a DID quoted in an error reach the terminal escaped", async () => {
  const file = `${coop.root}/note.txt`;
  await Deno.writeTextFile(file, "note\n");
  await icnOk(bob, "id", "sign", file, "--comment", "\x1b]0;pwned\x07 \u202eevil");
  const verify = await icnOk(alice, "id", "verify", file);
  assert.deepEqual(rawControls(verify), [], verify);
  assert.ok(verify.includes("\\x1b]0;pwned\\x07 \\u202eevil"), verify);
  const json = JSON.parse(await icnOk(alice, "--json", "id", "verify", file));
  assert.ok((json.trustedComment as string).endsWith("\x1b]0;pwned\x07 \u202eevil"));
  for (const bad of ["did:icn:z\x1b[2J\u202e\nfake row", "\x9b2J"]) {
    const run = await icn(alice, "ledger", "balance", bad);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(rawControls(run.stderr), [], run.stderr);
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
  }
});

Deno.test("icn ledger export --format csv neutralises formulas in text cells and keeps amounts numeric", async () => {
  const out = `${coop.root}/export.csv`;
  await icnOk(alice, "ledger", "export", "--format", "csv", "--out", out);
  const csv = await Deno.readTextFile(out);
  assert.ok(csv.includes(`,1.00,hours,"'=HYPERLINK(""http://evil.example"",""click"")"\r\n`), csv);
  assert.ok(!csv.includes(",=HYPERLINK") && !csv.includes(',"=HYPERLINK'), csv);
});

Deno.test("the hledger journal of hostile memos passes hledger check", async () => {
  const journal = await icnOk(alice, "ledger", "export", "--format", "hledger");
  assert.deepEqual(rawControls(journal), []);
  if (!requireTool("hledger", "hledger check of a journal with hostile memos")) return;
  const path = `${coop.root}/ledger.journal`;
  await icnOk(alice, "ledger", "export", "--format", "hledger", "--out", path);
  const check = await new Deno.Command("hledger", {
    args: ["check", "-f", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
});
