import { Command } from "@commander-js/extra-typings";
import { pageSizeDefault, pageSizeMax } from "../core/constants.ts";
import { bodyBytesMax, reasonLengthMax, titleLengthMax } from "../core/governance/text_limits.ts";
import { proposalKinds } from "../core/governance/params.ts";
import { maxScoreDefault, methodNames, pointsDefault } from "../core/governance/methods/spec.ts";
import { proposalStates } from "../core/governance/view.ts";
import { choiceArg, didArg, offsetMax, whenArg, wholeNumberArg } from "./args.ts";
import { addBallotFlags, addMethodFlags } from "./ballot_flags.ts";
import { collect, type Registrar, takeNetOption } from "./command.ts";

const genesis = () => import("./genesis.ts");
const handlers = () => import("./governance.ts");
const ballots = () => import("./governance_ballots.ts");

export function governanceCommands(r: Registrar): Command {
  const gov = new Command("governance").description(
    "Cooperative genesis, proposals, votes, delegation and upgrades",
  );
  const gen = gov.command("genesis").description(
    "Create and sign a cooperative's genesis document",
  );
  r.action(
    gen.command("create").description("Write a new genesis document (unsigned)")
      .requiredOption("--name <name>", "cooperative name")
      .option(
        "--member <did>",
        "founding member: DID, contact name or DID prefix (repeatable)",
        collect,
        [],
      )
      .option(
        "--currency <code:decimals>",
        "currency, e.g. hours:2 (repeatable; default hours:2)",
        collect,
        [],
      )
      .option("--set <key=value>", "set a parameter (repeatable; see `genesis keys`)", collect, [])
      .option("--out <file>", "output file (default genesis.json)")
      .option(
        "--force",
        "replace an existing genesis file, signatures and all (the old one is kept as a backup)",
      ),
    genesis,
    "create",
  );
  r.action(
    gen.command("sign").description("Add this identity's founder signature to a genesis file")
      .argument("<file>", "genesis file"),
    genesis,
    "signGenesis",
  );
  r.action(
    gen.command("show").description("Show a genesis file and which founders signed it")
      .argument("<file>", "genesis file"),
    genesis,
    "showGenesis",
  );
  r.action(
    gen.command("keys").description("List the parameters `--set` accepts, with defaults"),
    genesis,
    "keys",
  );
  r.action(
    gov.command("join").description("Verify a fully signed genesis and join its network")
      .argument("<file>", "genesis file"),
    genesis,
    "join",
  );
  r.action(
    addMethodFlags(
      gov.command("propose").description("Propose a decision to the cooperative")
        .option(
          "--kind <kind>",
          `${proposalKinds.join(" | ")} (default text)`,
          choiceArg("proposal kind", proposalKinds),
          "text" as const,
        ),
      {
        method: `${
          methodNames.join(" | ")
        } (default proposal: for/against; the others are for text proposals)`,
        points: `dot: points each voter spreads (default ${pointsDefault})`,
        maxScore: `score: highest score, lowest is 0 (default ${maxScoreDefault})`,
        secret:
          "secret ballot: votes are commitments, revealed after the close (`icn governance reveal`)",
      },
    )
      .requiredOption("--title <title>", `short title (at most ${titleLengthMax} characters)`)
      .option("--body <file>", `file with the proposal text (at most ${bodyBytesMax / 1024} KiB)`)
      .option(
        "--admit <did>",
        "membership: admit this member (DID, contact name or prefix)",
        didArg("--admit"),
      )
      .option(
        "--remove <did>",
        "membership: remove this member (DID, contact name or prefix)",
        didArg("--remove"),
      )
      .option(
        "--set <key=value>",
        "config: set a parameter (repeatable; credit.override.<did>=N for one member)",
        collect,
        [],
      )
      .option(
        "--upgrade-version <x.y.z>",
        "upgrade: the new protocol version (`--version` is taken by `icn --version`)",
      )
      .option(
        "--deadline <date>",
        "upgrade: date (or duration from now) after which it is enforced",
        whenArg("--deadline"),
      )
      .option("--min-version <x.y.z>", "upgrade: oldest version accepted after the deadline")
      .option("--federation <id>", "delegates: the federation's network id")
      .option(
        "--delegate <did>",
        "delegates: a member who acts for the cooperative in it (repeatable)",
        collect,
        [],
      ),
    handlers,
    "propose",
  );
  r.action(
    gov.command("list").description("List proposals, newest first")
      .option(
        "--state <state>",
        "only Open, Accepted, Rejected, NoQuorum, Cancelled or Executed",
        choiceArg("state", proposalStates, { ignoreCase: true }),
      )
      .option(
        "--limit <n>",
        `page size (default ${pageSizeDefault}, at most ${pageSizeMax})`,
        wholeNumberArg("--limit", 1, pageSizeMax),
      )
      .option("--offset <n>", "skip this many", wholeNumberArg("--offset", 0, offsetMax)),
    handlers,
    "list",
  );
  r.action(
    gov.command("show").description("Show a proposal: text, tally, quorum, times, votes")
      .argument("<id>", "proposal id (or a unique prefix)")
      .option("--explain", "ranked: instant-runoff rounds and Schulze's pairwise table"),
    handlers,
    "show",
  );
  r.action(
    addBallotFlags(
      gov.command("vote").description("Vote on an open proposal (a later vote replaces yours)")
        .argument("<id>", "proposal id (or a unique prefix)")
        .argument(
          "[choice]",
          "for | against | abstain | block (consent mode); sense-check: good | unsure | concerned; poll: an option",
        ),
      {
        can: "meeting: a time you can attend (repeatable)",
        ifNeedBe: "meeting: a time you could attend if need be (repeatable)",
      },
    )
      .option(
        "--reason <text>",
        `why (at most ${reasonLengthMax} characters; not with a secret ballot)`,
      ),
    handlers,
    "vote",
  );
  r.action(
    gov.command("reveal").description(
      "Open your secret ballot after the close, within the reveal window",
    ).argument("<id>", "proposal id (or a unique prefix)"),
    ballots,
    "reveal",
  );
  r.action(
    gov.command("audit").description(
      "Check every vote of a proposal: eligible voter, signed envelope, commitment opened",
    ).argument("<id>", "proposal id (or a unique prefix)"),
    ballots,
    "audit",
  );
  r.action(
    gov.command("todo").description(
      "Open proposals you have not voted on (and secret ballots to reveal), closing soonest first",
    ),
    ballots,
    "todo",
  );
  r.action(
    gov.command("delegate").description("Let another member vote for you")
      .argument("<did>", "the delegate (DID, contact name or DID prefix)", didArg("delegate"))
      .option("--scope <scope>", "all | kind:K | proposal:ID (default all)")
      .option("--expires <when>", "date or duration from now", whenArg("--expires")),
    handlers,
    "delegate",
  );
  r.action(
    gov.command("undelegate").description("Withdraw your delegations")
      .option("--scope <scope>", "only this scope (default: every scope)"),
    handlers,
    "undelegate",
  );
  r.action(
    gov.command("cancel").description("Cancel your own proposal while it is open")
      .argument("<id>", "proposal id (or a unique prefix)"),
    handlers,
    "cancel",
  );
  r.action(
    gov.command("upgrades").description("Pending and accepted protocol upgrades"),
    handlers,
    "upgrades",
  );
  r.action(
    gov.command("members").description("Current members and their delegations"),
    handlers,
    "members",
  );
  r.action(
    gov.command("networks").description(
      "The networks this data dir has joined: name, id, kind, members, my role",
    ),
    genesis,
    "networks",
  );
  // Every command but those about genesis files and the list of networks works in one network.
  const notScoped = new Set(["genesis", "join", "networks"]);
  takeNetOption(gov.commands.filter((c) => !notScoped.has(c.name())));
  return gov;
}
