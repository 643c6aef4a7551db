/**
 * The genesis document: name, founding members, currencies, every parameter,
 * protocol version. Its CID (over the canonical DAG-CBOR encoding, without
 * signatures) is the network id; each founder signs the same bytes.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { concatBytes, fromBase64, toBase64, utf8Encode } from "../bytes.ts";
import { genesisSigningDomain, protocolVersion } from "../constants.ts";
import { contentId } from "../envelope/envelope.ts";
import { InvalidInputError, InvalidSignatureError, shown } from "../errors.ts";
import { parseDid } from "../identity/did.ts";
import { verifyEd25519 } from "../identity/keys.ts";
import { defaultParams, type Params, validateParam } from "../params.ts";

export interface Currency {
  code: string;
  decimals: number;
}

export interface Genesis {
  v: 1;
  name: string;
  /** Creation time, ms since epoch. */
  created: number;
  /** Founding members (DIDs), sorted. */
  members: string[];
  currencies: Currency[];
  params: Params;
  protocolVersion: string;
}

export interface GenesisSignature {
  did: string;
  /** base64 Ed25519 signature over the domain prefix + canonical genesis encoding. */
  sig: string;
}

/** The file founders pass around and sign. */
export interface GenesisFile {
  id: string;
  genesis: Genesis;
  signatures: GenesisSignature[];
}

const nameLengthMax = 100;
const membersMax = 10_000;
const currenciesMax = 16;
const currencyPattern = /^[a-z][a-z0-9_-]{0,15}$/;

/** Parses `hours:2` into a currency. */
export function parseCurrency(text: string): Currency {
  const match = /^([^:]+):(\d{1,2})$/.exec(text);
  if (!match || !currencyPattern.test(match[1]) || Number(match[2]) > 18) {
    throw new InvalidInputError(
      `Cannot parse currency "${text}": use CODE:DECIMALS, e.g. hours:2 (lowercase code, 0–18 decimals)`,
    );
  }
  return { code: match[1], decimals: Number(match[2]) };
}

export interface CreateGenesisOptions {
  name: string;
  members: readonly string[];
  currencies?: readonly Currency[];
  params?: Params;
  created: number;
}

/** Builds and validates a genesis document; defaults fill every parameter not given. */
export function createGenesis(options: CreateGenesisOptions): Genesis {
  const genesis: Genesis = {
    v: 1,
    name: options.name,
    created: options.created,
    members: [...new Set(options.members)].sort(),
    currencies: options.currencies?.length
      ? [...options.currencies]
      : [{ code: "hours", decimals: 2 }],
    params: { ...defaultParams(), ...options.params },
    protocolVersion,
  };
  validateGenesis(genesis);
  return genesis;
}

/** Checks every field of a genesis document; throws `InvalidInputError`. */
export function validateGenesis(value: unknown): asserts value is Genesis {
  const g = value as Genesis;
  const fail = (why: string): never => {
    throw new InvalidInputError(`Genesis is invalid: ${why}`);
  };
  if (typeof g !== "object" || g === null || g.v !== 1) fail("unsupported version");
  const keys = Object.keys(g).sort().join(",");
  if (keys !== "created,currencies,members,name,params,protocolVersion,v") {
    fail("unexpected fields");
  }
  if (typeof g.name !== "string" || g.name.trim().length === 0 || g.name.length > nameLengthMax) {
    fail(`name must be 1–${nameLengthMax} characters`);
  }
  if (!Number.isSafeInteger(g.created) || g.created < 0) fail("created must be a timestamp in ms");
  if (!Array.isArray(g.members) || g.members.length === 0 || g.members.length > membersMax) {
    fail("it needs at least one member");
  }
  for (const member of g.members) parseDid(member);
  if (new Set(g.members).size !== g.members.length) fail("a member is listed twice");
  if ([...g.members].sort().some((m, i) => m !== g.members[i])) fail("members must be sorted");
  if (
    !Array.isArray(g.currencies) || g.currencies.length === 0 || g.currencies.length > currenciesMax
  ) {
    fail("it needs 1–16 currencies");
  }
  const codes = new Set<string>();
  for (const c of g.currencies) {
    if (
      typeof c !== "object" || c === null || !currencyPattern.test(c.code) ||
      !Number.isInteger(c.decimals) || c.decimals < 0 || c.decimals > 18 ||
      Object.keys(c).length !== 2
    ) fail("a currency is malformed");
    if (codes.has(c.code)) fail(`currency "${c.code}" is listed twice`);
    codes.add(c.code);
  }
  if (typeof g.params !== "object" || g.params === null) fail("params missing");
  const defaults = defaultParams();
  for (const key of Object.keys(defaults)) {
    if (!(key in g.params)) fail(`parameter "${key}" is missing`);
  }
  for (const [key, param] of Object.entries(g.params)) validateParam(key, param);
  if (typeof g.protocolVersion !== "string" || !/^\d+\.\d+\.\d+$/.test(g.protocolVersion)) {
    fail("protocolVersion must be semver");
  }
}

