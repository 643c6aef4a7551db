/**
 * `icn id encrypt` refuses recipients whose keys are contested or cannot be checked, writing
 * nothing: a DID with a pending social recovery (icn has no revocation event; a pending
 * recovery means the current keys may be lost or in a thief's hands), allowed again once the
 * recovery is cancelled; and a DID whose stored key event log no longer verifies. The other
 * refusals (unknown DID, a record without its log, wrong identity, truncated or tampered
 * files) are in tests/id_encrypt_cli_test.ts.
 */
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";
import { chainKeys, type StoredEnvelope } from "../core/chain/keys.ts";
import { kelNet } from "../core/constants.ts";
import { KvStore } from "../core/store/kv_store.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-enc-refuse-" });

interface Who {
  home: string;
  did: string;
}

async function init(name: string): Promise<Who> {
  const home = `${dir}/${name}`;
  const { did } = (await icnExpect(0, ["--json", "--data-dir", home, "id", "init"]))
    .json<{ did: string }>();
  return { home, did };
}

const as = (who: { home: string }, ...args: string[]) => icn(["--data-dir", who.home, ...args]);
const asOk = (who: { home: string }, ...args: string[]) =>
  icnExpect(0, ["--data-dir", who.home, ...args]);

/** Carries every KEL `from` holds into `to`. */
async function carry(from: { home: string }, to: { home: string }): Promise<void> {
  const file = `${dir}/${crypto.randomUUID()}.car`;
  await asOk(from, "node", "export", "--out", file);
  await asOk(to, "node", "import", file);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

const plain = `${dir}/note.txt`;
await Deno.writeTextFile(plain, "the minutes, for your eyes only\n");

Deno.test({
  name:
    "encrypting to a DID under a pending recovery is refused and writes nothing; allowed again after a cancel",
  fn: async () => {
    const owner = await init("owner");
    const trustee = await init("trustee"); // also the sender
    const rescue = { home: `${dir}/rescue` };
    await asOk(
      owner,
      "id",
      "recovery",
      "setup",
      "--trustee",
      trustee.did,
      "--threshold",
      "1",
      "--delay",
      "1h",
    );
    await carry(trustee, owner);
    await carry(owner, trustee);
    await carry(owner, rescue);
    // Before any recovery the owner's current keys are used.
    await asOk(trustee, "id", "encrypt", "--to", owner.did, "--out", `${dir}/before.age`, plain);

    // Someone claims the identity: new keys in a fresh data dir, attested by the trustee.
    const request = `${dir}/request.cbor`;
    await asOk(rescue, "id", "recovery", "request", "--did", owner.did, "--out", request);
    await asOk(trustee, "id", "recovery", "attest", request, "--out", `${dir}/attestation`);
    await asOk(rescue, "id", "recovery", "start", `${dir}/attestation`);
    await carry(rescue, trustee);

    const out = `${dir}/during.age`;
    const before = await snapshotDir(trustee.home);
    for (const args of [["--out", out], ["--armor", "--out", out]]) {
      const refused = await as(trustee, "id", "encrypt", "--to", owner.did, ...args, plain);
      assertEquals(refused.code, 1, refused.stderr);
      assertMatch(
        refused.stderr,
        /Cannot encrypt to "did:icn:[^"]+": a recovery of this identity is pending \(ready at \d{4}-/,
      );
      assertEquals(refused.stdout, "");
      assertEquals(await exists(out), false);
    }
    // To standard output: nothing printed either.
    const toStdout = await as(trustee, "id", "encrypt", "--to", owner.did, "--out", "-", plain);
    assertEquals([toStdout.code, toStdout.stdout], [1, ""]);
    // --json names the reason.
    const json = await as(
      trustee,
      "--json",
      "id",
      "encrypt",
      "--to",
      owner.did,
      "--out",
      out,
      plain,
    );
    assertEquals(json.code, 1);
    assertMatch(json.stdout + json.stderr, /recovery_pending/);
    // Several recipients, one of them contested: the whole file is refused.
    const several = await as(
      trustee,
      "id",
      "encrypt",
      "--to",
      trustee.did,
      "--to",
      owner.did,
      "--out",
      out,
      plain,
    );
    assertEquals(several.code, 1);
    assertEquals(await exists(out), false);
    assertEquals(sameSnapshot(before, await snapshotDir(trustee.home)), true);

    // The owner still has the keys and cancels: encrypting to them works again.
    await carry(rescue, owner);
    await asOk(owner, "id", "recovery", "cancel");
    await carry(owner, trustee);
    await asOk(trustee, "id", "encrypt", "--to", owner.did, "--out", out, plain);
    await asOk(owner, "id", "decrypt", "--out", `${dir}/after.txt`, out);
    assertEquals(await Deno.readTextFile(`${dir}/after.txt`), await Deno.readTextFile(plain));
  },
});

Deno.test("encrypting to a DID whose stored key event log no longer verifies is refused and writes nothing", async () => {
  const sender = await init("sender");
  const target = await init("target");
  await carry(target, sender);
  // A damaged store: one bit of the target's inception signature flipped on disk.
  const store = await KvStore.open(`${sender.home}/icn.kv`);
  try {
    const key = chainKeys.position(kelNet, target.did, 0);
    const stored = (await store.get<StoredEnvelope>(key))!.value;
    if (!("bytes" in stored)) throw new Error("the inception is stored in parts");
    const bytes = stored.bytes.slice();
    bytes[bytes.length - 3] ^= 1;
    await store.commit([], [{ type: "set", key, value: { ...stored, bytes } }]);
  } finally {
    store.close();
  }
  const out = `${dir}/unverifiable.age`;
  const refused = await as(sender, "id", "encrypt", "--to", target.did, "--out", out, plain);
  assertEquals(refused.code, 1, refused.stderr);
  assertMatch(
    refused.stderr,
    /Cannot encrypt to "did:icn:[^"]+": its key event log does not verify/,
  );
  assertEquals(await exists(out), false);
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // already gone
  }
});
