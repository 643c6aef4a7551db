// A member's Ed25519 key in the browser: imported by the member, held in memory as a
// non-extractable WebCrypto key, used to sign a sign-in challenge and prepared envelopes. It is
// never sent anywhere and never stored: reloading the page forgets it.

/** PKCS#8 header of an Ed25519 private key (RFC 8410), before its 32-byte seed. */
const pkcs8Ed25519Prefix = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);

let held = null; // { did, key: CryptoKey, publicKey: string (base64url) }

export function heldKey() {
  return held;
}

export function forgetKey() {
  held = null;
  dispatchEvent(new Event("icn-session"));
}

export function base64ToBytes(text) {
  const clean = text.trim().replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(clean + "===".slice((clean.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function bytesToBase64(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Reads what the member pasted or chose: the decrypted keystore JSON (`age -d identity.age`,
 * which holds `did` and the `ed25519` seed), or a bare base64 seed with the DID given apart.
 * Returns `{did, seed}` or throws an Error that says what is wrong.
 */
export function parseKeyText(text, didGiven) {
  const trimmed = text.trim();
  if (trimmed === "") throw new Error("Paste your key or choose the file that holds it");
  let did = didGiven?.trim() || undefined;
  let seedText = trimmed;
  if (trimmed.startsWith("{")) {
    let json;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw new Error("The key text starts like JSON but is not valid JSON");
    }
    if (typeof json.ed25519 !== "string") {
      throw new Error('The JSON has no "ed25519" seed (expected the decrypted identity.age)');
    }
    if (json.mlDsa65) {
      throw new Error(
        "This identity signs with ML-DSA-65 too (hybrid); the browser can only sign Ed25519. " +
          "Sign in from the terminal with icn id login instead",
      );
    }
    seedText = json.ed25519;
    if (typeof json.did === "string") {
      if (did && did !== json.did) throw new Error(`The key belongs to ${json.did}, not ${did}`);
      did = json.did;
    }
  }
  let seed;
  try {
    seed = base64ToBytes(seedText);
  } catch {
    throw new Error("The key is not base64");
  }
  if (seed.length !== 32) {
    throw new Error(`An Ed25519 seed is 32 bytes; this one is ${seed.length}`);
  }
  if (!did || !/^did:icn:z[1-9A-HJ-NP-Za-km-z]+$/.test(did)) {
    throw new Error("Give the DID the key belongs to (did:icn:z…)");
  }
  return { did, seed };
}

/** Imports `seed` as a non-extractable signing key and holds it for `did`. */
export async function importKey(did, seed) {
  const pkcs8 = new Uint8Array(pkcs8Ed25519Prefix.length + 32);
  pkcs8.set(pkcs8Ed25519Prefix);
  pkcs8.set(seed, pkcs8Ed25519Prefix.length);
  // Import once extractable to learn the public key, then keep only a non-extractable copy.
  const extractable = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, [
    "sign",
  ]);
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  pkcs8.fill(0);
  seed.fill(0);
  held = { did, key, publicKey: jwk.x };
  dispatchEvent(new Event("icn-session"));
  return held;
}

/** Signs `bytes` with the held key; the signature as base64. */
export async function sign(bytes) {
  if (!held) throw new Error("No key is imported in this tab: sign in with your key first");
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, held.key, bytes);
  return bytesToBase64(new Uint8Array(signature));
}
