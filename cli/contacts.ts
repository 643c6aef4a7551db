/**
 * Local contacts: names for DIDs, kept in `$ICN_HOME/contacts.json`. The file
 * is this user's address book: never gossiped, never signed, never part of an
 * envelope. Signed data and `--json` DID fields always hold the full DID; names
 * only help people type (`resolveDid`) and read (`contactLabels`).
 *
 * `resolveDid` is the one way a command turns what the user typed into a DID:
 * a whole DID, a contact name, or a unique prefix of a DID this data dir knows
 * (its contacts, the members of the joined cooperative, the identities whose
 * key event logs are in the store).
 */
import { AlreadyExistsError, IcnError, InvalidInputError, NotFoundError } from "../core/errors.ts";
import { parseDid } from "../core/identity/did.ts";
import { terminalSafe } from "../core/safe_text.ts";
import * as strict from "../core/strict_shapes.ts";
import type { CliContext } from "./context.ts";
import {
  checkDidText,
  contactNameLengthMax,
  contactNamePattern,
  didPrefixLengthMin,
  type ResolveOptions,
} from "./did_text.ts";
import { UsageError } from "./usage_error.ts";
import { pathExists, readInputFile, writeFileAtomic } from "./files.ts";
import { acquireLock, describeHolder } from "./lock.ts";
import type { CommandResult } from "./output.ts";

/** The address book, in the data dir. */
export { checkDidText, contactNameLengthMax, didPrefixLengthMin, type ResolveOptions };

export const contactsFileName = "contacts.json";
/** Serialises writers of the address book (two `contacts add` at once must not lose one). */
const contactsLockFileName = "contacts.lock";
/** An address book is a person's contacts, not a directory: a few thousand at most. */
export const contactsCountMax = 5_000;
/** A contact is under 200 bytes of JSON; 1 MiB holds `contactsCountMax` with room to spare. */
export const contactsFileBytesMax = 1024 * 1024;
/** How long `contacts add|remove` waits for another writer of the address book. */
const contactsLockWaitMs = 10_000;
/** Candidates listed when a prefix is ambiguous. */
const ambiguousShownMax = 10;

export interface Contact {
  name: string;
  did: string;
}

const contactsShape = strict.record({
  version: strict.literal(1),
  contacts: strict.array(
    strict.record({
      name: strict.string({ max: contactNameLengthMax, min: 1, pattern: contactNamePattern }),
      did: strict.did,
    }),
    { max: contactsCountMax },
  ),
});

/** Path of the address book of this data dir. */
export function contactsPath(ctx: CliContext): string {
  return ctx.path(contactsFileName);
}

function damaged(why: string): InvalidInputError {
  return new InvalidInputError(
    `${why} (the file is damaged: fix it by hand, or move it away and add the contacts again with \`icn contacts add NAME DID\`)`,
  );
}

/**
 * The contacts of this data dir, sorted by name; none when the file is missing.
 * Reads only: a missing data dir is not created. A damaged file (bad JSON,
 * wrong shape, a name or DID twice, over the size limit) is an
 * `InvalidInputError` naming the file and the fix.
 */
export async function readContacts(ctx: CliContext): Promise<Contact[]> {
  const path = contactsPath(ctx);
  if (!(await pathExists(path))) return [];
  const bytes = await readInputFile(path, "contacts file", { bytesMax: contactsFileBytesMax });
  const file = strict.parseJsonStrict(bytes, contactsShape, {
    what: `contacts file ${path}`,
    bytesMax: contactsFileBytesMax,
    refuse: (message) => damaged(message),
  });
  const names = new Set<string>();
  const dids = new Set<string>();
  for (const contact of file.contacts) {
    const key = contact.name.toLowerCase();
    if (names.has(key)) {
      throw damaged(`Cannot read contacts file ${path}: the name "${key}" is there twice`);
    }
    if (dids.has(contact.did)) {
      throw damaged(
        `Cannot read contacts file ${path}: the DID "${contact.did}" is there twice`,
      );
    }
    names.add(key);
    dids.add(contact.did);
  }
  return sortContacts(file.contacts);
}

