/**
 * Named limits and defaults. Units come last in the name; each says why it is
 * what it is so a change is a decision, not an accident.
 */

/** Envelope wire format version. Bumped only with a migration. */
export const envelopeVersion = 1;

/** Largest encoded envelope accepted anywhere (gossip, sync, import, local). docs/design.md, Defaults. */
export const envelopeBytesMax = 64 * 1024;

/** Clock skew accepted on receipt, both directions. docs/design.md, Defaults. */
export const clockSkewMsDefault = 300_000;

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

/**
 * Limits of one store transaction, below Deno KV's (1,000 mutations, 81,920 bytes of keys,
 * 819,200 bytes in all): ingest ends a commit before the next envelope's writes would pass one.
 */
export const commitLimits = {
  mutations: 900,
  keyBytes: 72_000,
  bytes: 600_000,
} as const;

/** Retries of one commit on a version conflict or `database is locked` before giving up. */
export const commitRetriesMax = 50;

/** Upper bound on a single backoff between commit retries. */
export const commitBackoffMsMax = 200;

/** Cache of imported public keys; bounded so a flood of new authors cannot grow memory without limit. */
export const publicKeyCacheEntriesMax = 8192;

/** Parsed DIDs kept; bounded for the same reason (parsing one costs ~7 µs). */
export const didMemoEntriesMax = 10_000;

/** Longest body of a DID-bearing string we will even try to parse. */
export const didLengthMax = 128;

/** Largest page any listing returns in one call. */
export const pageSizeMax = 1000;

/** Default page size for listings. */
export const pageSizeDefault = 20;
