/**
 * The federation genesis: its name, its founding cooperatives (each by
 * network id, with the delegates who act for it), currencies, federation
 * parameters and protocol version. Its CID (canonical DAG-CBOR, without
 * signatures) is the federation's network id. A delegate of every founder
 * signs the same bytes, behind a domain prefix of its own, so a signature over
 * a federation genesis can never pass for one over a cooperative genesis or
 * an envelope.
 *
 * The federation file also carries each founder's cooperative genesis file,
 * so that a verifier who does not hold a cooperative's network can still
 * check its delegates against that cooperative's founders.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { concatBytes, fromBase64, toBase64, utf8Encode } from "../bytes.ts";
import { protocolVersion } from "../constants.ts";
import { contentId } from "../envelope/envelope.ts";
import { IcnError, InvalidInputError, InvalidSignatureError, shown } from "../errors.ts";
import {
  checkCurrenciesDistinct,
  checkGenesisFile,
  type Currency,
  currencyShape,
  type GenesisFile,
} from "../governance/genesis.ts";
import { parseDid } from "../identity/did.ts";
import { verifyEd25519 } from "../identity/keys.ts";
import type { Params } from "../params.ts";
import {
  array,
  checkShape,
  did,
  isPlainMap,
  literal,
  parseJsonStrict,
  record,
  type Shape,
  ShapeError,
  string,
  timestamp,
} from "../strict.ts";
import { defaultFederationParams, validateFederationParam } from "./params.ts";

/**
 * Domain-separation prefix for the signatures of a federation genesis (by the
 * founders' delegates). Lives here rather than in `core/constants.ts` until
 * the federation is wired in; move it there with the other domains then.
 */
export const federationSigningDomain = "icn/federation-genesis/v1\n";

/** One founding (or, in derived state, admitted) cooperative. */
export interface FederationCoop {
  /** The cooperative's network id (the CID of its genesis). */
  net: string;
  name: string;
  /** DIDs who act for the cooperative in the federation: members of it, sorted. */
  delegates: string[];
}

export interface FederationGenesis {
  v: 1;
  name: string;
  /** Creation time, ms since epoch. */
  created: number;
  /** Founding cooperatives, sorted by `net`. */
  coops: FederationCoop[];
  currencies: Currency[];
  /** Federation parameters (`federation.*`); an absent key means its default. */
  params: Params;
  protocolVersion: string;
}

export interface FederationSignature {
  /** Network id of the cooperative this delegate signs for. */
  coop: string;
  did: string;
  /** base64 Ed25519 signature over the domain prefix + canonical federation genesis encoding. */
  sig: string;
}

/** The file delegates pass around and sign. */
export interface FederationFile {
  id: string;
  genesis: FederationGenesis;
  /** The genesis file of every founding cooperative, in `genesis.coops` order. */
  cooperativeGeneses: GenesisFile[];
  /** Sorted by coop, then DID. */
  signatures: FederationSignature[];
}

/** Same limit as a cooperative's name. */
export const federationNameLengthMax = 100;
/**
 * Founding cooperatives: each carries its genesis file, so this bounds the
 * file; more cooperatives join later by admission.
 */
export const foundersMax = 64;
/** Delegates of one cooperative: enough for rotas and deputies, small enough to list. */
export const delegatesPerCoopMax = 16;
const currenciesMax = 16;
/** Federation parameters: every known key (21 today) with room for keys added later. */
const federationParamsMax = 256;
/**
 * Largest federation file read. Each founder's genesis file is embedded; a
 * cooperative founded by 1,000 members has a genesis file of about 230 KB,
 * so 64 of those fit, while a single maximal genesis file (4 MiB) still does.
 */
export const federationFileBytesMax = 16 * 1024 * 1024;

/** A CIDv1 in base32 (what `contentId` produces). */
const netIdShape = string({ min: 8, max: 128, pattern: /^b[a-z2-7]+$/ });

const federationParamsShape: Shape<Params> = (value, path) => {
  if (!isPlainMap(value)) throw new ShapeError(path, "must be a map");
  const entries = Object.entries(value);
  if (entries.length > federationParamsMax) {
    throw new ShapeError(path, `must hold at most ${federationParamsMax} parameters`);
  }
  for (const [key, param] of entries) validateFederationParam(key, param);
  return value as Params;
};

const coopShape = record({
  net: netIdShape,
  name: string({ min: 1, max: federationNameLengthMax, pattern: /\S/ }),
  delegates: array(did, { min: 1, max: delegatesPerCoopMax }),
});

