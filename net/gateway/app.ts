/**
 * The app gateway's HTTP API (docs/gateway.md): routes declared with `@hono/zod-openapi`, so
 * that one definition validates the request, writes the OpenAPI 3.1 document and checks the
 * JSON response before it leaves. Built from `(components, init)` like the node's protocols:
 * the components are the node's store, genesis, key and writer; nothing here opens a socket
 * (`serve.ts` does), so tests drive it with `app.request()`.
 *
 * The gateway never holds or uses a member's key: `prepare` fills in seq/prev/ts and returns the
 * bytes to sign, the client signs them, and `envelopes` ingests what it signed through the
 * node's one writer.
 *
 * Every route acts on one network: `?net=ID` when given, else the signed-in token's network,
 * else the node's home network. A member of two cooperatives the node serves signs in to each
 * (`POST /auth/challenge?net=ID`); a token reaches only its own network (401 `wrong_network`).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { fromBase64, toBase64 } from "../../core/bytes.ts";
import type { IngestOutcome } from "../../core/chain/ingest.ts";
import { type ChainHead, chainKeys } from "../../core/chain/keys.ts";
import { envelopeBytesMax, envelopeVersion } from "../../core/constants.ts";
import {
  type Envelope,
  type SealedEnvelope,
  sealSigned,
  signingBytes,
  type UnsignedEnvelope,
} from "../../core/envelope/envelope.ts";
import { ConflictError, RejectedError } from "../../core/errors.ts";
import type { Genesis } from "../../core/governance/genesis.ts";
import type { Ed25519KeyPair } from "../../core/identity/keys.ts";
import type { TrustClass } from "../../core/policy/policy.ts";
import type { Clock, Logger, Rng } from "../../core/ports.ts";
import type { Store } from "../../core/store/store.ts";
import { toHex } from "../../core/bytes.ts";
import { Auth, type Caller, GatewayError } from "./auth.ts";
import { EventHub } from "./events.ts";
import {
  type BucketRate,
  gatewayBodyBytesMax,
  maxInFlightDefault,
  overloadedRetryAfterSeconds,
  pageSizeDefault,
  type RateLayer,
  trustClassesCachedMax,
  trustClassTtlMs,
} from "./limits.ts";
import { type RateCategory, RateLimiter } from "./rate_limit.ts";
import {
  readBalance,
  readBalances,
  type ReadComponents,
  readCooperatives,
  readCooperativeScore,
  readFederations,
  readHistory,
  readLimit,
  readMembers,
  readPositions,
  readProposal,
  readProposals,
  readScore,
  servedCooperative,
  type ServedNetwork,
} from "./reads.ts";
import { type Receipt, Receipts } from "./receipts.ts";
import * as s from "./schemas.ts";
import { webRoutes } from "./web.ts";

export const apiBase = "/api/v1";

/** What the gateway's status route shows of the node. */
export type GatewayStatus = Omit<z.infer<typeof s.Status>, "federation" | "cooperatives">;

export interface GatewayComponents {
  clock: Clock;
  rng: Rng;
  logger: Logger;
  /** The network served (the node's home network) and its store. */
  net: string;
  genesis: Genesis;
  store: Store;
  /** This node: its key signs the tokens. */
  node: { did: string; ed25519: Ed25519KeyPair };
  /**
   * Ingests an envelope its author signed through the one writer of network `net` (one the node
   * serves), and publishes it.
   */
  ingest(sealed: SealedEnvelope, net: string): Promise<IngestOutcome>;
  status(): Promise<GatewayStatus>;
  /**
   * Every network the node serves, home included (issue #16): the gateway reads federation
   * positions from the federation networks among them. Absent: the home network only.
   */
  served?(): readonly ServedNetwork[];
}

