/**
 * `icn id login URL`: signs an app gateway's sign-in challenge with this data dir's identity
 * (docs/gateway.md, "Sign-in"). Given a challenge URL that a dashboard shows
 * (`…/api/v1/auth/challenge/NONCE`, the device flow), it checks the challenge names this
 * identity, signs it and approves it, and the browser redeems it. Given the gateway's base URL,
 * it signs in the terminal itself and prints the token.
 */
import { toBase64, utf8Encode } from "../core/bytes.ts";
import { IcnError, InvalidInputError, RejectedError } from "../core/errors.ts";
import { isPlainMap } from "../core/strict.ts";
import type { CliContext } from "./context.ts";
import type { CommandResult } from "./output.ts";

export interface LoginOptions {
  scope?: string[];
}

/** First line of every gateway sign-in text (net/gateway/auth.ts `signInDomain`). */
const signInDomain = "icn gateway sign-in v1";
/** How long one call to the gateway may take. */
const gatewayTimeoutMs = 15_000;
const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

async function call(url: string, body?: unknown): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(gatewayTimeoutMs),
    });
  } catch (error) {
    throw new IcnError("gateway_unreachable", `Cannot reach ${url}: ${(error as Error).message}`);
  }
  const { readControlReply, controlError } = await import("../net/control.ts");
  const value = await readControlReply(response);
  if (!response.ok) {
    const error = controlError(value);
    throw new RejectedError(
      error.code ?? "gateway_error",
      `The gateway refused: ${error.message ?? `HTTP ${response.status}`}`,
    );
  }
  if (!isPlainMap(value)) throw new InvalidInputError(`The gateway's answer to ${url} is not JSON`);
  return value;
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidInputError(`Cannot use "${text.slice(0, 200)}": not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidInputError(`Cannot use "${text.slice(0, 200)}": not an http or https URL`);
  }
  return url;
}

async function sign(ctx: CliContext, message: string): Promise<{ did: string; signature: string }> {
  const { did, signer } = await ctx.unlockForSigning();
  const sigs = await signer.sign(utf8Encode(message));
  const ed = sigs.find((s) => s.alg === "ed25519");
  if (!ed) throw new IcnError("no_ed25519", "This identity produced no Ed25519 signature");
  return { did, signature: toBase64(ed.sig) };
}

function checkChallenge(
  value: Record<string, unknown>,
  did: string,
): { nonce: string; message: string; scopes: string[]; net: string } {
  const { nonce, message, scopes, net } = value;
  if (
    typeof nonce !== "string" || typeof message !== "string" || typeof net !== "string" ||
    !Array.isArray(scopes) || scopes.some((s) => typeof s !== "string")
  ) {
    throw new InvalidInputError("The gateway's challenge is malformed");
  }
  const lines = message.split("\n");
  if (lines[0] !== signInDomain || !lines.includes(`nonce: ${nonce}`)) {
    throw new InvalidInputError("The challenge text is not an icn gateway sign-in: not signed");
  }
  if (!lines.includes(`did: ${did}`)) {
    throw new InvalidInputError(
      `The challenge is for another identity than this data dir's (${did}): not signed`,
    );
  }
  return { nonce, message, scopes: scopes as string[], net };
}

export async function login(
  ctx: CliContext,
  args: string[],
  options: LoginOptions,
): Promise<CommandResult> {
  const url = parseUrl(args[0]);
  const scopes = options.scope ?? ["read"];
  const { scopes: known } = await import("../net/gateway/schemas.ts");
  const unknown = scopes.filter((s) => !(known as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `Unknown scope ${unknown.map((s) => JSON.stringify(s)).join(", ")}: use ${known.join(", ")}`,
    );
  }
  const warnings = url.protocol === "http:" && !loopback.test(url.hostname)
    ? [`${url.origin} is plain HTTP on another machine: the signature and token travel unencrypted`]
    : [];
  const { did } = await ctx.readPublicIdentity();
  const device = /^(.*\/api\/v1)\/auth\/challenge\/([A-Za-z0-9_-]{1,128})\/?$/.exec(url.pathname);
  if (device) {
    const base = `${url.origin}${device[1]}`;
    const challenge = checkChallenge(await call(`${base}/auth/challenge/${device[2]}`), did);
    const signed = await sign(ctx, challenge.message);
    await call(`${base}/auth/challenge/${challenge.nonce}/approve`, signed);
    return {
      data: { approved: true, did, net: challenge.net, scopes: challenge.scopes },
      warnings,
      text: `Approved the sign-in of ${did} (scopes ${
        challenge.scopes.join(", ")
      }): the browser continues`,
    };
  }
  const base = `${url.origin}${url.pathname.replace(/\/+$/, "").replace(/\/api\/v1$/, "")}/api/v1`;
  // `?net=ID` on the URL signs in to that network of the node (docs/gateway.md).
  const challenge = checkChallenge(
    await call(`${base}/auth/challenge${url.search}`, { did, scopes }),
    did,
  );
  const signed = await sign(ctx, challenge.message);
  const token = await call(`${base}/auth/token`, { ...signed, nonce: challenge.nonce });
  return {
    data: token,
    warnings,
    text: String(token.token),
  };
}
