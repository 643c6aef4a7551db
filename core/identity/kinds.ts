/** Kind handlers of the key event log: thin wrappers over the pure rules in `kel.ts` and `recovery.ts`. */
import type { ApplyContext, KindHandler } from "../chain/ingest.ts";
import { RejectedError } from "../errors.ts";
import {
  advanceRecord,
  applyRotation,
  archivedPeriodKey,
  checkInception,
  checkKelEnvelope,
  identityKey,
  type IdentityRecord,
  type KeyPeriod,
  recordFromInception,
  rotationSigningKeys,
} from "./kel.ts";
import {
  applyRecovery,
  applyRecoveryCancel,
  applyRecoveryStart,
  checkRecoverySetup,
  recoveryRefSigningKeys,
  recoveryStartSigningKeys,
} from "./recovery.ts";

function readRecord(ctx: ApplyContext): Promise<IdentityRecord | undefined> {
  return ctx.state.get<IdentityRecord>(identityKey(ctx.envelope.author));
}

function writeRecord(
  ctx: ApplyContext,
  record: IdentityRecord,
  archive: { index: number; period: KeyPeriod }[] = [],
): void {
  for (const { index, period } of archive) {
    ctx.state.set(archivedPeriodKey(record.did, index), period);
  }
  ctx.state.set(identityKey(record.did), record);
}

const inception: KindHandler = {
  signingKeys(ctx) {
    // Self-certifying: the inception key is the DID itself.
    const body = checkInception(ctx.envelope);
    return Promise.resolve({
      ed25519: body.keys.ed25519,
      ...(body.keys.mlDsa65 ? { mlDsa65: body.keys.mlDsa65 } : {}),
    });
  },
  apply(ctx) {
    ctx.state.set(identityKey(ctx.envelope.author), recordFromInception(ctx.envelope, ctx.cid));
  },
};

/** `id.rotation` and `id.pq-binding`: pre-rotation reveal, signed by the current keys. */
const rotation: KindHandler = {
  async signingKeys(ctx) {
    return rotationSigningKeys(ctx.envelope, await readRecord(ctx));
  },
  async apply(ctx) {
    const { record, archive } = await applyRotation(ctx.envelope, ctx.cid, await readRecord(ctx));
    writeRecord(ctx, record, archive);
  },
};

/** Keys of the current period, strictly (a KEL event is never signed by a superseded key). */
async function currentKeys(ctx: ApplyContext) {
  const record = checkKelEnvelope(ctx.envelope, await readRecord(ctx));
  const { ed25519, mlDsa65 } = record.keys;
  return mlDsa65 ? { ed25519, mlDsa65 } : { ed25519 };
}

const recoverySetup: KindHandler = {
  signingKeys: currentKeys,
  async apply(ctx) {
    const record = checkKelEnvelope(ctx.envelope, await readRecord(ctx));
    if (record.pendingRecovery) {
      throw new RejectedError(
        "recovery_pending",
        `Cannot change the recovery setup of "${record.did}" while a recovery is pending: cancel it first`,
      );
    }
    const recovery = checkRecoverySetup(ctx.envelope.body, record.did, ctx.envelope.seq);
    writeRecord(ctx, { ...advanceRecord(record, ctx.envelope, ctx.cid), recovery });
  },
};

const recoveryStart: KindHandler = {
  async signingKeys(ctx) {
    return await recoveryStartSigningKeys(ctx.envelope, await readRecord(ctx));
  },
  async apply(ctx) {
    const record = await applyRecoveryStart(
      ctx.envelope,
      ctx.cid,
      await readRecord(ctx),
      (did) => ctx.state.get<IdentityRecord>(identityKey(did)),
    );
    writeRecord(ctx, record);
  },
};

const recoveryCancel: KindHandler = {
  async signingKeys(ctx) {
    return recoveryRefSigningKeys(ctx.envelope, await readRecord(ctx));
  },
  async apply(ctx) {
    writeRecord(ctx, applyRecoveryCancel(ctx.envelope, ctx.cid, await readRecord(ctx)));
  },
};

const recovery: KindHandler = {
  async signingKeys(ctx) {
    return recoveryRefSigningKeys(ctx.envelope, await readRecord(ctx));
  },
  async apply(ctx) {
    const { record, archive } = applyRecovery(
      ctx.envelope,
      ctx.cid,
      await readRecord(ctx),
      ctx.now,
    );
    writeRecord(ctx, record, archive);
  },
};

/** `id.*` handlers. */
export const identityKinds: ReadonlyMap<string, KindHandler> = new Map([
  ["id.inception", inception],
  ["id.rotation", rotation],
  ["id.pq-binding", rotation],
  ["id.recovery-setup", recoverySetup],
  ["id.recovery-start", recoveryStart],
  ["id.recovery-cancel", recoveryCancel],
  ["id.recovery", recovery],
]);