export interface GatewayInit {
  tokenTtlSeconds?: number;
  /** Reads without a token (signed out) are allowed; default false: reads need the `read` scope. */
  publicReads?: boolean;
  /** Origins allowed by CORS; none (the default): no CORS headers at all. */
  corsOrigins?: readonly string[];
  /** Addresses of reverse proxies whose `X-Forwarded-For` is believed; none by default. */
  trustedProxies?: readonly string[];
  /** The dashboard's directory (index.html, static/); null: a placeholder page. */
  webDir?: string | null;
  /** Rate limits (tests shrink them). */
  rates?: Partial<Record<RateLayer, BucketRate>>;
  /** API requests in progress at once before the next is answered 503 `overloaded`; default 64. */
  maxInFlight?: number;
}

/** Hono's environment: the TCP peer's address, given by `serve.ts` (absent in `app.request`). */
export type GatewayEnv = { Bindings: { remoteAddr?: string } };

export interface Gateway {
  app: OpenAPIHono<GatewayEnv>;
  auth: Auth;
  receipts: Receipts;
  /** The home network's event stream (another network's starts with its first client). */
  events: EventHub;
  /**
   * Call for every envelope the node accepts in network `net` (undefined: a key event, carried
   * to every network's store): that network's event stream reads on.
   */
  accepted(net?: string): void;
  /** API requests in progress now (bounded by `maxInFlight`). */
  inFlight(): number;
  start(): Promise<void>;
  stop(): void;
}

