/**
 * Identity lifecycle end to end through the CLI: rotation, PQ upgrade with
 * hybrid envelopes checked by a second data dir and by @noble/post-quantum,
 * backup/restore continuing the chain, and 2-of-3 social recovery.
 */
import * as age from "age-encryption";
import { blake2b } from "@noble/hashes/blake2.js";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { concatBytes, fromBase64, toBase64, utf8Encode } from "../core/bytes.ts";
import { readChain } from "../core/chain/read.ts";
import { identityKey, type IdentityRecord } from "../core/identity/kel.ts";
import { mlDsa65FromSeed, verifyMlDsa65 } from "../core/identity/keys.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { readKeystoreFile } from "../cli/keystore.ts";
import { assertEquals, assertMatch, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-idlc-" });
const passphrase = "correct horse";

/**
 * How far every data dir's clock is ahead of the real one: the recovery test
 * steps past its delay (`ICN_TEST_CLOCK_OFFSET_MS`) instead of sleeping through
 * it, which both wasted time and let a busy machine end the delay before the
 * "too early" check ran. It only moves forward.
 */
let clockOffsetMs = 0;
const clock = () => ({ env: { ICN_TEST_CLOCK_OFFSET_MS: String(clockOffsetMs) } });

function cli(home: string) {
  return (code: number, ...args: string[]) =>
    icnExpect(code, ["--data-dir", home, ...args], clock());
}
function cliJson(home: string) {
  return async <T = Record<string, unknown>>(...args: string[]) =>
    (await icnExpect(0, ["--json", "--data-dir", home, ...args], clock())).json<T>();
}

async function newIdentity(name: string, ...flags: string[]) {
  const home = `${dir}/${name}`;
  const { did } = await cliJson(home)<{ did: string }>("id", "init", ...flags);
  return { home, did, run: cli(home), json: cliJson(home) };
}

async function exchange(from: string, to: string, name: string): Promise<void> {
  const file = `${dir}/${name}.car`;
  await icnExpect(0, ["--data-dir", from, "node", "export", "--out", file], clock());
  await icnExpect(0, ["--data-dir", to, "node", "import", file], clock());
}

async function withStore<T>(home: string, fn: (store: KvStore) => Promise<T>): Promise<T> {
  const store = await KvStore.open(`${home}/icn.kv`);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

Deno.test("rotate twice: old and new signatures verify, history and resolve agree, a peer follows", async () => {
  const alice = await newIdentity("rot-alice");
  const peer = await newIdentity("rot-peer");
  const file = `${dir}/doc.txt`;
  await Deno.writeTextFile(file, "minutes of the assembly\n");
  await alice.run(0, "id", "sign", file, "--out", `${dir}/sig0`);
  const before = await snapshotDir(alice.home);
  const wrong = await icnExpect(1, ["--data-dir", alice.home, "id", "rotate"], {
    env: { ICN_PASSPHRASE: "wrong" },
  });
  assertMatch(wrong.stderr, /wrong passphrase/);
  if (!sameSnapshot(before, await snapshotDir(alice.home))) throw new Error("state changed");
  const bad = await alice.run(1, "id", "rotate", "--reason", "bored");
  assertMatch(bad.stderr, /reason/);
  await alice.run(0, "id", "rotate", "--reason", "scheduled");
  await alice.run(0, "id", "sign", file, "--out", `${dir}/sig1`);
  const second = await alice.json<{ seq: number }>("id", "rotate", "--reason", "compromised");
  assertEquals(second.seq, 2);
  for (const sig of ["sig0", "sig1"]) {
    await alice.run(0, "id", "verify", file, "--sig", `${dir}/${sig}`);
  }
  const history = await alice.json<
    { verified: boolean; events: { kind: string; status: string }[] }
  >(
    "id",
    "history",
  );
  assertEquals(history.verified, true);
  assertEquals(history.events.map((e) => e.kind), ["id.inception", "id.rotation", "id.rotation"]);
  const shown = await alice.json<{ kelSeq: number }>("id", "show");
  assertEquals(shown.kelSeq, 2);
  await exchange(alice.home, peer.home, "rot");
  for (const sig of ["sig0", "sig1"]) {
    await peer.run(0, "id", "verify", file, "--sig", `${dir}/${sig}`, "--did", alice.did);
  }
  const doc = await peer.json<{ id: string; icn: { kelSeq: number; keyHistory: unknown[] } }>(
    "id",
    "resolve",
    alice.did,
  );
  assertEquals([doc.id, doc.icn.kelSeq, doc.icn.keyHistory.length], [alice.did, 2, 3]);
  const unknown = await peer.run(
    1,
    "id",
    "resolve",
    "did:icn:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
  );
  assertMatch(unknown.stderr, /Unknown DID|Cannot resolve/);
  await peer.run(1, "id", "resolve", "did:key:nope");
});

Deno.test("upgrade-pq: hybrid envelopes verify in a data dir that only imported the KEL, and with @noble/post-quantum", async () => {
  const alice = await newIdentity("pq-alice");
  const bob = await newIdentity("pq-bob");
  const genesis = `${dir}/pq-genesis.json`;
  await alice.run(
    0,
    "governance",
    "genesis",
    "create",
    "--name",
    "PQ Co-op",
    "--member",
    bob.did,
    "--out",
    genesis,
  );
  for (const who of [alice, bob]) await who.run(0, "governance", "genesis", "sign", genesis);
  for (const who of [alice, bob]) await who.run(0, "governance", "join", genesis);
  const upgraded = await alice.json<{ seq: number }>("id", "upgrade-pq");
  assertEquals(upgraded.seq, 1);
  await alice.run(1, "id", "upgrade-pq");
  await alice.run(0, "trust", "add", bob.did, "0.5");
  await exchange(alice.home, bob.home, "pq");
  // Bob accepted the hybrid trust edge; check both signatures independently.
  const { record, envelope } = await withStore(bob.home, async (store) => {
    const record = (await store.get<IdentityRecord>(identityKey(alice.did)))!.value;
    const net = (await store.get<string>(["meta", "net"]))!.value;
    const [sealed] = await readChain(store, net, alice.did);
    return { record, envelope: sealed.envelope };
  });
  assertEquals(envelope.sigs.map((s) => s.alg), ["ed25519", "ml-dsa-65"]);
  const { signingBytes } = await import("../core/envelope/envelope.ts");
  const message = signingBytes(envelope);
  if (!ml_dsa65.verify(envelope.sigs[1].sig, message, record.keys.mlDsa65!)) {
    throw new Error("noble rejects the WebCrypto ML-DSA signature");
  }
  // icn id sign --pq; then noble → WebCrypto: replace the ML-DSA line with noble's signature.
  const file = `${dir}/pq.txt`;
  await Deno.writeTextFile(file, "hybrid\n");
  await alice.run(0, "id", "sign", file, "--pq");
  const verified = await alice.json<{ pq: boolean }>("id", "verify", file);
  assertEquals(verified.pq, true);
  await bob.run(0, "id", "verify", file, "--did", alice.did);
  const secrets = await readKeystoreFile(`${alice.home}/identity.age`, passphrase);
  const seed = fromBase64(secrets.mlDsa65!);
  const webcryptoKey = await mlDsa65FromSeed(seed);
  const noble = ml_dsa65.keygen(seed);
  assertEquals(toBase64(noble.publicKey), toBase64(webcryptoKey.publicKey));
  const lines = (await Deno.readTextFile(`${file}.minisig`)).split("\n");
  const trusted = lines[2].slice("trusted comment: ".length);
  const pqMessage = concatBytes(
    utf8Encode("icn/minisig-pq/v1\n"),
    blake2b(await Deno.readFile(file)),
    utf8Encode(trusted),
  );
  const nobleSig = ml_dsa65.sign(pqMessage, noble.secretKey);
  if (!(await verifyMlDsa65(webcryptoKey.publicKey, pqMessage, nobleSig))) {
    throw new Error("WebCrypto rejects noble's ML-DSA signature");
  }
  lines[4] = "icn-ml-dsa-65: " + toBase64(nobleSig);
  await Deno.writeTextFile(`${file}.minisig`, lines.join("\n"));
  await bob.run(0, "id", "verify", file, "--did", alice.did);
  lines[4] = "icn-ml-dsa-65: " + toBase64(nobleSig.map((b, i) => i === 10 ? b ^ 1 : b));
  await Deno.writeTextFile(`${file}.minisig`, lines.join("\n"));
  await bob.run(1, "id", "verify", file, "--did", alice.did);
  // A rotation keeps the identity hybrid.
  await alice.run(0, "id", "rotate");
  assertEquals((await alice.json<{ pq: boolean }>("id", "show")).pq, true);
});

Deno.test("init --pq identities sign --pq from the start", async () => {
  const carol = await newIdentity("pq-carol", "--pq");
  const file = `${dir}/carol.txt`;
  await Deno.writeTextFile(file, "carol\n");
  await carol.run(0, "id", "sign", file, "--pq");
  assertEquals((await carol.json<{ pq: boolean }>("id", "verify", file)).pq, true);
  const plain = await newIdentity("pq-dave");
  const refused = await plain.run(1, "id", "sign", file, "--pq", "--out", `${dir}/dave.sig`);
  assertMatch(refused.stderr, /upgrade-pq/);
});

Deno.test("backup → wipe → restore → the restored identity continues its chains", async () => {
  const alice = await newIdentity("bk-alice");
  const bob = await newIdentity("bk-bob");
  const genesis = `${dir}/bk-genesis.json`;
  await alice.run(
    0,
    "governance",
    "genesis",
    "create",
    "--name",
    "Backup Co-op",
    "--member",
    bob.did,
    "--out",
    genesis,
  );
  for (const who of [alice, bob]) await who.run(0, "governance", "genesis", "sign", genesis);
  for (const who of [alice, bob]) await who.run(0, "governance", "join", genesis);
  await alice.run(0, "id", "rotate");
  await alice.run(0, "trust", "add", bob.did, "0.5");
  await exchange(alice.home, bob.home, "bk1");
  const backup = `${dir}/alice.backup.age`;
  await alice.run(0, "id", "backup", "--out", backup);
  assertEquals((await Deno.stat(backup)).mode! & 0o777, 0o600);
  const checked = await alice.json<{ valid: boolean; did: string; kelSeq: number }>(
    "id",
    "backup",
    "verify",
    backup,
  );
  assertEquals([checked.valid, checked.did, checked.kelSeq], [true, alice.did, 1]);
  // Bad backups: truncated, wrong passphrase.
  const bytes = await Deno.readFile(backup);
  await Deno.writeFile(`${dir}/truncated.age`, bytes.slice(0, bytes.length - 40));
  const truncated = await alice.run(1, "id", "backup", "verify", `${dir}/truncated.age`);
  assertMatch(truncated.stderr, /truncated or corrupted/);
  const wrong = await icnExpect(1, ["--data-dir", alice.home, "id", "backup", "verify", backup], {
    env: { ICN_PASSPHRASE: "nope" },
  });
  assertMatch(wrong.stderr, /wrong passphrase/);
  // Restoring over a different identity needs --force and changes nothing without it.
  const before = await snapshotDir(bob.home);
  const refused = await bob.run(1, "id", "restore", backup);
  assertMatch(refused.stderr, /already holds an identity.*--force/);
  if (!sameSnapshot(before, await snapshotDir(bob.home))) throw new Error("bob's dir changed");
  const empty = `${dir}/bk-empty`;
  await icnExpect(1, ["--data-dir", empty, "id", "restore", `${dir}/truncated.age`]);
  // A backup whose KEL was reordered or lost an event is refused, and restore writes nothing.
  const decrypter = new age.Decrypter();
  decrypter.addPassphrase(passphrase);
  const archive = JSON.parse(await decrypter.decrypt(bytes, "text")) as { kel: string[] };
  for (const kel of [[archive.kel[1], archive.kel[0]], [archive.kel[1]]]) {
    const encrypter = new age.Encrypter();
    encrypter.setPassphrase(passphrase);
    encrypter.setScryptWorkFactor(10);
    await Deno.writeFile(
      `${dir}/tampered.age`,
      await encrypter.encrypt(JSON.stringify({ ...archive, kel })),
    );
    const tampered = await alice.run(1, "id", "backup", "verify", `${dir}/tampered.age`);
    assertMatch(tampered.stderr, /does not verify/);
    await icnExpect(1, ["--data-dir", empty, "id", "restore", `${dir}/tampered.age`]);
  }
  const created = await Deno.stat(empty).then(() => true, () => false);
  if (created) throw new Error("a refused restore created the data dir");
  // Wipe and restore.
  await Deno.remove(alice.home, { recursive: true });
  const restored = await alice.json<{ did: string; kelSeq: number }>("id", "restore", backup);
  assertEquals([restored.did, restored.kelSeq], [alice.did, 1]);
  assertEquals((await alice.json<{ did: string }>("id", "show")).did, alice.did);
  await alice.run(0, "governance", "join", genesis);
  await exchange(bob.home, alice.home, "bk2");
  await alice.run(0, "trust", "add", bob.did, "0.75");
  const rotated = await alice.json<{ seq: number }>("id", "rotate");
  assertEquals(rotated.seq, 2);
  await exchange(alice.home, bob.home, "bk3");
  const edges = await bob.json<unknown>("trust", "list", "--from", alice.did);
  assertMatch(JSON.stringify(edges), /0\.75/);
  // A stale backup (keys since rotated away) is refused.
  const stale = await alice.run(1, "id", "restore", backup, "--force");
  assertMatch(stale.stderr, /rotated away/);
  // --force over another identity keeps the old files.
  const other = await newIdentity("bk-other");
  const forced = await other.json<{ kept: string[] }>(
    "id",
    "restore",
    `${dir}/alice.backup.age`,
    "--force",
  );
  assertEquals(forced.kept.length, 2);
});

Deno.test("2-of-3 social recovery: bad attestations refused, a cancel, then a successful recovery", async () => {
  const recoveryDelayMs = 3_600_000; // --delay 1h
  const owner = await newIdentity("rc-owner");
  const trustees = [
    await newIdentity("rc-b"),
    await newIdentity("rc-c"),
    await newIdentity("rc-d"),
  ];
  const outsider = await newIdentity("rc-e");
  const rescue = {
    home: `${dir}/rc-rescue`,
    run: cli(`${dir}/rc-rescue`),
    json: cliJson(`${dir}/rc-rescue`),
  };
  const dup = await owner.run(
    1,
    "id",
    "recovery",
    "setup",
    "--trustee",
    trustees[0].did,
    "--trustee",
    trustees[0].did,
    "--threshold",
    "1",
    "--delay",
    "1h",
  );
  assertMatch(dup.stderr, /named twice/);
  await owner.run(
    0,
    "id",
    "recovery",
    "setup",
    ...trustees.flatMap((t) => ["--trustee", t.did]),
    "--threshold",
    "2",
    "--delay",
    "1h",
  );
  for (const [i, who] of [...trustees, outsider].entries()) {
    await exchange(who.home, owner.home, `rc-t${i}`);
  }
  for (const [i, who] of [...trustees, outsider, rescue].entries()) {
    await exchange(owner.home, who.home, `rc-o${i}`);
  }
  // The owner "loses" the keys: new keys and a request in a fresh data dir.
  const request = `${dir}/request.cbor`;
  await rescue.run(0, "id", "recovery", "request", "--did", owner.did, "--out", request);
  const attest = (who: { run: typeof owner.run }, out: string) =>
    who.run(0, "id", "recovery", "attest", request, "--out", `${dir}/${out}`);
  await attest(trustees[0], "att-b");
  await attest(trustees[1], "att-c");
  await attest(trustees[2], "att-d");
  const notTrustee = await outsider.run(
    1,
    "id",
    "recovery",
    "attest",
    request,
    "--out",
    `${dir}/att-e`,
  );
  assertMatch(notTrustee.stderr, /not one of its recovery trustees/);
  const forged = await Deno.readFile(`${dir}/att-c`);
  forged[forged.length - 80] ^= 1;
  await Deno.writeFile(`${dir}/att-forged`, forged);
  const before = await snapshotDir(rescue.home);
  const one = await rescue.run(1, "id", "recovery", "start", `${dir}/att-b`);
  assertMatch(one.stderr, /1 valid attestation\(s\), 2 required/);
  const twice = await rescue.run(1, "id", "recovery", "start", `${dir}/att-b`, `${dir}/att-b`);
  assertMatch(twice.stderr, /attested twice/);
  await rescue.run(1, "id", "recovery", "start", `${dir}/att-b`, `${dir}/att-forged`);
  if (!sameSnapshot(before, await snapshotDir(rescue.home))) throw new Error("rescue dir changed");
  await rescue.run(0, "id", "recovery", "start", `${dir}/att-b`, `${dir}/att-c`);
  const early = await rescue.run(1, "id", "recovery", "finalize");
  assertMatch(early.stderr, /yet: its delay ends/);
  // The owner still has the keys after all and cancels during the delay.
  await exchange(rescue.home, owner.home, "rc-r1");
  const status = await owner.json<{ pending: unknown }>("id", "recovery", "status");
  if (!status.pending) throw new Error("no pending recovery seen by the owner");
  await owner.run(0, "id", "recovery", "cancel");
  await exchange(owner.home, rescue.home, "rc-o-cancel");
  clockOffsetMs += recoveryDelayMs + 1000; // the cancelled delay would have ended by now
  const cancelled = await rescue.run(1, "id", "recovery", "finalize");
  assertMatch(cancelled.stderr, /no pending recovery/);
  // Second attempt, with Carol and Dave, runs to the end.
  await rescue.run(0, "id", "recovery", "start", `${dir}/att-c`, `${dir}/att-d`);
  const tooEarly = await rescue.run(1, "id", "recovery", "finalize");
  assertMatch(tooEarly.stderr, /yet: its delay ends/);
  clockOffsetMs += recoveryDelayMs + 1000;
  await rescue.run(0, "id", "recovery", "finalize");
  const shown = await rescue.json<{ did: string; kelSeq: number }>("id", "show");
  assertEquals(shown.did, owner.did);
  const file = `${dir}/recovered.txt`;
  await Deno.writeTextFile(file, "back in control\n");
  await rescue.run(0, "id", "sign", file);
  await rescue.run(0, "id", "rotate");
  await exchange(rescue.home, trustees[0].home, "rc-final");
  await trustees[0].run(0, "id", "verify", file, "--did", owner.did);
  const history = await trustees[0].json<{ verified: boolean; events: { kind: string }[] }>(
    "id",
    "history",
    "--did",
    owner.did,
  );
  assertEquals(history.verified, true);
  assertEquals(history.events.map((e) => e.kind), [
    "id.inception",
    "id.recovery-setup",
    "id.recovery-start",
    "id.recovery-cancel",
    "id.recovery-start",
    "id.recovery",
    "id.rotation",
  ]);
  // The old keys no longer work for the owner's old data dir.
  await exchange(rescue.home, owner.home, "rc-r2");
  const locked = await owner.run(1, "id", "rotate");
  assertMatch(locked.stderr, /not the current keys/);
});
