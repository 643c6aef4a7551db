/** The keystore as `icn` unlocks it, for tests that check a data dir from outside. */
import { dirname } from "node:path";
import { CliContext } from "../cli/context.ts";
import type { KeystoreSecrets } from "../cli/keystore.ts";

/**
 * Decrypts the keystore at `path` and settles a pending key event against its data dir's store,
 * exactly as a command's unlock does (`CliContext.openKeystore`); `readKeystoreFile` only reads.
 */
export async function unlockKeystoreFile(
  path: string,
  passphrase: string,
): Promise<KeystoreSecrets> {
  const ctx = new CliContext({ dataDir: dirname(path), json: false, debug: false, color: false });
  try {
    return await ctx.openKeystore(passphrase);
  } finally {
    ctx.close();
  }
}
