/**
 * What may stand where a member is named on the command line, checked without reading
 * anything: a whole DID, a contact name, or a DID prefix long enough to look up. Every
 * command's option parsers use it (`didArg` in `args.ts`), so it imports no more than the DID
 * parser: the address book and the store stay in `contacts.ts`, loaded when a command runs.
 */
import { InvalidInputError } from "../core/errors.ts";
import { isDid, parseDid } from "../core/identity/did.ts";

/** Longest contact name, in characters. */
export const contactNameLengthMax = 32;
/**
 * Shortest DID prefix accepted in place of a DID, counting `did:icn:z` (9
 * characters): 3 characters of key at least, so a slip of the keyboard does
 * not pick someone by accident.
 */
export const didPrefixLengthMin = 12;

/** A letter or digit, then letters, digits, `.`, `_` or `-`; compared without case. */
export const contactNamePattern = new RegExp(
  `^[a-z0-9][a-z0-9._-]{0,${contactNameLengthMax - 1}}$`,
  "i",
);
/** Base58btc's alphabet: what may follow `did:icn:z` in a DID or a prefix of one. */
export const didPrefixPattern = /^did:icn:z[1-9A-HJ-NP-Za-km-z]*$/;

export interface ResolveOptions {
  /** How the value was given, for messages: `--to`, `member`, `trustee`. */
  what?: string;
}

/**
 * The part of `resolveDid` that reads nothing: whether `text` is a whole DID, a contact name
 * or a DID prefix long enough to look up, refusing anything else as `resolveDid` does (an
 * option's parser calls it, so a typo is refused before any store opens).
 */
export function checkDidText(
  text: string,
  options: ResolveOptions = {},
): "did" | "name" | "prefix" {
  if (isDid(text as unknown)) return "did";
  if (contactNamePattern.test(text)) return "name";
  const what = options.what ? `${options.what} ` : "";
  if (!didPrefixPattern.test(text)) {
    // Not a name nor a prefix: the DID parser says what is wrong with it.
    try {
      parseDid(text);
    } catch (error) {
      throw new InvalidInputError(
        `${(error as Error).message}${what ? ` (${options.what})` : ""}`,
      );
    }
  }
  if (text.length < didPrefixLengthMin) {
    throw new InvalidInputError(
      `Cannot use ${what}"${text}": a DID prefix needs at least ${didPrefixLengthMin} characters`,
    );
  }
  return "prefix";
}
