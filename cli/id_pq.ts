/**
 * The optional ML-DSA-65 line of a signature file (`icn id sign --pq`).
 * minisign reads only the first four lines, so the extra line does not
 * disturb `minisign -V`.
 */
import { concatBytes, fromBase64, toBase64, utf8Encode } from "../core/bytes.ts";
import { InvalidSignatureError } from "../core/errors.ts";
import type { IdentityRecord } from "../core/identity/kel.ts";
import { verifyMlDsa65 } from "../core/identity/keys.ts";
import type { MinisignSignature, SignedContent } from "../core/identity/minisign.ts";

const prefix = "icn-ml-dsa-65: ";

/** The ML-DSA line signs the file's BLAKE2b-512 (streamed for large files) and the trusted comment. */
function pqMessage(content: SignedContent, trustedComment: string): Uint8Array {
  return concatBytes(
    utf8Encode("icn/minisig-pq/v1\n"),
    content.prehash,
    utf8Encode(trustedComment),
  );
}

/** Appends the ML-DSA-65 line, signed by `signMlDsa` (the keystore's key, or the unlock agent). */
export async function addPqSignatureLine(
  signMlDsa: (message: Uint8Array) => Promise<Uint8Array>,
  content: SignedContent,
  text: string,
): Promise<string> {
  const trusted = text.split("\n")[2].slice("trusted comment: ".length);
  const sig = await signMlDsa(pqMessage(content, trusted));
  return text + prefix + toBase64(sig) + "\n";
}

/** Verifies the ML-DSA line against the identity's ML-DSA key; true when present and valid. */
export async function verifyPqSignatureLine(
  record: IdentityRecord | null,
  content: SignedContent,
  parsed: MinisignSignature,
): Promise<boolean> {
  const line = parsed.extra.find((l) => l.startsWith(prefix));
  if (!line) return false;
  const keys = record?.history.map((p) => p.mlDsa65).filter((k): k is Uint8Array => !!k) ?? [];
  if (keys.length === 0) {
    throw new InvalidSignatureError(
      "Signature carries an ML-DSA-65 line but the signer's ML-DSA key is unknown here",
    );
  }
  let sig: Uint8Array;
  try {
    sig = fromBase64(line.slice(prefix.length).trim());
  } catch {
    throw new InvalidSignatureError("ML-DSA-65 signature line is not base64");
  }
  const message = pqMessage(content, parsed.trustedComment);
  for (const key of keys) if (await verifyMlDsa65(key, message, sig)) return true;
  throw new InvalidSignatureError("ML-DSA-65 signature does not verify");
}
