import assert from "node:assert/strict";
import { Command } from "commander";
import { InvalidInputError } from "../core/errors.ts";
import { didFromPublicKey } from "../core/identity/did.ts";
import {
  choiceArg,
  didArg,
  durationArg,
  memoArg,
  resolveWhen,
  transferIdArg,
  whenArg,
  wholeNumberArg,
} from "./args.ts";

function refuses(parse: () => unknown, message: RegExp): void {
  assert.throws(parse, (error: unknown) => {
    assert.ok(error instanceof InvalidInputError, String(error));
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("wholeNumberArg() reads whole numbers in its range and names the option otherwise", () => {
  const limit = wholeNumberArg("--limit", 1, 1000);
  assert.equal(limit("1"), 1);
  assert.equal(limit("1000"), 1000);
  for (const bad of ["0", "1001", "-1", "1.5", "1e3", "", " 5", "0x10", "99999999999999999999"]) {
    refuses(() => limit(bad), /^Cannot use --limit ".*": expected a whole number from 1 to 1000$/);
  }
});

Deno.test("durationArg() reads a duration into milliseconds and refuses one below its minimum", () => {
  const expires = durationArg("--expires", 1000);
  assert.equal(expires("30d"), 30 * 86_400_000);
  assert.equal(expires("1s"), 1000);
  refuses(() => expires("999ms"), /^Cannot use --expires "999ms": use at least 1s$/);
  refuses(() => expires("soon"), /^Cannot parse duration "soon"/);
});

Deno.test("whenArg() keeps a duration as such and a date as epoch milliseconds", () => {
  const deadline = whenArg("--deadline");
  assert.deepEqual(deadline("2d"), { afterMs: 2 * 86_400_000 });
  assert.deepEqual(deadline("2026-12-31"), { at: Date.UTC(2026, 11, 31) });
  assert.equal(resolveWhen(deadline("10s"), 5), 10_005);
  assert.equal(resolveWhen(deadline("2026-12-31"), 5), Date.UTC(2026, 11, 31));
  refuses(
    () => deadline("2027-02-30"),
    /^Cannot use --deadline "2027-02-30": 2027-02 has no day 30/,
  );
});

Deno.test("choiceArg() returns the choice as listed, with or without case", () => {
  const states = ["Open", "Accepted"] as const;
  assert.equal(choiceArg("state", states, { ignoreCase: true })("open"), "Open");
  refuses(
    () => choiceArg("state", states)("open"),
    /^Unknown state "open": use one of Open, Accepted$/,
  );
});

Deno.test("memoArg() and transferIdArg() apply the ledger's rules", () => {
  assert.equal(memoArg("é".repeat(512)), "é".repeat(512));
  refuses(() => memoArg("x".repeat(1025)), /longer than 1024 bytes/);
  assert.equal(transferIdArg("rent:2026-12@coop"), "rent:2026-12@coop");
  for (const bad of ["has space", "", "x".repeat(129)]) {
    refuses(() => transferIdArg(bad), /^Cannot use transfer id ".*": use 1–128 characters/);
  }
});

Deno.test("didArg() passes a DID, a contact name or a long prefix and refuses the rest unread", () => {
  const did = didFromPublicKey(new Uint8Array(32).fill(7));
  const to = didArg("--to");
  for (const good of [did, "alice", "Bob.smith-2", did.slice(0, 12)]) assert.equal(to(good), good);
  refuses(() => to("did:icn:bogus"), /^Cannot parse DID .*\(--to\)$/);
  refuses(
    () => to("did:icn:zUS"),
    /^Cannot use --to "did:icn:zUS": a DID prefix needs at least 12/,
  );
});

Deno.test("a parser's refusal comes out of commander as it is, before any action runs", async () => {
  let ran = false;
  const program = new Command("icn").exitOverride();
  program.command("history")
    .option("--limit <n>", "page size", wholeNumberArg("--limit", 1, 1000), 20)
    .action(() => {
      ran = true;
    });
  await assert.rejects(
    program.parseAsync(["history", "--limit", "0"], { from: "user" }),
    InvalidInputError,
  );
  assert.equal(ran, false);
  const parsed = await new Command("icn").exitOverride()
    .option("--limit <n>", "page size", wholeNumberArg("--limit", 1, 1000), 20)
    .parseAsync([], { from: "user" });
  assert.equal(parsed.opts().limit, 20);
});
