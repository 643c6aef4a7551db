import { Command } from "@commander-js/extra-typings";
import { pageSizeDefault, pageSizeMax } from "../core/constants.ts";
import { exportFormats } from "../core/ledger/export.ts";
import { memoBytesMax } from "../core/ledger/rules.ts";
import { choiceArg, didArg, memoArg, offsetMax, transferIdArg, wholeNumberArg } from "./args.ts";
import { type Registrar, takeNetOption } from "./command.ts";

const load = () => import("./ledger.ts");

export function ledgerCommands(r: Registrar): Command {
  const ledger = new Command("ledger").description(
    "Mutual-credit ledger: transfers, balances, credit limits, audit, export",
  );
  r.action(
    ledger.command("transfer").description("Pay another member (an envelope in your chain)")
      .requiredOption("--to <did>", "payee (DID, contact name or DID prefix)", didArg("--to"))
      .requiredOption("--amount <amount>", "decimal amount, e.g. 12.5")
      .option("--currency <code>", "currency (default: the cooperative's first)")
      .option("--memo <text>", `free text, up to ${memoBytesMax / 1024} KiB`, memoArg)
      .option("--id <key>", "idempotency key (generated and printed if not given)", transferIdArg),
    load,
    "transfer",
  );
  r.action(
    ledger.command("balance").description("Balance, credit limit and available credit")
      .argument(
        "[did]",
        "member: DID, contact name or DID prefix (default: this identity)",
        didArg("member"),
      )
      .option("--currency <code>", "currency (default: the cooperative's first)"),
    load,
    "balance",
  );
  r.action(
    ledger.command("balances").description("Balances of every member")
      .option("--currency <code>", "only this currency"),
    load,
    "balances",
  );
  r.action(
    ledger.command("history").description("Transfers of a member, newest first")
      .argument(
        "[did]",
        "member: DID, contact name or DID prefix (default: this identity)",
        didArg("member"),
      )
      .option("--currency <code>", "currency (default: the cooperative's first)")
      .option(
        "--limit <n>",
        `page size (1–${pageSizeMax})`,
        wholeNumberArg("--limit", 1, pageSizeMax),
        pageSizeDefault,
      )
      .option(
        "--offset <n>",
        "skip this many newer transfers",
        wholeNumberArg("--offset", 0, offsetMax),
        0,
      ),
    load,
    "history",
  );
  r.action(
    ledger.command("limit").description("A member's credit limit and each term it comes from")
      .argument(
        "[did]",
        "member: DID, contact name or DID prefix (default: this identity)",
        didArg("member"),
      )
      .option("--currency <code>", "currency (default: the cooperative's first)"),
    load,
    "limit",
  );
  r.action(
    ledger.command("check").description(
      "Re-verify every signature and chain link, re-fold all balances, check invariants",
    ),
    load,
    "check",
  );
  r.action(
    ledger.command("export").description("Export transfers (hledger journal, CSV or JSON)")
      .option(
        "--format <format>",
        exportFormats.join(" | "),
        choiceArg("export format", exportFormats),
        "hledger" as const,
      )
      .option("--out <file>", "write to a file instead of stdout"),
    load,
    "exportLedger",
  );
  takeNetOption(ledger.commands);
  return ledger;
}
