/**
 * Backups held by trustees (`icn id backup --to DID … --threshold M`,
 * `icn id share-open`, `icn id restore BUNDLE --share FILE …`).
 *
 * The backup archive (the same one `icn id backup` writes: keystore secrets,
 * public identity, key event log) is age-encrypted to a one-time X25519 key,
 * the backup key. Its 32-byte secret is split with Shamir's secret sharing
 * (shamir-secret-sharing, GF(2^8), audited by Cure53 and Zellic) into one
 * share per trustee, any M of which rebuild it; each share is age-encrypted to
 * its trustee's DID (hybrid when the trustee has ML-KEM-768 keys). All of it
 * is one JSON file, the bundle. A trustee opens their own share with
 * `share-open` and hands it to the owner; M opened shares rebuild the backup
 * key, which must match the bundle's recorded recipient before anything is
 * decrypted. Fewer than M shares are refused before any combining. Shares are
 * bound to their bundle (the backup key's recipient) so shares of different
 * bundles are not mixed.
 */
import * as age from "age-encryption";
import { combine, split } from "shamir-secret-sharing";
import { fromBase64, toBase64 } from "../core/bytes.ts";
import { InvalidInputError, RejectedError, shown } from "../core/errors.ts";
import {
  ageX25519Identity,
  ageX25519Recipient,
  x25519PublicOf,
} from "../core/identity/age_keys.ts";
import {
  array,
  base64,
  checkShape,
  did,
  integer,
  isPlainMap,
  literal,
  parseJsonStrict,
  record,
  string,
  timestamp,
} from "../core/strict.ts";
import type { CliContext } from "./context.ts";
import { pathExists, readInputFile, writeFileAtomic } from "./files.ts";
import { decryptWith, encryptTo, recipientsOfDids } from "./id_encrypt.ts";
import type { CommandResult } from "./output.ts";

export const trusteeBundleFormat = "icn-trustee-backup";
const shareFormat = "icn-trustee-share";
/** Most trustees of one backup (Shamir over GF(2^8) allows 255; each adds a stanza-sized entry). */
export const backupTrusteesMax = 20;
/** Largest bundle read (the archive is bounded like a backup, base64 adds a third). */
const bundleBytesMax = 96 * 1024 * 1024;
/** An opened share file is a few hundred bytes. */
const shareFileBytesMax = 16 * 1024;

const bundleShape = record({
  format: literal(trusteeBundleFormat),
  v: literal(1),
  did,
  created: timestamp,
  threshold: integer({ min: 2, max: backupTrusteesMax }),
  recipient: string({ max: 128 }),
  shares: array(
    record({
      trustee: did,
      index: integer({ min: 1, max: backupTrusteesMax }),
      stanza: string({ max: 32 }),
      file: base64({ max: 16 * 1024 }),
    }),
    { min: 2, max: backupTrusteesMax },
  ),
  archive: base64({ max: bundleBytesMax }),
});

interface TrusteeBundle {
  format: typeof trusteeBundleFormat;
  v: 1;
  /** The backed-up identity. */
  did: string;
  created: number;
  threshold: number;
  /** The backup key's age recipient: what M shares must rebuild. */
  recipient: string;
  shares: { trustee: string; index: number; stanza: string; file: string }[];
  /** The backup archive, age-encrypted to the backup key, base64. */
  archive: string;
}

const shareShape = record({
  format: literal(shareFormat),
  v: literal(1),
  did,
  trustee: did,
  recipient: string({ max: 128 }),
  index: integer({ min: 1, max: backupTrusteesMax }),
  threshold: integer({ min: 2, max: backupTrusteesMax }),
  of: integer({ min: 2, max: backupTrusteesMax }),
  share: base64({ length: 33 }),
});

interface OpenedShare {
  format: typeof shareFormat;
  v: 1;
  /** The backed-up identity. */
  did: string;
  trustee: string;
  /** The bundle's backup-key recipient (binds the share to its bundle). */
  recipient: string;
  index: number;
  threshold: number;
  of: number;
  /** The Shamir share, base64 (32 bytes and the x coordinate). */
  share: string;
}

/**
 * Builds a trustee bundle of `archiveText` (a backup archive) for `trustees`, any
 * `threshold` of whom can restore it. Refuses the owner as a trustee, unknown or
 * unverifiable trustees (see `recipientOfDid`), and a threshold outside 2..N.
 */
