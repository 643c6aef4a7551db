/**
 * The gateway's request and response shapes: zod schemas from which `@hono/zod-openapi` both
 * validates requests and writes the OpenAPI 3.1 document, and against which every JSON response
 * is checked before it leaves (`app.ts`). Objects are strict: an unknown field is refused.
 */
import { z } from "@hono/zod-openapi";
import { trustGraphs } from "../../core/trust/edge.ts";
import { cursorLengthMax, pageSizeMax } from "./limits.ts";

/** A DID as the gateway accepts it (`core/identity/did.ts` checks it fully where it matters). */
export const Did = z.string().regex(/^did:icn:z[1-9A-HJ-NP-Za-km-z]{32,60}$/).openapi({
  example: "did:icn:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
});
const Cid = z.string().min(1).max(128);
const Base64 = z.string().max(200_000).regex(/^[A-Za-z0-9+/]*={0,2}$/);
const Text = (max: number) => z.string().max(max);
/** Any JSON value (JSON came in, JSON goes out); not `Json`, whose recursion the OpenAPI generator cannot follow. */
const Json = z.unknown().openapi({ description: "any JSON value" });
const SafeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The scopes a token may carry. */
export const scopes = ["read", "ledger:write", "trust:write", "gov:vote", "gov:propose"] as const;
export type Scope = typeof scopes[number];

export const ErrorBody = z.object({
  error: z.object({
    code: z.string().openapi({ example: "invalid_request" }),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
}).openapi("Error");

// ---- sign-in ----

export const ChallengeRequestWithScopes = z.strictObject({
  did: Did,
  /** The scopes the token will carry at most (default `read`); they are part of the signed text. */
  scopes: z.array(z.string().max(32)).min(1).max(scopes.length).optional(),
}).openapi("ChallengeRequest");
export const ChallengeResponse = z.object({
  nonce: z.string(),
  /** The exact text to sign (UTF-8) with the DID's current Ed25519 key. */
  message: z.string(),
  expires: SafeInt,
  net: z.string(),
  node: Did,
  did: Did,
  scopes: z.array(z.enum(scopes)),
}).openapi("Challenge");
export const NonceParam = z.strictObject({
  nonce: z.string().min(1).max(128).openapi({ param: { name: "nonce", in: "path" } }),
});

export const TokenRequest = z.strictObject({
  did: Did,
  nonce: z.string().min(1).max(128),
  /** base64 Ed25519 signature over `message` of the challenge; absent once the device flow approved it. */
  signature: Base64.max(200).optional(),
  /** At most the challenge's scopes (default: all of them). */
  scopes: z.array(z.string().max(32)).min(1).max(scopes.length).optional(),
}).openapi("TokenRequest");
export const TokenResponse = z.object({
  token: z.string(),
  tokenType: z.literal("Bearer"),
  did: Did,
  net: z.string(),
  scopes: z.array(z.enum(scopes)),
  expires: SafeInt,
}).openapi("Token");
export const ApproveRequest = z.strictObject({ did: Did, signature: Base64.max(200) })
  .openapi("ApproveRequest");
export const ApproveResponse = z.object({
  approved: z.literal(true),
  did: Did,
  scopes: z.array(z.enum(scopes)),
}).openapi("Approved");

// ---- writes ----

const TransferBody = z.strictObject({
  to: Did,
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({
    description: "Minor units (cents of 2-decimal currency)",
  }),
  currency: z.string().min(1).max(16),
  memo: Text(1024).optional(),
  id: z.string().min(1).max(64).optional(),
});
const EdgeBody = z.strictObject({
  to: Did,
  score: z.number().int().min(0).max(1000),
  graph: z.enum(trustGraphs),
  label: Text(200).optional(),
  expires: SafeInt.optional(),
});
const VoteBody = z.strictObject({
  proposal: z.string().min(1).max(128),
  /** for, against, abstain (block in consent mode); or a method's choice. */
  choice: z.string().min(1).max(64).optional(),
  /** A voting method's ballot (scores, points, ranks, availability). */
  ballot: Json.optional(),
  /** A secret vote's commitment (hex SHA-256); revealed later with gov.reveal. */
  commitment: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  reason: Text(1000).optional(),
});
const DelegateBody = z.strictObject({
  to: Did,
  scope: z.string().min(1).max(64),
  expires: SafeInt.optional(),
});
/** A JSON object checked by the kind's own rules at submit (proposals, cancels, undelegations). */
const AnyBody = z.record(z.string().max(64), Json);

export const PrepareRequest = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("ledger.transfer"), body: TransferBody }),
  ...(["ledger.pending", "ledger.post", "ledger.void", "ledger.request", "ledger.decline"] as const)
    .map((kind) => z.strictObject({ kind: z.literal(kind), body: AnyBody })),
  z.strictObject({ kind: z.literal("trust.edge"), body: EdgeBody }),
  z.strictObject({ kind: z.literal("gov.vote"), body: VoteBody }),
  z.strictObject({ kind: z.literal("gov.delegate"), body: DelegateBody }),
  z.strictObject({ kind: z.literal("gov.reveal"), body: AnyBody }),
  z.strictObject({ kind: z.literal("gov.undelegate"), body: AnyBody }),
  z.strictObject({ kind: z.literal("gov.proposal"), body: AnyBody }),
  z.strictObject({ kind: z.literal("gov.cancel"), body: AnyBody }),
]).openapi("PrepareRequest");

