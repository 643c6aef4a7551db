import { Command } from "commander";
import type { Registrar } from "./command.ts";

export function trustCommands(_r: Registrar): Command {
  return new Command("trust").description("(not built yet)");
}
