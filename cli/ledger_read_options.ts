/**
 * The parsers and defaults of the ledger's read commands' arguments (`balance`, `limit`,
 * `history`), declared once: `cli/ledger_commands.ts` gives them to commander and
 * `cli/fast_path.ts` applies them itself, so both parse a value the same way.
 */
import { pageSizeDefault, pageSizeMax } from "../core/constants.ts";
import { didArg, offsetMax, wholeNumberArg } from "./args.ts";

/** The optional `[did]` of `balance`, `limit` and `history`. */
export const memberArg: (text: string) => string = didArg("member");

/** `history --limit <n>`. */
export const historyLimitArg: (text: string) => number = wholeNumberArg("--limit", 1, pageSizeMax);
export const historyLimitDefault = pageSizeDefault;

/** `history --offset <n>`. */
export const historyOffsetArg: (text: string) => number = wholeNumberArg("--offset", 0, offsetMax);
export const historyOffsetDefault = 0;
