/**
 * `icn id encrypt | decrypt | export --age-*` through the CLI: round trips to
 * one and several recipients (hybrid and classical), the real `age` tool both
 * ways, clear refusals that write nothing, and decryption after a rotation.
 */
import { assertEquals, assertMatch, icn, icnExpect, requireTool } from "./_cli.ts";
import { ok as assert } from "node:assert";
import { didFromPublicKey } from "../core/identity/did.ts";
import { identityKey, type IdentityRecord } from "../core/identity/kel.ts";
import { KvStore } from "../core/store/kv_store.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-enc-" });

interface Who {
  home: string;
  did: string;
}

async function init(name: string, ...flags: string[]): Promise<Who> {
  const home = `${dir}/${name}`;
  const { did } = (await icnExpect(0, ["--json", "--data-dir", home, "id", "init", ...flags]))
    .json<{ did: string }>();
  return { home, did };
}

/** Carries every KEL `from` holds into `to`. */
async function carry(from: Who, to: Who): Promise<void> {
  const file = `${dir}/${crypto.randomUUID()}.car`;
  await icnExpect(0, ["--data-dir", from.home, "node", "export", "--out", file]);
  await icnExpect(0, ["--data-dir", to.home, "node", "import", file]);
}

const as = (who: Who, ...args: string[]) => icn(["--data-dir", who.home, ...args]);
const asOk = (who: Who, ...args: string[]) => icnExpect(0, ["--data-dir", who.home, ...args]);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

const alice = await init("alice", "--pq"); // hybrid: ML-KEM-768 + X25519
const bob = await init("bob");
const carol = await init("carol");
const eve = await init("eve"); // knows everyone, is sent nothing
// Everyone learns everyone's key event log.
await carry(alice, bob);
await carry(bob, carol);
await carry(carol, eve);
for (const who of [alice, bob, carol]) await carry(eve, who);

const plain = `${dir}/letter.txt`;
const letter = "Dear members,\nthe invoice is attached.\n";
await Deno.writeTextFile(plain, letter);

Deno.test("encrypt to one hybrid and to one classical recipient: each decrypts, the stanza fits its keys", async () => {
  const toAlice = (await icnExpect(0, [
    "--json",
    "--data-dir",
    bob.home,
    "id",
    "encrypt",
    "--to",
    alice.did,
    "--out",
    `${dir}/to-alice.age`,
    plain,
  ])).json<{ recipients: { did: string; stanza: string }[] }>();
  assertEquals(toAlice.recipients.map((r) => r.stanza), ["mlkem768x25519"]);
  const header = new TextDecoder().decode(
    (await Deno.readFile(`${dir}/to-alice.age`)).slice(0, 80),
  );
  assertMatch(header, /^age-encryption\.org\/v1\n-> mlkem768x25519 /);
  await asOk(alice, "id", "decrypt", "--out", `${dir}/alice-got.txt`, `${dir}/to-alice.age`);
  assertEquals(await Deno.readTextFile(`${dir}/alice-got.txt`), letter);
  assertEquals((await Deno.stat(`${dir}/alice-got.txt`)).mode! & 0o777, 0o600);

  await asOk(alice, "id", "encrypt", "--to", bob.did, "--out", `${dir}/to-bob.age`, plain);
  const bobHeader = new TextDecoder().decode(
    (await Deno.readFile(`${dir}/to-bob.age`)).slice(0, 40),
  );
  assertMatch(bobHeader, /^age-encryption\.org\/v1\n-> X25519 /);
  const out = await asOk(bob, "id", "decrypt", "--out", "-", `${dir}/to-bob.age`);
  assertEquals(out.stdout, letter);
});

Deno.test("encrypt to several recipients (hybrid and classical, by contact name too): each of them decrypts, nobody else", async () => {
  await asOk(bob, "contacts", "add", "carol", carol.did);
  const file = `${dir}/to-three.age`;
  const result = (await icnExpect(0, [
    "--json",
    "--data-dir",
    bob.home,
    "id",
    "encrypt",
    "--to",
    alice.did,
    "--to",
    bob.did,
    "--to",
    "carol",
    "--to",
    carol.did, // the same recipient twice gets one stanza
    "--armor",
    "--out",
    file,
    plain,
  ])).json<{ recipients: { did: string; stanza: string }[] }>();
  assertEquals(result.recipients.length, 3);
  const text = await Deno.readTextFile(file);
  assert(text.startsWith("-----BEGIN AGE ENCRYPTED FILE-----"));
  for (const [who, name] of [[alice, "a"], [bob, "b"], [carol, "c"]] as const) {
    await asOk(who, "id", "decrypt", "--out", `${dir}/three-${name}.txt`, file);
    assertEquals(await Deno.readTextFile(`${dir}/three-${name}.txt`), letter);
  }
  const refused = await as(eve, "id", "decrypt", "--out", `${dir}/three-eve.txt`, file);
  assertEquals(refused.code, 1);
  assertMatch(refused.stderr, /not encrypted to did:icn:/);
  assertEquals(await exists(`${dir}/three-eve.txt`), false);
});

