/** Handlers of `icn id rotate | upgrade-pq | history | resolve`. */
import { ingest } from "../core/chain/ingest.ts";
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { readChain } from "../core/chain/read.ts";
import { fromBase64, toBase64, toHex } from "../core/bytes.ts";
import { kelNet } from "../core/constants.ts";
import {
  ConflictError,
  InvalidInputError,
  KeystoreError,
  RejectedError,
  UnknownIdentityError,
} from "../core/errors.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import type { Store } from "../core/store/store.ts";
import { parseDid } from "../core/identity/did.ts";
import { didDocument } from "../core/identity/did_document.ts";
import {
  archivedPeriodKey,
  identityKey,
  type IdentityRecord,
  type KeyPeriod,
  type KeySet,
  nextKeysDigest,
  type RotationReason,
  rotationReasons,
  sameKeys,
} from "../core/identity/kel.ts";
import { ed25519FromSeed, mlDsa65FromSeed } from "../core/identity/keys.ts";
import { decodeAttestation } from "../core/identity/recovery.ts";
import { replayKel } from "../core/identity/replay.ts";
import { sealRotation } from "../core/identity/rotation.ts";
import { createSigner } from "../core/identity/signer.ts";
import { bytesEqual } from "../core/bytes.ts";
import { resolveDid } from "./contacts.ts";
import type { CliContext, UnlockedIdentity } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { freshSeeds } from "./id.ts";
import {
  adoptSeeds,
  type KeySeeds,
  type KeystoreSecrets,
  seedToBase64,
  withKeystoreLock,
  writeKeystoreFile,
} from "./keystore.ts";
import type { CommandResult } from "./output.ts";
import { publicIdentityOf, publicKeysOf, writePublicIdentityFile } from "./public_identity.ts";
import { crashPoint } from "./crash_point.ts";

/** Kept here too: the crash tests and `id_backup.ts` import it from this module. */
export { crashPoint };

/** The KEL record of `did` in this data dir's store, or a clear error. */
export async function requireRecord(ctx: CliContext, did: string): Promise<IdentityRecord> {
  const store = await ctx.store();
  const record = (await store.get<IdentityRecord>(identityKey(did)))?.value;
  if (!record) throw new UnknownIdentityError(did);
  return record;
}

function seedsOf(secrets: KeystoreSecrets): KeySeeds {
  const out: KeySeeds = { ed25519: secrets.ed25519, x25519: secrets.x25519 };
  if (secrets.mlDsa65) out.mlDsa65 = secrets.mlDsa65;
  if (secrets.mlKem768) out.mlKem768 = secrets.mlKem768;
  return out;
}

/** Unlocks and checks that the keystore holds the keys the KEL says are current. */
export async function unlockMatching(
  ctx: CliContext,
): Promise<{ unlocked: UnlockedIdentity; record: IdentityRecord; head: ChainHead }> {
  const unlocked = await ctx.unlock();
  const record = await requireRecord(ctx, unlocked.did);
  const keys = await publicKeysOf(seedsOf(unlocked.secrets));
  if (!sameKeys(keys, record.keys)) {
    throw new KeystoreError(
      `Cannot use the keystore of "${unlocked.did}": its keys are not the current keys of the key event log (seq ${record.seq}); restore a newer backup or recover the identity`,
    );
  }
  const store = await ctx.store();
  const head = (await store.get<ChainHead>(chainKeys.head(kelNet, unlocked.did)))?.value;
  if (!head) throw new UnknownIdentityError(unlocked.did);
  return { unlocked, record, head };
}

/**
 * Commits a key-changing KEL event crash-safely: keystore with the event
 * pending → commit the event (home store, then every network store) → keystore
 * with the new seeds → identity.json.
 * Straight into this data dir's stores, never through a running node: the
 * caller holds the node lock (`withoutRunningNode`), and a node could not
 * sign this event anyway (see `CliContext.appendKelOrThrow`).
 */
