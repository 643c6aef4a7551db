import { Command } from "commander";
import type { Registrar } from "./command.ts";

export function ledgerCommands(_r: Registrar): Command {
  return new Command("ledger").description("(not built yet)");
}
