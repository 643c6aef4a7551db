import { Command } from "@commander-js/extra-typings";
import { pageSizeDefault, pageSizeMax } from "../core/constants.ts";
import { bodyBytesMax, reasonLengthMax, titleLengthMax } from "../core/governance/text_limits.ts";
import { federationProposalKinds } from "../core/federation/params.ts";
import { methodNames } from "../core/governance/methods/spec.ts";
import { parseScore } from "../core/trust/edge.ts";
import {
  choiceArg,
  durationArg,
  netArg,
  offsetMax,
  textLengthArg,
  transferIdArg,
  wholeNumberArg,
} from "./args.ts";
import { addBallotFlags, addMethodFlags } from "./ballot_flags.ts";
import { collect, type Registrar } from "./command.ts";

const load = () => import("./federation.ts");
const loadClearing = () => import("./clearing.ts");
const loadAudit = () => import("./federation_audit.ts");
const loadExport = () => import("./federation_export.ts");

/** Shortest `vouch --expires`: a vouch that lapses within a second is a mistake. */
const vouchLifetimeMsMin = 1000;

const netHelp = "the federation: name or network id (default: the only joined federation)";
const forHelp = "act for this cooperative: name or network id (default: the one you are a " +
  "delegate of)";

export function federationCommands(r: Registrar): Command {
  const fed = new Command("federation").description(
    "Federations of cooperatives: genesis, join, proposals and votes by cooperative, delegates, trust",
  );
  r.action(
    fed.command("create").description("Write a new federation genesis (unsigned)")
      .requiredOption("--name <name>", "federation name")
      .requiredOption(
        "--coop <file>",
        "a founding cooperative's signed genesis file (repeatable)",
        collect,
        [],
      )
      .option(
        "--delegate <coop=did>",
        "a delegate of a founder: its name or network id = a member's DID (repeatable; " +
          "default: you, for the founders you are a member of)",
        collect,
        [],
      )
      .option(
        "--currency <code:decimals>",
        "currency, e.g. hours:2 (repeatable; default hours:2)",
        collect,
        [],
      )
      .option(
        "--set <key=value>",
        "set a federation parameter, e.g. federation.voteWeight=members (repeatable)",
        collect,
        [],
      )
      .option("--out <file>", "output file (default federation.json)")
      .option("--force", "replace an existing file (the old one is kept as a backup)"),
    load,
    "create",
  );
  r.action(
    fed.command("sign").description(
      "Sign a federation file as a delegate (for each founder you are a delegate of)",
    ).argument("<file>", "federation file"),
    load,
    "sign",
  );
  r.action(
    fed.command("join").description("Verify a fully signed federation file and join it")
      .argument("<file>", "federation file"),
    load,
    "join",
  );
  r.action(
    addMethodFlags(
      fed.command("propose").description("Propose a decision to the federation, as a delegate")
        .requiredOption(
          "--kind <kind>",
          federationProposalKinds.join(" | "),
          choiceArg("proposal kind", federationProposalKinds),
        )
        .requiredOption(
          "--title <title>",
          `short title (at most ${titleLengthMax} characters)`,
          textLengthArg("title", titleLengthMax),
        )
        .option("--body <file>", `file with the proposal text (at most ${bodyBytesMax / 1024} KiB)`)
        .option("--admit <file>", "admit: the cooperative's signed genesis file")
        .option("--coop-name <name>", "admit: its name in the federation (default: its own)")
        .option(
          "--delegate <did>",
          "admit: a founder of it who acts for it (repeatable)",
          collect,
          [],
        )
        .option("--remove <coop>", "remove: the cooperative (name or network id)")
        .option(
          "--set <key=value>",
          "config: set a federation parameter (repeatable)",
          collect,
          [],
        ),
      {
        method: `text: how the cooperatives decide: ${methodNames.join(" | ")} (default proposal)`,
        points: "dot: points each cooperative allocates (default 10)",
        maxScore: "score: highest score (default 5)",
        secret:
          "secret ballot: votes are commitments, revealed after the close (`icn federation reveal`)",
      },
    )
      .option("--for <coop>", forHelp)
      .option("--net <net>", netHelp, netArg),
    load,
    "propose",
  );
  r.action(
    addBallotFlags(
      fed.command("vote").description(
        "Vote for your cooperative (a later vote by any of its delegates replaces it)",
      )
        .argument("<id>", "proposal id (or a unique prefix)")
        .argument(
          "[choice]",
          "for | against | abstain | block (consent mode); sense-check: good | unsure | concerned; poll: an option",
        ),
      {
        can: "meeting: a time your cooperative can attend (repeatable)",
        ifNeedBe: "meeting: a time it could attend if need be (repeatable)",
      },
    )
      .option(
        "--reason <text>",
        `why (at most ${reasonLengthMax} characters; not with a secret ballot)`,
        textLengthArg("reason", reasonLengthMax),
      )
      .option("--for <coop>", forHelp)
      .option("--net <net>", netHelp, netArg),
    load,
    "vote",
  );
  r.action(
    fed.command("reveal").description(
      "Open your cooperative's secret ballot after the close, within the reveal window",
    )
      .argument("<id>", "proposal id (or a unique prefix)")
      .option("--for <coop>", forHelp)
      .option("--net <net>", netHelp, netArg),
    load,
    "reveal",
  );
  r.action(
    fed.command("audit").description(
      "Check each cooperative's counted ballot: eligible, signed envelope, commitment opened",
    )
      .argument("<id>", "proposal id (or a unique prefix)")
      .option("--net <net>", netHelp, netArg),
    loadAudit,
    "audit",
  );
  r.action(
    fed.command("todo").description(
      "Open proposals your cooperative has not voted on (and secret ballots to reveal), " +
        "closing soonest first",
    )
      .option("--net <net>", netHelp, netArg),
    loadAudit,
    "todo",
  );
  r.action(
    fed.command("show").description("Show a proposal: tally by cooperative, ballots, times")
      .argument("<id>", "proposal id (or a unique prefix)")
      .option(
        "--explain",
        "every vote cast, why ignored ones do not count; ranked: rounds and pairwise table",
      )
      .option("--net <net>", netHelp, netArg),
    load,
    "show",
  );
  r.action(
    fed.command("list").description("List federation proposals, newest first")
      .option(
        "--limit <n>",
        `page size (default ${pageSizeDefault}, at most ${pageSizeMax})`,
        wholeNumberArg("--limit", 1, pageSizeMax),
      )
      .option("--offset <n>", "skip this many", wholeNumberArg("--offset", 0, offsetMax))
      .option("--net <net>", netHelp, netArg),
    load,
    "list",
  );
  r.action(
    fed.command("members").description("The federation's cooperatives, delegates and weights")
      .option("--net <net>", netHelp, netArg),
    load,
    "members",
  );
  r.action(
    fed.command("vouch").description("Vouch for another cooperative with a score from 0 to 1")
      .argument("<coop>", "the cooperative (name or network id)")
      .requiredOption(
        "--score <score>",
        "score in [0,1], at most 3 decimals (0 revokes)",
        parseScore,
      )
      .option(
        "--expires <duration>",
        "the vouch counts as absent after this long, e.g. 90d",
        durationArg("--expires", vouchLifetimeMsMin),
      )
      .option("--for <coop>", forHelp)
      .option("--net <net>", netHelp, netArg),
    load,
    "vouch",
  );
  r.action(
    fed.command("trust").description("Trust in a cooperative, scored from yours")
      .argument("<coop>", "the cooperative (name or network id)")
      .option("--explain", "show the paths and weights behind the score")
      .option("--from <coop>", "score from this cooperative (default: yours)")
      .option("--net <net>", netHelp, netArg),
    load,
    "trust",
  );
  r.action(
    fed.command("delegates").description(
      "Record in the federation the delegates your cooperative chose (citing its proposal)",
    )
      .requiredOption(
        "--coop-net <net>",
        "your cooperative: a joined network's name or id",
        netArg,
      )
      .option("--net <net>", netHelp, netArg),
    load,
    "delegates",
  );
  clearingCommands(r, fed);
  return fed;
}

