/**
 * Detached signatures in minisign's format: prehashed Ed25519 (`ED`, signature
 * over BLAKE2b-512 of the file) with a trusted comment covered by a global
 * signature, so the real `minisign -V` verifies what `icn id sign` writes.
 * Verification also reads minisign's legacy `Ed` signatures (over the file
 * itself, `minisign -S -l`).
 *
 * Key ids: minisign draws a key's 8-byte id at random when it makes the key,
 * and keeps it in the public key file; icn derives one from the key (BLAKE2b)
 * so it needs no storage. A key id only says which key to try: the
 * signatures decide. So a key read from a `.pub` file brings its own id, and a
 * bare key (a DID's) has icn's derived one.
 */
import { blake2b } from "@noble/hashes/blake2.js";
import { bytesEqual, concatBytes, fromBase64, toBase64, utf8Encode } from "../bytes.ts";
import { InvalidInputError, InvalidSignatureError } from "../errors.ts";
import { verifyEd25519 } from "./keys.ts";

const algPrehashed = utf8Encode("ED");
const algLegacy = utf8Encode("Ed");
const algPublicKey = utf8Encode("Ed");
const commentLengthMax = 1024;

/** Minisign key id: 8 bytes, derived from the public key so it is stable without storing it. */
export function minisignKeyId(publicKey: Uint8Array): Uint8Array {
  return blake2b(publicKey, { dkLen: 8 });
}

