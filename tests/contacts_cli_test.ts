/**
 * `icn contacts` end to end: a local address book, names and unique DID
 * prefixes accepted wherever a DID is expected, names shown beside DIDs in
 * text output, and never in signed data or --json DID fields.
 */
import assert from "node:assert/strict";
import { didFromPublicKey } from "../core/identity/did.ts";
import { snapshotDir } from "./_cli.ts";
import { type Coop, icn, icnOk, setupCoop } from "./ledger_support.ts";

const sets = [
  ...["isolated", "known", "partner", "federated"].map((c) => `policy.${c}.velocity=100000`),
  "credit.trustMultiplier=0",
  "credit.historyRate=0",
];

let shared: Promise<Coop> | undefined;
/** One cooperative of three (alice, bob, carol) for the tests that need members. */
function coop(): Promise<Coop> {
  shared ??= setupCoop(3, sets);
  return shared;
}

/** Two valid DIDs that share a long prefix (their keys differ in the last byte only). */
function twinDids(): [string, string] {
  const key = new Uint8Array(32).fill(7);
  const first = didFromPublicKey(key);
  key[31] = 8;
  return [first, didFromPublicKey(key)];
}

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

async function freshDir(): Promise<string> {
  return `${await Deno.makeTempDir({ prefix: "icn-contacts-" })}/home`;
}

Deno.test("icn contacts add, list and remove keep a local address book (0600, sorted, case-insensitive)", async () => {
  const dir = await freshDir();
  const [one, two] = twinDids();
  assert.match(await icnOk(dir, "contacts", "list"), /No contacts/);
  await assert.rejects(
    Deno.stat(dir),
    Deno.errors.NotFound,
    "listing must not create the data dir",
  );
  assert.match(await icnOk(dir, "contacts", "add", "Zoe", one), /Added contact Zoe/);
  await icnOk(dir, "contacts", "add", "adam.b-1_x", two);
  const listed = JSON.parse(await icnOk(dir, "--json", "contacts", "list"));
  assert.deepEqual(listed.contacts, [{ name: "adam.b-1_x", did: two }, { name: "Zoe", did: one }]);
  assert.equal(listed.file, `${dir}/contacts.json`);
  assert.equal((await Deno.stat(`${dir}/contacts.json`)).mode! & 0o777, 0o600);
  const text = await icnOk(dir, "contacts", "list");
  assert.equal(text, `adam.b-1_x  ${two}\nZoe         ${one}\n`);
  // The same contact again is a no-op, not a duplicate.
  assert.match(await icnOk(dir, "contacts", "add", "Zoe", one), /nothing changed/);
  assert.match(await icnOk(dir, "contacts", "remove", "zoe"), /Removed contact Zoe/);
  const missing = await icn(dir, "contacts", "remove", "zoe");
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /^error: Cannot remove contact "zoe": there is none/);
  assert.deepEqual(JSON.parse(await icnOk(dir, "--json", "contacts", "list")).contacts, [
    { name: "adam.b-1_x", did: two },
  ]);
});

Deno.test("icn contacts add refuses bad names, DID-like names and duplicates, changing nothing", async () => {
  const dir = await freshDir();
  const [one, two] = twinDids();
  await icnOk(dir, "contacts", "add", "alice", one);
  const before = await snapshotDir(dir);
  const cases: [string[], number, RegExp][] = [
    [["", one], 1, /contact name/],
    [[".alice", one], 1, /contact name/],
    [["a b", one], 1, /contact name/],
    [["x".repeat(33), one], 1, /contact name/],
    [["名前", one], 1, /contact name/],
    [["did:icn:z6Mk", two], 1, /mistaken for a DID/],
    [["DID:key", two], 1, /mistaken for a DID/],
    [["alice", two], 1, /that name is taken by/],
    [["ALICE", two], 1, /that name is taken by/],
    [["bob", one], 1, /already named "alice"/],
    [["bob", "did:icn:notadid"], 1, /Cannot parse DID/],
    [["bob", "carol"], 1, /no contact has that name/],
  ];
  for (const [args, code, pattern] of cases) {
    const run = await icn(dir, "contacts", "add", ...args);
    assert.equal(run.code, code, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, pattern, args.join(" "));
    assert.doesNotMatch(run.stderr, /internal error|\n {4}at /, args.join(" "));
    assert.equal(run.stdout, "");
  }
  assert.deepEqual(await snapshotDir(dir), before, "a refused add changed the data dir");
  // --force replaces the name's DID (and drops the other name the DID had), like a rename.
  await icnOk(dir, "contacts", "add", "bob", two);
  const forced = JSON.parse(
    await icnOk(dir, "--json", "contacts", "add", "bob", one, "--force"),
  );
  assert.equal(forced.status, "replaced");
  assert.deepEqual(JSON.parse(await icnOk(dir, "--json", "contacts", "list")).contacts, [
    { name: "bob", did: one },
  ]);
});

