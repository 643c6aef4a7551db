import { ok as assert, rejects } from "node:assert";
import * as age from "age-encryption";
import { toBase64 } from "../core/bytes.ts";
import { IcnError } from "../core/errors.ts";
import { didFromPublicKey } from "../core/identity/did.ts";
import { CliContext } from "./context.ts";
import { verifyBackup } from "./id_backup.ts";

const passphrase = "correct horse";

class TestContext extends CliContext {
  override passphrase(): Promise<string> {
    return Promise.resolve(passphrase);
  }
}

function seed(n: number, length = 32): string {
  return toBase64(new Uint8Array(length).fill(n));
}

/** An archive whose secrets pass the keystore's own checks. */
function archive(did: string): Record<string, unknown> {
  return {
    format: "icn-identity-backup",
    v: 1,
    did,
    created: 1,
    secrets: {
      v: 1,
      did,
      created: 1,
      ed25519: seed(1),
      x25519: seed(2),
      next: { ed25519: seed(3), x25519: seed(4) },
    },
    identity: { did, created: 1, keys: { ed25519: "z", x25519: "z" }, pq: false, kelSeq: 0 },
    kel: [seed(5, 40)],
  };
}

async function backupFile(dir: string, value: unknown): Promise<string> {
  const encrypter = new age.Encrypter();
  encrypter.setPassphrase(passphrase);
  encrypter.setScryptWorkFactor(10);
  const path = `${dir}/backup.age`;
  await Deno.writeFile(path, await encrypter.encrypt(JSON.stringify(value)));
  return path;
}

async function refused(value: unknown, pattern: RegExp): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "icn-backup-test-" });
  try {
    const ctx = new TestContext({ dataDir: dir, json: false, debug: false, color: false });
    const path = await backupFile(dir, value);
    await rejects(verifyBackup(ctx, [path]), (error: unknown) => {
      assert(error instanceof IcnError, `not an IcnError (exit 3, a bug): ${error}`);
      assert(pattern.test(error.message), error.message);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const did = didFromPublicKey(new Uint8Array(32).fill(9));

// The keystore re-check encrypts the secrets: keep its scrypt cheap here.
Deno.env.set("ICN_SCRYPT_LOG_N", "10");

Deno.test("verifyBackup() refuses a backup whose identity is null with a typed error (was a TypeError)", async () => {
  await refused({ ...archive(did), identity: null }, /\$\.identity must be a map/);
});

Deno.test("verifyBackup() refuses a creation time no date can show (was a RangeError)", async () => {
  await refused({ ...archive(did), created: 9e15 }, /\$\.created must be from 0/);
});

Deno.test("verifyBackup() refuses a KEL entry that is not base64 with a typed error (was a DOMException)", async () => {
  await refused({ ...archive(did), kel: [5] }, /\$\.kel\[0\]/);
  await refused({ ...archive(did), kel: ["%%%%"] }, /\$\.kel\[0\]/);
});

Deno.test("verifyBackup() refuses unknown fields and malformed seeds (were accepted or crashed)", async () => {
  await refused({ ...archive(did), note: "x" }, /unexpected field "note"/);
  const secrets = { ...(archive(did).secrets as object), mlDsa65: seed(6) };
  await refused({ ...archive(did), secrets }, /post-quantum seeds are incomplete/);
  await refused({ ...archive(did), secrets: null }, /\$\.secrets must be a map/);
  await refused([1], /not an icn identity backup/);
  await refused("text", /not an icn identity backup/);
});

Deno.test("verifyBackup() refuses a file that is not an age file, or too large, with a typed error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icn-backup-test-" });
  try {
    const ctx = new TestContext({ dataDir: dir, json: false, debug: false, color: false });
    await Deno.writeTextFile(`${dir}/junk`, "age-encryption.org/v1\n-> scrypt\n");
    await rejects(verifyBackup(ctx, [`${dir}/junk`]), IcnError);
    await rejects(verifyBackup(ctx, [`${dir}/missing`]), IcnError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verifyBackup() refuses an scrypt work factor above what icn writes before doing the work (age allows 2^20: 1 GiB)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icn-backup-test-" });
  try {
    const ctx = new TestContext({ dataDir: dir, json: false, debug: false, color: false });
    const path = await backupFile(dir, archive(did));
    const text = new TextDecoder("latin1").decode(await Deno.readFile(path));
    const costly = text.replace(/^(-> scrypt \S+) 10$/m, "$1 20");
    assert(costly !== text);
    await Deno.writeFile(path, Uint8Array.from(costly, (c) => c.charCodeAt(0)));
    const started = performance.now();
    await rejects(verifyBackup(ctx, [path]), /work factor "20" is above the 2\^18/);
    assert(performance.now() - started < 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