/** The kinds the gateway prepares and accepts, with the scope and rate category of each. */
export const writableKinds = {
  "ledger.transfer": { scope: "ledger:write", category: "write" },
  "ledger.pending": { scope: "ledger:write", category: "write" },
  "ledger.post": { scope: "ledger:write", category: "write" },
  "ledger.void": { scope: "ledger:write", category: "write" },
  "ledger.request": { scope: "ledger:write", category: "write" },
  "ledger.decline": { scope: "ledger:write", category: "write" },
  "trust.edge": { scope: "trust:write", category: "write" },
  "gov.vote": { scope: "gov:vote", category: "governance" },
  "gov.reveal": { scope: "gov:vote", category: "governance" },
  "gov.delegate": { scope: "gov:vote", category: "governance" },
  "gov.undelegate": { scope: "gov:vote", category: "governance" },
  "gov.proposal": { scope: "gov:propose", category: "governance" },
  "gov.cancel": { scope: "gov:propose", category: "governance" },
} as const satisfies Record<string, { scope: Scope; category: "write" | "governance" }>;
export type WritableKind = keyof typeof writableKinds;

const UnsignedEnvelope = z.object({
  v: z.number().int(),
  net: z.string(),
  kind: z.string(),
  author: Did,
  seq: SafeInt,
  prev: Cid.nullable(),
  ts: SafeInt,
  body: Json,
});
export const PrepareResponse = z.object({
  envelope: UnsignedEnvelope,
  /** base64 of the exact bytes to sign (domain prefix + canonical DAG-CBOR of the fields). */
  signingBytes: Base64,
}).openapi("Prepared");

export const Signature = z.strictObject({
  alg: z.enum(["ed25519", "ml-dsa-65"]),
  sig: Base64.max(8192),
});
export const SubmitRequest = z.strictObject({
  envelope: z.strictObject({
    v: z.number().int(),
    net: z.string().min(1).max(128),
    kind: z.string().min(1).max(64),
    author: Did,
    seq: SafeInt,
    prev: Cid.nullable(),
    ts: SafeInt,
    body: Json,
    sigs: z.array(Signature).min(1).max(2),
  }),
}).openapi("SubmitRequest");

export const Receipt = z.object({
  id: z.string(),
  caller: Did,
  kind: z.string(),
  outcome: z.object({
    status: z.enum(["accepted", "duplicate", "rejected"]),
    reason: z.string().optional(),
    message: z.string().optional(),
  }),
  cid: z.string().nullable(),
  ts: SafeInt,
  net: z.string(),
}).openapi("Receipt");
export const RejectedReceipt = ErrorBody.extend({ receipt: Receipt }).openapi("RejectedWrite");

