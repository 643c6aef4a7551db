export { appendLocal, type AppendRequest, type AppendResult } from "./append.ts";
export {
  type ApplyContext,
  BatchRejectedError,
  ingest,
  type IngestDeps,
  type IngestOptions,
  type IngestOutcome,
  type IngestSource,
  type KindHandler,
  type KindRegistry,
  storedBytes,
  writeEnvelope,
} from "./ingest.ts";
export {
  type ChainHead,
  chainKeys,
  type ForkEvidence,
  type LogEntry,
  type QuarantineRecord,
  type StoredEnvelope,
} from "./keys.ts";
export { readChain, readChainBytes, readHead, readHeads, readLog } from "./read.ts";
export { StateOverlay, type StateView } from "./state.ts";
export {
  mainThreadVerifier,
  type SignatureVerifier,
  verifyPoolThreshold,
  type VerifyRequest,
  verifyRequests,
} from "./verifier.ts";