Deno.test("refusals write nothing: unknown DID, truncated, tampered, existing output, not an age file", async () => {
  const unknown = didFromPublicKey(crypto.getRandomValues(new Uint8Array(32)));
  const noOut = `${dir}/never.age`;
  const u = await as(bob, "id", "encrypt", "--to", unknown, "--out", noOut, plain);
  assert(u.code !== 0, u.stderr);
  assertMatch(u.stderr, /Cannot encrypt to "did:icn:.*": no key event log for it in this store/);
  assertEquals(await exists(noOut), false);
  const none = await as(bob, "id", "encrypt", "--out", noOut, plain);
  assertEquals(none.code, 2); // --to is required
  assertEquals(await exists(noOut), false);

  // A record without the key event log behind it (a damaged or hand-edited store) is refused.
  const forged = didFromPublicKey(crypto.getRandomValues(new Uint8Array(32)));
  const store = await KvStore.open(`${eve.home}/icn.kv`);
  try {
    const record = (await store.get<IdentityRecord>(identityKey(carol.did)))!.value;
    await store.commit([], [{
      type: "set",
      key: identityKey(forged),
      value: { ...record, did: forged },
    }]);
  } finally {
    store.close();
  }
  const v = await as(eve, "id", "encrypt", "--to", forged, "--out", noOut, plain);
  assertEquals(v.code, 1);
  assertMatch(v.stderr, /key event log in this store is incomplete|does not verify/);
  assertEquals(await exists(noOut), false);

  const good = `${dir}/to-carol.age`;
  await asOk(bob, "id", "encrypt", "--to", carol.did, "--out", good, plain);
  const bytes = await Deno.readFile(good);
  const truncated = `${dir}/truncated.age`;
  await Deno.writeFile(truncated, bytes.slice(0, bytes.length - 5));
  const t = await as(carol, "id", "decrypt", "--out", `${dir}/t.txt`, truncated);
  assertEquals(t.code, 1);
  assertMatch(t.stderr, /truncated, tampered with or damaged/);
  assertEquals(await exists(`${dir}/t.txt`), false);

  const tampered = `${dir}/tampered.age`;
  const flipped = bytes.slice();
  flipped[flipped.length - 10] ^= 1;
  await Deno.writeFile(tampered, flipped);
  const f = await as(carol, "id", "decrypt", "--out", `${dir}/f.txt`, tampered);
  assertEquals(f.code, 1);
  assertMatch(f.stderr, /truncated, tampered with or damaged/);
  assertEquals(await exists(`${dir}/f.txt`), false);

  // A header change breaks the header MAC.
  const header = bytes.slice();
  header[30] ^= 1;
  await Deno.writeFile(`${dir}/header.age`, header);
  const h = await as(carol, "id", "decrypt", "--out", `${dir}/h.txt`, `${dir}/header.age`);
  assertEquals(h.code, 1);
  assertEquals(await exists(`${dir}/h.txt`), false);

  await Deno.writeTextFile(`${dir}/busy.txt`, "keep me");
  const busy = await as(carol, "id", "decrypt", "--out", `${dir}/busy.txt`, good);
  assertEquals(busy.code, 1);
  assertMatch(busy.stderr, /exists; use --force/);
  assertEquals(await Deno.readTextFile(`${dir}/busy.txt`), "keep me");

  const n = await as(carol, "id", "decrypt", "--out", `${dir}/n.txt`, plain);
  assertEquals(n.code, 1);
  assertMatch(n.stderr, /not an age encrypted file/);
  assertEquals(await exists(`${dir}/n.txt`), false);
});

