/**
 * `icn doctor`'s keystore check: does the keystore hold the keys the key
 * event log says are current? A keystore that lost a key change (a race, an
 * old backup restored over a newer one) can no longer sign anything the
 * network accepts. The keystore is encrypted, so the check needs the
 * passphrase (`--passphrase-file` or `ICN_PASSPHRASE`; doctor never prompts);
 * it decrypts and compares, and writes nothing (a pending key change is
 * reported, not settled).
 */
import { envGet } from "./io_scope.ts";
import { identityKey, type IdentityRecord, sameKeys } from "../core/identity/kel.ts";
import { bytesEqual } from "../core/bytes.ts";
import type { CliContext } from "./context.ts";
import type { Finding } from "./doctor.ts";
import { decryptSecrets, type KeystoreSecrets } from "./keystore.ts";
import { publicKeysOf } from "./public_identity.ts";

const check = "keystore-keys";

/** An empty ICN_PASSPHRASE (as in `ICN_PASSPHRASE= icn doctor`) counts as none given. */
function hasPassphrase(ctx: CliContext): boolean {
  return ctx.options.passphraseFile !== undefined || !!envGet("ICN_PASSPHRASE");
}

/** Findings about the keystore's keys against the key event log in the store. */
export async function checkKeystoreKeys(ctx: CliContext): Promise<Finding[]> {
  const storeMissing = !(await ctx.storeExists().catch(() => false));
  const keystoreMissing = !(await Deno.stat(ctx.keystorePath).then(() => true, () => false));
  if (storeMissing || keystoreMissing) return [];
  if (!hasPassphrase(ctx)) {
    return [{
      check,
      status: "skip",
      message: "The keystore's keys were not compared with the key event log: no passphrase given",
      fix: "run doctor with --passphrase-file FILE or ICN_PASSPHRASE set to check them",
    }];
  }
  let secrets: KeystoreSecrets;
  try {
    const passphrase = await ctx.passphrase();
    secrets = await decryptSecrets(await Deno.readFile(ctx.keystorePath), passphrase);
  } catch (error) {
    return [{
      check,
      status: "error",
      message: `Cannot open the keystore ${ctx.keystorePath}: ${(error as Error).message}`,
      fix:
        "check the passphrase; if it is right and the keystore is damaged, restore a backup (`icn id restore FILE`)",
    }];
  }
  const store = await ctx.store();
  const record = (await store.get<IdentityRecord>(identityKey(secrets.did)))?.value;
  if (!record) {
    return [{
      check,
      status: "error",
      message: `The keystore belongs to ${secrets.did}, whose key event log is not in this store`,
      fix:
        "import it from a member's bundle (`icn node import FILE`) or restore a backup (`icn id restore FILE`)",
    }];
  }
  if (secrets.pending) {
    return [{
      check,
      status: "warn",
      message:
        `The keystore holds a key change in flight (key event seq ${secrets.pending.seq}, log at seq ${record.seq})`,
      fix:
        "the next command that unlocks the keystore (e.g. `icn id sign FILE`) settles it against the log",
    }];
  }
  const keys = await publicKeysOf(secrets);
  if (sameKeys(keys, record.keys)) {
    return [{
      check,
      status: "ok",
      message:
        `The keystore holds the current keys of ${secrets.did} (key event seq ${record.seq})`,
    }];
  }
  const older = [...record.history].reverse().find((period) =>
    period.until !== undefined && bytesEqual(period.ed25519, keys.ed25519)
  );
  return [{
    check,
    status: "error",
    message: older
      ? `The keystore holds superseded keys of ${secrets.did}: those installed at key event seq ${older.seq}, while the log is at seq ${record.seq} — it missed a key change and cannot sign for this identity`
      : `The keystore's keys are not keys of ${secrets.did} in its key event log (seq ${record.seq}): it cannot sign for this identity`,
    fix:
      `restore a backup made after the last key change (\`icn id restore FILE\`), or recover the identity with its trustees (\`icn id recovery request --did ${secrets.did}\`, see docs/identity.md)`,
  }];
}