function sortContacts(contacts: Contact[]): Contact[] {
  return [...contacts].sort((a, b) => {
    const x = a.name.toLowerCase();
    const y = b.name.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

async function writeContacts(ctx: CliContext, contacts: Contact[]): Promise<void> {
  if (contacts.length > contactsCountMax) {
    throw new InvalidInputError(
      `Cannot add another contact: the address book holds at most ${contactsCountMax}`,
    );
  }
  const file = { version: 1 as const, contacts: sortContacts(contacts) };
  const bytes = new TextEncoder().encode(JSON.stringify(file, null, 2) + "\n");
  // Checked before writing what the next read would refuse (an invariant, not input).
  if (bytes.length > contactsFileBytesMax) {
    throw new Error(`contacts file would be ${bytes.length} bytes, over ${contactsFileBytesMax}`);
  }
  await writeFileAtomic(contactsPath(ctx), bytes, 0o600);
}

/** Runs `change` on the address book under its lock, so concurrent writers never lose an entry. */
async function withContactsLock<T>(ctx: CliContext, command: string, change: () => Promise<T>) {
  await ctx.ensureDataDir();
  const path = ctx.path(contactsLockFileName);
  const lock = await acquireLock(path, { pid: Deno.pid, command, since: Date.now() }, {
    waitMs: contactsLockWaitMs,
    busy: (holder, waited) =>
      `Cannot change the contacts: ${describeHolder(holder)} is changing them (waited ${
        Math.round(waited / 1000)
      } s)`,
  }).catch((error) => {
    // A read-only data dir or a full disk: say which file, not a stack trace.
    if (error instanceof IcnError) throw error;
    throw new InvalidInputError(
      `Cannot change the contacts: cannot lock ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  });
  try {
    return await change();
  } finally {
    lock.release();
  }
}

/** Checks a contact name; refuses anything that could be read as a DID or a prefix of one. */
export function checkContactName(name: string): string {
  const rule =
    `use 1–${contactNameLengthMax} characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit`;
  if (/^did:/i.test(name)) {
    throw new InvalidInputError(
      `Cannot use "${name}" as a contact name: it would be mistaken for a DID; ${rule}`,
    );
  }
  if (!contactNamePattern.test(name)) {
    throw new InvalidInputError(`Cannot use "${name}" as a contact name: ${rule}`);
  }
  return name;
}

/** Where a known DID was found, for the list of candidates of an ambiguous prefix. */
type Source = "contact" | "member" | "identity";

/** DIDs this data dir knows that start with `prefix`: contacts, members, identities in the store. */
async function knownWithPrefix(
  ctx: CliContext,
  prefix: string,
  contacts: Contact[],
): Promise<Map<string, Set<Source>>> {
  const found = new Map<string, Set<Source>>();
  const note = (did: string, source: Source) => {
    if (!did.startsWith(prefix)) return;
    const sources = found.get(did) ?? new Set<Source>();
    sources.add(source);
    found.set(did, sources);
  };
  for (const contact of contacts) note(contact.did, "contact");
  // Only an existing store is opened: resolving a name must not create a mistyped data dir.
  if (!(await ctx.storeExists())) return found;
  // Loaded here, not at the top: every command's option parsers import this file (`checkDidText`).
  const [{ identityKey }, { readNetworkKind }, { isMember, membersAt }, { StateOverlay }] =
    await Promise.all([
      import("../core/identity/kel.ts"),
      import("../core/governance/join.ts"),
      import("../core/governance/membership.ts"),
      import("../core/chain/state.ts"),
    ]);
  const store = await ctx.store();
  // `~` sorts after every base58 character, so this range is exactly the DIDs with the prefix.
  for await (
    const entry of store.list({
      prefix: ["kel"],
      start: identityKey(prefix),
      end: identityKey(`${prefix}~`),
    })
  ) {
    if (entry.key.length === 2 && typeof entry.key[1] === "string") note(entry.key[1], "identity");
  }
  let network: Awaited<ReturnType<CliContext["network"]>> | undefined;
  try {
    // A federation's members are cooperatives: no member DIDs to look among.
    if ((await readNetworkKind(store)) === "cooperative") network = await ctx.network();
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  if (network) {
    const state = new StateOverlay(store);
    const now = ctx.clock.now();
    for (const did of await membersAt(state, network.genesis, now)) note(did, "member");
    // Identities known here that are members were noted as identities: say so too.
    for (const [did, sources] of found) {
      if (!sources.has("member") && await isMember(state, network.genesis, did, now)) {
        sources.add("member");
      }
    }
  }
  return found;
}

/**
 * Turns what the user typed where a DID is expected into that DID: a whole
 * DID is itself (nothing is read); a contact name is its DID; a prefix of at
 * least `didPrefixLengthMin` characters of exactly one known DID is that DID.
 * An ambiguous prefix is a usage error (exit 2) listing the candidates; an
 * unknown name or prefix is a `NotFoundError` saying how to add a contact.
 */
export async function resolveDid(
  ctx: CliContext,
  text: string,
  options: ResolveOptions = {},
): Promise<string> {
  const form = checkDidText(text, options);
  if (form === "did") return text;
  const what = options.what ? `${options.what} ` : "";
  if (form === "name") {
    const key = text.toLowerCase();
    const contact = (await readContacts(ctx)).find((c) => c.name.toLowerCase() === key);
    if (contact) return contact.did;
    throw new NotFoundError(
      `Cannot use ${what}"${text}": no contact has that name (see \`icn contacts list\`; add one with \`icn contacts add ${key} DID\`)`,
    );
  }
  const contacts = await readContacts(ctx);
  const found = await knownWithPrefix(ctx, text, contacts);
  if (found.size === 1) return [...found.keys()][0];
  if (found.size === 0) {
    let why = "";
    try {
      parseDid(text);
    } catch (error) {
      why = ` (${(error as Error).message.replace(/^Cannot parse DID "[^"]*": /, "")})`;
    }
    throw new NotFoundError(
      `Cannot use ${what}"${text}": it is not a whole DID${why} and no contact, member or known identity has a DID starting with it (add one with \`icn contacts add NAME DID\`)`,
    );
  }
  const names = new Map(contacts.map((c) => [c.did, c.name]));
  const candidates = [...found.keys()].sort();
  const lines = candidates.slice(0, ambiguousShownMax).map((did) => {
    const name = names.get(did);
    return `  ${did}${name ? `  ${terminalSafe(name)}` : ""}  (${[...found.get(did)!].join(", ")})`;
  });
  if (candidates.length > ambiguousShownMax) {
    lines.push(`  … and ${candidates.length - ambiguousShownMax} more`);
  }
  throw new UsageError(
    "icn.ambiguousDid",
    [
      `${
        options.what ? `${options.what} ` : ""
      }"${text}" is the start of ${candidates.length} known DIDs; give more characters, or a contact name:`,
      ...lines,
    ].join("\n"),
  );
}

/** `resolveDid` for each value of a repeatable option, in order. */
export async function resolveDids(
  ctx: CliContext,
  texts: readonly string[],
  options: ResolveOptions = {},
): Promise<string[]> {
  const out: string[] = [];
  for (const text of texts) out.push(await resolveDid(ctx, text, options));
  return out;
}

/** Shows DIDs with their contact names in text output. */
export interface ContactLabels {
  /** The contact name of `did`, terminal-safe, or undefined. */
  nameOf(did: string): string | undefined;
  /** `alice (did:icn:z…)` for a contact, the bare DID otherwise. */
  label(did: string): string;
  /** Set when the contacts file could not be read: shown as a warning, names left out. */
  warnings: string[];
}

/**
 * The names to show beside DIDs in a command's text output. A damaged
 * contacts file does not fail a command that only prints: it becomes a
 * warning and the DIDs are shown bare.
 */
export async function contactLabels(ctx: CliContext): Promise<ContactLabels> {
  let contacts: Contact[] = [];
  const warnings: string[] = [];
  try {
    contacts = await readContacts(ctx);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    warnings.push(`Names of contacts are not shown: ${error.message}`);
  }
  const names = new Map(contacts.map((c) => [c.did, terminalSafe(c.name)]));
  return {
    nameOf: (did) => names.get(did),
    label: (did) => {
      const name = names.get(did);
      return name === undefined ? did : `${name} (${did})`;
    },
    warnings,
  };
}

// Handlers of `icn contacts ...`.

/** `contacts add`'s options (declared in cli/contacts_commands.ts). */
export interface AddOptions {
  force?: boolean;
}

export async function add(
  ctx: CliContext,
  args: string[],
  options: AddOptions,
): Promise<CommandResult> {
  const name = checkContactName(args[0]);
  const did = await resolveDid(ctx, args[1], { what: "DID" });
  const force = options.force === true;
  const key = name.toLowerCase();
  return await withContactsLock(ctx, "icn contacts add", async () => {
    const contacts = await readContacts(ctx);
    const sameName = contacts.find((c) => c.name.toLowerCase() === key);
    const sameDid = contacts.find((c) => c.did === did);
    if (sameName && sameName.did === did && sameName.name === name) {
      return {
        data: { name, did, status: "unchanged" },
        text: `Contact ${name} is already ${did}; nothing changed`,
      };
    }
    if (!force && sameName && sameName.did !== did) {
      throw new AlreadyExistsError(
        `Cannot add contact "${name}": that name is taken by ${sameName.did} (use --force to replace it, or \`icn contacts remove ${sameName.name}\`)`,
      );
    }
    if (!force && sameDid && sameDid !== sameName) {
      throw new AlreadyExistsError(
        `Cannot add contact "${name}": ${did} is already named "${sameDid.name}" (use --force to rename it)`,
      );
    }
    const replaced = [...new Set([sameName, sameDid])].filter((c): c is Contact => c !== undefined);
    const kept = contacts.filter((c) => !replaced.includes(c));
    await writeContacts(ctx, [...kept, { name, did }]);
    return {
      data: { name, did, status: replaced.length > 0 ? "replaced" : "added", replaced },
      text: [
        `Added contact ${name}: ${did}`,
        ...replaced.map((c) => `  replaced ${terminalSafe(c.name)}: ${c.did}`),
      ],
    };
  });
}

export async function list(ctx: CliContext): Promise<CommandResult> {
  const contacts = await readContacts(ctx);
  const width = Math.max(0, ...contacts.map((c) => c.name.length));
  return {
    data: { file: contactsPath(ctx), count: contacts.length, contacts },
    text: contacts.length === 0
      ? "No contacts (add one with `icn contacts add NAME DID`)"
      : contacts.map((c) => `${terminalSafe(c.name).padEnd(width)}  ${c.did}`),
  };
}

export async function remove(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const [name] = args;
  const key = name.toLowerCase();
  const missing = () =>
    new NotFoundError(`Cannot remove contact "${name}": there is none (see \`icn contacts list\`)`);
  // Nothing to remove: refused without creating a data dir or a lock file.
  if (!(await readContacts(ctx)).some((c) => c.name.toLowerCase() === key)) throw missing();
  return await withContactsLock(ctx, "icn contacts remove", async () => {
    const contacts = await readContacts(ctx);
    const gone = contacts.find((c) => c.name.toLowerCase() === key);
    if (!gone) throw missing();
    await writeContacts(ctx, contacts.filter((c) => c !== gone));
    return {
      data: { name: gone.name, did: gone.did, status: "removed" },
      text: `Removed contact ${terminalSafe(gone.name)} (${gone.did})`,
    };
  });
}
