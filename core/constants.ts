/**
 * Named limits and defaults. Units come last in the name; each says why it is
 * what it is so a change is a decision, not an accident. Relations between
 * limits are asserted when this module loads (TIGER_STYLE): a build whose
 * limits do not fit each other fails at start, not in production.
 */
import { assert } from "./errors.ts";

/** Envelope wire format version. Bumped only with a migration. */
export const envelopeVersion = 1;

/** Largest encoded envelope accepted anywhere (gossip, sync, import, local). docs/design.md, Defaults. */
export const envelopeBytesMax = 64 * 1024;

/** Clock skew accepted on receipt, both directions. docs/design.md, Defaults. */
export const clockSkewMsDefault = 300_000;

/** Largest clock skew a network may accept (`network.clockSkew`): beyond an hour, timestamps stop bounding replays. */
export const clockSkewMsMax = 3_600_000;
assert(
  clockSkewMsDefault <= clockSkewMsMax,
  "The default clock skew must be one a network may set",
);

/** Domain-separation prefix for envelope signatures: a signature over an envelope can never be replayed as a signature over anything else. */
export const envelopeSigningDomain = "icn/envelope/v1\n";

/** Domain-separation prefix for genesis founder signatures. */
export const genesisSigningDomain = "icn/genesis/v1\n";

/**
 * Pseudo-network of key event logs. A KEL belongs to the identity, not to a
 * cooperative: the same DID joins many networks with one KEL, so KEL envelopes
 * carry this `net` instead of a genesis CID.
 */
export const kelNet = "kel";

/** Protocol version this build speaks (semver). */
export const protocolVersion = "1.0.0";

/** Deno KV's own limits on one atomic operation and one value; passing one fails the commit. */
export const kvLimits = {
  mutations: 1000,
  keyBytes: 81_920,
  bytes: 819_200,
  valueBytes: 64 * 1024,
} as const;

/** Limits of one commit: what `commitLimits` bounds. */
export interface CommitLimits {
  readonly mutations: number;
  readonly keyBytes: number;
  readonly bytes: number;
}

/**
 * Limits of one store transaction, below Deno KV's (`kvLimits`): ingest ends a commit before the
 * next envelope's writes would pass one. The margin covers what footprints estimate (value
 * encodings) and the few writes added after the estimate (log counter, checks).
 */
export const commitLimits = {
  mutations: 900,
  keyBytes: 72_000,
  bytes: 600_000,
} as const;

/** Asserts that `limits` stay below Deno KV's; a failure is a bug in the constants. */
export function assertCommitLimitsBelowKv(limits: CommitLimits): void {
  assert(
    limits.mutations < kvLimits.mutations && limits.keyBytes < kvLimits.keyBytes &&
      limits.bytes < kvLimits.bytes,
    `Commit limits ${JSON.stringify(limits)} must stay below Deno KV's ${JSON.stringify(kvLimits)}`,
  );
}
assertCommitLimitsBelowKv(commitLimits);

/**
 * Size of one stored piece of an envelope encoding: larger encodings are split into parts of at
 * most this many bytes, below Deno KV's value limit with room for the value's own framing.
 */
export const envelopePartBytesMax = 60_000;
assert(
  envelopePartBytesMax < kvLimits.valueBytes,
  "An envelope part must fit one Deno KV value",
);

/** Retries of one commit on a version conflict or `database is locked` before giving up. */
export const commitRetriesMax = 50;

/** Upper bound on a single backoff between commit retries. */
export const commitBackoffMsMax = 200;

/**
 * Upper bound on the backoff after losing a commit to another writer (ingest, local append). Lower
 * than `commitBackoffMsMax`: the winner has already committed, so a retry can succeed at once, and
 * a local write waits on this.
 */
export const conflictBackoffMsMax = 50;

/** Cache of imported public keys; bounded so a flood of new authors cannot grow memory without limit. */
export const publicKeyCacheEntriesMax = 8192;

/** Parsed DIDs kept; bounded for the same reason (parsing one costs ~7 µs). */
export const didMemoEntriesMax = 10_000;

/** Longest network id (a genesis CID, about 60 characters) accepted where one is read from input. */
export const netIdLengthMax = 128;

/** Longest body of a DID-bearing string we will even try to parse. */
export const didLengthMax = 128;

/** Largest page any listing returns in one call. */
export const pageSizeMax = 1000;

/** Default page size for listings. */
export const pageSizeDefault = 20;

/** Largest offset a listing accepts: far past any real history, small enough to parse as a safe integer. */
export const pageOffsetMax = 1_000_000_000;
