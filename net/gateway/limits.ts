/**
 * Every limit of the app gateway, named once, with why it is what it is (docs/gateway.md lists
 * them for app developers).
 */

/** Largest request body: a submitted envelope is at most 64 KiB of CBOR; its JSON with base64 signatures and a body of text fits well under twice that. */
export const gatewayBodyBytesMax = 128 * 1024;

/**
 * Requests in progress at once, over every client (`gateway.max_in_flight`); one more is answered
 * 503 `overloaded` at once, before its body is read. Each member stays within its own rate limits
 * under a load test, so only a global bound sheds load. 64 is a judgement, not a measurement: at
 * the load test's breaking point (about 45 requests/s within p99 1 s, docs/gateway.md) far fewer
 * are in progress at once, and it keeps a burst from queueing thousands behind the one writer.
 */
export const maxInFlightDefault = 64;
/** The most an operator may configure. */
export const maxInFlightMax = 10_000;
/** `Retry-After` of an `overloaded` answer, in seconds. */
export const overloadedRetryAfterSeconds = 1;

/** A sign-in challenge lives 5 minutes: long enough to sign on a phone, short enough to be useless once leaked. */
export const challengeTtlMs = 5 * 60 * 1000;
/** Challenges outstanding at once; beyond it the oldest are forgotten (a flood cannot grow memory). */
export const challengesMax = 10_000;
/** Random bytes in a challenge nonce. */
export const nonceBytes = 32;

/** A token's default life: an hour, as the issue asks; a member signs in again after it. */
export const tokenTtlSecondsDefault = 3600;
/** The longest token life an operator may configure: a day. */
export const tokenTtlSecondsMax = 86_400;
/** The shortest: a minute (tests and cautious operators). */
export const tokenTtlSecondsMin = 60;
/** Longest token accepted in an Authorization header (an EdDSA JWT with a few scopes is ~500 bytes). */
export const tokenLengthMax = 4096;

/** Verified tokens remembered so that their signature is checked once (cleared when full). */
export const verifiedTokensMax = 10_000;

/** Default and largest page of every list. */
export const pageSizeDefault = 50;
export const pageSizeMax = 200;
/** Longest opaque cursor accepted. */
export const cursorLengthMax = 512;

/** Receipts kept in memory (oldest forgotten first): a receipt is a few hundred bytes. */
export const receiptsMax = 10_000;

/** Events held for one client before it is dropped as too slow. */
export const eventBufferMax = 256;
/** Event stream clients at once; more are refused with 503. */
export const eventClientsMax = 100;
/** Log entries read from the store per turn while a client catches up (`Last-Event-ID`). */
export const eventReplayBatch = 100;
/** A comment line this often keeps idle proxies from closing the stream. */
export const eventHeartbeatMs = 15_000;

/** How long a member's trust class is reused for rate limits before it is computed again. */
export const trustClassTtlMs = 60_000;
/** Trust classes kept for rate limits. */
export const trustClassesCachedMax = 10_000;
/** Rate-limit buckets kept (per address, per DID, per category); the least recently used go first. */
export const bucketsMax = 50_000;

/** Token buckets: a steady rate per second and a burst. */
export interface BucketRate {
  rate: number;
  burst: number;
}

export type RateLayer = "signIn" | "perDid" | "read" | "write" | "governance";

/**
 * Rate limits in layers. Sign-in is per address (a DID is not known yet); everything else is per
 * DID (per address when signed out) and per category, scaled by the member's trust class.
 */
export const rateLimits: Readonly<Record<RateLayer, BucketRate>> = {
  /** Challenges and token requests from one address: a person signs in rarely. */
  signIn: { rate: 0.5, burst: 10 },
  /** Every request of one DID (or one signed-out address). */
  perDid: { rate: 50, burst: 100 },
  read: { rate: 20, burst: 60 },
  write: { rate: 5, burst: 20 },
  governance: { rate: 1, burst: 10 },
};

/** Rate multiplier per trust class: an isolated newcomer gets half, a federated member four times. */
export const trustClassRateFactor = {
  isolated: 0.5,
  known: 1,
  partner: 2,
  federated: 4,
} as const;
