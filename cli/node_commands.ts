import { Command } from "commander";
import type { Registrar } from "./command.ts";

const bundle = () => import("./bundle.ts");

export function nodeCommands(r: Registrar): Command {
  const node = new Command("node").description(
    "The peer-to-peer node and offline exchange of envelopes",
  );
  r.action(
    node.command("export").description("Write envelopes to a CAR bundle for another data dir")
      .requiredOption("--out <file>", "bundle file to write")
      .option(
        "--since <position>",
        "start at this log position (printed by a previous export as `next`)",
        "0",
      ),
    bundle,
    "exportBundle",
  );
  r.action(
    node.command("import").description("Validate and import a CAR bundle (all or nothing)")
      .argument("<file>", "bundle file"),
    bundle,
    "importBundle",
  );
  return node;
}
