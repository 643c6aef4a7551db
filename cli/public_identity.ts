/**
 * The public identity (`identity.json` beside the keystore): the DID and its current public keys,
 * readable without the passphrase. Its own file so that reading or writing it needs neither the
 * keystore nor the identity handlers.
 */
import { fromBase64 } from "../core/bytes.ts";
import { multikey } from "../core/identity/did_document.ts";
import type { KeySet } from "../core/identity/kel.ts";
import * as strict from "../core/strict_shapes.ts";
import { writeFileAtomic } from "./files.ts";

/** Public identity file (`identity.json`): no secrets, readable without the passphrase. */
export interface PublicIdentity {
  did: string;
  created: number;
  keys: Record<string, string>;
  pq: boolean;
  kelSeq: number;
}

/** identity.json is a few hundred bytes (a few KiB with ML-DSA/ML-KEM keys). */
export const publicIdentityBytesMax = 64 * 1024;
const multikeyText = strict.string({ max: 4096, pattern: /^z[1-9A-HJ-NP-Za-km-z]+$/ });
/** The exact shape `publicIdentityOf` writes. */
export const publicIdentityShape: strict.Shape<PublicIdentity> = strict.record({
  did: strict.did,
  created: strict.timestamp,
  keys: strict.record(
    { ed25519: multikeyText, x25519: multikeyText },
    { mlDsa65: multikeyText, mlKem768: multikeyText },
  ),
  pq: strict.boolean,
  // -1: the keys of a recovery request, written before this data dir holds the DID's key log.
  kelSeq: strict.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
});

/** Public keys of a keystore's current or next key seeds. */
export async function publicKeysOf(
  seeds: { ed25519: string; x25519: string; mlDsa65?: string; mlKem768?: string },
): Promise<KeySet> {
  // Loaded here: every command reads the public identity; only a few derive keys (Ed25519, ML-DSA).
  const [
    { canonicalKeySet },
    { ed25519FromSeed, mlDsa65FromSeed, mlKem768PublicFromSeed, x25519FromSeed },
  ] = await Promise.all([import("../core/identity/kel.ts"), import("../core/identity/keys.ts")]);
  const keys: KeySet = {
    ed25519: (await ed25519FromSeed(fromBase64(seeds.ed25519))).publicKey,
    x25519: (await x25519FromSeed(fromBase64(seeds.x25519))).publicKey,
  };
  if (seeds.mlDsa65) keys.mlDsa65 = (await mlDsa65FromSeed(fromBase64(seeds.mlDsa65))).publicKey;
  if (seeds.mlKem768) keys.mlKem768 = await mlKem768PublicFromSeed(fromBase64(seeds.mlKem768));
  return canonicalKeySet(keys);
}

/** The public identity of a keystore's DID with `keys` at key event `kelSeq`. */
export function publicIdentityOf(
  secrets: { did: string; created: number },
  keys: KeySet,
  kelSeq: number,
): PublicIdentity {
  const rendered: Record<string, string> = {
    ed25519: multikey("ed25519", keys.ed25519),
    x25519: multikey("x25519", keys.x25519),
  };
  if (keys.mlDsa65) rendered.mlDsa65 = multikey("mlDsa65", keys.mlDsa65);
  if (keys.mlKem768) rendered.mlKem768 = multikey("mlKem768", keys.mlKem768);
  return { did: secrets.did, created: secrets.created, keys: rendered, pq: !!keys.mlDsa65, kelSeq };
}

/** Writes `identity.json` atomically (0644: it holds no secrets). */
export async function writePublicIdentityFile(
  path: string,
  identity: PublicIdentity,
): Promise<void> {
  await writeFileAtomic(
    path,
    new TextEncoder().encode(JSON.stringify(identity, null, 2) + "\n"),
    0o644,
  );
}
