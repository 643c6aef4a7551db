/**
 * Store key layout of the chain layer. Domain state lives under its own
 * first part (`ledger`, `trust`, `gov`, ...), written by kind handlers.
 */
export const chainKeys = {
  /**
   * The accepted envelope at (net, author, seq): its CID and encoding
   * (`StoredEnvelope`). Kept by position, not by CID, so that a chain's
   * envelopes sit next to each other in the store: appends touch few pages.
   */
  position: (net: string, author: string, seq: number) => ["chain", net, author, seq] as const,
  /** Piece `index` of an encoding too large for one store value. */
  part: (net: string, author: string, seq: number, index: number) =>
    ["chainpart", net, author, seq, index] as const,
  chainPrefix: (net: string, author: string) => ["chain", net, author] as const,
  /** Latest {seq, cid, ts} of a chain. */
  head: (net: string, author: string) => ["head", net, author] as const,
  headPrefix: (net: string) => ["head", net] as const,
  /** Global acceptance order: log position → {cid, net, author, seq}. */
  log: (position: number) => ["log", position] as const,
  logPrefix: ["log"] as const,
  /** Next log position; every commit bumps it, so checking it serializes writers. */
  logNext: ["meta", "logNext"] as const,
  /** This data dir's network id (genesis CID). */
  network: ["meta", "net"] as const,
  /** Genesis document by network id. */
  genesis: (net: string) => ["genesis", net] as const,
  /** Fork evidence: both envelopes at one (net, author, seq). */
  fork: (net: string, author: string, seq: number, cid: string) =>
    ["fork", net, author, seq, cid] as const,
  forkPrefix: ["fork"] as const,
  quarantine: (author: string) => ["quarantine", author] as const,
  quarantinePrefix: ["quarantine"] as const,
};

/** A chain position's value: the CID, and the encoding inline or split into `parts` pieces. */
export type StoredEnvelope =
  | { readonly cid: string; readonly bytes: Uint8Array }
  | { readonly cid: string; readonly parts: number };

export interface ChainHead {
  seq: number;
  cid: string;
  ts: number;
}

export interface LogEntry {
  cid: string;
  net: string;
  author: string;
  seq: number;
}

export interface ForkEvidence {
  net: string;
  author: string;
  seq: number;
  existing: string;
  conflicting: string;
  bytes: Uint8Array;
  detectedAt: number;
}

export interface QuarantineRecord {
  reason: string;
  since: number;
  evidence: string;
}
