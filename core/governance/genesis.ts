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
import { defaultParams, type Params, requiredParamKeys, validateParam } from "../params.ts";
import {
  array,
  checkShape,
  did,
  integer,
  isPlainMap,
  literal,
  parseJsonStrict,
  record,
  type Shape,
  ShapeError,
  string,
  timestamp,
} from "../strict.ts";

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
/**
 * Largest genesis file read: 10,000 founders, each listed (about 60 bytes)
 * and signing (about 160 bytes), with every parameter, fit in about 2.3 MB.
 */
export const genesisFileBytesMax = 4 * 1024 * 1024;

const genesisFileShape = record({
  id: string({ min: 1, max: 128 }),
  genesis: (value: unknown) => value,
  // 64 bytes in canonical padded base64: 85 characters, one with 2 zero low bits, "==".
  signatures: array(
    record({ did, sig: string({ max: 88, pattern: /^[A-Za-z0-9+/]{85}[AQgw]==$/ }) }),
    { max: membersMax },
  ),
});

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

/** One currency of a genesis (a federation genesis lists currencies by the same rule). */
export const currencyShape = record({
  code: string({ max: 16, pattern: currencyPattern }),
  decimals: integer({ min: 0, max: 18 }),
});

/**
 * Every required parameter present (keys added later may be absent: they mean their
 * default), each a known key with a valid value (`validateParam`).
 */
const paramsShape: Shape<Params> = (value, path) => {
  if (!isPlainMap(value)) throw new ShapeError(path, "must be a map");
  for (const key of requiredParamKeys()) {
    if (!Object.hasOwn(value, key)) throw new ShapeError(path, `is missing parameter "${key}"`);
  }
  for (const [key, param] of Object.entries(value)) validateParam(key, param);
  return value as Params;
};

const genesisShape = record({
  v: literal(1),
  name: string({ min: 1, max: nameLengthMax, pattern: /\S/ }),
  created: timestamp,
  members: array(did, { min: 1, max: membersMax }),
  currencies: array(currencyShape, { min: 1, max: currenciesMax }),
  params: paramsShape,
  protocolVersion: string({ max: 32, pattern: /^\d{1,6}\.\d{1,6}\.\d{1,6}$/ }),
});

/** Checks every field of a genesis document exactly; throws `InvalidInputError`. */
export function validateGenesis(value: unknown): asserts value is Genesis {
  const g = checkShape(genesisShape, value, { what: "genesis" });
  const fail = (why: string): never => {
    throw new InvalidInputError(`Genesis is invalid: ${why}`);
  };
  if (new Set(g.members).size !== g.members.length) fail("a member is listed twice");
  if ([...g.members].sort().some((m, i) => m !== g.members[i])) fail("members must be sorted");
  checkCurrenciesDistinct(g.currencies, fail);
}

/**
 * Refuses a currency listed twice (by `fail`, which names the document): one rule for a
 * cooperative's genesis and a federation's.
 */
export function checkCurrenciesDistinct(
  currencies: readonly Currency[],
  fail: (why: string) => never,
): void {
  const codes = new Set<string>();
  for (const c of currencies) {
    if (codes.has(c.code)) fail(`currency "${c.code}" is listed twice`);
    codes.add(c.code);
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
  input: string | Uint8Array,
): Promise<{ file: GenesisFile; check: GenesisCheck }> {
  const parsed = parseJsonStrict(input, genesisFileShape, {
    what: "genesis file",
    bytesMax: genesisFileBytesMax,
  });
  validateGenesis(parsed.genesis);
  const file: GenesisFile = { ...parsed, genesis: parsed.genesis };
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
  const members = new Set(file.genesis.members);
  const seen = new Set<string>();
  for (const entry of file.signatures) {
    if (!members.has(entry.did)) {
      throw new InvalidSignatureError(`Genesis is signed by "${entry.did}", who is not a founder`);
    }
    if (seen.has(entry.did)) throw new InvalidInputError(`"${entry.did}" signed twice`);
    seen.add(entry.did);
    const sig = fromBase64(entry.sig);
    if (!(await verifyEd25519(parseDid(entry.did), message, sig))) {
      throw new InvalidSignatureError(`Genesis signature of "${entry.did}" does not verify`);
    }
    signed.push(entry.did);
  }
  const missing = file.genesis.members.filter((m) => !seen.has(m));
  return { file, check: { id, signed, missing } };
}

export function serializeGenesisFile(file: GenesisFile): string {
  return JSON.stringify(file, null, 2) + "\n";
}