const federationGenesisShape = record({
  v: literal(1),
  name: string({ min: 1, max: federationNameLengthMax, pattern: /\S/ }),
  created: timestamp,
  coops: array(coopShape, { min: 1, max: foundersMax }),
  currencies: array(currencyShape, { min: 1, max: currenciesMax }),
  params: federationParamsShape,
  protocolVersion: string({ max: 32, pattern: /^\d{1,6}\.\d{1,6}\.\d{1,6}$/ }),
});

/** The embedded cooperative genesis files are checked in full by `checkGenesisFile`. */
const embeddedGenesisShape: Shape<GenesisFile> = (value, path) => {
  if (!isPlainMap(value)) throw new ShapeError(path, "must be a map");
  return value as unknown as GenesisFile;
};

const federationFileShape = record({
  id: string({ min: 1, max: 128 }),
  genesis: (value: unknown) => value,
  cooperativeGeneses: array(embeddedGenesisShape, { min: 1, max: foundersMax }),
  // 64 bytes in canonical padded base64: 85 characters, one with 2 zero low bits, "==".
  signatures: array(
    record({
      coop: netIdShape,
      did,
      sig: string({ max: 88, pattern: /^[A-Za-z0-9+/]{85}[AQgw]==$/ }),
    }),
    { max: foundersMax * delegatesPerCoopMax },
  ),
});

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Checks every field of a federation genesis exactly; throws `InvalidInputError`. */
export function validateFederationGenesis(value: unknown): asserts value is FederationGenesis {
  const g = checkShape(federationGenesisShape, value, { what: "federation genesis" });
  const fail = (why: string): never => {
    throw new InvalidInputError(`Federation genesis is invalid: ${why}`);
  };
  const names = new Set<string>();
  for (const [i, coop] of g.coops.entries()) {
    if (i > 0 && compare(g.coops[i - 1].net, coop.net) >= 0) {
      fail(
        g.coops[i - 1].net === coop.net
          ? `cooperative ${coop.net} is listed twice`
          : "cooperatives must be sorted by network id",
      );
    }
    if (names.has(coop.name)) fail(`two cooperatives are named "${coop.name}"`);
    names.add(coop.name);
    for (const [j, delegate] of coop.delegates.entries()) {
      if (j > 0 && compare(coop.delegates[j - 1], delegate) >= 0) {
        fail(
          coop.delegates[j - 1] === delegate
            ? `"${delegate}" is listed twice as a delegate of "${coop.name}"`
            : `the delegates of "${coop.name}" must be sorted`,
        );
      }
    }
  }
  checkCurrenciesDistinct(g.currencies, fail);
}

/** Canonical bytes of a federation genesis (what its CID and signatures cover). */
export function encodeFederationGenesis(genesis: FederationGenesis): Uint8Array {
  return dagCbor.encode(genesis);
}

/** The federation's network id: CID of the canonical genesis encoding. */
export function federationId(genesis: FederationGenesis): Promise<string> {
  return contentId(encodeFederationGenesis(genesis));
}

/** What each delegate signs: the federation domain prefix, then the canonical encoding. */
export function federationSigningBytes(genesis: FederationGenesis): Uint8Array {
  return concatBytes(utf8Encode(federationSigningDomain), encodeFederationGenesis(genesis));
}

/**
 * Members of a cooperative by the current state of its network, when the
 * caller holds that network; `undefined` when it does not.
 */
export type MembersOf = (
  net: string,
) => ReadonlySet<string> | undefined | Promise<ReadonlySet<string> | undefined>;

/** One founding cooperative, as `createFederationGenesis` takes it. */
export interface FounderInput {
  /** The cooperative's genesis file (its network id is computed from it). */
  genesisFile: GenesisFile;
  /** Its name in the federation; default: the name in its genesis. */
  name?: string;
  delegates: readonly string[];
}

export interface CreateFederationOptions {
  name: string;
  created: number;
  founders: readonly FounderInput[];
  currencies?: readonly Currency[];
  /** Federation parameters given; defaults fill every other key. */
  params?: Params;
  /** Current members of a cooperative whose network the caller holds (see `checkFederationFile`). */
  membersOf?: MembersOf;
}

/**
 * Builds an unsigned federation file: the genesis (founders sorted by network
 * id, delegates sorted) and the founders' genesis files. Every delegate must
 * be a member of its cooperative (as `checkFederationFile` decides).
 */