export async function trusteeBundle(
  ctx: CliContext,
  owner: string,
  archiveText: string,
  trusteeTexts: readonly string[],
  threshold: number,
): Promise<{ bytes: Uint8Array; trustees: { did: string; stanza: string }[] }> {
  const recipients = await recipientsOfDids(ctx, trusteeTexts, "--to");
  if (recipients.some((r) => r.did === owner)) {
    throw new InvalidInputError(
      "Cannot name yourself as a backup trustee: your share would be lost with your keys",
    );
  }
  const n = recipients.length;
  if (n < 2 || n > backupTrusteesMax) {
    throw new InvalidInputError(
      `Cannot back up to ${n} trustee(s): name 2 to ${backupTrusteesMax} with --to`,
    );
  }
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > n) {
    throw new InvalidInputError(
      `Cannot use --threshold ${threshold}: it must be a whole number from 2 to the number of trustees (${n}); with 1, any single trustee could restore your keys alone`,
    );
  }
  const backupKey = ctx.rng.bytes(32);
  const recipient = ageX25519Recipient(x25519PublicOf(backupKey));
  const encrypter = new age.Encrypter();
  encrypter.addRecipient(recipient);
  const archive = await encrypter.encrypt(archiveText);
  const shares = await split(backupKey, n, threshold);
  backupKey.fill(0);
  const entries: TrusteeBundle["shares"] = [];
  for (const [i, r] of recipients.entries()) {
    const opened: OpenedShare = {
      format: shareFormat,
      v: 1,
      did: owner,
      trustee: r.did,
      recipient,
      index: i + 1,
      threshold,
      of: n,
      share: toBase64(shares[i]),
    };
    const file = await encryptTo([r], new TextEncoder().encode(JSON.stringify(opened)));
    entries.push({ trustee: r.did, index: i + 1, stanza: r.stanza, file: toBase64(file) });
  }
  const bundle: TrusteeBundle = {
    format: trusteeBundleFormat,
    v: 1,
    did: owner,
    created: ctx.clock.now(),
    threshold,
    recipient,
    shares: entries,
    archive: toBase64(archive),
  };
  return {
    bytes: new TextEncoder().encode(JSON.stringify(bundle, null, 1) + "\n"),
    trustees: recipients.map((r) => ({ did: r.did, stanza: r.stanza })),
  };
}

/** Whether `bytes` look like a trustee bundle (JSON) rather than a passphrase backup (age). */
export function isTrusteeBundle(bytes: Uint8Array): boolean {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 256));
  return head.trimStart().startsWith("{") && head.includes(trusteeBundleFormat);
}

function parseBundle(bytes: Uint8Array, path: string): TrusteeBundle {
  const value = parseJsonStrict(bytes, (v) => v, {
    what: `trustee backup ${path}`,
    bytesMax: bundleBytesMax,
  });
  if (!isPlainMap(value) || value.format !== trusteeBundleFormat) {
    throw new InvalidInputError(`Cannot open ${path}: it is not an icn trustee backup`);
  }
  checkShape(bundleShape, value, { what: `trustee backup ${path}` });
  const bundle = value as unknown as TrusteeBundle;
  if (bundle.threshold > bundle.shares.length) {
    throw new InvalidInputError(
      `Cannot open ${path}: its threshold is above its number of shares`,
    );
  }
  return bundle;
}

async function readBundle(path: string): Promise<TrusteeBundle> {
  return parseBundle(
    await readInputFile(path, "trustee backup", { bytesMax: bundleBytesMax }),
    path,
  );
}

/** `id share-open`'s options. */
export interface ShareOpenOptions {
  out?: string;
}

/**
 * `icn id share-open BUNDLE [--out FILE]`, run by a trustee: decrypts
 * the share the bundle holds for this identity and writes it (mode 0600) for
 * the owner. One share reveals nothing about the backup key.
 */