Deno.test("a transfer, a trust edge and a delegation by contact name or unique prefix sign the full DID", async () => {
  const { dirs, dids } = await coop();
  const [a] = dirs;
  const [_alice, bob, carol] = dids;
  await icnOk(a, "contacts", "add", "bob", bob);
  const byName = JSON.parse(
    await icnOk(a, "--json", "ledger", "transfer", "--to", "Bob", "--amount", "1.25", "--id", "n1"),
  );
  assert.equal(byName.to, bob);
  // carol is no contact: a unique prefix of a member's DID is enough.
  const prefix = carol.slice(0, 16);
  const byPrefix = JSON.parse(
    await icnOk(a, "--json", "ledger", "transfer", "--to", prefix, "--amount", "2", "--id", "p1"),
  );
  assert.equal(byPrefix.to, carol);
  const history = JSON.parse(await icnOk(a, "--json", "ledger", "history"));
  const byId = Object.fromEntries(
    (history.entries as { id: string; to: string; counterparty: string }[]).map((e) => [e.id, e]),
  );
  assert.equal(byId.n1.to, bob);
  assert.equal(byId.n1.counterparty, bob);
  assert.equal(byId.p1.to, carol);
  // The signed envelopes, as every member exports them, name the full DIDs.
  const exported = JSON.parse(await icnOk(a, "ledger", "export", "--format", "json")) as {
    id: string;
    to: string;
  }[];
  assert.deepEqual(
    exported.filter((t) => t.id === "n1" || t.id === "p1").map((t) => [t.id, t.to]).sort(),
    [["n1", bob], ["p1", carol]],
  );
  const edge = JSON.parse(await icnOk(a, "--json", "trust", "add", "bob", "0.5"));
  assert.equal(edge.to, bob);
  const edge2 = JSON.parse(await icnOk(a, "--json", "trust", "add", prefix, "0.25"));
  assert.equal(edge2.to, carol);
  const edges = JSON.parse(await icnOk(a, "--json", "trust", "list"));
  assert.deepEqual(
    (edges.edges as { to: string }[]).map((e) => e.to).sort(),
    [bob, carol].sort(),
  );
  const score = JSON.parse(await icnOk(a, "--json", "trust", "score", "bob"));
  assert.equal(score.target, bob);
  const delegation = JSON.parse(await icnOk(a, "--json", "governance", "delegate", "bob"));
  assert.equal(delegation.to, bob);
});

Deno.test("text output shows contact names beside DIDs; --json DID fields stay bare", async () => {
  const { dirs, dids } = await coop();
  const [a] = dirs;
  const [alice, bob] = dids;
  await icnOk(a, "contacts", "add", "bob", bob, "--force");
  await icnOk(a, "ledger", "transfer", "--to", "bob", "--amount", "0.5", "--id", "shown");
  const text = await icnOk(a, "ledger", "history");
  const row = text.split("\n").find((line) => line.includes(" shown"));
  assert.ok(row?.includes(`to   bob (${bob})`), text);
  const json = JSON.parse(await icnOk(a, "--json", "ledger", "history"));
  const entry = (json.entries as Record<string, unknown>[]).find((e) => e.id === "shown")!;
  assert.equal(entry.counterparty, bob);
  assert.equal(entry.to, bob);
  assert.ok(!JSON.stringify(json).includes('"bob'), "a contact name leaked into --json");
  assert.match(await icnOk(a, "ledger", "balances"), new RegExp(`hours  bob \\(${bob}\\)`));
  assert.match(await icnOk(a, "ledger", "balance", "bob"), new RegExp(`\\(bob \\(${bob}\\)\\)`));
  assert.match(await icnOk(a, "governance", "members"), new RegExp(`  bob \\(${bob}\\)`));
  await icnOk(a, "trust", "add", "bob", "0.5");
  assert.match(await icnOk(a, "trust", "list"), new RegExp(`^bob \\(${bob}\\)  0\\.5`, "m"));
  // A member without a contact is shown by DID alone.
  assert.match(await icnOk(a, "ledger", "balances"), new RegExp(`hours  ${alice}$`, "m"));
});

Deno.test("an ambiguous DID prefix is a usage error (exit 2) listing the candidates; unknown ones exit 1", async () => {
  const { dirs } = await coop();
  const [a] = dirs;
  const [one, two] = twinDids();
  await icnOk(a, "contacts", "add", "twin-one", one, "--force");
  await icnOk(a, "contacts", "add", "twin-two", two, "--force");
  const before = await icnOk(a, "ledger", "export", "--format", "json");
  const prefix = commonPrefix(one, two);
  assert.ok(prefix.length >= 20, prefix);
  const ambiguous = await icn(a, "ledger", "transfer", "--to", prefix, "--amount", "1");
  assert.equal(ambiguous.code, 2, ambiguous.stderr);
  assert.match(ambiguous.stderr, /is the start of 2 known DIDs/);
  assert.ok(ambiguous.stderr.includes(`${one}  twin-one`), ambiguous.stderr);
  assert.ok(ambiguous.stderr.includes(`${two}  twin-two`), ambiguous.stderr);
  const json = await icn(a, "--json", "trust", "add", prefix, "0.5");
  assert.equal(json.code, 2);
  assert.equal(JSON.parse(json.stdout).error.code, "usage");
  const cases: [string, RegExp][] = [
    ["dave", /no contact has that name.*icn contacts add dave DID/],
    ["did:icn:z111111111111", /no contact, member or known identity.*icn contacts add/],
    ["did:icn:zUS", /a DID prefix needs at least 12 characters/],
    ["did:icn:bogus", /Cannot parse DID/],
  ];
  for (const [to, pattern] of cases) {
    const run = await icn(a, "ledger", "transfer", "--to", to, "--amount", "1");
    assert.equal(run.code, 1, `${to}: ${run.stderr}`);
    assert.match(run.stderr, pattern, to);
  }
  assert.equal(await icnOk(a, "ledger", "export", "--format", "json"), before);
  await icnOk(a, "contacts", "remove", "twin-one");
  await icnOk(a, "contacts", "remove", "twin-two");
});