export async function createFederationGenesis(
  options: CreateFederationOptions,
): Promise<FederationFile> {
  const founders: { coop: FederationCoop; genesisFile: GenesisFile }[] = [];
  for (const [i, founder] of options.founders.entries()) {
    const net = await checkedCooperativeGenesis(founder.genesisFile, ` ${i + 1}`);
    founders.push({
      coop: {
        net,
        name: founder.name ?? founder.genesisFile.genesis.name,
        delegates: [...new Set(founder.delegates)].sort(),
      },
      genesisFile: founder.genesisFile,
    });
  }
  founders.sort((a, b) => compare(a.coop.net, b.coop.net));
  const genesis: FederationGenesis = {
    v: 1,
    name: options.name,
    created: options.created,
    coops: founders.map((f) => f.coop),
    currencies: options.currencies?.length
      ? [...options.currencies]
      : [{ code: "hours", decimals: 2 }],
    params: { ...defaultFederationParams(), ...options.params },
    protocolVersion,
  };
  validateFederationGenesis(genesis);
  const file: FederationFile = {
    id: await federationId(genesis),
    genesis,
    cooperativeGeneses: founders.map((f) => f.genesisFile),
    signatures: [],
  };
  await checkDelegates(file, options.membersOf);
  return file;
}

/** Adds (or replaces) the signature of `did` for cooperative `coop`. */
export function addFederationSignature(
  file: FederationFile,
  entry: { coop: string; did: string; signature: Uint8Array },
): FederationFile {
  const coop = file.genesis.coops.find((c) => c.net === entry.coop);
  if (!coop) {
    throw new InvalidInputError(
      `Cannot sign federation "${file.genesis.name}" for cooperative ${
        shown(entry.coop)
      }: it is not one of its founders`,
    );
  }
  if (!coop.delegates.includes(entry.did)) {
    throw new InvalidInputError(
      `Cannot sign federation "${file.genesis.name}" for "${coop.name}": "${entry.did}" is not one of its delegates`,
    );
  }
  const signatures = file.signatures.filter((s) => s.coop !== entry.coop || s.did !== entry.did);
  signatures.push({ coop: entry.coop, did: entry.did, sig: toBase64(entry.signature) });
  signatures.sort((a, b) => compare(a.coop, b.coop) || compare(a.did, b.did));
  return { ...file, signatures };
}

/** JSON text of a federation file, as `parseFederationFile` reads it. */
export function serializeFederationFile(file: FederationFile): string {
  return JSON.stringify(file, null, 2) + "\n";
}

/**
 * Reads a federation file (JSON text or UTF-8 bytes): the size is checked
 * before parsing, then the shape exactly. Nothing is verified beyond the
 * shape; `checkFederationFile` does that.
 */
export function parseFederationFile(input: string | Uint8Array): FederationFile {
  const parsed = parseJsonStrict(input, federationFileShape, {
    what: "federation file",
    bytesMax: federationFileBytesMax,
  });
  validateFederationGenesis(parsed.genesis);
  return { ...parsed, genesis: parsed.genesis };
}

export interface FederationCheckOptions {
  /**
   * Current members of a cooperative whose network the caller holds. When it
   * returns a set, that set decides who is a member (a member admitted after
   * the cooperative's genesis may be a delegate, a removed founder may not);
   * when it returns `undefined`, the founders in the embedded genesis decide.
   */
  membersOf?: MembersOf;
  /** Accept a file that some founder has not signed yet (while signatures are collected). */
  partial?: boolean;
}

export interface FederationCheck {
  /** The federation's network id. */
  id: string;
  /** Signatures that verified, as (coop, did). */
  signed: { coop: string; did: string }[];
  /** Founders (network ids) no delegate has signed for yet. */
  missing: string[];
  /** How each founder's delegates were checked: by its network's state, or by its genesis. */
  membersBy: Record<string, "state" | "genesis">;
}

/**
 * Verifies a federation file: its shape (strict, bounded), that its id is the
 * CID of its genesis, that each embedded cooperative genesis is valid and is
 * the one the federation names (its CID equals the listed network id), that
 * every delegate is a member of its cooperative (see `membersOf`), that every
 * signature verifies and is by a delegate of the cooperative it signs for,
 * and (unless `partial`) that a delegate of every founder signed. Throws
 * `InvalidInputError` or `InvalidSignatureError` naming the cooperative and DID.
 */
