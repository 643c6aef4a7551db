import fc from "fast-check";
import { InvalidInputError } from "../errors.ts";
import { didFromPublicKey, parseDid } from "./did.ts";

function rejects(did: string, fragment: string): void {
  try {
    parseDid(did);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    if (!error.message.includes(fragment)) {
      throw new Error(`"${error.message}" lacks "${fragment}"`);
    }
    return;
  }
  throw new Error(`parseDid accepted "${did}"`);
}

Deno.test("parseDid() round-trips any 32-byte key", () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
    const parsed = parseDid(didFromPublicKey(key));
    return parsed.length === 32 && parsed.every((b, i) => b === key[i]);
  }));
});

Deno.test("parseDid() rejects other methods, multibase prefixes, lengths and spellings", () => {
  const good = didFromPublicKey(new Uint8Array(32).fill(9));
  rejects("", "empty");
  rejects("did:key:" + good.slice(8), "did:icn:");
  rejects("did:icn:f" + "00".repeat(32), "base58btc");
  rejects("did:icn:z0OIl", "base58btc");
  rejects(didFromPublicKey(new Uint8Array(32)).slice(0, -3), "bytes");
  rejects("did:icn:z" + "1".repeat(33) + "2", "bytes");
  rejects(good + "x".repeat(200), "longer");
  rejects("did:icn:z1" + good.slice(9), "");
});

Deno.test("parseDid() never throws anything but InvalidInputError on random strings", () => {
  fc.assert(fc.property(fc.string(), (text) => {
    try {
      parseDid("did:icn:z" + text);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
    }
  }));
});
