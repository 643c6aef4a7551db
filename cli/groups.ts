/**
 * The command groups, in help order. Each group's `*_commands.ts` declares its
 * commands and lazy-loads its handlers.
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import type { Registrar } from "./command.ts";
import { contactsCommands } from "./contacts_commands.ts";
import { federationCommands } from "./federation_commands.ts";
import { governanceCommands } from "./governance_commands.ts";
import { idCommands } from "./id_commands.ts";
import { ledgerCommands } from "./ledger_commands.ts";
import { nodeCommands } from "./node_commands.ts";
import { trustCommands } from "./trust_commands.ts";
import { toolCommands } from "./tool_commands.ts";

export function groupCommands(r: Registrar): CommandUnknownOpts[] {
  return [
    idCommands(r),
    trustCommands(r),
    ledgerCommands(r),
    governanceCommands(r),
    federationCommands(r),
    nodeCommands(r),
    contactsCommands(r),
    ...toolCommands(r),
  ];
}
