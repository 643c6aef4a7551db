/**
 * icn as a library: the pure domain core (envelopes, identities, chains,
 * stores, cooperative and federation geneses). The CLI in `cli/` and the
 * node in `net/` are built on exactly these functions.
 *
 * @example Seal an envelope and check it round-trips
 * ```ts
 * import { decodeEnvelope, sealEnvelope } from "./mod.ts";
 * import { testIdentity } from "./core/testing.ts";
 *
 * const alice = await testIdentity(1);
 * const sealed = await sealEnvelope(
 *   { net: "kel", kind: "test.note", seq: 0, prev: null, ts: 0, body: { text: "hi" } },
 *   alice.signer,
 * );
 * const decoded = await decodeEnvelope(sealed.bytes);
 * if (decoded.cid !== sealed.cid) throw new Error("round trip failed");
 * ```
 *
 * @module
 */
export {
  contentId,
  decodeEnvelope,
  type Envelope,
  type EnvelopeSignature,
  type SealedEnvelope,
  sealEnvelope,
  type Signer,
  signingBytes,
} from "./core/envelope/envelope.ts";
export { didFromPublicKey, isDid, parseDid } from "./core/identity/did.ts";
export { type IdentityRecord, type KeySet, verifySignatures } from "./core/identity/kel.ts";
export { createSigner } from "./core/identity/signer.ts";
export {
  minisignPublicKey,
  minisignSign,
  minisignVerify,
  parseMinisignSignature,
} from "./core/identity/minisign.ts";
export {
  appendLocal,
  chainKeys,
  ingest,
  type IngestOutcome,
  type KindHandler,
  readChain,
  readHeads,
  readLog,
} from "./core/chain/mod.ts";
export { decodeBundle, encodeBundle } from "./core/chain/bundle.ts";
export { MemoryStore } from "./core/store/memory_store.ts";
export { KvStore } from "./core/store/kv_store.ts";
export type { Store, StoreKey } from "./core/store/store.ts";
export {
  checkGenesisFile,
  createGenesis,
  type Genesis,
  genesisId,
} from "./core/governance/genesis.ts";
export {
  joinNetwork,
  type JoinResult,
  type NetworkKind,
  networkKinds,
  readNetworkKind,
} from "./core/governance/join.ts";
export {
  checkDelegatesCitation,
  checkFederationFile,
  createFederationGenesis,
  type FederationFile,
  type FederationGenesis,
  federationId,
  FederationView,
  joinFederation,
} from "./core/federation/mod.ts";
export { createKindRegistry, kindRegistryFor } from "./core/kinds.ts";
export * from "./core/errors.ts";
export type { Clock, Logger, Rng } from "./core/ports.ts";