const coopNetHelp = "your cooperative: a joined network's name or id (default: the only joined " +
  "cooperative of the federation)";

/** Clearing between cooperatives (cli/clearing.ts, docs/clearing.md). */
function clearingCommands(r: Registrar, fed: Command): void {
  const day = 86_400_000;
  r.action(
    fed.command("agreement").description(
      "Propose, change or end a clearing agreement with another cooperative (both vote for it)",
    )
      .requiredOption("--with <coop>", "the other cooperative (name or network id)")
      .option("--limit <amount>", "most either may owe the other, in the federation's currency")
      .requiredOption(
        "--rate <rate>",
        "1 minor unit of your currency = RATE minor units of the federation's (e.g. 1)",
      )
      .requiredOption("--partner-rate <rate>", "the same for the other cooperative's currency")
      .option(
        "--interval <duration>",
        "how often you mean to settle (default 30d)",
        durationArg("--interval", day),
        30 * day,
      )
      .option("--end", "end the agreement: no payment is accepted after it takes effect")
      .option("--title <title>", "short title", textLengthArg("title", titleLengthMax))
      .option("--for <coop>", forHelp)
      .option("--net <net>", netHelp, netArg),
    loadClearing,
    "agreement",
  );
  r.action(
    fed.command("positions").description(
      "What each pair of cooperatives owes the other, against its agreement's limit",
    ).option("--net <net>", netHelp, netArg),
    loadClearing,
    "positions",
  );
  r.action(
    fed.command("export").description(
      "The federation's clearing as an hledger journal (accepted payments and settlements)",
    )
      .option("--out <file>", "write to a file instead of stdout")
      .option("--net <net>", netHelp, netArg),
    loadExport,
    "federationExport",
  );
  r.action(
    fed.command("settle").description(
      "Note a settlement paid outside the federation (applies once both sides note it)",
    )
      .requiredOption("--with <coop>", "the other cooperative (name or network id)")
      .requiredOption("--amount <amount>", "in the federation's currency")
      .requiredOption("--id <id>", "settlement id, the same on both sides", transferIdArg)
      .option("--received", "the other cooperative paid yours (default: yours paid)")
      .option("--for <coop>", forHelp)
      .option("--net <net>", netHelp, netArg),
    loadClearing,
    "settle",
  );
  r.action(
    fed.command("check").description(
      "Check clearing: limits, and your cooperative's clearing accounts against the positions",
    )
      .option("--coop-net <net>", coopNetHelp, netArg)
      .option("--net <net>", netHelp, netArg),
    loadClearing,
    "check",
  );
  const clear = fed.command("clear").description(
    "Your cooperative's clearing steps by hand (what federation.agent does)",
  );
  r.action(
    clear.command("step").description("Do every step due: commit, answer, credit, post or void")
      .option("--coop-net <net>", coopNetHelp, netArg)
      .option("--net <net>", netHelp, netArg),
    loadClearing,
    "clearStep",
  );
  r.action(
    clear.command("list").description("The federation's clearing payments and their outcomes")
      .option("--net <net>", netHelp, netArg),
    loadClearing,
    "clearList",
  );
  const steps = [
    ["commit", "<payment>", "Commit a member's payment in the federation", "clearCommit"],
    ["accept", "<commit>", "Accept a payment to your cooperative", "clearAccept"],
    ["refuse", "<commit>", "Refuse a payment to your cooperative", "clearRefuse"],
    ["credit", "<commit>", "Credit your member for an accepted payment", "clearCredit"],
    ["finish", "<payment>", "Post (accepted) or void (refused) a member's payment", "clearFinish"],
  ] as const;
  for (const [name, arg, description, handler] of steps) {
    r.action(
      clear.command(name).description(description).argument(arg, "its id or CID (or a prefix)")
        .option("--reason <text>", "why (refuse)", textLengthArg("reason", 200))
        .option("--coop-net <net>", coopNetHelp, netArg)
        .option("--net <net>", netHelp, netArg),
      loadClearing,
      handler,
    );
  }
}