Deno.test("a damaged contacts.json is reported with its path and the fix (exit 1), never a crash", async () => {
  const { dirs, dids } = await coop();
  const b = dirs[1];
  const path = `${b}/contacts.json`;
  const [one] = twinDids();
  const damaged = [
    "null",
    "[]",
    "{}",
    "{not json",
    JSON.stringify({ version: 1, contacts: [{ name: "x", did: "did:icn:bogus" }] }),
    JSON.stringify({ version: 1, contacts: [{ name: "x y", did: one }] }),
    JSON.stringify({ version: 2, contacts: [] }),
    JSON.stringify({ version: 1, contacts: [{ name: "x", did: one }, { name: "X", did: one }] }),
    JSON.stringify({ version: 1, contacts: [], extra: true }),
    " ".repeat(1024 * 1024 + 1),
  ];
  try {
    for (const content of damaged) {
      await Deno.writeTextFile(path, content);
      const what = content.slice(0, 40);
      const list = await icn(b, "contacts", "list");
      assert.equal(list.code, 1, `${what}: ${list.stderr}`);
      assert.ok(list.stderr.includes(path), `${what}: ${list.stderr}`);
      assert.doesNotMatch(list.stderr, /internal error/);
      const transfer = await icn(b, "ledger", "transfer", "--to", "alice", "--amount", "1");
      assert.equal(transfer.code, 1, `${what}: ${transfer.stderr}`);
      assert.ok(transfer.stderr.includes(path), `${what}: ${transfer.stderr}`);
    }
    // A command that only prints still works: the names are left out, with a warning.
    const history = await icn(b, "ledger", "balances");
    assert.equal(history.code, 0, history.stderr);
    assert.ok(history.stdout.includes(dids[0]));
    assert.match(history.stderr, /warning: Names of contacts are not shown/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("a membership proposal, a credit override and a signature check take names; show prints them", async () => {
  const { root, dirs, dids } = await coop();
  const [a, b] = dirs;
  const [alice] = dids;
  const [newcomer] = twinDids();
  await icnOk(a, "contacts", "add", "newcomer", newcomer, "--force");
  await icnOk(a, "contacts", "add", "bob", dids[1], "--force");
  const proposal = JSON.parse(
    await icnOk(
      a,
      "--json",
      "governance",
      "propose",
      "--kind",
      "membership",
      "--title",
      "Admit the newcomer",
      "--admit",
      "newcomer",
    ),
  );
  assert.deepEqual(proposal.action, { admit: newcomer });
  const shown = await icnOk(a, "governance", "show", proposal.id);
  assert.ok(shown.includes(`action: admit newcomer (${newcomer})`), shown);
  const config = JSON.parse(
    await icnOk(
      a,
      "--json",
      "governance",
      "propose",
      "--kind",
      "config",
      "--title",
      "More credit for bob",
      "--set",
      "credit.override.bob=20000",
    ),
  );
  assert.deepEqual(Object.keys(config.action.set), [`credit.override.${dids[1]}`]);
  // A signature checked against a contact name, from another member's data dir.
  const file = `${root}/signed.txt`;
  await Deno.writeTextFile(file, "minutes of the meeting\n");
  await icnOk(a, "id", "sign", file);
  await icnOk(b, "contacts", "add", "alice", alice, "--force");
  const verified = await icnOk(b, "id", "verify", file, "--did", "alice");
  assert.ok(verified.startsWith(`Good signature from alice (${alice}) on ${file}`), verified);
  const json = JSON.parse(await icnOk(b, "--json", "id", "verify", file, "--did", "alice"));
  assert.equal(json.did, alice);
  // A data dir that joined nothing knows alice only by her key event log: a prefix is enough.
  const outsider = `${root}/outsider`;
  await icnOk(outsider, "node", "import", `${root}/bundle-0.car`);
  const byPrefix = JSON.parse(
    await icnOk(outsider, "--json", "id", "verify", file, "--did", alice.slice(0, 14)),
  );
  assert.equal(byPrefix.did, alice);
});
