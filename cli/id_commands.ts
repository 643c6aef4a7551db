import { Command } from "commander";
import { collect, type Registrar } from "./command.ts";

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
    load,
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
      .option("--did <did>", "require this signer")
      .option("--pubkey <file>", "verify against a minisign public key file instead of a DID"),
    load,
    "verify",
  );
  r.action(
    id.command("export").description("Print the DID document (no secrets)")
      .option("--minisign", "print the minisign public key instead"),
    load,
    "exportIdentity",
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
  void collect;
  return id;
}
