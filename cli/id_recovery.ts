/** `icn id recovery setup | request | attest | start | cancel | finalize | status`. */
import { namingFile, pathExists, readInputFile, writeFileAtomic } from "./files.ts";
import { basename } from "node:path";
import { fromBase64, toBase64, toHex } from "../core/bytes.ts";
import {
  AlreadyExistsError,
  InvalidInputError,
  NotFoundError,
  RejectedError,
} from "../core/errors.ts";
import { catchUpAdvice, markCatchUp } from "../core/identity/catch_up.ts";
import { parseDid, shortDid } from "../core/identity/did.ts";
import { identityKey, type IdentityRecord, nextKeysDigest } from "../core/identity/kel.ts";
import {
  createAttestation,
  createRecoveryRequest,
  decodeAttestation,
  decodeRecoveryRequest,
  recoveryFileBytesMax,
  requestDigest,
} from "../core/identity/recovery.ts";
import { createSigner } from "../core/identity/signer.ts";
import { ed25519FromSeed, mlDsa65FromSeed } from "../core/identity/keys.ts";
import { formatDuration } from "../core/params.ts";
import { resolveDid } from "./contacts.ts";
import type { CliContext, UnlockedIdentity } from "./context.ts";
import { recoveryValidityMsDefault } from "./args.ts";
import { freshSeeds } from "./id.ts";
import { requireRecord, unlockMatching } from "./id_lifecycle.ts";
import { type KeystoreSecrets, writeKeystoreFile } from "./keystore.ts";
import type { CommandResult } from "./output.ts";
import { publicIdentityOf, publicKeysOf, writePublicIdentityFile } from "./public_identity.ts";

/** Reads a request or attestation file, refusing one over the limit before reading it. */
function readSmallFile(path: string, what: string): Promise<Uint8Array> {
  return readInputFile(path, what, { bytesMax: recoveryFileBytesMax });
}

/**
 * The key event log record of `did`, or a refusal that says how to bring it here: a recovery
 * in a fresh data dir starts without the logs it needs (the DID's and its trustees').
 */