export async function shareOpen(
  ctx: CliContext,
  args: string[],
  options: ShareOpenOptions,
): Promise<CommandResult> {
  const [path] = args;
  const bundle = await readBundle(path);
  const { did: me } = await ctx.readPublicIdentity();
  const entry = bundle.shares.find((s) => s.trustee === me);
  if (!entry) {
    throw new RejectedError(
      "not_a_trustee",
      `Cannot open a share of ${path}: ${me} is not one of its ${bundle.shares.length} trustees`,
    );
  }
  const out = options.out ?? `${path}.share-${entry.index}`;
  if (await pathExists(out)) {
    throw new InvalidInputError(`Cannot write "${out}": it exists; choose another --out`);
  }
  const unlocked = await ctx.unlock();
  const { plaintext } = await decryptWith(
    unlocked.secrets,
    fromBase64(entry.file),
    `share ${entry.index} of ${path}`,
  );
  const share = parseShare(plaintext, `share ${entry.index} of ${path}`);
  if (
    share.did !== bundle.did || share.trustee !== me || share.recipient !== bundle.recipient ||
    share.index !== entry.index || share.threshold !== bundle.threshold
  ) {
    throw new RejectedError(
      "bad_share",
      `Cannot open a share of ${path}: the share inside does not match the bundle (it was altered)`,
    );
  }
  await writeFileAtomic(out, plaintext, 0o600);
  return {
    data: {
      file: path,
      out,
      did: bundle.did,
      trustee: me,
      index: share.index,
      threshold: share.threshold,
    },
    text: [
      `Opened share ${share.index} of ${share.of} of the backup of ${bundle.did}: ${out} (mode 0600)`,
      `  give it to ${bundle.did} over a private channel; ${share.threshold} shares restore the backup, fewer reveal nothing`,
    ],
  };
}

function parseShare(bytes: Uint8Array, name: string): OpenedShare {
  const value = parseJsonStrict(bytes, (v) => v, { what: name, bytesMax: shareFileBytesMax });
  if (!isPlainMap(value) || value.format !== shareFormat) {
    throw new InvalidInputError(`Cannot use ${name}: it is not an opened icn backup share`);
  }
  checkShape(shareShape, value, { what: name });
  return value as unknown as OpenedShare;
}

/**
 * Rebuilds the backup key of the bundle at `path` from opened share files and
 * decrypts its archive. Refused with fewer distinct shares than the threshold
 * (before combining), with shares of another bundle, and when the shares do not
 * rebuild the key the bundle recorded (a damaged or forged share).
 */
export async function openWithShares(
  path: string,
  bytes: Uint8Array,
  shareFiles: readonly string[],
): Promise<{ did: string; text: string; threshold: number; used: number }> {
  const bundle = parseBundle(bytes, path);
  const byIndex = new Map<number, OpenedShare>();
  for (const file of shareFiles) {
    const share = parseShare(
      await readInputFile(file, "share", { bytesMax: shareFileBytesMax }),
      `share ${file}`,
    );
    if (share.did !== bundle.did || share.recipient !== bundle.recipient) {
      throw new RejectedError(
        "bad_share",
        `Cannot use share ${file}: it belongs to another backup${
          share.did !== bundle.did ? ` (of ${share.did})` : ""
        }`,
      );
    }
    byIndex.set(share.index, share);
  }
  if (byIndex.size < bundle.threshold) {
    throw new RejectedError(
      "too_few_shares",
      `Cannot restore from ${path}: it needs ${bundle.threshold} different trustees' shares, ${byIndex.size} given (each trustee runs \`icn id share-open ${path}\`)`,
    );
  }
  let key: Uint8Array;
  try {
    key = await combine([...byIndex.values()].map((s) => fromBase64(s.share)));
  } catch (error) {
    throw new RejectedError(
      "bad_share",
      `Cannot restore from ${path}: the shares do not combine (${
        shown((error as Error).message, 100)
      })`,
    );
  }
  if (key.length !== 32 || ageX25519Recipient(x25519PublicOf(key)) !== bundle.recipient) {
    throw new RejectedError(
      "bad_share",
      `Cannot restore from ${path}: the shares do not rebuild its backup key (one of them is damaged or forged)`,
    );
  }
  const decrypter = new age.Decrypter();
  decrypter.addIdentity(ageX25519Identity(key));
  key.fill(0);
  let text: string;
  try {
    text = await decrypter.decrypt(fromBase64(bundle.archive), "text");
  } catch (error) {
    throw new InvalidInputError(
      `Cannot restore from ${path}: its archive is truncated or tampered with (${
        shown((error as Error).message, 100)
      })`,
    );
  }
  return { did: bundle.did, text, threshold: bundle.threshold, used: byIndex.size };
}
