/**
 * Detached signatures in minisign's format: prehashed Ed25519 (`ED`, signature
 * over BLAKE2b-512 of the file) with a trusted comment covered by a global
 * signature, so the real `minisign -V` verifies what `icn id sign` writes.
 */
import { blake2b } from "@noble/hashes/blake2.js";
import { bytesEqual, concatBytes, fromBase64, toBase64, utf8Decode, utf8Encode } from "../bytes.ts";
import { InvalidInputError, InvalidSignatureError } from "../errors.ts";
import { verifyEd25519 } from "./keys.ts";

const algPrehashed = utf8Encode("ED");
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

/** Signs `data`, returning the text of a `.minisig` file. */
export async function minisignSign(
  data: Uint8Array,
  options: MinisignSignOptions,
): Promise<string> {
  checkComment(options.trustedComment);
  const untrusted = options.untrustedComment ?? "signature from icn secret key";
  checkComment(untrusted);
  const signature = await options.sign(blake2b(data));
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
  if (!bytesEqual(sigLine.subarray(0, 2), algPrehashed)) {
    malformed("only prehashed Ed25519 (ED) signatures are supported");
  }
  if (globalSignature.length !== 64) malformed("global signature has the wrong length");
  return {
    keyId: sigLine.slice(2, 10),
    signature: sigLine.slice(10, 74),
    trustedComment: lines[2].slice("trusted comment: ".length),
    globalSignature,
    extra: lines.slice(4),
  };
}

/** Verifies a parsed signature over `data`; throws `InvalidSignatureError` naming what failed. */
export async function minisignVerify(
  data: Uint8Array,
  parsed: MinisignSignature,
  publicKey: Uint8Array,
): Promise<void> {
  if (!bytesEqual(parsed.keyId, minisignKeyId(publicKey))) {
    throw new InvalidSignatureError("Signature was made with a different key");
  }
  if (!(await verifyEd25519(publicKey, blake2b(data), parsed.signature))) {
    throw new InvalidSignatureError(
      "Signature does not match the file: the file or signature was changed",
    );
  }
  const global = concatBytes(parsed.signature, utf8Encode(parsed.trustedComment));
  if (!(await verifyEd25519(publicKey, global, parsed.globalSignature))) {
    throw new InvalidSignatureError("Trusted comment was changed after signing");
  }
}

/** Reads a public key given as a minisign `.pub` file text or its base64 line. */
export function parseMinisignPublicKey(text: string): Uint8Array {
  const line = text.trim().split(/\r?\n/).pop() ?? "";
  let raw: Uint8Array;
  try {
    raw = fromBase64(line.trim());
  } catch {
    throw new InvalidInputError("Malformed minisign public key: not base64");
  }
  if (raw.length !== 42 || utf8Decode(raw.subarray(0, 2)) !== "Ed") {
    throw new InvalidInputError("Malformed minisign public key");
  }
  return raw.slice(10);
}
