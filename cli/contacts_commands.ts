import { Command } from "@commander-js/extra-typings";
import { didArg } from "./args.ts";
import type { Registrar } from "./command.ts";

const load = () => import("./contacts.ts");

/** `icn contacts`: local names for DIDs (an address book in the data dir; never signed or sent). */
export function contactsCommands(r: Registrar): Command {
  const contacts = new Command("contacts").description(
    "Local names for DIDs: use a name (or a unique DID prefix) wherever a DID is expected",
  );
  r.action(
    contacts.command("add").description("Name a DID (stored in contacts.json, never sent)")
      .argument("<name>", "1–32 characters of a-z 0-9 . _ - (case-insensitive)")
      .argument("<did>", "the DID (or a unique prefix of a known one)", didArg("DID"))
      .option("--force", "replace a contact of that name, or rename the DID's contact"),
    load,
    "add",
  );
  r.action(
    contacts.command("list").description("List contacts, by name"),
    load,
    "list",
  );
  r.action(
    contacts.command("remove").description("Forget a contact")
      .argument("<name>", "contact name"),
    load,
    "remove",
  );
  return contacts;
}
