/**
 * Sign-in for apps: a DID asks for a challenge (a random nonce, single use, `challengeTtlMs`,
 * at most `challengesMax` outstanding), signs its text with the DID's current Ed25519 key, and
 * gets a short-lived token: an EdDSA JWT signed by this node's key (jose), naming the DID, the
 * network and the scopes. The node's key id (`kid`) is in the token's header, so a token
 * signed before the node's key rotated is refused with its own clear error rather than as a
 * forgery.
 *
 * The device flow (a browser shows the challenge, a terminal signs it): `approve` records a
 * verified signature against the nonce; the browser then redeems the nonce without one.
 *
 * A node can serve several cooperatives (issue #16): a challenge names the one the member signs
 * in to (the home network by default), its signed text says so, the DID's key is read from that
 * network's store, and the token carries that network. The app decides what a token may reach.
 */
import { importJWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { fromBase64, toBase64 } from "../../core/bytes.ts";
import { identityKey, type IdentityRecord } from "../../core/identity/kel.ts";
import { type Ed25519KeyPair, sha256Sync, verifyEd25519 } from "../../core/identity/keys.ts";
import type { Clock, Rng } from "../../core/ports.ts";
import type { Store } from "../../core/store/store.ts";
import { GatewayError } from "./errors.ts";
import {
  challengesMax,
  challengeTtlMs,
  nonceBytes,
  tokenLengthMax,
  tokenTtlSecondsDefault,
  verifiedTokensMax,
} from "./limits.ts";
import { type Scope, scopes as knownScopes } from "./schemas.ts";

/** First line of every sign-in text: a signature over it cannot pass for an envelope's. */
export const signInDomain = "icn gateway sign-in v1";

export interface Challenge {
  nonce: string;
  did: string;
  /** The network signed in to. */
  net: string;
  scopes: Scope[];
  expires: number;
  message: string;
  /** Set by the device flow once the DID's signature verified. */
  approved?: boolean;
}

/** Who is calling, from a verified token. */
export interface Caller {
  did: string;
  scopes: ReadonlySet<Scope>;
  /** The network the token was issued for. */
  net: string;
}

function base64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The refusal of a scope list: unknown scopes are named. */
export function checkScopes(requested: readonly string[]): Scope[] {
  const unknown = requested.filter((s) => !(knownScopes as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new GatewayError(
      400,
      "unknown_scope",
      `Unknown scope ${unknown.map((s) => JSON.stringify(s)).join(", ")}: use ${
        knownScopes.join(", ")
      }`,
    );
  }
  return [...new Set(requested)].sort() as Scope[];
}

export interface AuthComponents {
  clock: Clock;
  rng: Rng;
  store: Store;
  /** This node: its DID and current key sign the tokens. */
  node: { did: string; ed25519: Ed25519KeyPair };
  /** The home network: a challenge that names none is for it. */
  net: string;
  /**
   * The store of a network members may sign in to, or undefined when the node does not serve it
   * as a cooperative (now: a network left is no longer signed in to). Absent: the home one only.
   */
  storeOf?(net: string): Store | undefined;
}

export { GatewayError };

export class Auth {
  readonly #components: AuthComponents;
  readonly #ttlSeconds: number;
  /** Insertion order is age order: the oldest are evicted first. */
  readonly #challenges = new Map<string, Challenge>();
  /** Tokens already verified, with their expiry (ms). */
  readonly #verified = new Map<string, { caller: Caller; expires: number }>();
  readonly kid: string;
  #publicKey?: CryptoKey;

  constructor(components: AuthComponents, init: { tokenTtlSeconds?: number } = {}) {
    this.#components = components;
    this.#ttlSeconds = init.tokenTtlSeconds ?? tokenTtlSecondsDefault;
    this.kid = base64Url(sha256Sync(components.node.ed25519.publicKey)).slice(0, 22);
  }

  /** Outstanding challenges (tests and metrics). */
  get challengeCount(): number {
    return this.#challenges.size;
  }

  /** The store of `net` when members may sign in to it; 404 `unknown_network` otherwise. */
  storeOf(net: string): Store {
    const { storeOf, net: home, store } = this.#components;
    const found = storeOf ? storeOf(net) : net === home ? store : undefined;
    if (!found) {
      throw new GatewayError(
        404,
        "unknown_network",
        `This node serves no cooperative network ${JSON.stringify(net)}`,
      );
    }
    return found;
  }

  /** A fresh challenge for `did`, asking for `scopes` in network `net` (default: home). */
  challenge(did: string, requested: readonly string[], net = this.#components.net): Challenge {
    const scopes = checkScopes(requested);
    this.storeOf(net);
    this.#sweep();
    while (this.#challenges.size >= challengesMax) {
      this.#challenges.delete(this.#challenges.keys().next().value!);
    }
    const { clock, rng, node } = this.#components;
    const nonce = base64Url(rng.bytes(nonceBytes));
    const expires = clock.now() + challengeTtlMs;
    const message = [
      signInDomain,
      `network: ${net}`,
      `node: ${node.did}`,
      `did: ${did}`,
      `scopes: ${scopes.join(" ")}`,
      `nonce: ${nonce}`,
      `expires: ${new Date(expires).toISOString()}`,
    ].join("\n");
    const challenge = { nonce, did, net, scopes, expires, message };
    this.#challenges.set(nonce, challenge);
    return challenge;
  }

  /** The outstanding challenge of `nonce` (the device flow shows it to the terminal). */
  pending(nonce: string): Challenge {
    this.#sweep();
    const challenge = this.#challenges.get(nonce);
    if (!challenge) {
      throw new GatewayError(
        401,
        "unknown_nonce",
        "Unknown or expired sign-in nonce: ask for a new challenge",
      );
    }
    return challenge;
  }

  /** Device flow: records that the challenge's DID signed it (verified now). */
  async approve(nonce: string, signature: string): Promise<Challenge> {
    const challenge = this.pending(nonce);
    await this.#verify(challenge, signature);
    challenge.approved = true;
    return challenge;
  }

  /**
   * Redeems a challenge for a token: with the DID's signature, or without one once approved by
   * the device flow. The nonce is spent either way once it verifies; a wrong signature leaves it.
   */
  async token(
    request: { did: string; nonce: string; signature?: string; scopes?: readonly string[] },
  ): Promise<{ token: string; did: string; net: string; scopes: Scope[]; expires: number }> {
    const challenge = this.pending(request.nonce);
    if (challenge.did !== request.did) {
      throw new GatewayError(401, "nonce_mismatch", "This nonce was issued to another DID");
    }
    const scopes = request.scopes ? checkScopes(request.scopes) : challenge.scopes;
    const extra = scopes.filter((s) => !challenge.scopes.includes(s));
    if (extra.length > 0) {
      throw new GatewayError(
        403,
        "scope_not_signed",
        `Scope ${extra.join(", ")} was not in the signed challenge (${
          challenge.scopes.join(", ")
        })`,
      );
    }
    if (request.signature !== undefined) await this.#verify(challenge, request.signature);
    else if (!challenge.approved) {
      throw new GatewayError(
        401,
        "not_approved",
        "This challenge is not signed yet: sign it (`icn id login URL`) or send its signature",
      );
    }
    // Single use: spent before the token exists, so two concurrent redemptions cannot both win.
    if (!this.#challenges.delete(challenge.nonce)) {
      throw new GatewayError(401, "unknown_nonce", "This nonce was already used");
    }
    const { clock, node } = this.#components;
    const { net } = challenge;
    const now = Math.floor(clock.now() / 1000);
    const expires = now + this.#ttlSeconds;
    const token = await new SignJWT({ net, scp: scopes.join(" ") })
      .setProtectedHeader({ alg: "EdDSA", kid: this.kid, typ: "JWT" })
      .setIssuer(node.did)
      .setSubject(challenge.did)
      .setAudience(net)
      .setIssuedAt(now)
      .setExpirationTime(expires)
      .setJti(base64Url(this.#components.rng.bytes(16)))
      .sign(node.ed25519.privateKey);
    return { token, did: challenge.did, net, scopes, expires: expires * 1000 };
  }

  /**
   * The caller of an `Authorization: Bearer` header, or a 401 saying what is wrong. A token of a
   * network the node no longer serves is `wrong_network`; which network a request may reach with
   * the token is the app's check (`Caller.net`).
   */
  async verify(header: string | undefined): Promise<Caller> {
    if (!header || !header.startsWith("Bearer ")) {
      throw new GatewayError(
        401,
        "missing_token",
        "Sign in first: send Authorization: Bearer TOKEN",
      );
    }
    const token = header.slice(7).trim();
    if (token.length === 0 || token.length > tokenLengthMax) {
      throw new GatewayError(401, "invalid_token", "The token is empty or too long");
    }
    const known = this.#verified.get(token);
    if (known) {
      if (known.expires > this.#components.clock.now()) {
        this.#stillServed(known.caller.net);
        return known.caller;
      }
      this.#verified.delete(token);
    }
    let kid: unknown;
    try {
      kid = JSON.parse(new TextDecoder().decode(fromBase64Url(token.split(".")[0]))).kid;
    } catch {
      throw new GatewayError(401, "invalid_token", "The token is not a JWT");
    }
    if (kid !== this.kid) {
      throw new GatewayError(
        401,
        "token_key_rotated",
        "The token was signed by a node key that is not this node's current key (the node's key rotated, or another node issued it): sign in again",
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.#verifyKey(), {
        algorithms: ["EdDSA"],
        issuer: this.#components.node.did,
        currentDate: new Date(this.#components.clock.now()),
      }));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_JWT_EXPIRED") {
        throw new GatewayError(401, "token_expired", "The token has expired: sign in again");
      }
      throw new GatewayError(401, "invalid_token", "The token's signature or claims do not verify");
    }
    const net = payload.net;
    if (typeof net !== "string" || payload.aud !== net) {
      throw new GatewayError(401, "invalid_token", "The token lacks its network");
    }
    this.#stillServed(net);
    const did = payload.sub;
    const scopeText = payload.scp;
    if (typeof did !== "string" || typeof scopeText !== "string") {
      throw new GatewayError(401, "invalid_token", "The token lacks its subject or scopes");
    }
    const scopes = scopeText.split(" ").filter((s) => s.length > 0);
    const caller = { did, scopes: new Set(checkScopes(scopes)), net };
    // A verified token stays valid until it expires: kept, its signature is not checked again.
    if (this.#verified.size >= verifiedTokensMax) this.#verified.clear();
    this.#verified.set(token, { caller, expires: (payload.exp ?? 0) * 1000 });
    return caller;
  }

  /** A token's network must still be one members may sign in to here. */
  #stillServed(net: string): void {
    const { storeOf, net: home } = this.#components;
    if (storeOf ? storeOf(net) !== undefined : net === home) return;
    throw new GatewayError(
      401,
      "wrong_network",
      `The token is for network ${net}, which this gateway does not serve (it serves ${home}): sign in to a network it serves`,
    );
  }

  async #verify(challenge: Challenge, signature: string): Promise<void> {
    const store = this.storeOf(challenge.net);
    const record = (await store.get<IdentityRecord>(identityKey(challenge.did)))?.value;
    if (!record) {
      throw new GatewayError(
        401,
        "unknown_identity",
        `This node does not know the key event log of ${challenge.did}`,
      );
    }
    let sig: Uint8Array;
    try {
      sig = fromBase64(signature);
    } catch {
      throw new GatewayError(400, "invalid_signature", "The signature is not base64");
    }
    const ok = await verifyEd25519(
      record.keys.ed25519,
      new TextEncoder().encode(challenge.message),
      sig,
    );
    if (!ok) {
      throw new GatewayError(
        401,
        "invalid_signature",
        `The signature does not verify with the current key of ${challenge.did}`,
      );
    }
  }

  async #verifyKey(): Promise<CryptoKey> {
    this.#publicKey ??= await importJWK({
      kty: "OKP",
      crv: "Ed25519",
      x: base64Url(this.#components.node.ed25519.publicKey),
    }, "EdDSA") as CryptoKey;
    return this.#publicKey;
  }

  #sweep(): void {
    const now = this.#components.clock.now();
    for (const [nonce, challenge] of this.#challenges) {
      if (challenge.expires > now) break;
      this.#challenges.delete(nonce);
    }
  }
}

function fromBase64Url(text: string): Uint8Array {
  const standard = text.replaceAll("-", "+").replaceAll("_", "/");
  return fromBase64(standard + "=".repeat((4 - standard.length % 4) % 4));
}