Deno.test("the real age tool: decrypts what icn encrypts, and icn decrypts what age encrypts to an identity's recipient", async () => {
  if (!requireTool("age", "age -d / age -r against icn id encrypt/decrypt")) return;
  const recipient = (await asOk(carol, "id", "export", "--age-recipient")).stdout.trim();
  assertMatch(recipient, /^age1[a-z0-9]{58}$/);
  const keyFile = `${dir}/carol.agekey`;
  const exported = await asOk(carol, "id", "export", "--age-identity", "--out", keyFile);
  assertMatch(exported.stderr, /warning: .*secret key/);
  assertEquals((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
  assertMatch(await Deno.readTextFile(keyFile), /^AGE-SECRET-KEY-1[0-9A-Z]+$/m);
  // Never overwritten.
  const again = await as(carol, "id", "export", "--age-identity", "--out", keyFile);
  assertEquals(again.code, 1);
  assertMatch(again.stderr, /never overwrites a key file/);

  // icn → age (binary and armored; alice is hybrid: age ignores her stanza and uses carol's)
  const file = `${dir}/for-age.age`;
  await asOk(bob, "id", "encrypt", "--to", carol.did, "--to", alice.did, "--out", file, plain);
  const ageOut = await new Deno.Command("age", { args: ["-d", "-i", keyFile, file] }).output();
  assertEquals(ageOut.code, 0, new TextDecoder().decode(ageOut.stderr));
  assertEquals(new TextDecoder().decode(ageOut.stdout), letter);
  const armored = `${dir}/for-age.asc`;
  await asOk(bob, "id", "encrypt", "--armor", "--to", carol.did, "--out", armored, plain);
  const armorOut = await new Deno.Command("age", { args: ["-d", "-i", keyFile, armored] }).output();
  assertEquals(new TextDecoder().decode(armorOut.stdout), letter);

  // age → icn
  const fromAge = `${dir}/from-age.age`;
  const enc = await new Deno.Command("age", {
    args: ["-r", recipient, "-o", fromAge, plain],
  }).output();
  assertEquals(enc.code, 0, new TextDecoder().decode(enc.stderr));
  const got = await asOk(carol, "id", "decrypt", "--out", "-", fromAge);
  assertEquals(got.stdout, letter);
  const enca = await new Deno.Command("age", {
    args: ["-a", "-r", recipient, "-o", `${fromAge}.asc`, plain],
  }).output();
  assertEquals(enca.code, 0);
  assertEquals((await asOk(carol, "id", "decrypt", "--out", "-", `${fromAge}.asc`)).stdout, letter);
  // A passphrase file is named as such.
  const hybrid = await as(alice, "id", "export", "--age-recipient", "--pq");
  assertMatch(hybrid.stdout.trim(), /^age1pq1[a-z0-9]+$/);
  const noPq = await as(bob, "id", "export", "--age-recipient", "--pq");
  assertEquals(noPq.code, 1);
  assertMatch(noPq.stderr, /no ML-KEM-768 key/);
});

Deno.test("after a rotation: files to the earlier keys still decrypt (classical and hybrid); new files use the new keys", async () => {
  const toCarol = `${dir}/before-rotation-carol.age`;
  const toAlice = `${dir}/before-rotation-alice.age`;
  await asOk(bob, "id", "encrypt", "--to", carol.did, "--out", toCarol, plain);
  await asOk(bob, "id", "encrypt", "--to", alice.did, "--out", toAlice, plain);
  const before = (await asOk(carol, "id", "export", "--age-recipient")).stdout.trim();
  await asOk(carol, "id", "rotate");
  await asOk(alice, "id", "rotate");
  const after = (await asOk(carol, "id", "export", "--age-recipient")).stdout.trim();
  assert(before !== after, "the rotation changed the X25519 key");
  const c = (await icnExpect(0, [
    "--json",
    "--data-dir",
    carol.home,
    "id",
    "decrypt",
    "--out",
    `${dir}/rot-c.txt`,
    toCarol,
  ])).json<{ keys: string }>();
  assertEquals(c.keys, "earlier");
  assertEquals(await Deno.readTextFile(`${dir}/rot-c.txt`), letter);
  const a = (await icnExpect(0, [
    "--json",
    "--data-dir",
    alice.home,
    "id",
    "decrypt",
    "--out",
    `${dir}/rot-a.txt`,
    toAlice,
  ])).json<{ keys: string }>();
  assertEquals(a.keys, "earlier");
  // bob learns the rotations; his next file uses carol's new key (seq 1) and only it.
  await carry(carol, bob);
  const fresh = (await icnExpect(0, [
    "--json",
    "--data-dir",
    bob.home,
    "id",
    "encrypt",
    "--to",
    carol.did,
    "--out",
    `${dir}/after-rotation.age`,
    plain,
  ])).json<{ recipients: { seq: number }[] }>();
  assertEquals(fresh.recipients[0].seq, 1);
  const d = (await icnExpect(0, [
    "--json",
    "--data-dir",
    carol.home,
    "id",
    "decrypt",
    "--out",
    `${dir}/rot-new.txt`,
    `${dir}/after-rotation.age`,
  ])).json<{ keys: string }>();
  assertEquals(d.keys, "current");
});

Deno.test({
  name: "icn id encrypt tests clean up",
  sanitizeResources: false,
  async fn() {
    await Deno.remove(dir, { recursive: true });
  },
});
