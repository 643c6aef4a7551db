/** Kind handlers of the key event log. */
import type { KindHandler } from "../chain/ingest.ts";
import { checkInception, identityKey, recordFromInception } from "./kel.ts";

const inception: KindHandler = {
  signingKeys(ctx) {
    // Self-certifying: the inception key is the DID itself.
    const body = checkInception(ctx.envelope);
    return Promise.resolve({
      ed25519: body.keys.ed25519,
      ...(body.keys.mlDsa65 ? { mlDsa65: body.keys.mlDsa65 } : {}),
    });
  },
  apply(ctx) {
    ctx.state.set(identityKey(ctx.envelope.author), recordFromInception(ctx.envelope, ctx.cid));
  },
};

/** `id.*` handlers; the identity lifecycle adds rotation, pq-binding and recovery here. */
export const identityKinds: ReadonlyMap<string, KindHandler> = new Map([[
  "id.inception",
  inception,
]]);