async function commitKeyEvent(
  ctx: CliContext,
  unlocked: UnlockedIdentity,
  sealed: SealedEnvelope,
  after: KeySeeds & { next: KeySeeds },
): Promise<IdentityRecord> {
  const old = unlocked.secrets;
  crashPoint("rotate:before-pending");
  await writeKeystoreFile(ctx.keystorePath, {
    ...old,
    pending: {
      envelope: toBase64(sealed.bytes),
      cid: sealed.cid,
      seq: sealed.envelope.seq,
      secrets: after,
    },
  }, unlocked.passphrase);
  crashPoint("rotate:after-pending");
  const deps = await ctx.ingestDeps();
  const [outcome] = await ingest(deps, [sealed], { source: "local" });
  if (outcome.status === "rejected") {
    await writeKeystoreFile(ctx.keystorePath, old, unlocked.passphrase);
    throw new RejectedError(outcome.reason, outcome.message);
  }
  // Home first, then every other network store (a crash between: they catch up when opened).
  const { spreadOwnKel } = await import("./networks.ts");
  await spreadOwnKel(ctx);
  crashPoint("rotate:after-commit");
  const secrets = adoptSeeds(old, after);
  await writeKeystoreFile(ctx.keystorePath, secrets, unlocked.passphrase);
  crashPoint("rotate:after-keystore");
  const record = await requireRecord(ctx, unlocked.did);
  await writePublicIdentityFile(
    ctx.publicIdentityPath,
    publicIdentityOf(secrets, record.keys, record.seq),
  );
  return record;
}

async function signerOf(did: string, seeds: KeySeeds) {
  return createSigner(
    did,
    await ed25519FromSeed(fromBase64(seeds.ed25519)),
    seeds.mlDsa65 ? await mlDsa65FromSeed(fromBase64(seeds.mlDsa65)) : undefined,
  );
}

async function checkCommittedNext(record: IdentityRecord, keys: KeySet): Promise<void> {
  if (!record.next || !bytesEqual(await nextKeysDigest(keys), record.next)) {
    throw new KeystoreError(
      `Cannot rotate "${record.did}": the next keys in the keystore do not match the digest committed in its key event log`,
    );
  }
}

/** `id rotate`'s options (declared in cli/id_commands.ts). */
export interface RotateOptions {
  /** Checked here against `rotationReasons`. */
  reason: string;
}

export interface HistoryOptions {
  did?: string;
}

export async function rotate(
  ctx: CliContext,
  _args: string[],
  options: RotateOptions,
): Promise<CommandResult> {
  const reason = options.reason as RotationReason;
  if (!rotationReasons.includes(reason)) {
    throw new InvalidInputError(
      `Cannot rotate with reason "${options.reason}": use one of ${rotationReasons.join(", ")}`,
    );
  }
  return await withoutRunningNode(
    ctx,
    "icn id rotate",
    () => withKeystoreLock(ctx.keystorePath, "icn id rotate", () => rotateLocked(ctx, reason)),
  );
}

/**
 * A running node signs with the keys it unlocked at start: changing them behind its back would
 * make every later write through it fail. So a key change holds the data dir's node lock (no
 * node can start meanwhile) and is refused while a node holds it; the node's peer id (node.key)
 * survives the change, and its next hello carries the new key events to its peers.
 */
async function withoutRunningNode<T>(
  ctx: CliContext,
  command: string,
  work: () => Promise<T>,
): Promise<T> {
  const { describeHolder, nodeLockFile, readLockHolder, tryLock } = await import("./lock.ts");
  const path = ctx.path(nodeLockFile);
  let lock: Awaited<ReturnType<typeof tryLock>>;
  try {
    lock = await tryLock(path, { pid: Deno.pid, command, since: Date.now() });
  } catch (error) {
    throw new ConflictError(
      `Cannot run \`${command}\`: cannot take the node lock ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (!lock) {
    throw new ConflictError(
      `Cannot run \`${command}\` while a node runs on ${ctx.dataDir} (${
        describeHolder(await readLockHolder(path))
      }): stop it (Ctrl-C or SIGTERM), run the command, then start it again (its peer id stays the same, and peers learn the new keys from its hello)`,
    );
  }
  try {
    return await work();
  } finally {
    lock.release();
  }
}