async function knownRecord(ctx: CliContext, did: string, doing: string): Promise<IdentityRecord> {
  const record = (await (await ctx.store()).get<IdentityRecord>(identityKey(did)))?.value;
  if (record) return record;
  throw new NotFoundError(
    `Cannot ${doing}: this data dir does not hold the key event log of "${did}"; import it from a trustee or any member (\`icn node export --out FILE\` there, \`icn node import FILE\` here, no join needed), or join the network and run \`icn node run\` until it has synced`,
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `id recovery setup`'s options, parsed where they are declared (cli/id_commands.ts). */
export interface SetupOptions {
  trustee: string[];
  /** Checked here: its bound is the number of trustees. */
  threshold: string;
  delay: number;
}

export interface RequestOptions {
  did: string;
  out?: string;
  expires?: number;
  pq?: boolean;
  force?: boolean;
}

export interface AttestOptions {
  out?: string;
  expires?: number;
}

export interface StatusOptions {
  did?: string;
}

export async function setup(
  ctx: CliContext,
  _args: string[],
  options: SetupOptions,
): Promise<CommandResult> {
  const trustees: string[] = [];
  for (const trustee of options.trustee) {
    // A contact name or a unique prefix becomes the full DID that is signed.
    trustees.push(await resolveDid(ctx, trustee, { what: "trustee" }));
  }
  if (new Set(trustees).size !== trustees.length) {
    throw new InvalidInputError("Cannot set up recovery: a trustee is named twice");
  }
  const threshold = Number(options.threshold);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > trustees.length) {
    throw new InvalidInputError(
      `Cannot set up recovery with threshold "${options.threshold}": use a whole number from 1 to ${trustees.length}`,
    );
  }
  const delayMs = options.delay;
  const { unlocked } = await unlockMatching(ctx);
  if (trustees.includes(unlocked.did)) {
    throw new InvalidInputError("Cannot name yourself as your own recovery trustee");
  }
  const store = await ctx.store();
  const warnings: string[] = [];
  for (const trustee of trustees) {
    if (!(await store.get(identityKey(trustee)))) {
      warnings.push(
        `Trustee ${trustee} has no key event log here yet; its attestations need it (icn node import)`,
      );
    }
  }
  const sealed = await ctx.appendKelOrThrow(unlocked.signer, {
    kind: "id.recovery-setup",
    body: {
      trustees,
      threshold,
      delayMs,
    },
  });
  return {
    data: { did: unlocked.did, trustees, threshold, delayMs, seq: sealed.envelope.seq },
    text: `Recovery of ${unlocked.did}: ${threshold} of ${trustees.length} trustees, delay ${
      formatDuration(delayMs)
    } (KEL seq ${sealed.envelope.seq})`,
    warnings,
  };
}

export async function request(
  ctx: CliContext,
  _args: string[],
  options: RequestOptions,
): Promise<CommandResult> {
  const { did } = options;
  try {
    parseDid(did);
  } catch (error) {
    throw new InvalidInputError(`Cannot request recovery of "${did}": ${(error as Error).message}`);
  }
  const expiresMs = options.expires ?? recoveryValidityMsDefault;
  if (
    ((await pathExists(ctx.keystorePath)) || (await pathExists(ctx.publicIdentityPath))) &&
    options.force !== true
  ) {
    throw new AlreadyExistsError(
      `Cannot create recovery keys in ${ctx.dataDir}: it already holds an identity; use an empty data dir or --force`,
    );
  }
  // Nothing is created before the request file is written: a store is read only if one exists.
  const known = (await ctx.storeExists())
    ? (await (await ctx.store()).get<IdentityRecord>(identityKey(did)))?.value
    : undefined;
  const pq = options.pq === true || !!known?.keys.mlDsa65;
  const passphrase = await ctx.newPassphrase();
  const current = freshSeeds(ctx, pq);
  const next = freshSeeds(ctx, pq);
  const keys = await publicKeysOf(current);
  const signer = createSigner(
    did,
    await ed25519FromSeed(fromBase64(current.ed25519)),
    current.mlDsa65 ? await mlDsa65FromSeed(fromBase64(current.mlDsa65)) : undefined,
  );
  const now = ctx.clock.now();
  const bytes = await createRecoveryRequest({
    did,
    keys,
    next: await nextKeysDigest(await publicKeysOf(next)),
    created: now,
    expires: now + expiresMs,
  }, (message) => signer.sign(message));
  const out = options.out ?? "recovery-request.cbor";
  const secrets: KeystoreSecrets = {
    v: 1,
    did,
    created: known?.created ?? now,
    ...current,
    next,
    extra: { recoveryRequest: toBase64(bytes) },
  };
  // The request file first: a refused --out (a directory, a full disk) leaves no new keys behind.
  await writeFileAtomic(out, bytes, 0o644);
  await ctx.ensureDataDir();
  await writeKeystoreFile(ctx.keystorePath, secrets, passphrase);
  await writePublicIdentityFile(
    ctx.publicIdentityPath,
    publicIdentityOf(secrets, keys, known?.seq ?? -1),
  );
  const digest = toHex(await requestDigest(bytes));
  return {
    data: { did, request: out, digest, expires: now + expiresMs, pq },
    text: [
      `Created new keys for ${did} in ${ctx.dataDir} and the recovery request ${out}`,
      `  request ${digest.slice(0, 16)}, valid until ${iso(now + expiresMs)}`,
      `  send it to your trustees (icn id recovery attest ${basename(out)}), then run`,
      `  icn id recovery start ATTESTATION... with their attestations`,
      ...(known ? [] : [
        `  this data dir does not hold ${shortDid(did)}'s key event log yet: before \`start\`,`,
        "  import a bundle from a trustee or any member (`icn node import FILE`, no join needed)",
      ]),
    ],
  };
}

export async function attest(
  ctx: CliContext,
  args: string[],
  options: AttestOptions,
): Promise<CommandResult> {
  const [path] = args;
  const bytes = await readSmallFile(path, "recovery request");
  const req = await namingFile(path, "recovery request", () => decodeRecoveryRequest(bytes));
  const expiresMs = options.expires ?? recoveryValidityMsDefault;
  const { unlocked } = await unlockMatching(ctx);
  const store = await ctx.store();
  const record = (await store.get<IdentityRecord>(identityKey(req.did)))?.value;
  if (!record) {
    throw new NotFoundError(
      `Cannot attest the recovery of "${req.did}": its key event log is unknown here (icn node import a bundle that holds it)`,
    );
  }
  if (!record.recovery?.trustees.includes(unlocked.did)) {
    throw new RejectedError(
      "not_trustee",
      `Cannot attest the recovery of "${req.did}": ${unlocked.did} is not one of its recovery trustees`,
    );
  }
  const now = ctx.clock.now();
  if (req.expires < now) {
    throw new RejectedError(
      "expired",
      `Cannot attest: the recovery request expired at ${iso(req.expires)}`,
    );
  }
  const digest = await requestDigest(bytes);
  const attestation = await createAttestation({
    did: req.did,
    request: digest,
    trustee: unlocked.did,
    ts: now,
    expires: Math.min(now + expiresMs, req.expires),
  }, (message) => unlocked.signer.sign(message));
  const out = typeof options.out === "string"
    ? options.out
    : `${path}.${shortDid(unlocked.did).replace(/[^A-Za-z0-9]/g, "")}.attestation`;
  await writeFileAtomic(out, attestation, 0o644);
  return {
    data: { did: req.did, trustee: unlocked.did, attestation: out, request: toHex(digest) },
    text: `Attested the recovery of ${req.did} as trustee ${unlocked.did}: ${out}`,
  };
}

function pendingRequest(unlocked: UnlockedIdentity): Uint8Array {
  const encoded = unlocked.secrets.extra?.recoveryRequest;
  if (typeof encoded !== "string") {
    throw new NotFoundError(
      `No recovery request in ${unlocked.did}'s keystore here: run \`icn id recovery request --did DID\` first`,
    );
  }
  return fromBase64(encoded);
}

export async function start(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const attestations: Uint8Array[] = [];
  for (const path of args) {
    const bytes = await readSmallFile(path, "attestation");
    await namingFile(path, "attestation", () => decodeAttestation(bytes));
    attestations.push(bytes);
  }
  // The key log is checked before the passphrase is asked for: a fresh data dir lacks it.
  const { did } = await ctx.readPublicIdentity();
  await knownRecord(ctx, did, `start the recovery of ${did}`);
  const unlocked = await ctx.unlock();
  const requestBytes = pendingRequest(unlocked);
  const sealed = await ctx.appendKelOrThrow(unlocked.signer, {
    kind: "id.recovery-start",
    body: {
      request: requestBytes,
      attestations,
    },
  });
  const record = await requireRecord(ctx, unlocked.did);
  const readyAt = record.pendingRecovery!.readyAt;
  return {
    data: { did: unlocked.did, seq: sealed.envelope.seq, readyAt },
    text: [
      `Recovery of ${unlocked.did} started with ${attestations.length} attestation(s) (KEL seq ${sealed.envelope.seq})`,
      `  the current keys can cancel it until ${
        iso(readyAt)
      }; then run \`icn id recovery finalize\``,
    ],
  };
}

export async function cancel(ctx: CliContext): Promise<CommandResult> {
  const { unlocked, record } = await unlockMatching(ctx);
  if (!record.pendingRecovery) {
    throw new NotFoundError(`No pending recovery of ${unlocked.did} to cancel`);
  }
  const sealed = await ctx.appendKelOrThrow(unlocked.signer, {
    kind: "id.recovery-cancel",
    body: {
      request: record.pendingRecovery.request,
    },
  });
  return {
    data: {
      did: unlocked.did,
      seq: sealed.envelope.seq,
      cancelled: toHex(record.pendingRecovery.request),
    },
    text: `Cancelled the pending recovery of ${unlocked.did} (KEL seq ${sealed.envelope.seq})`,
  };
}

export async function finalize(ctx: CliContext): Promise<CommandResult> {
  const { did } = await ctx.readPublicIdentity();
  await knownRecord(ctx, did, `finalize the recovery of ${did}`);
  const unlocked = await ctx.unlock();
  const requestBytes = pendingRequest(unlocked);
  const record = await requireRecord(ctx, unlocked.did);
  const digest = await requestDigest(requestBytes);
  const pending = record.pendingRecovery;
  if (!pending || toHex(pending.request) !== toHex(digest)) {
    throw new NotFoundError(
      `Cannot finalize the recovery of ${unlocked.did}: no pending recovery for this request (was it cancelled, or not started?)`,
    );
  }
  const now = ctx.clock.now();
  if (now < pending.readyAt) {
    throw new RejectedError(
      "too_early",
      `Cannot finalize the recovery of ${unlocked.did} yet: its delay ends at ${
        iso(pending.readyAt)
      }`,
    );
  }
  // The new keys know nothing of the member's network chains: the guard goes up before the
  // recovery event makes them current, so no crash leaves them current and unguarded.
  await markCatchUp(await ctx.homeStore(), { did: unlocked.did, reason: "recovery", since: now });
  const sealed = await ctx.appendKelOrThrow(unlocked.signer, {
    kind: "id.recovery",
    body: { request: digest },
  });
  const updated = await requireRecord(ctx, unlocked.did);
  const { extra: _extra, ...rest } = unlocked.secrets;
  const secrets: KeystoreSecrets = rest;
  await writeKeystoreFile(ctx.keystorePath, secrets, unlocked.passphrase);
  await writePublicIdentityFile(
    ctx.publicIdentityPath,
    publicIdentityOf(secrets, updated.keys, updated.seq),
  );
  return {
    data: { did: unlocked.did, seq: sealed.envelope.seq, recovered: true },
    text: [
      `Recovered ${unlocked.did}: the new keys are installed (KEL seq ${sealed.envelope.seq})`,
      ...catchUpAdvice,
    ],
  };
}

export async function status(
  ctx: CliContext,
  _args: string[],
  options: StatusOptions,
): Promise<CommandResult> {
  const did = options.did ?? (await ctx.readPublicIdentity()).did;
  const record = await knownRecord(ctx, did, `show the recovery of ${did}`);
  const policy = record.recovery;
  const pending = record.pendingRecovery;
  const lines = [`Recovery of ${did}`];
  lines.push(
    policy
      ? `  ${policy.threshold} of ${policy.trustees.length} trustees, delay ${
        formatDuration(policy.delayMs)
      }: ${policy.trustees.join(", ")}`
      : "  not set up (icn id recovery setup)",
  );
  if (pending) {
    lines.push(
      `  PENDING: request ${toHex(pending.request).slice(0, 16)} started ${
        iso(pending.started)
      }, can finish at ${iso(pending.readyAt)}`,
    );
  }
  return {
    data: {
      did,
      recovery: policy
        ? { trustees: policy.trustees, threshold: policy.threshold, delayMs: policy.delayMs }
        : null,
      pending: pending
        ? {
          request: toHex(pending.request),
          started: pending.started,
          readyAt: pending.readyAt,
          trustees: pending.trustees,
        }
        : null,
    },
    text: lines,
  };
}