export async function checkFederationFile(
  input: FederationFile | string | Uint8Array,
  options: FederationCheckOptions = {},
): Promise<{ file: FederationFile; check: FederationCheck }> {
  const file = typeof input === "string" || input instanceof Uint8Array
    ? parseFederationFile(input)
    : checkFileObject(input);
  const { genesis } = file;
  const id = await federationId(genesis);
  if (file.id !== id) {
    throw new InvalidInputError(
      `Federation id does not match its content (file says ${
        shown(file.id)
      }, content is ${id}): the file was changed`,
    );
  }
  const membersBy = await checkDelegates(file, options.membersOf);
  const message = federationSigningBytes(genesis);
  const coops = new Map(genesis.coops.map((c) => [c.net, c]));
  const seen = new Set<string>();
  const signedCoops = new Set<string>();
  const signed: { coop: string; did: string }[] = [];
  for (const entry of file.signatures) {
    const coop = coops.get(entry.coop);
    if (!coop) {
      throw new InvalidSignatureError(
        `Federation is signed by "${entry.did}" for cooperative ${entry.coop}, which is not a founder`,
      );
    }
    if (!coop.delegates.includes(entry.did)) {
      throw new InvalidSignatureError(
        `Federation is signed by "${entry.did}" for "${coop.name}", who is not one of its delegates`,
      );
    }
    const key = `${entry.coop} ${entry.did}`;
    if (seen.has(key)) {
      throw new InvalidInputError(`"${entry.did}" signed twice for "${coop.name}"`);
    }
    seen.add(key);
    if (!(await verifyEd25519(parseDid(entry.did), message, fromBase64(entry.sig)))) {
      throw new InvalidSignatureError(
        `Federation signature of "${entry.did}" for "${coop.name}" does not verify`,
      );
    }
    signed.push({ coop: entry.coop, did: entry.did });
    signedCoops.add(entry.coop);
  }
  const missing = genesis.coops.filter((c) => !signedCoops.has(c.net));
  if (missing.length > 0 && !options.partial) {
    throw new InvalidSignatureError(
      `Federation "${genesis.name}" is not signed for ${
        missing.map((c) => `"${c.name}"`).join(", ")
      }: a delegate of every founding cooperative must sign`,
    );
  }
  return { file, check: { id, signed, missing: missing.map((c) => c.net), membersBy } };
}

/** An in-memory file gets the same strict checks as a parsed one. */
function checkFileObject(value: FederationFile): FederationFile {
  const parsed = checkShape(federationFileShape, value, { what: "federation file" });
  validateFederationGenesis(parsed.genesis);
  return { ...parsed, genesis: parsed.genesis };
}

/** Checks one embedded cooperative genesis file in full; returns its network id. */
async function checkedCooperativeGenesis(genesisFile: GenesisFile, what: string) {
  let text: string;
  try {
    text = JSON.stringify(genesisFile);
  } catch {
    throw new InvalidInputError(`Cooperative genesis${what} is not JSON data`);
  }
  try {
    const { check } = await checkGenesisFile(text);
    return check.id;
  } catch (error) {
    if (!(error instanceof IcnError)) throw error;
    const Class = error instanceof InvalidSignatureError
      ? InvalidSignatureError
      : InvalidInputError;
    throw new Class(`Cooperative genesis${what} is refused: ${error.message}`, { cause: error });
  }
}

/**
 * Each embedded genesis belongs to the founder at the same position, and
 * every delegate is a member of its cooperative: by its network's current
 * state when `membersOf` answers, else by its genesis founders.
 */
async function checkDelegates(
  file: FederationFile,
  membersOf: MembersOf | undefined,
): Promise<Record<string, "state" | "genesis">> {
  const { coops } = file.genesis;
  if (file.cooperativeGeneses.length !== coops.length) {
    throw new InvalidInputError(
      `Federation file carries ${file.cooperativeGeneses.length} cooperative genesis files for ${coops.length} founders: it needs one for each, in founder order`,
    );
  }
  const membersBy: Record<string, "state" | "genesis"> = {};
  for (const [i, coop] of coops.entries()) {
    const embedded = file.cooperativeGeneses[i];
    const label = ` at position ${i + 1} (for "${coop.name}")`;
    const net = await checkedCooperativeGenesis(embedded, label);
    if (net !== coop.net) {
      throw new InvalidInputError(
        `Cooperative genesis${label} is network ${net}, not ${coop.net}: the file was changed or the files were swapped`,
      );
    }
    const current = await membersOf?.(coop.net);
    membersBy[coop.net] = current ? "state" : "genesis";
    const members = current ?? new Set(embedded.genesis.members);
    for (const delegate of coop.delegates) {
      if (members.has(delegate)) continue;
      throw new InvalidInputError(
        current
          ? `Cannot accept "${delegate}" as a delegate of "${coop.name}": not a member of it`
          : `Cannot accept "${delegate}" as a delegate of "${coop.name}": not a founder in its genesis, and this node does not hold that network to check later members`,
      );
    }
  }
  return membersBy;
}