async function rotateLocked(ctx: CliContext, reason: RotationReason): Promise<CommandResult> {
  const { unlocked, record, head } = await unlockMatching(ctx);
  const next = unlocked.secrets.next;
  const keys = await publicKeysOf(next);
  await checkCommittedNext(record, keys);
  const pq = !!record.keys.mlDsa65;
  const afterNext = freshSeeds(ctx, pq);
  const sealed = await sealRotation({
    kind: "id.rotation",
    head,
    ts: ctx.clock.now(),
    signer: unlocked.signer,
    revealed: await signerOf(unlocked.did, next),
    keys,
    next: await nextKeysDigest(await publicKeysOf(afterNext)),
    reason,
  });
  const updated = await commitKeyEvent(ctx, unlocked, sealed, { ...next, next: afterNext });
  return {
    data: { did: unlocked.did, seq: updated.seq, cid: sealed.cid, reason, keys: updated.keys },
    text: [
      `Rotated the keys of ${unlocked.did} (KEL seq ${updated.seq}, reason ${reason})`,
      `  new Ed25519 key: ${toBase64(updated.keys.ed25519)}`,
      `  the old key no longer signs new envelopes; the next keys are committed`,
    ],
  };
}

export async function upgradePq(ctx: CliContext): Promise<CommandResult> {
  return await withoutRunningNode(
    ctx,
    "icn id upgrade-pq",
    () => withKeystoreLock(ctx.keystorePath, "icn id upgrade-pq", () => upgradePqLocked(ctx)),
  );
}

async function upgradePqLocked(ctx: CliContext): Promise<CommandResult> {
  const { unlocked, record, head } = await unlockMatching(ctx);
  if (record.keys.mlDsa65) {
    throw new RejectedError("already_pq", `Identity ${unlocked.did} already has ML-DSA-65 keys`);
  }
  const next = unlocked.secrets.next;
  await checkCommittedNext(record, await publicKeysOf(next));
  const installed: KeySeeds = {
    ed25519: next.ed25519,
    x25519: next.x25519,
    mlDsa65: seedToBase64(ctx.rng.bytes(32)),
    mlKem768: seedToBase64(ctx.rng.bytes(64)),
  };
  const keys = await publicKeysOf(installed);
  const mlDsa = await mlDsa65FromSeed(fromBase64(installed.mlDsa65!));
  const afterNext = freshSeeds(ctx, true);
  const sealed = await sealRotation({
    kind: "id.pq-binding",
    head,
    ts: ctx.clock.now(),
    signer: createSigner(unlocked.did, unlocked.ed25519, mlDsa),
    revealed: await signerOf(unlocked.did, installed),
    keys,
    next: await nextKeysDigest(await publicKeysOf(afterNext)),
    reason: "upgrade",
  });
  const updated = await commitKeyEvent(ctx, unlocked, sealed, { ...installed, next: afterNext });
  return {
    data: { did: unlocked.did, seq: updated.seq, cid: sealed.cid, pq: true },
    text: [
      `Upgraded ${unlocked.did} to hybrid keys (Ed25519 + ML-DSA-65, X25519 + ML-KEM-768), KEL seq ${updated.seq}`,
      `  the binding also moved to the pre-committed Ed25519/X25519 keys; the DID is unchanged`,
      `  from now on every envelope carries both signatures`,
    ],
  };
}

/** KEL chains needed to replay `did`'s log: the trustees that attested its recoveries, then its own. */
export async function kelEnvelopes(
  ctx: CliContext,
  did: string,
  from?: Store,
): Promise<SealedEnvelope[]> {
  const store = from ?? await ctx.store();
  const own = await readChain(store, kelNet, did);
  const trustees = new Set<string>();
  for (const sealed of own) {
    if (sealed.envelope.kind !== "id.recovery-start") continue;
    const body = sealed.envelope.body as { attestations?: Uint8Array[] };
    for (const bytes of body.attestations ?? []) {
      try {
        trustees.add(decodeAttestation(bytes).trustee);
      } catch {
        // A malformed attestation is reported when the event is replayed.
      }
    }
  }
  const record = (await store.get<IdentityRecord>(identityKey(did)))?.value;
  for (const trustee of record?.recovery?.trustees ?? []) trustees.add(trustee);
  trustees.delete(did);
  const out: SealedEnvelope[] = [];
  for (const trustee of [...trustees].sort()) out.push(...await readChain(store, kelNet, trustee));
  return [...out, ...own];
}