/** Canonical bytes of a genesis (what its CID and signatures cover). */
export function encodeGenesis(genesis: Genesis): Uint8Array {
  return dagCbor.encode(genesis);
}

/** The network id: CID of the canonical genesis encoding. */
export function genesisId(genesis: Genesis): Promise<string> {
  return contentId(encodeGenesis(genesis));
}

export function genesisSigningBytes(genesis: Genesis): Uint8Array {
  return concatBytes(utf8Encode(genesisSigningDomain), encodeGenesis(genesis));
}

/** Adds (or replaces) `did`'s signature. */
export function addGenesisSignature(
  file: GenesisFile,
  did: string,
  signature: Uint8Array,
): GenesisFile {
  if (!file.genesis.members.includes(did)) {
    throw new InvalidInputError(
      `Cannot sign genesis "${file.genesis.name}": "${did}" is not one of its members`,
    );
  }
  const signatures = file.signatures.filter((s) => s.did !== did);
  signatures.push({ did, sig: toBase64(signature) });
  signatures.sort((a, b) => (a.did < b.did ? -1 : a.did > b.did ? 1 : 0));
  return { ...file, signatures };
}

export interface GenesisCheck {
  id: string;
  signed: string[];
  missing: string[];
}

/**
 * Parses a genesis file (JSON text), checks its id matches its content and
 * every signature present verifies. Does not require completeness; see
 * `requireFullySigned`.
 */
export async function checkGenesisFile(
  text: string,
): Promise<{ file: GenesisFile; check: GenesisCheck }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidInputError("Cannot read genesis file: it is not valid JSON");
  }
  const file = parsed as GenesisFile;
  if (typeof file !== "object" || file === null || !Array.isArray(file.signatures)) {
    throw new InvalidInputError("Cannot read genesis file: missing genesis or signatures");
  }
  validateGenesis(file.genesis);
  const id = await genesisId(file.genesis);
  if (file.id !== id) {
    throw new InvalidInputError(
      `Genesis id does not match its content (file says ${
        shown(file.id)
      }, content is ${id}): the file was changed`,
    );
  }
  const message = genesisSigningBytes(file.genesis);
  const signed: string[] = [];
  for (const entry of file.signatures) {
    if (typeof entry?.did !== "string" || typeof entry?.sig !== "string") {
      throw new InvalidInputError("Genesis signature entry is malformed");
    }
    if (!file.genesis.members.includes(entry.did)) {
      throw new InvalidSignatureError(`Genesis is signed by "${entry.did}", who is not a founder`);
    }
    let sig: Uint8Array;
    try {
      sig = fromBase64(entry.sig);
    } catch {
      throw new InvalidSignatureError(`Genesis signature of "${entry.did}" is not base64`);
    }
    if (!(await verifyEd25519(parseDid(entry.did), message, sig))) {
      throw new InvalidSignatureError(`Genesis signature of "${entry.did}" does not verify`);
    }
    if (signed.includes(entry.did)) throw new InvalidInputError(`"${entry.did}" signed twice`);
    signed.push(entry.did);
  }
  const missing = file.genesis.members.filter((m) => !signed.includes(m));
  return { file, check: { id, signed, missing } };
}

export function serializeGenesisFile(file: GenesisFile): string {
  return JSON.stringify(file, null, 2) + "\n";
}
