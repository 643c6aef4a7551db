import { Command } from "@commander-js/extra-typings";
import { labelLengthMax, parseGraph, type TrustGraphName } from "../core/trust/edge.ts";
import { didArg, durationArg, offsetMax, textLengthArg, wholeNumberArg } from "./args.ts";
import { type Registrar, takeNetOption } from "./command.ts";

/** Page size cap for `trust list`. */
const listLimitMax = 10_000;
/** Shortest `trust add --expires`: an edge that lapses within a second is a mistake. */
const edgeLifetimeMsMin = 1000;

/** The member a trust command is about, named as its handler names it. */
const member = didArg("member");
/** `--graph` of a command that writes one graph (`social` when not given). */
const oneGraph = (text: string) => parseGraph(text, false) as TrustGraphName;
/** `--graph` of a command that reads one graph or `all` (`all` when not given). */
const graphOrAll = (text: string) => parseGraph(text, true);

const load = () => import("./trust.ts");

export function trustCommands(r: Registrar): Command {
  const trust = new Command("trust").description(
    "Web of trust: scoped, expiring edges; explainable scores; classes; anomalies",
  );
  r.action(
    trust.command("add").description("Vouch for a member with a score from 0 to 1 (0 revokes)")
      .argument("<did>", "member to vouch for (DID, contact name or DID prefix)", member)
      .argument("<score>", "score in [0,1], at most 3 decimals, e.g. 0.75")
      .option("--graph <graph>", "social | economic | technical", oneGraph, "social")
      .option(
        "--label <text>",
        `a note for humans (at most ${labelLengthMax} characters)`,
        textLengthArg("label", labelLengthMax),
      )
      .option(
        "--expires <duration>",
        "edge counts as absent after this long, e.g. 30d",
        durationArg("--expires", edgeLifetimeMsMin),
      ),
    load,
    "add",
  );
  r.action(
    trust.command("remove").description("Revoke my edge to a member (an edge with score 0)")
      .argument("<did>", "member (DID, contact name or DID prefix)", member)
      .option("--graph <graph>", "social | economic | technical", oneGraph, "social"),
    load,
    "remove",
  );
  r.action(
    trust.command("list").description("My edges, or with --to who vouches for a member")
      .option("--graph <graph>", "social | economic | technical (default: all)", graphOrAll)
      .option("--to <did>", "list the edges into this member instead", didArg("--to"))
      .option("--from <did>", "list another member's edges instead of mine", didArg("--from"))
      .option(
        "--limit <n>",
        "at most this many edges",
        wholeNumberArg("--limit", 0, listLimitMax),
        100,
      )
      .option(
        "--offset <n>",
        "skip this many edges first",
        wholeNumberArg("--offset", 0, offsetMax),
        0,
      ),
    load,
    "list",
  );
  r.action(
    trust.command("score").description("Score and class of a member, seen by me or --from")
      .argument("<did>", "member to score (DID, contact name or DID prefix)", member)
      .option("--from <did>", "observer (default: me)", didArg("--from"))
      .option("--graph <graph>", "social | economic | technical | all (default: all)", graphOrAll)
      .option("--explain", "list the direct term and every intermediary's contribution"),
    load,
    "score",
  );
  r.action(
    trust.command("anomalies").description(
      "Circular vouching, Sybil clusters and rapid growth, each with its evidence",
    ),
    load,
    "anomalies",
  );
  r.action(
    trust.command("history").description(
      "A member's score over time, seen by the cooperative (mean over the founders)",
    )
      .argument("<did>", "member (DID, contact name or DID prefix)", member),
    load,
    "history",
  );
  takeNetOption(trust.commands);
  return trust;
}