function describe(sealed: SealedEnvelope): string {
  const body = sealed.envelope.body as Record<string, unknown>;
  switch (sealed.envelope.kind) {
    case "id.inception":
    case "id.rotation":
    case "id.pq-binding": {
      const keys = body.keys as KeySet;
      return `ed25519 ${toHex(keys.ed25519).slice(0, 16)}…${keys.mlDsa65 ? " +ML-DSA-65" : ""}${
        body.reason ? ` (${body.reason})` : ""
      }`;
    }
    case "id.recovery-setup":
      return `${body.threshold} of ${(body.trustees as string[]).length} trustees, delay ${
        Number(body.delayMs) / 1000
      } s`;
    default:
      return body.request instanceof Uint8Array
        ? `request ${toHex(body.request).slice(0, 16)}`
        : "";
  }
}

export async function history(
  ctx: CliContext,
  _args: string[],
  options: HistoryOptions,
): Promise<CommandResult> {
  const did = options.did !== undefined
    ? await resolveDid(ctx, options.did, { what: "--did" })
    : (await ctx.readPublicIdentity()).did;
  await requireRecord(ctx, did);
  const envelopes = await kelEnvelopes(ctx, did);
  const ownFrom = envelopes.findIndex((s) => s.envelope.author === did);
  let failedAt = -1;
  let failure = "";
  try {
    await replayKel(envelopes);
  } catch (error) {
    failedAt = (error as { index?: number }).index ?? 0;
    failure = (error as Error).message;
  }
  const events = envelopes.slice(ownFrom).map((sealed, i) => {
    const index = ownFrom + i;
    const status = failedAt < 0 || index < failedAt
      ? "verified"
      : index === failedAt
      ? "INVALID"
      : "unverified";
    return {
      seq: sealed.envelope.seq,
      kind: sealed.envelope.kind,
      ts: sealed.envelope.ts,
      cid: sealed.cid,
      status,
      detail: describe(sealed),
    };
  });
  const lines = events.map((e) =>
    `${String(e.seq).padStart(4)}  ${new Date(e.ts).toISOString()}  ${e.kind.padEnd(18)} ${
      e.status.padEnd(10)
    } ${e.detail}`
  );
  if (failedAt >= 0) lines.push(`Key event log does not verify: ${failure}`);
  return {
    data: { did, verified: failedAt < 0, events, ...(failedAt >= 0 ? { error: failure } : {}) },
    text: [`Key event log of ${did}`, ...lines],
    exitCode: failedAt >= 0 ? exitCodes.failure : exitCodes.ok,
  };
}

export async function resolve(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const [did] = args;
  try {
    parseDid(did);
  } catch (error) {
    throw new InvalidInputError(`Cannot resolve "${did}": ${(error as Error).message}`);
  }
  const record = await requireRecord(ctx, did);
  const store = await ctx.store();
  const archived: KeyPeriod[] = [];
  for (let i = 0; i < (record.archived ?? 0); i++) {
    const period = (await store.get<KeyPeriod>(archivedPeriodKey(did, i)))?.value;
    if (period) archived.push(period);
  }
  const document = didDocument({ ...record, history: [...archived, ...record.history] });
  const data = {
    ...document,
    icn: {
      ...document.icn,
      pq: !!record.keys.mlDsa65,
      ...(record.recovery
        ? {
          recovery: {
            trustees: record.recovery.trustees,
            threshold: record.recovery.threshold,
            delayMs: record.recovery.delayMs,
          },
        }
        : {}),
      ...(record.pendingRecovery
        ? {
          pendingRecovery: {
            request: toHex(record.pendingRecovery.request),
            started: record.pendingRecovery.started,
            readyAt: record.pendingRecovery.readyAt,
          },
        }
        : {}),
    },
  };
  return { data, text: JSON.stringify(data, null, 2) };
}