// ---- reads ----

export const PageQuery = z.strictObject({
  cursor: z.string().min(1).max(cursorLengthMax).optional(),
  limit: z.coerce.number().int().min(1).max(pageSizeMax).optional(),
});
/**
 * `net`: the network a request acts on, one of the cooperatives the node serves (`status.networks`);
 * default the signed-in token's network, else the node's home network. A token reaches only its
 * own network (401 `wrong_network`).
 */
const NetField = z.string().min(1).max(128).optional().openapi({
  description:
    "The cooperative network to act on (a network id the node serves); default: the token's network, else the node's home network",
});
/** Only `net`, on routes that take no other query. */
export const NetQuery = z.strictObject({ net: NetField });
export const CurrencyPageQuery = PageQuery.extend({
  currency: z.string().max(16).optional(),
  net: NetField,
});
export const NetPageQuery = PageQuery.extend({ net: NetField });
export const NetCurrencyPageQuery = CurrencyPageQuery;
export const CurrencyQuery = z.strictObject({
  currency: z.string().max(16).optional(),
  net: NetField,
});
export const DidParam = z.strictObject({
  did: Did.openapi({ param: { name: "did", in: "path" } }),
});
export const IdParam = z.strictObject({
  id: z.string().min(1).max(128).openapi({ param: { name: "id", in: "path" } }),
});

/** `next`: the cursor of the following page, null on the last one. */
function page<T extends z.ZodType>(item: T, name: string) {
  return z.object({ items: z.array(item), next: z.string().nullable() }).openapi(name);
}

export const Member = z.object({
  did: Did,
  founder: z.boolean(),
  delegations: z.array(z.object({ scope: z.string(), to: Did })),
});
export const MemberPage = page(Member, "MemberPage");

export const Balance = z.object({
  did: Did,
  currency: z.string(),
  balance: z.string(),
  balanceMinor: z.string(),
  limit: z.string(),
  limitMinor: z.string(),
  available: z.string(),
  availableMinor: z.string(),
}).openapi("Balance");
export const BalancePage = page(Balance, "BalancePage");

export const HistoryEntry = z.object({
  ts: SafeInt,
  id: z.string(),
  cid: z.string(),
  direction: z.enum(["in", "out"]),
  counterparty: Did,
  from: Did,
  to: Did,
  amount: z.string(),
  amountMinor: z.string(),
  currency: z.string(),
  /** `(private)` for a private memo, which the gateway never shows sealed or opened. */
  memo: z.string(),
  memoPrivate: z.boolean(),
  balance: z.string(),
});
export const HistoryPage = page(HistoryEntry, "HistoryPage");

export const Limit = z.object({
  did: Did,
  currency: z.string(),
  limit: z.string(),
  limitMinor: z.string(),
  baseline: z.string(),
  trust: z.number(),
  trustTerm: z.string(),
  clearedVolume: z.string(),
  historyTerm: z.string(),
  rampPercent: z.number(),
  override: z.string().nullable(),
}).openapi("Limit");

export const ScoreQuery = z.strictObject({
  from: Did.optional(),
  graph: z.enum(["all", ...trustGraphs]).optional(),
  net: NetField,
});
export const TrustScore = z.object({
  target: Did,
  /** The cooperative's view (mean over its anchor members): what credit limits and rate limits use. */
  cooperative: z.object({ score: z.number(), class: z.string() }),
  /** One member's view with its explanation: `from`, else the signed-in caller; null signed out. */
  observer: z.object({
    did: Did,
    graph: z.string(),
    score: z.number(),
    class: z.string(),
    explanation: z.object({
      direct: z.number(),
      directTerm: z.number(),
      transitiveTerm: z.number(),
      capped: z.boolean(),
      weights: z.object({ direct: z.number(), transitive: z.number() }),
      intermediaries: z.array(z.object({
        via: Did,
        toVia: z.number(),
        fromVia: z.number(),
        contribution: z.number(),
      })),
    }),
  }).nullable(),
}).openapi("TrustScore");

