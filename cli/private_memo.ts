/**
 * Private memos (`icn ledger transfer --private-memo TEXT`): the memo travels
 * in the transfer's ordinary `memo` field as `icn-private-memo:v1:` followed by
 * the base64 of an age file encrypted to the payer and the payee (one X25519
 * stanza each, from their replayed key event logs). Every node validates the
 * transfer as usual (the memo is opaque text within the 1 KiB memo limit);
 * only the two parties can read it. Hybrid stanzas are not used here: one is
 * 1.5 KiB, over the memo limit by itself, so a private memo is protected by
 * X25519 only (documented in docs/identity.md).
 */
import { fromBase64, toBase64 } from "../core/bytes.ts";
import { InvalidInputError, KeystoreError } from "../core/errors.ts";
import {
  isPrivateMemo,
  privateMemoPrefix,
  privateMemoShown,
  publicMemo,
} from "../core/ledger/private_memo.ts";
import { memoBytesMax } from "../core/ledger/rules.ts";
import type { CliContext } from "./context.ts";
import type { KeystoreSecrets } from "./keystore.ts";

export { isPrivateMemo, privateMemoPrefix, privateMemoShown, publicMemo };

/**
 * Encrypts `text` to the payer and the payee (both must have a verifiable key
 * event log here) and returns the memo field's value. Refused when the result
 * does not fit the memo limit, naming how long the text may be.
 */
export async function sealPrivateMemo(
  ctx: CliContext,
  text: string,
  parties: readonly [string, string],
): Promise<string> {
  if (text.length === 0) throw new InvalidInputError("Cannot send an empty --private-memo");
  // age and its post-quantum code load only when a memo is sealed or opened, not for every history.
  const { encryptTo, recipientOfDid } = await import("./id_encrypt.ts");
  const recipients = [];
  for (const did of new Set(parties)) {
    recipients.push(await recipientOfDid(ctx, did, { classicalOnly: true }));
  }
  const plaintext = new TextEncoder().encode(text);
  const sealed = privateMemoPrefix + toBase64(await encryptTo(recipients, plaintext));
  if (sealed.length > memoBytesMax) {
    const overhead = sealed.length - Math.ceil(plaintext.length / 3) * 4;
    const room = Math.max(0, Math.floor((memoBytesMax - overhead) / 4) * 3);
    throw new InvalidInputError(
      `Cannot send this --private-memo: ${plaintext.length} bytes, encrypted it would be ${sealed.length} of the memo's ${memoBytesMax}; a private memo holds about ${room} bytes`,
    );
  }
  return sealed;
}

/** The plaintext of a private memo for the holder of `secrets`, or null if it is not for them. */
export async function openPrivateMemo(
  secrets: KeystoreSecrets,
  memo: string,
): Promise<string | null> {
  if (!isPrivateMemo(memo)) return memo;
  const { decryptWith } = await import("./id_encrypt.ts");
  try {
    const { plaintext } = await decryptWith(
      secrets,
      fromBase64(memo.slice(privateMemoPrefix.length)),
      "private memo",
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(plaintext);
  } catch {
    return null;
  }
}

/**
 * Replaces the private memos of `rows` in place: with their plaintext where this
 * data dir's identity is the payer or the payee (the keystore is unlocked once,
 * only if there is such a memo), with `(private)` everywhere else. Returns a
 * warning when memos for this identity stay hidden because no passphrase was at
 * hand (no terminal and no ICN_PASSPHRASE / --passphrase-file).
 */
export async function revealPrivateMemos(
  ctx: CliContext,
  rows: { from: string; to: string; memo: string }[],
): Promise<string[]> {
  const mine = (await ctx.readPublicIdentity().catch(() => null))?.did;
  const ours = rows.filter((r) =>
    isPrivateMemo(r.memo) && mine && (r.from === mine || r.to === mine)
  );
  let secrets: KeystoreSecrets | null = null;
  const warnings: string[] = [];
  if (ours.length > 0) {
    try {
      secrets = (await ctx.unlock()).secrets;
    } catch (error) {
      if (!(error instanceof KeystoreError)) throw error;
      warnings.push(
        `${ours.length} private memo(s) to or from you are shown as ${privateMemoShown}: ${error.message}`,
      );
    }
  }
  for (const row of rows) {
    if (!isPrivateMemo(row.memo)) continue;
    const opened = secrets && ours.includes(row) ? await openPrivateMemo(secrets, row.memo) : null;
    row.memo = opened ?? privateMemoShown;
  }
  return warnings;
}

/**
 * The memo field of `icn ledger transfer --private-memo TEXT`: TEXT sealed to the payer and
 * the payee. Refused beside `--memo`. A retry with the same `--id` reuses the private memo
 * already recorded under that id, so idempotency compares the rest of the transfer (a new
 * sealing would differ byte for byte); the memo's text is not compared.
 */
export async function sealTransferMemo(
  ctx: CliContext,
  options: { to: string; memo?: string; privateMemo?: string; id?: string },
): Promise<string> {
  if (options.memo !== undefined) {
    throw new InvalidInputError("Cannot use --memo and --private-memo together: choose one");
  }
  const { resolveDid } = await import("./contacts.ts");
  const to = await resolveDid(ctx, options.to, { what: "--to" });
  const me = (await ctx.readPublicIdentity()).did;
  if (options.id !== undefined) {
    const { ledgerKeys } = await import("../core/ledger/keys.ts");
    const store = await ctx.store();
    const existing = (await store.get<{ memo?: string }>(ledgerKeys.transferId(me, options.id)))
      ?.value;
    if (existing?.memo !== undefined && isPrivateMemo(existing.memo)) return existing.memo;
  }
  return await sealPrivateMemo(ctx, options.privateMemo ?? "", [me, to]);
}
