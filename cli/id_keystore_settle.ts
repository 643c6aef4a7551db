/**
 * Crash safety of key changes. A rotation (or pq-binding) writes the new
 * secrets into the keystore as `pending` first, then commits the KEL event,
 * then rewrites the keystore with the new seeds. A crash can stop it between
 * any two steps; on the next unlock the keystore is settled against the KEL
 * in the store: if the event is committed the new seeds are adopted, if not
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
import { systemClock } from "./clock.ts";
import { openStore } from "./store_open.ts";
import type { Store } from "../core/store/store.ts";
import type { KeystoreSecrets } from "./keystore.ts";

function dirOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
}

/** Decides a pending key event against `store`; returns the secrets to use (nothing written). */
export async function resolvePending(
  store: Store,
  secrets: KeystoreSecrets,
  now: number,
): Promise<{ secrets: KeystoreSecrets; adopted: boolean }> {
  const pending = secrets.pending!;
  const { pending: _dropped, ...rest } = secrets;
  const adopt = (): KeystoreSecrets => {
    const { next, ...current } = pending.secrets;
    const out: KeystoreSecrets = { ...rest, ...current, next };
    if (!current.mlDsa65) delete out.mlDsa65;
    if (!current.mlKem768) delete out.mlKem768;
    return out;
  };
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

/** Settles a pending key event and rewrites the keystore (and `identity.json`) to match the KEL. */
export async function settlePending(
  path: string,
  secrets: KeystoreSecrets,
  passphrase: string,
): Promise<KeystoreSecrets> {
  const remote = Deno.env.get("ICN_KV_URL");
  const store = await openStore(remote ?? `${dirOf(path)}/icn.kv`);
  try {
    const { secrets: settled } = await resolvePending(store, secrets, systemClock.now());
    const { writeKeystoreFile } = await import("./keystore.ts");
    await writeKeystoreFile(path, settled, passphrase);
    const record = (await store.get<IdentityRecord>(identityKey(settled.did)))?.value;
    if (record) {
      const { publicIdentityOf, writePublicIdentityFile } = await import("./id_lifecycle.ts");
      await writePublicIdentityFile(
        `${dirOf(path)}/identity.json`,
        publicIdentityOf(settled, record.keys, record.seq),
      );
    }
    return settled;
  } finally {
    store.close();
  }
}
