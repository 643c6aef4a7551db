import type { EnvelopeSignature, Signer } from "../envelope/envelope.ts";
import { type Ed25519KeyPair, type MlDsa65KeyPair, signEd25519, signMlDsa65 } from "./keys.ts";

/** A signer for envelopes: Ed25519, plus ML-DSA-65 when the identity is hybrid. */
export function createSigner(
  did: string,
  ed25519: Ed25519KeyPair,
  mlDsa65?: MlDsa65KeyPair,
): Signer {
  return {
    did,
    async sign(message: Uint8Array): Promise<EnvelopeSignature[]> {
      const sigs: EnvelopeSignature[] = [{
        alg: "ed25519",
        sig: await signEd25519(ed25519, message),
      }];
      if (mlDsa65) sigs.push({ alg: "ml-dsa-65", sig: await signMlDsa65(mlDsa65, message) });
      return sigs;
    },
  };
}
