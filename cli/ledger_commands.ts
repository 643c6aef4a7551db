import { Command } from "@commander-js/extra-typings";
import { pageSizeMax } from "../core/constants.ts";
import { exportFormats } from "../core/ledger/export.ts";
import { memoBytesMax } from "../core/ledger/rules.ts";
import {
  pendingTimeoutDefault,
  pendingTimeoutMax,
  pendingTimeoutMin,
  requestExpiryDefault,
  requestExpiryMax,
} from "../core/ledger/pending.ts";
import { choiceArg, didArg, durationArg, memoArg, transferIdArg, whenArg } from "./args.ts";
import { collect, type Registrar, takeNetOption } from "./command.ts";
import {
  historyLimitArg,
  historyLimitDefault,
  historyOffsetArg,
  historyOffsetDefault,
  memberArg,
} from "./ledger_read_options.ts";

const load = () => import("./ledger.ts");
const loadPending = () => import("./ledger_pending.ts");
const timeoutRule = `${pendingTimeoutMin / 1000}s–${pendingTimeoutMax / 86_400_000}d, default ${
  pendingTimeoutDefault / 60_000
}m`;

export function ledgerCommands(r: Registrar): Command {
  const ledger = new Command("ledger").description(
    "Mutual-credit ledger: transfers (plain or pending), payment requests, balances, credit limits, audit, export",
  );
  r.action(
    ledger.command("transfer").description("Pay another member (an envelope in your chain)")
      .requiredOption("--to <did>", "payee (DID, contact name or DID prefix)", didArg("--to"))
      .requiredOption("--amount <amount>", "decimal amount, e.g. 12.5")
      .option("--currency <code>", "currency (default: the cooperative's first)")
      .option("--memo <text>", `free text, up to ${memoBytesMax / 1024} KiB`, memoArg)
      .option(
        "--private-memo <text>",
        "a memo only you and the payee can read (encrypted to both; others see (private))",
      )
      .option("--id <key>", "idempotency key (generated and printed if not given)", transferIdArg)
      .option(
        "--pending",
        "two-phase: reserve the amount now, move it when posted (icn ledger post)",
      )
      .option(
        "--timeout <duration>",
        `with --pending: void unless posted within this time (${timeoutRule})`,
        durationArg("--timeout"),
      )
      .option(
        "--poster <did>",
        "with --pending: who may post or void it instead of you (repeatable)",
        collect,
        [],
      )
      .option(
        "--coop <coop>",
        "pay a member (full DID) of another cooperative of your federation, through clearing",
      ),
    loadPending,
    "transfer",
  );
  r.action(
    ledger.command("post").description(
      "Post a pending transfer: the reserved amount moves to the payee",
    )
      .argument("<id>", "the pending transfer's id", transferIdArg)
      .option("--payer <did>", "the pending's payer, when several payers used this id"),
    loadPending,
    "post",
  );
  r.action(
    ledger.command("void").description("Void a pending transfer: the reservation is released")
      .argument("<id>", "the pending transfer's id", transferIdArg)
      .option("--payer <did>", "the pending's payer, when several payers used this id"),
    loadPending,
    "voidPending",
  );
  r.action(
    ledger.command("pending").description(
      "Pending transfers you pay, receive or may post (open ones unless --all)",
    )
      .option("--all", "also posted, voided and expired ones"),
    loadPending,
    "pendingList",
  );
  r.action(
    ledger.command("request").description("Ask a member to pay you (a payment request)")
      .requiredOption(
        "--from <did>",
        "who is asked to pay (DID, contact name or DID prefix)",
        didArg("--from"),
      )
      .requiredOption("--amount <amount>", "decimal amount, e.g. 12.5")
      .option("--currency <code>", "currency (default: the cooperative's first)")
      .option("--memo <text>", `free text, up to ${memoBytesMax / 1024} KiB`, memoArg)
      .option(
        "--expires <when>",
        `a date or a duration from now (default ${requestExpiryDefault / 86_400_000}d, at most ${
          requestExpiryMax / 86_400_000
        }d)`,
        whenArg("--expires"),
      )
      .option("--id <key>", "request id (generated and printed if not given)", transferIdArg),
    loadPending,
    "request",
  );
  r.action(
    ledger.command("requests").description(
      "Payment requests to you and from you (open ones unless --all)",
    )
      .option("--all", "also paid, declined and expired ones"),
    loadPending,
    "requests",
  );
  r.action(
    ledger.command("pay").description(
      "Pay a payment request addressed to you (exactly what it asks)",
    )
      .argument("<id>", "the request's id", transferIdArg)
      .option("--requester <did>", "who made it, when several requesters used this id"),
    loadPending,
    "pay",
  );
  r.action(
    ledger.command("decline").description("Decline a payment request addressed to you")
      .argument("<id>", "the request's id", transferIdArg)
      .option("--requester <did>", "who made it, when several requesters used this id"),
    loadPending,
    "decline",
  );
  r.action(
    ledger.command("balance").description("Balance, credit limit and available credit")
      .argument(
        "[did]",
        "member: DID, contact name or DID prefix (default: this identity)",
        memberArg,
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
        memberArg,
      )
      .option("--currency <code>", "currency (default: the cooperative's first)")
      .option(
        "--limit <n>",
        `page size (1–${pageSizeMax})`,
        historyLimitArg,
        historyLimitDefault,
      )
      .option(
        "--offset <n>",
        "skip this many newer transfers",
        historyOffsetArg,
        historyOffsetDefault,
      ),
    load,
    "history",
  );
  r.action(
    ledger.command("limit").description("A member's credit limit and each term it comes from")
      .argument(
        "[did]",
        "member: DID, contact name or DID prefix (default: this identity)",
        memberArg,
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