function keyIdHex(keyId: Uint8Array): string {
  // minisign prints the little-endian u64.
  return [...keyId].reverse().map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

/** The public key file minisign reads with `-p`. */
export function minisignPublicKey(publicKey: Uint8Array): string {
  const keyId = minisignKeyId(publicKey);
  return `untrusted comment: minisign public key ${keyIdHex(keyId)}\n${
    toBase64(concatBytes(algPublicKey, keyId, publicKey))
  }\n`;
}

/** Just the base64 line (what `minisign -P` takes). */
export function minisignPublicKeyLine(publicKey: Uint8Array): string {
  return toBase64(concatBytes(algPublicKey, minisignKeyId(publicKey), publicKey));
}

export interface MinisignSignOptions {
  publicKey: Uint8Array;
  sign: (message: Uint8Array) => Promise<Uint8Array>;
  trustedComment: string;
  untrustedComment?: string;
}

function checkComment(comment: string): void {
  if (comment.length > commentLengthMax || /[\r\n]/.test(comment)) {
    throw new InvalidInputError("A signature comment must be one line of at most 1024 characters");
  }
}

/**
 * What a signature covers, so large files need not be held in memory: the
 * file's BLAKE2b-512 (which `ED` signatures sign; the caller may stream it),
 * and the file itself only when small enough to keep (legacy `Ed` signatures
 * sign the whole file).
 */
export interface SignedContent {
  readonly prehash: Uint8Array;
  readonly data?: Uint8Array;
}

/** The signed content of bytes held in memory. */
export function signedContentOf(data: Uint8Array): SignedContent {
  return { prehash: blake2b(data), data };
}

function contentOf(input: Uint8Array | SignedContent): SignedContent {
  return input instanceof Uint8Array ? signedContentOf(input) : input;
}

/** Signs `input` (bytes, or a streamed prehash), returning the text of a `.minisig` file. */
export async function minisignSign(
  input: Uint8Array | SignedContent,
  options: MinisignSignOptions,
): Promise<string> {
  checkComment(options.trustedComment);
  const untrusted = options.untrustedComment ?? "signature from icn secret key";
  checkComment(untrusted);
  const signature = await options.sign(contentOf(input).prehash);
  const keyId = minisignKeyId(options.publicKey);
  const globalSignature = await options.sign(
    concatBytes(signature, utf8Encode(options.trustedComment)),
  );
  return `untrusted comment: ${untrusted}\n${
    toBase64(concatBytes(algPrehashed, keyId, signature))
  }\n` +
    `trusted comment: ${options.trustedComment}\n${toBase64(globalSignature)}\n`;
}

export interface MinisignSignature {
  /** `true` for `ED` (signature over BLAKE2b-512 of the file), `false` for legacy `Ed`. */
  prehashed: boolean;
  keyId: Uint8Array;
  signature: Uint8Array;
  trustedComment: string;
  globalSignature: Uint8Array;
  /** Lines after the standard four (icn adds an ML-DSA-65 line there with `--pq`). */
  extra: string[];
}

/** Parses a `.minisig` file; throws `InvalidInputError` when malformed. */
export function parseMinisignSignature(text: string): MinisignSignature {
  const malformed = (why: string): never => {
    throw new InvalidInputError(`Malformed signature file: ${why}`);
  };
  const lines = text.replace(/\r?\n$/, "").split(/\r?\n/);
  if (lines.length < 4) malformed("expected 4 lines");
  if (!lines[0].startsWith("untrusted comment:")) malformed("line 1 is not an untrusted comment");
  if (!lines[2].startsWith("trusted comment: ")) malformed("line 3 is not a trusted comment");
  let sigLine: Uint8Array;
  let globalSignature: Uint8Array;
  try {
    sigLine = fromBase64(lines[1].trim());
    globalSignature = fromBase64(lines[3].trim());
  } catch {
    return malformed("signature lines are not base64");
  }
  if (sigLine.length !== 74) malformed("signature has the wrong length");
  const prehashed = bytesEqual(sigLine.subarray(0, 2), algPrehashed);
  if (!prehashed && !bytesEqual(sigLine.subarray(0, 2), algLegacy)) {
    malformed("only Ed25519 signatures (ED, or legacy Ed) are supported");
  }
  if (globalSignature.length !== 64) malformed("global signature has the wrong length");
  return {
    prehashed,
    keyId: sigLine.slice(2, 10),
    signature: sigLine.slice(10, 74),
    trustedComment: lines[2].slice("trusted comment: ".length),
    globalSignature,
    extra: lines.slice(4),
  };
}

/** A minisign public key with its key id (random when minisign made it). */
export interface MinisignPublicKey {
  keyId: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * Verifies a parsed signature over `data`; throws `InvalidSignatureError`
 * naming what failed. `key` is a parsed `.pub` file (its own key id) or a bare
 * Ed25519 key (icn's derived key id).
 */
export async function minisignVerify(
  input: Uint8Array | SignedContent,
  parsed: MinisignSignature,
  key: Uint8Array | MinisignPublicKey,
): Promise<void> {
  const { keyId, publicKey } = key instanceof Uint8Array
    ? { keyId: minisignKeyId(key), publicKey: key }
    : key;
  if (!bytesEqual(parsed.keyId, keyId)) {
    throw new InvalidSignatureError(
      `Signature was made with a different key: key id ${keyIdHex(parsed.keyId)}, expected ${
        keyIdHex(keyId)
      }`,
    );
  }
  const content = contentOf(input);
  if (!parsed.prehashed && content.data === undefined) {
    throw new InvalidInputError(
      "Cannot verify a legacy (non-prehashed) minisign signature of a file this large: ask for a prehashed (ED) signature",
    );
  }
  const signed = parsed.prehashed ? content.prehash : content.data!;
  if (!(await verifyEd25519(publicKey, signed, parsed.signature))) {
    throw new InvalidSignatureError(
      "Signature does not match the file: the file or signature was changed",
    );
  }
  const global = concatBytes(parsed.signature, utf8Encode(parsed.trustedComment));
  if (!(await verifyEd25519(publicKey, global, parsed.globalSignature))) {
    throw new InvalidSignatureError("Trusted comment was changed after signing");
  }
}

/** Reads a public key (with its key id) given as a minisign `.pub` file text or its base64 line. */
export function parseMinisignPublicKey(text: string): MinisignPublicKey {
  const line = text.trim().split(/\r?\n/).pop() ?? "";
  let raw: Uint8Array;
  try {
    raw = fromBase64(line.trim());
  } catch {
    throw new InvalidInputError("Malformed minisign public key: not base64");
  }
  if (raw.length !== 42 || !bytesEqual(raw.subarray(0, 2), algPublicKey)) {
    throw new InvalidInputError("Malformed minisign public key");
  }
  return { keyId: raw.slice(2, 10), publicKey: raw.slice(10) };
}
