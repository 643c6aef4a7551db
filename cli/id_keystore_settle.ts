/**
 * Crash safety of key changes. A rotation (or pq-binding) writes the new
 * secrets into the keystore as `pending` first, then commits the KEL event,
 * then rewrites the keystore with the new seeds. A crash can stop it between
 * any two steps; the next unlock (`CliContext.openKeystore`) settles the
 * keystore against the KEL in the context's own store: if the event is committed the new seeds are adopted, if not
 * the event is committed now (roll forward), and if it can no longer be
 * committed it is dropped and the old seeds stay. Either the old or the new
 * keys work, never neither.
 */
import { ingest } from "../core/chain/ingest.ts";
import { chainKeys, type StoredEnvelope } from "../core/chain/keys.ts";
import { fromBase64 } from "../core/bytes.ts";
import { kelNet } from "../core/constants.ts";
import { identityKey, type IdentityRecord } from "../core/identity/kel.ts";
import { createKindRegistry } from "../core/kinds.ts";
import type { Clock } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import {
  adoptSeeds,
  type KeystoreSecrets,
  keystoreUnchanged,
  readKeystoreFile,
  withKeystoreLock,
  writeKeystoreFile,
} from "./keystore.ts";
import { publicIdentityOf, writePublicIdentityFile } from "./public_identity.ts";

/** Decides a pending key event against `store`; returns the secrets to use (nothing written). */
export async function resolvePending(
  store: Store,
  secrets: KeystoreSecrets,
  now: number,
): Promise<{ secrets: KeystoreSecrets; adopted: boolean }> {
  const pending = secrets.pending!;
  const { pending: _dropped, ...rest } = secrets;
  const adopt = (): KeystoreSecrets => adoptSeeds(rest, pending.secrets);
  const at = await store.get<StoredEnvelope>(chainKeys.position(kelNet, secrets.did, pending.seq));
  if (at) {
    return at.value.cid === pending.cid
      ? { secrets: adopt(), adopted: true }
      : { secrets: rest, adopted: false };
  }
  const [outcome] = await ingest(
    { store, clock: { now: () => now }, kinds: createKindRegistry() },
    [fromBase64(pending.envelope)],
    { source: "local" },
  );
  if (outcome.status === "accepted" || outcome.status === "duplicate") {
    return { secrets: adopt(), adopted: true };
  }
  return { secrets: rest, adopted: false };
}

/** What settling needs: the context's own store and clock, and the files to rewrite. */
export interface SettleDeps {
  store: Store;
  clock: Clock;
  keystorePath: string;
  publicIdentityPath: string;
}

/**
 * Settles the pending key event of `secrets` (just read from the keystore) against the store,
 * and rewrites the keystore (and `identity.json`) to match the KEL. Under the keystore lock,
 * from the keystore as it is now: if another command changed it since it was read, that one is
 * read again and settled only if it still holds a pending event.
 */
export async function settlePending(
  deps: SettleDeps,
  secrets: KeystoreSecrets,
  passphrase: string,
): Promise<KeystoreSecrets> {
  const path = deps.keystorePath;
  return await withKeystoreLock(path, "icn (settling a key change)", async () => {
    if (!(await keystoreUnchanged(path))) {
      secrets = await readKeystoreFile(path, passphrase);
      if (!secrets.pending) return secrets;
    }
    const { secrets: settled } = await resolvePending(deps.store, secrets, deps.clock.now());
    await writeKeystoreFile(path, settled, passphrase);
    const record = (await deps.store.get<IdentityRecord>(identityKey(settled.did)))?.value;
    if (record) {
      await writePublicIdentityFile(
        deps.publicIdentityPath,
        publicIdentityOf(settled, record.keys, record.seq),
      );
    }
    return settled;
  });
}
