import { Command } from "@commander-js/extra-typings";
import { didArg, durationArg, recoveryValidityMsDefault } from "./args.ts";
import { collect, type Registrar } from "./command.ts";

const dayMs = 86_400_000;

const load = () => import("./id.ts");

export function idCommands(r: Registrar): Command {
  const id = new Command("id").description(
    "Self-sovereign identities: keys, signatures, DID documents",
  );
  r.action(
    id.command("init").description(
      "Create this data dir's identity (Ed25519 + X25519, optional PQ)",
    )
      .option("--pq", "also create ML-DSA-65 / ML-KEM-768 keys (hybrid)")
      .option("--force", "replace an existing identity (the old keystore is kept as a backup)"),
    load,
    "init",
  );
  r.action(
    id.command("show").description("Show the DID and public keys (no passphrase needed)"),
    // Its own module: showing the identity loads no keys (cli/id.ts loads Ed25519 and the KEL).
    () => import("./id_show.ts"),
    "show",
  );
  r.action(
    id.command("sign").description("Sign a file (minisign format, verifiable by `minisign -V`)")
      .argument("<file>", "file to sign")
      .option("--out <sig>", "signature file (default FILE.minisig)")
      .option("--comment <text>", "extra trusted comment text")
      .option("--pq", "add an ML-DSA-65 signature line (hybrid identities)"),
    load,
    "sign",
  );
  r.action(
    id.command("verify").description("Verify a file's detached signature")
      .argument("<file>", "signed file")
      .option("--sig <sig>", "signature file (default FILE.minisig)")
      .option("--did <did>", "require this signer", didArg("--did"))
      .option("--pubkey <file>", "verify against a minisign public key file instead of a DID"),
    load,
    "verify",
  );
  r.action(
    id.command("export").description("Print the DID document (no secrets)")
      .option("--minisign", "print the minisign public key instead")
      .option("--age-recipient", "print the age recipient (age1…) instead")
      .option("--pq", "with --age-recipient: the hybrid ML-KEM-768 recipient (age1pq1…)")
      .option(
        "--age-identity",
        "write the X25519 secret key as an age identity file to --out (mode 0600; a secret!)",
      )
      .option("--out <file>", "with --age-identity: the new identity file"),
    () => import("./id_age.ts"),
    "exportWithAge",
  );
  const encryptModule = () => import("./id_encrypt.ts");
  r.action(
    id.command("encrypt").description(
      "Encrypt a file to identities (age; hybrid ML-KEM-768 + X25519 for PQ identities)",
    )
      .argument("<file>", "file to encrypt")
      .requiredOption("--to <did>", "recipient DID or contact (repeat)", collect)
      .option("--armor", "ASCII-armored output (PEM-like text)")
      .option("--out <file>", "encrypted file (default FILE.age; - for standard output)")
      .option("--force", "replace an existing output file"),
    encryptModule,
    "encrypt",
  );
  r.action(
    id.command("decrypt").description("Decrypt an age file encrypted to this identity")
      .argument("<file>", "encrypted file (binary or armored)")
      .option("--out <file>", "decrypted file (default FILE without .age; - for standard output)")
      .option("--force", "replace an existing output file"),
    encryptModule,
    "decrypt",
  );
  r.action(
    id.command("login").description(
      "Sign in to an app gateway: sign its challenge (a dashboard's challenge URL, or the gateway URL to get a token)",
    )
      .argument("<url>", "gateway URL, or the challenge URL a dashboard shows")
      .option("--scope <scope>", "scope to ask for (repeatable; default read)", collect),
    () => import("./id_login.ts"),
    "login",
  );
  r.action(
    id.command("change-passphrase").description("Re-encrypt the keystore under a new passphrase")
      .option(
        "--new-passphrase-file <file>",
        "read the new passphrase from a file (else ICN_NEW_PASSPHRASE or a prompt)",
      ),
    load,
    "changePassphrase",
  );
  const agentModule = () => import("./agent.ts");
  r.action(
    id.command("unlock").description(
      "Start an agent that holds the unlocked keys, so writes need no passphrase (ssh-agent style)",
    )
      .option("--for <duration>", "how long the keys stay unlocked, 1s to 12h (default 15m)"),
    agentModule,
    "unlock",
  );
  r.action(
    id.command("lock").description("Stop the unlock agent now; its keys go with it"),
    agentModule,
    "lock",
  );
  const agent = id.command("agent").description("The unlock agent started by `icn id unlock`");
  r.action(
    agent.command("status").description("Show whether the unlock agent runs, and until when"),
    agentModule,
    "status",
  );
  r.action(
    agent.command("serve", { hidden: true }).description(
      "Run the unlock agent (started by `icn id unlock`; reads its keys on stdin)",
    ),
    () => import("./agent_server.ts"),
    "serve",
  );
  const lifecycle = () => import("./id_lifecycle.ts");
  r.action(
    id.command("rotate").description(
      "Rotate to the pre-committed next keys and commit new next keys (pre-rotation)",
    )
      .option("--reason <reason>", "scheduled | compromised | upgrade | manual", "manual"),
    lifecycle,
    "rotate",
  );
  r.action(
    id.command("upgrade-pq").description(
      "Add ML-DSA-65 / ML-KEM-768 keys (hybrid signatures from now on); the DID is unchanged",
    ),
    lifecycle,
    "upgradePq",
  );
  r.action(
    id.command("history").description("List the key event log with its verification status")
      .option("--did <did>", "another identity known to this store", didArg("--did")),
    lifecycle,
    "history",
  );
  r.action(
    id.command("resolve").description(
      "Print the DID document computed from the local key event log",
    )
      .argument("<did>", "DID to resolve"),
    lifecycle,
    "resolve",
  );
  const backupModule = () => import("./id_backup.ts");
  const backup = id.command("backup").description(
    "Encrypted backup (age, same passphrase) of the keystore, public identity and key event log",
  );
  r.action(
    backup.option("--out <file>", "backup file to write")
      .option(
        "--to <did>",
        "split the backup among trustees instead of the passphrase (repeat)",
        collect,
      )
      .option("--threshold <m>", "with --to: how many trustees together can restore"),
    backupModule,
    "backup",
  );
  r.action(
    backup.command("verify").description(
      "Check a backup decrypts and its key event log verifies, without restoring",
    ).argument("<file>", "backup file")
      .option("--share <file>", "an opened trustee share, for a trustee backup (repeat)", collect),
    backupModule,
    "verifyBackup",
  );
  // Beside `backup`, not under it: `backup`'s own --out would take this command's.
  r.action(
    id.command("share-open").description(
      "As a trustee, open your share of a trustee backup (`id backup --to`) for its owner",
    ).argument("<file>", "trustee backup file")
      .option("--out <file>", "opened share file (default FILE.share-N)"),
    () => import("./id_trustee.ts"),
    "shareOpen",
  );
  r.action(
    id.command("restore").description(
      "Restore an identity from a backup into this data dir",
    ).argument("<file>", "backup file")
      .option("--share <file>", "an opened trustee share, for a trustee backup (repeat)", collect)
      .option("--force", "replace an existing identity (the old files are kept as .bak)"),
    backupModule,
    "restore",
  );
  r.action(
    id.command("caught-up").description(
      "After a restore or recovery: allow writes without catching up with your chain (risks a fork)",
    ).option("--i-know", "confirm that no peer holds envelopes of yours that this data dir lacks"),
    backupModule,
    "caughtUp",
  );
  const recoveryModule = () => import("./id_recovery.ts");
  const recovery = id.command("recovery").description(
    "Social recovery: M-of-N trustees, a delay, cancellation by the current key",
  );
  r.action(
    recovery.command("setup").description("Name recovery trustees (a KEL event)")
      .requiredOption("--trustee <did>", "trustee DID (repeat)", collect)
      .requiredOption("--threshold <m>", "attestations needed")
      .requiredOption(
        "--delay <duration>",
        "waiting time before a recovery can finish (e.g. 3d)",
        durationArg("--delay"),
      ),
    recoveryModule,
    "setup",
  );
  r.action(
    recovery.command("request").description(
      "Lost your keys? Create new keys in this data dir and a recovery request file",
    ).requiredOption("--did <did>", "the identity to recover")
      .option("--out <file>", "request file (default recovery-request.cbor)")
      .option(
        "--expires <duration>",
        `how long the request stays valid (default ${recoveryValidityMsDefault / dayMs}d)`,
        durationArg("--expires"),
      )
      .option("--pq", "make the new keys hybrid (automatic when the identity is)")
      .option("--force", "replace an existing identity in this data dir"),
    recoveryModule,
    "request",
  );
  r.action(
    recovery.command("attest").description(
      "As a trustee, sign an attestation of a recovery request",
    )
      .argument("<request>", "request file")
      .option("--out <file>", "attestation file (default REQUEST.<trustee>.attestation)")
      .option(
        "--expires <duration>",
        `how long the attestation stays valid (default ${recoveryValidityMsDefault / dayMs}d)`,
        durationArg("--expires"),
      ),
    recoveryModule,
    "attest",
  );
  r.action(
    recovery.command("start").description(
      "Submit the request with M attestations; the delay starts",
    ).argument("<attestations...>", "attestation files"),
    recoveryModule,
    "start",
  );
  r.action(
    recovery.command("cancel").description(
      "With the current keys, cancel a pending recovery during its delay",
    ),
    recoveryModule,
    "cancel",
  );
  r.action(
    recovery.command("finalize").description(
      "After the delay, install the new keys (a recovery event)",
    ),
    recoveryModule,
    "finalize",
  );
  r.action(
    recovery.command("status").description("Show the recovery setup and any pending recovery")
      .option("--did <did>", "another identity known to this store"),
    recoveryModule,
    "status",
  );
  return id;
}
