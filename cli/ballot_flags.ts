/**
 * The decision-method flags of `propose` and the ballot flags of `vote`, declared once for
 * `icn governance` and `icn federation` (only their help wording differs). Each function adds
 * its options to an untyped command and returns it typed with one cast: a generic helper
 * that let commander's extra-typings infer the options made `deno check` run for minutes.
 */
import type { Command, CommandUnknownOpts, OptionValues } from "@commander-js/extra-typings";
import {
  maxScoreMax,
  methodNames,
  optionsMax,
  pointsMax,
} from "../core/governance/methods/spec.ts";
import { choiceArg, wholeNumberArg } from "./args.ts";
import { collect } from "./command.ts";
import type { BallotOptions, MethodOptions } from "./governance_methods.ts";

/** Help text of the method flags that differs between a cooperative and a federation. */
export interface MethodFlagsHelp {
  method: string;
  points: string;
  maxScore: string;
  secret: string;
}

/** Adds `--method --option --points --max-score --seats --secret` (propose). */
export function addMethodFlags<A extends unknown[], O extends OptionValues>(
  command: Command<A, O>,
  help: MethodFlagsHelp,
): Command<A, O & MethodOptions & { secret?: true }> {
  (command as CommandUnknownOpts)
    .option("--method <method>", help.method, choiceArg("method", methodNames))
    .option(
      "--option <text>",
      `an option to vote on, in order (repeatable, 2 to ${optionsMax}; a time for meeting)`,
      collect,
      [],
    )
    .option("--points <n>", help.points, wholeNumberArg("--points", 1, pointsMax))
    .option("--max-score <n>", help.maxScore, wholeNumberArg("--max-score", 1, maxScoreMax))
    .option(
      "--seats <n>",
      "ranked: how many options win (default 1)",
      wholeNumberArg("--seats", 1, optionsMax),
    )
    .option("--secret", help.secret);
  return command as unknown as Command<A, O & MethodOptions & { secret?: true }>;
}

/** Help text of the ballot flags that differs between a member and a cooperative voting. */
export interface BallotFlagsHelp {
  can: string;
  ifNeedBe: string;
}

/** Adds `--choice --score --points --rank --can --if-need-be` (vote). */
export function addBallotFlags<A extends unknown[], O extends OptionValues>(
  command: Command<A, O>,
  help: BallotFlagsHelp,
): Command<A, O & BallotOptions> {
  (command as CommandUnknownOpts)
    .option("--choice <option>", "poll or sense-check: the choice (an option's text or number)")
    .option("--score <option=n>", "score: an option's score (repeatable; others 0)", collect, [])
    .option("--points <option=n>", "dot: points for an option (repeatable; others 0)", collect, [])
    .option(
      "--rank <options>",
      "ranked: options most preferred first, comma-separated or repeated",
      collect,
      [],
    )
    .option("--can <time>", help.can, collect, [])
    .option("--if-need-be <time>", help.ifNeedBe, collect, []);
  return command as unknown as Command<A, O & BallotOptions>;
}
