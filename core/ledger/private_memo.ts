/**
 * How a private memo looks on the ledger, and what anyone without the keys is shown instead.
 *
 * `icn ledger transfer --private-memo TEXT` (cli/private_memo.ts) puts `icn-private-memo:v1:`
 * followed by the base64 of an age file, encrypted to the payer and the payee, into the
 * transfer's ordinary `memo` field. Only those two can open it, and only with their keystore:
 * the CLI decrypts locally. Every other view (exports, the app gateway's history and event
 * stream) shows `(private)` and never the sealed string, because a private memo is sealed with
 * X25519 only (a post-quantum stanza does not fit the memo limit): handing the ciphertext to
 * any reader would let it be stored now and opened by a quantum computer later.
 */

export const privateMemoPrefix = "icn-private-memo:v1:";

/** What is shown instead of a private memo to anyone who does not decrypt it. */
export const privateMemoShown = "(private)";

/** Whether a transfer's memo is a private memo. */
export function isPrivateMemo(memo: string): boolean {
  return memo.startsWith(privateMemoPrefix);
}

/** A memo as anyone may see it without keys: a private one is `(private)`. */
export function publicMemo(memo: string): string {
  return isPrivateMemo(memo) ? privateMemoShown : memo;
}

/**
 * An envelope body with a private memo replaced by `(private)` (a new object; `body` is not
 * changed), or `body` itself when it has none. For views that pass envelope bodies on whole,
 * as the gateway's event stream does: ledger transfers and pending transfers carry `memo`.
 */
export function withPublicMemo(body: unknown): { body: unknown; memoPrivate: boolean } {
  if (
    typeof body !== "object" || body === null || Array.isArray(body) ||
    !("memo" in body) || typeof body.memo !== "string" || !isPrivateMemo(body.memo)
  ) return { body, memoPrivate: false };
  return { body: { ...body, memo: privateMemoShown }, memoPrivate: true };
}