const bearer = [{ bearer: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const errors = {
  400: json(s.ErrorBody, "Malformed or invalid request"),
  401: json(s.ErrorBody, "Not signed in, or the token is not valid here"),
  403: json(s.ErrorBody, "The token lacks the scope"),
  404: json(s.ErrorBody, "Not found"),
  413: json(s.ErrorBody, "Body too large"),
  429: json(s.ErrorBody, "Rate limited (see Retry-After)"),
  503: json(s.ErrorBody, "Overloaded (`overloaded`, see Retry-After), or too many event streams"),
};

function errorBody(code: string, message: string, issues?: { path: string; message: string }[]) {
  return { error: { code, message, ...(issues ? { issues } : {}) } };
}

/** JSON of an error response, headers included. */
function errorResponse(error: GatewayError): Response {
  return new Response(JSON.stringify(errorBody(error.code, error.message)), {
    status: error.status,
    headers: { "content-type": "application/json", ...error.headers },
  });
}

export function createGateway(components: GatewayComponents, init: GatewayInit = {}): Gateway {
  const { clock, logger, store, genesis, net } = components;
  const served = (): readonly ServedNetwork[] => components.served?.() ?? [{ id: net, store }];
  const auth = new Auth({
    clock,
    rng: components.rng,
    store,
    node: components.node,
    net,
    storeOf: (id) => served().find((n) => n.id === id)?.store,
  }, { tokenTtlSeconds: init.tokenTtlSeconds });
  const limiter = new RateLimiter(clock, init.rates);
  const receipts = new Receipts();
  const events = new EventHub({ store, logger });
  const reads: ReadComponents = { store, genesis };
  /** Event streams of the other served networks, each started with its first client. */
  const otherEvents = new Map<string, Promise<EventHub>>();
  let stopped = false;
  /**
   * The reads of network `id`: the home network, or another cooperative the node serves (its
   * genesis read from its store on every call: cheap, and a network left is gone at once).
   * 404 `unknown_network` for anything else, a federation included.
   */
  const networkOf = (id: string): Promise<ReadComponents> =>
    id === net ? Promise.resolve(reads) : servedCooperative(served(), id);
  const eventsOf = (id: string): Promise<EventHub> => {
    if (id === net) return Promise.resolve(events);
    let hub = otherEvents.get(id);
    if (!hub) {
      const other = served().find((n) => n.id === id);
      if (!other) {
        return Promise.reject(
          new GatewayError(404, "unknown_network", `This node serves no network ${id}`),
        );
      }
      const created = new EventHub({ store: other.store, logger });
      hub = created.start().then(() => created);
      otherEvents.set(id, hub);
      // Not kept when its start failed: the next client tries again.
      hub.catch(() => otherEvents.delete(id));
    }
    return hub;
  };
  const trustClasses = new Map<string, { cls: TrustClass; until: number }>();
  const trustedProxies = new Set(init.trustedProxies ?? []);

  const app = new OpenAPIHono<GatewayEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issues = result.error.issues.slice(0, 20).map((i) => ({
        path: i.path.map(String).join("."),
        message: i.message,
      }));
      const unknown = result.error.issues.some((i) => i.code === "unrecognized_keys");
      return c.json(
        errorBody(
          unknown ? "unknown_field" : "invalid_request",
          `Invalid request: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`,
          issues,
        ),
        400,
      );
    },
  });

  app.onError((error, c) => {
    if (error instanceof GatewayError) return errorResponse(error);
    if (error instanceof HTTPException) {
      const status = error.status;
      const code = status === 400
        ? "malformed_json"
        : status === 413
        ? "body_too_large"
        : status === 415
        ? "unsupported_media_type"
        : "bad_request";
      return c.json(errorBody(code, error.message || "Bad request"), status as 400);
    }
    if (error instanceof RejectedError) {
      return c.json(errorBody(error.reason, error.message), 400);
    }
    logger.error("gateway_error", { path: c.req.path, error: (error as Error).message });
    return c.json(errorBody("internal", "Internal error"), 500);
  });
  app.notFound((c) =>
    c.json(errorBody("not_found", `No route ${c.req.method} ${c.req.path}`), 404)
  );

  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        objectSrc: ["'none'"],
      },
      xFrameOptions: "DENY",
      xContentTypeOptions: "nosniff",
      referrerPolicy: "no-referrer",
      crossOriginResourcePolicy: "same-origin",
    }),
  );
  // A global bound on API requests in progress: past it, an early 503 before anything is read or
  // verified (each member stays within its own rate limits, so only this sheds a crowd). An event
  // stream counts only until its response starts.
  const maxInFlight = init.maxInFlight ?? maxInFlightDefault;
  let inFlight = 0;
  app.use(`${apiBase}/*`, async (_c, next) => {
    if (inFlight >= maxInFlight) {
      throw new GatewayError(
        503,
        "overloaded",
        `The gateway is at its limit of ${maxInFlight} requests in progress; retry after ${overloadedRetryAfterSeconds} s`,
        { "retry-after": String(overloadedRetryAfterSeconds) },
      );
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  });
  if (init.corsOrigins && init.corsOrigins.length > 0) {
    app.use(
      `${apiBase}/*`,
      cors({
        origin: [...init.corsOrigins],
        allowHeaders: ["authorization", "content-type", "last-event-id"],
        allowMethods: ["GET", "POST"],
        maxAge: 600,
      }),
    );
  }
  app.use(
    `${apiBase}/*`,
    bodyLimit({
      maxSize: gatewayBodyBytesMax,
      onError: () => {
        throw new GatewayError(
          413,
          "body_too_large",
          `Request body is over ${gatewayBodyBytesMax} bytes`,
        );
      },
    }),
  );
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });

  // ---- helpers ----

  /** The client's address: the TCP peer, or the forwarded one when that peer is a named proxy. */
  const addressOf = (c: Context<GatewayEnv>): string => {
    const peer = c.env?.remoteAddr ?? "unknown";
    if (!trustedProxies.has(peer)) return peer;
    const hops = (c.req.header("x-forwarded-for") ?? "").split(",").map((h) => h.trim())
      .filter((h) => h.length > 0);
    for (let i = hops.length - 1; i >= 0; i--) if (!trustedProxies.has(hops[i])) return hops[i];
    return peer;
  };

  /** The caller's trust class in the network it signed in to (its rate limits scale by it). */
  const trustClassOf = async (on: ReadComponents, did: string): Promise<TrustClass> => {
    const now = clock.now();
    const key = `${on.net ?? net} ${did}`;
    const known = trustClasses.get(key);
    if (known && known.until > now) return known.cls;
    const { class: cls } = await readCooperativeScore(on, did, now);
    if (trustClasses.size >= trustClassesCachedMax) trustClasses.clear();
    trustClasses.set(key, { cls: cls as TrustClass, until: now + trustClassTtlMs });
    return cls as TrustClass;
  };

  /**
   * Who calls, on which network, and whether they may: a token when one is sent (a bad one is
   * refused even where reads are public); the network (`?net=`, else the token's, else home),
   * which must be served (404 `unknown_network`) and be the token's (401 `wrong_network`); the
   * scope when one is needed; then the rate limits.
   */
  const guard = async (
    c: Context<GatewayEnv>,
    category: RateCategory,
    scope?: s.Scope,
    requested?: string,
  ): Promise<{ caller: Caller | null; on: ReadComponents; id: string }> => {
    const header = c.req.header("authorization");
    const needed = scope ?? (init.publicReads ? undefined : "read");
    let caller: Caller | null = null;
    if (header !== undefined || needed !== undefined) caller = await auth.verify(header);
    const id = requested ?? caller?.net ?? net;
    const on = await networkOf(id);
    if (caller && caller.net !== id) {
      throw new GatewayError(
        401,
        "wrong_network",
        `This token is for network ${caller.net}, not ${id}: sign in to ${id} (POST /api/v1/auth/challenge?net=${id}) for a token of it${
          init.publicReads ? ", or read it signed out" : ""
        }`,
      );
    }
    if (caller && needed && !caller.scopes.has(needed)) {
      throw new GatewayError(403, "missing_scope", `This needs a token with scope ${needed}`);
    }
    if (caller) limiter.request(caller.did, category, await trustClassOf(on, caller.did));
    else limiter.request(`addr:${addressOf(c)}`, category, "isolated");
    return { caller, on, id };
  };

  /** A JSON response, checked against the route's schema before it is sent. */
  const send = <T extends z.ZodType>(
    c: Context<GatewayEnv>,
    schema: T,
    data: unknown,
    status: 200 | 422 = 200,
  ): Response => {
    const checked = schema.safeParse(data);
    if (!checked.success) {
      logger.error("gateway_response_invalid", {
        path: c.req.path,
        issues: checked.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`)
          .join("; "),
      });
      return c.json(errorBody("internal", "The response did not match its schema"), 500);
    }
    return c.json(checked.data as never, status);
  };

  // deno-lint-ignore no-explicit-any
  const route = (definition: any, handler: (c: any) => Promise<Response>) =>
    app.openapi(createRoute(definition), handler as never);
  const page = (query: { cursor?: string; limit?: number }) => ({
    cursor: query.cursor,
    limit: query.limit ?? pageSizeDefault,
  });

  // ---- sign-in ----

  route({
    method: "post",
    path: `${apiBase}/auth/challenge`,
    tags: ["sign-in"],
    summary: "A sign-in challenge for a DID (single use, 5 minutes)",
    request: {
      query: s.NetQuery,
      body: {
        ...json(s.ChallengeRequestWithScopes, "The DID and the scopes asked"),
        required: true,
      },
    },
    responses: { 200: json(s.ChallengeResponse, "The challenge"), ...errors },
  }, async (c) => {
    limiter.signIn(addressOf(c));
    const { did, scopes } = c.req.valid("json");
    const id = c.req.valid("query").net ?? net;
    await networkOf(id);
    const challenge = auth.challenge(did, scopes ?? ["read"], id);
    return send(c, s.ChallengeResponse, challengeView(challenge));
  });

  const challengeView = (challenge: ReturnType<Auth["challenge"]>) => ({
    nonce: challenge.nonce,
    message: challenge.message,
    expires: challenge.expires,
    net: challenge.net,
    node: components.node.did,
    did: challenge.did,
    scopes: challenge.scopes,
  });

  route({
    method: "get",
    path: `${apiBase}/auth/challenge/{nonce}`,
    tags: ["sign-in"],
    summary: "An outstanding challenge, for the terminal that signs it (device flow)",
    request: { params: s.NonceParam },
    responses: { 200: json(s.ChallengeResponse, "The challenge"), ...errors },
  }, (c) => {
    limiter.signIn(addressOf(c));
    const challenge = auth.pending(c.req.valid("param").nonce);
    return Promise.resolve(send(c, s.ChallengeResponse, challengeView(challenge)));
  });

  route({
    method: "post",
    path: `${apiBase}/auth/challenge/{nonce}/approve`,
    tags: ["sign-in"],
    summary: "Device flow: the DID's signature of the challenge, sent by its terminal",
    request: {
      params: s.NonceParam,
      body: { ...json(s.ApproveRequest, "The signature"), required: true },
    },
    responses: { 200: json(s.ApproveResponse, "Approved"), ...errors },
  }, async (c) => {
    limiter.signIn(addressOf(c));
    const { nonce } = c.req.valid("param");
    const { did, signature } = c.req.valid("json");
    const challenge = auth.pending(nonce);
    if (challenge.did !== did) {
      throw new GatewayError(401, "nonce_mismatch", "This nonce was issued to another DID");
    }
    await auth.approve(nonce, signature);
    return send(c, s.ApproveResponse, { approved: true, did, scopes: challenge.scopes });
  });

  route({
    method: "post",
    path: `${apiBase}/auth/token`,
    tags: ["sign-in"],
    summary: "Redeems a signed challenge for a token (EdDSA JWT, 1 h by default)",
    request: { body: { ...json(s.TokenRequest, "The signed challenge"), required: true } },
    responses: { 200: json(s.TokenResponse, "The token"), ...errors },
  }, async (c) => {
    limiter.signIn(addressOf(c));
    const request = c.req.valid("json");
    const issued = await auth.token(request);
    return send(c, s.TokenResponse, { ...issued, tokenType: "Bearer" });
  });

  // ---- reads ----

  route({
    method: "get",
    path: `${apiBase}/status`,
    tags: ["reads"],
    summary: "The node: identity, readiness, sync lag, peers, networks",
    security: bearer,
    responses: { 200: json(s.Status, "Node status"), ...errors },
  }, async (c) => {
    await guard(c, "read");
    const federation = (await readFederations(served())).map(({ id, name }) => ({ id, name }));
    const cooperatives = await readCooperatives(served(), { id: net, name: genesis.name });
    return send(c, s.Status, { ...(await components.status()), cooperatives, federation });
  });

  route({
    method: "get",
    path: `${apiBase}/federation/positions`,
    tags: ["reads"],
    summary: "A served federation's clearing positions: each pair's position, limit, use and rates",
    security: bearer,
    request: { query: s.PositionsQuery },
    responses: { 200: json(s.PositionPage, "A page of positions"), ...errors },
  }, async (c) => {
    await guard(c, "read");
    const query = c.req.valid("query");
    return send(
      c,
      s.PositionPage,
      await readPositions(served(), query.net, clock.now(), page(query)),
    );
  });

  route({
    method: "get",
    path: `${apiBase}/members`,
    tags: ["reads"],
    summary: "Current members, by DID",
    security: bearer,
    request: { query: s.NetPageQuery },
    responses: { 200: json(s.MemberPage, "A page of members"), ...errors },
  }, async (c) => {
    const query = c.req.valid("query");
    const { on } = await guard(c, "read", undefined, query.net);
    return send(c, s.MemberPage, await readMembers(on, clock.now(), page(query)));
  });

  route({
    method: "get",
    path: `${apiBase}/balances`,
    tags: ["reads"],
    summary: "Balances of members and accounts in one currency, by DID",
    security: bearer,
    request: { query: s.NetCurrencyPageQuery },
    responses: { 200: json(s.BalancePage, "A page of balances"), ...errors },
  }, async (c) => {
    const query = c.req.valid("query");
    const { on } = await guard(c, "read", undefined, query.net);
    return send(
      c,
      s.BalancePage,
      await readBalances(on, query.currency, clock.now(), page(query)),
    );
  });

  route({
    method: "get",
    path: `${apiBase}/accounts/{did}/balance`,
    tags: ["reads"],
    summary: "One account's balance, credit limit and what is available",
    security: bearer,
    request: { params: s.DidParam, query: s.CurrencyQuery },
    responses: { 200: json(s.Balance, "The balance"), ...errors },
  }, async (c) => {
    const { did } = c.req.valid("param");
    const { currency, net: requested } = c.req.valid("query");
    const { on } = await guard(c, "read", undefined, requested);
    return send(c, s.Balance, await readBalance(on, did, currency, clock.now()));
  });

  route({
    method: "get",
    path: `${apiBase}/accounts/{did}/history`,
    tags: ["reads"],
    summary: "One account's transfers, newest first",
    security: bearer,
    request: { params: s.DidParam, query: s.CurrencyPageQuery },
    responses: { 200: json(s.HistoryPage, "A page of transfers"), ...errors },
  }, async (c) => {
    const { did } = c.req.valid("param");
    const query = c.req.valid("query");
    const { on } = await guard(c, "read", undefined, query.net);
    return send(c, s.HistoryPage, await readHistory(on, did, query.currency, page(query)));
  });

  route({
    method: "get",
    path: `${apiBase}/accounts/{did}/limit`,
    tags: ["reads"],
    summary: "One account's credit limit with its terms",
    security: bearer,
    request: { params: s.DidParam, query: s.CurrencyQuery },
    responses: { 200: json(s.Limit, "The credit limit"), ...errors },
  }, async (c) => {
    const { did } = c.req.valid("param");
    const { currency, net: requested } = c.req.valid("query");
    const { on } = await guard(c, "read", undefined, requested);
    return send(c, s.Limit, await readLimit(on, did, currency, clock.now()));
  });

  route({
    method: "get",
    path: `${apiBase}/trust/{did}/score`,
    tags: ["reads"],
    summary:
      "A member's trust score: the cooperative's view, and one member's with its explanation",
    security: bearer,
    request: { params: s.DidParam, query: s.ScoreQuery },
    responses: { 200: json(s.TrustScore, "The score"), ...errors },
  }, async (c) => {
    const { did } = c.req.valid("param");
    const query = c.req.valid("query");
    const { caller, on } = await guard(c, "read", undefined, query.net);
    return send(
      c,
      s.TrustScore,
      await readScore(on, did, {
        observer: query.from ?? caller?.did,
        graph: query.graph ?? "all",
        now: clock.now(),
      }),
    );
  });

  route({
    method: "get",
    path: `${apiBase}/proposals`,
    tags: ["reads"],
    summary: "Proposals with their tallies, newest first",
    security: bearer,
    request: { query: s.ProposalQuery },
    responses: { 200: json(s.ProposalPage, "A page of proposals"), ...errors },
  }, async (c) => {
    const query = c.req.valid("query");
    const { on } = await guard(c, "read", undefined, query.net);
    return send(
      c,
      s.ProposalPage,
      await readProposals(on, clock.now(), { ...page(query), state: query.state }),
    );
  });

  route({
    method: "get",
    path: `${apiBase}/proposals/{id}`,
    tags: ["reads"],
    summary: "One proposal: its text, action, rules, tally and votes",
    security: bearer,
    request: { params: s.IdParam, query: s.NetQuery },
    responses: { 200: json(s.Proposal, "The proposal"), ...errors },
  }, async (c) => {
    const { on } = await guard(c, "read", undefined, c.req.valid("query").net);
    return send(c, s.Proposal, await readProposal(on, c.req.valid("param").id, clock.now()));
  });

  // ---- writes ----

  route({
    method: "post",
    path: `${apiBase}/prepare`,
    tags: ["writes"],
    summary:
      "An envelope for the caller to sign: seq, prev and ts filled in, and its signing bytes",
    security: bearer,
    request: {
      query: s.NetQuery,
      body: { ...json(s.PrepareRequest, "The kind and body"), required: true },
    },
    responses: { 200: json(s.PrepareResponse, "The unsigned envelope"), ...errors },
  }, async (c) => {
    const request = c.req.valid("json") as { kind: s.WritableKind; body: Record<string, unknown> };
    const rule = s.writableKinds[request.kind];
    const guarded = await guard(c, rule.category, rule.scope, c.req.valid("query").net);
    const caller = guarded.caller!;
    const { id: on, on: { store: onStore } } = guarded;
    const body = { ...request.body };
    if (request.kind === "ledger.transfer") {
      body.memo ??= "";
      body.id ??= `t-${toHex(components.rng.bytes(12))}`;
    }
    const head = (await onStore.get<ChainHead>(chainKeys.head(on, caller.did)))?.value;
    const unsigned: UnsignedEnvelope = {
      v: envelopeVersion,
      net: on,
      kind: request.kind,
      author: caller.did,
      seq: head ? head.seq + 1 : 0,
      prev: head ? head.cid : null,
      ts: Math.max(clock.now(), head?.ts ?? 0),
      body,
    };
    const bytes = signingBytes(unsigned);
    if (bytes.length > envelopeBytesMax) {
      throw new GatewayError(
        413,
        "too_large",
        `The envelope would be over ${envelopeBytesMax} bytes`,
      );
    }
    return send(c, s.PrepareResponse, { envelope: unsigned, signingBytes: toBase64(bytes) });
  });

  route({
    method: "post",
    path: `${apiBase}/envelopes`,
    tags: ["writes"],
    summary: "Submits an envelope the caller signed; the node validates and commits it",
    security: bearer,
    request: {
      query: s.NetQuery,
      body: { ...json(s.SubmitRequest, "The signed envelope"), required: true },
    },
    responses: {
      200: json(s.Receipt, "Accepted (or already there): the receipt"),
      409: json(
        s.ErrorBody,
        "`stale_chain`: the caller's chain moved on since this envelope was prepared (its seq is taken); nothing changed, prepare again and sign the new envelope",
      ),
      422: json(s.RejectedReceipt, "Rejected by the rules: the reason and the receipt"),
      ...errors,
    },
  }, async (c) => {
    const { envelope: wire } = c.req.valid("json");
    const rule = s.writableKinds[wire.kind as s.WritableKind];
    if (!rule) {
      throw new GatewayError(
        400,
        "kind_not_allowed",
        `The gateway does not take ${JSON.stringify(wire.kind)} envelopes: it takes ${
          Object.keys(s.writableKinds).join(", ")
        }`,
      );
    }
    const guarded = await guard(c, rule.category, rule.scope, c.req.valid("query").net);
    const caller = guarded.caller!;
    const { id: on, on: { store: onStore } } = guarded;
    if (wire.author !== caller.did) {
      throw new GatewayError(
        403,
        "author_mismatch",
        "The envelope's author is not the signed-in DID",
      );
    }
    if (wire.net !== on) {
      throw new GatewayError(
        400,
        "wrong_network",
        `The envelope is for network ${wire.net}, but this request acts on ${on} (the token's network, or ?net=)`,
      );
    }
    let sealed: SealedEnvelope;
    try {
      const sigs = wire.sigs.map((sig: { alg: "ed25519" | "ml-dsa-65"; sig: string }) => ({
        alg: sig.alg,
        sig: fromBase64(sig.sig),
      }));
      sealed = await sealSigned({ ...wire, sigs } as Envelope);
    } catch (error) {
      const reason = error instanceof RejectedError ? error.reason : "malformed";
      throw new GatewayError(
        400,
        reason === "too_large" ? "too_large" : "malformed_envelope",
        (error as Error).message,
      );
    }
    // A client that went away while this waited (its timeout) gets no write it cannot see: the
    // ingest is not started. Deno.serve aborts the request's signal when the connection closes.
    if (c.req.raw.signal.aborted) {
      logger.info("gateway_client_gone", { caller: caller.did, kind: wire.kind, cid: sealed.cid });
      throw new GatewayError(499, "client_gone", "The client went away before the write started");
    }
    let outcome: IngestOutcome;
    try {
      outcome = await components.ingest(sealed, on);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // A local envelope at a seq already taken by another one: the chain moved on since the
      // prepare (a write that committed after its client gave up, or two prepares in parallel).
      const head = (await onStore.get<ChainHead>(chainKeys.head(on, caller.did)))?.value;
      if (head && head.seq >= sealed.envelope.seq) {
        logger.info("gateway_write", {
          caller: caller.did,
          kind: wire.kind,
          outcome: "stale_chain",
          cid: sealed.cid,
        });
        throw new GatewayError(
          409,
          "stale_chain",
          `Your chain moved on since this envelope was prepared: seq ${sealed.envelope.seq} is taken (the chain is at seq ${head.seq}). Nothing changed; prepare again and sign the new envelope`,
        );
      }
      // Otherwise the store kept changing under every commit attempt: busy, not this envelope's fault.
      throw new GatewayError(
        503,
        "store_busy",
        `The store is busy: ${error.message}. Nothing changed; retry the same envelope`,
        { "retry-after": String(overloadedRetryAfterSeconds) },
      );
    }
    const receipt: Receipt = {
      id: `r-${toHex(components.rng.bytes(12))}`,
      caller: caller.did,
      kind: wire.kind,
      outcome: outcome.status === "rejected"
        ? { status: "rejected", reason: outcome.reason, message: outcome.message }
        : { status: outcome.status },
      cid: sealed.cid,
      ts: clock.now(),
      net: on,
    };
    receipts.add(receipt);
    logger.info("gateway_write", {
      caller: caller.did,
      kind: wire.kind,
      outcome: outcome.status,
      cid: sealed.cid,
    });
    if (outcome.status === "rejected") {
      return send(
        c,
        s.RejectedReceipt,
        { ...errorBody(outcome.reason, outcome.message), receipt },
        422,
      );
    }
    return send(c, s.Receipt, receipt);
  });

  route({
    method: "get",
    path: `${apiBase}/receipts/{id}`,
    tags: ["writes"],
    summary: "A receipt of one of the caller's writes (kept in a bounded cache)",
    security: bearer,
    request: { params: s.IdParam },
    responses: { 200: json(s.Receipt, "The receipt"), ...errors },
  }, async (c) => {
    const { caller } = await guard(c, "read");
    const receipt = receipts.get(c.req.valid("param").id);
    // Another member's receipt is as absent as an unknown one.
    if (!receipt || (caller && receipt.caller !== caller.did) || !caller) {
      throw new GatewayError(
        404,
        "not_found",
        "No such receipt (or it was forgotten: the cache is bounded)",
      );
    }
    return send(c, s.Receipt, receipt);
  });

  // ---- events ----

  route({
    method: "get",
    path: `${apiBase}/events`,
    tags: ["events"],
    summary: "Server-sent events: envelopes as they commit; resumable with Last-Event-ID",
    security: bearer,
    request: { query: s.EventQuery, headers: s.EventHeaders },
    responses: {
      200: {
        content: { "text/event-stream": { schema: z.string() } },
        description: "`id:` the log position, `event: envelope`, `data:` an AcceptedEvent",
      },
      ...errors,
      503: json(s.ErrorBody, "Too many streams"),
    },
  }, async (c) => {
    const query = c.req.valid("query");
    const { id } = await guard(c, "read", undefined, query.net);
    const { "last-event-id": lastId } = c.req.valid("header");
    const since = lastId !== undefined ? Number(lastId) : query.since;
    // The client going away cancels the stream (not `request.signal`: Deno.serve aborts it once a
    // response is under way).
    const hub = await eventsOf(id);
    if (stopped) throw new GatewayError(503, "stopping", "The gateway is stopping");
    const stream = hub.open({ kind: query.kind, author: query.author }, since);
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-store",
        "x-accel-buffering": "no",
      },
    });
  });

  // Generated from the route definitions once, on first request (the routes do not change).
  let document: unknown;
  app.get(`${apiBase}/openapi.json`, (c) => {
    document ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "icn app gateway",
        version: "1",
        description: "The app API of an icn node (docs/gateway.md)",
      },
    });
    return c.json(document as Record<string, unknown>);
  });

  webRoutes(app, init.webDir ?? null);

  return {
    app,
    auth,
    receipts,
    events,
    accepted: (id?: string) => {
      if (id === undefined || id === net) events.wake();
      for (const [other, hub] of otherEvents) {
        if (id === undefined || id === other) hub.then((h) => h.wake(), () => {});
      }
    },
    inFlight: () => inFlight,
    start: () => events.start(),
    stop: () => {
      stopped = true;
      events.stop();
      for (const hub of otherEvents.values()) hub.then((h) => h.stop(), () => {});
    },
  };
}
