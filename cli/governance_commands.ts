import { Command } from "commander";
import { collect, type Registrar } from "./command.ts";

const genesis = () => import("./genesis.ts");

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
      .option("--member <did>", "founding member (repeatable)", collect, [])
      .option(
        "--currency <code:decimals>",
        "currency, e.g. hours:2 (repeatable; default hours:2)",
        collect,
        [],
      )
      .option("--set <key=value>", "set a parameter (repeatable; see `genesis keys`)", collect, [])
      .option("--out <file>", "output file (default genesis.json)"),
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
  return gov;
}
