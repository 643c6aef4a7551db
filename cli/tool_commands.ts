import type { Command } from "commander";
import type { Registrar } from "./command.ts";

/** Top-level tool commands (version, completions, doctor). */
export function toolCommands(_r: Registrar): Command[] {
  return [];
}