export const ProposalQuery = PageQuery.extend({
  state: z.string().max(16).optional(),
  net: NetField,
});
export const Tally = z.object({
  for: z.number(),
  against: z.number(),
  abstain: z.number(),
  block: z.number(),
  cast: z.number(),
  eligible: z.number(),
  required: z.number(),
  threshold: z.number(),
  delegated: z.number(),
  outcome: z.string(),
  /** A method proposal's result (core/governance/methods: counts, winners, rounds). */
  method: Json.optional(),
});
export const ProposalSummary = z.object({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  author: Did,
  state: z.string(),
  opened: SafeInt,
  closes: SafeInt,
  effective: SafeInt,
  timeLeft: SafeInt,
  /** A decision method other than for/against: its name, options and limits. */
  method: Json.optional(),
  /** Secret ballot: results count reveals, made after the close until `revealEnds`. */
  secret: z.boolean().optional(),
  revealEnds: SafeInt.optional(),
  tally: Tally,
}).openapi("ProposalSummary");
export const ProposalPage = page(ProposalSummary, "ProposalPage");
export const Proposal = ProposalSummary.extend({
  text: z.string(),
  action: Json,
  rules: Json,
  votes: z.array(z.object({
    did: Did,
    /** for/against proposals. */
    choice: z.string().optional(),
    /** Method proposals: the ballot (an option index, or one number per option, or a ranking). */
    ballot: Json.optional(),
    via: Did.optional(),
    reason: z.string().optional(),
  })),
}).openapi("Proposal");

export const Status = z.object({
  did: Did,
  peerId: z.string(),
  net: z.string(),
  version: z.string(),
  ready: z.boolean(),
  syncLag: z.number(),
  envelopes: z.number(),
  peers: z.number(),
  networks: z.array(z.object({
    id: z.string(),
    envelopes: z.number(),
    syncLag: z.number(),
    peers: z.number(),
  })),
  /**
   * The cooperatives this node serves, with their names: the home network first, then the others
   * in id order. Each is a `net` the network-scoped routes take.
   */
  cooperatives: z.array(z.object({ id: z.string(), name: z.string() })),
  /** The federation networks this node serves: their positions are at `/federation/positions`. */
  federation: z.array(z.object({ id: z.string(), name: z.string() })),
}).openapi("Status");

export const PositionsQuery = PageQuery.extend({
  /** The federation network's id. */
  net: z.string().min(1).max(128),
});
export const Position = z.object({
  coops: z.tuple([z.string(), z.string()]),
  names: z.tuple([z.string(), z.string()]),
  debtor: z.string().nullable(),
  creditor: z.string().nullable(),
  owed: z.string(),
  owedMinor: z.string().regex(/^\d+$/),
  limit: z.string().nullable(),
  use: z.number().nullable(),
  agreement: z.string().nullable(),
  rates: z.record(z.string(), z.string()).nullable(),
  settlementInterval: z.number().nullable(),
  accepted: z.number().int(),
  open: z.number().int(),
  settled: z.string(),
}).openapi("Position");
/** A page of a federation's positions (the rows of `icn federation positions --json`). */
export const PositionPage = z.object({
  net: z.string(),
  name: z.string(),
  currency: z.string(),
  items: z.array(Position),
  next: z.string().nullable(),
}).openapi("PositionPage");

export const EventQuery = z.strictObject({
  kind: z.string().max(64).optional(),
  author: Did.optional(),
  net: NetField,
  since: z.coerce.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).optional(),
});
export const EventHeaders = z.object({
  "last-event-id": z.string().regex(/^\d{1,15}$/).optional(),
});
export const AcceptedEvent = z.object({
  position: SafeInt,
  cid: z.string(),
  net: z.string(),
  kind: z.string(),
  author: Did,
  seq: SafeInt,
  ts: SafeInt,
  /** The envelope's body, except that a private memo reads `(private)` (then `memoPrivate`). */
  body: Json,
  memoPrivate: z.literal(true).optional(),
}).openapi("AcceptedEvent");
