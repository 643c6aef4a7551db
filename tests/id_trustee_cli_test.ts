/**
 * Trustee backups through the CLI: `icn id backup --to … --threshold M`,
 * `icn id share-open`, `icn id restore BUNDLE --share …`. M shares
 * restore the identity (its old encrypted files included), M−1 are refused and
 * write nothing, a forged share is caught.
 */
import { assertEquals, assertMatch, icn, icnExpect } from "./_cli.ts";
import { ok as assert } from "node:assert";
import { unlockKeystoreFile } from "./_keystore.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-trustee-" });

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

async function carry(from: Who, to: Who): Promise<void> {
  const file = `${dir}/${crypto.randomUUID()}.car`;
  await icnExpect(0, ["--data-dir", from.home, "node", "export", "--out", file]);
  await icnExpect(0, ["--data-dir", to.home, "node", "import", file]);
}

const as = (who: Who | string, ...args: string[]) =>
  icn(["--data-dir", typeof who === "string" ? who : who.home, ...args]);
const asOk = (who: Who | string, ...args: string[]) =>
  icnExpect(0, ["--data-dir", typeof who === "string" ? who : who.home, ...args]);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

const owner = await init("owner", "--pq");
const t1 = await init("t1", "--pq");
const t2 = await init("t2");
const t3 = await init("t3");
await carry(t1, t2);
await carry(t2, t3);
await carry(t3, owner);

const bundle = `${dir}/backup.json`;
const secretFile = `${dir}/notes.txt`;
await Deno.writeTextFile(secretFile, "only the owner reads this\n");

Deno.test("trustee backup: bad thresholds and trustee lists are refused before anything is written", async () => {
  const base = ["id", "backup", "--out", `${dir}/never.json`];
  for (
    const [args, pattern] of [
      [["--to", t1.did, "--to", t2.did, "--threshold", "1"], /from 2 to the number of trustees/],
      [["--to", t1.did, "--to", t2.did, "--threshold", "3"], /from 2 to the number of trustees/],
      [["--to", t1.did, "--threshold", "2"], /name 2 to/],
      [["--to", t1.did, "--to", owner.did, "--threshold", "2"], /yourself/],
      [["--threshold", "2"], /without --to/],
      [["--to", t1.did, "--to", t2.did], /without --threshold/],
      [["--to", t1.did, "--to", t2.did, "--threshold", "two"], /whole number/],
    ] as const
  ) {
    const run = await as(owner, ...base, ...args);
    assertEquals(run.code, 1, `${args.join(" ")}: ${run.stderr}`);
    assertMatch(run.stderr, pattern);
    assertEquals(await exists(`${dir}/never.json`), false);
  }
});

Deno.test("trustee backup: 2 of 3 trustees restore the identity, with the keys to its old files; 1 cannot", async () => {
  // A file encrypted to the owner before the backup.
  await asOk(owner, "id", "encrypt", "--to", owner.did, "--out", `${secretFile}.age`, secretFile);
  const made = (await icnExpect(0, [
    "--json",
    "--data-dir",
    owner.home,
    "id",
    "backup",
    "--to",
    t1.did,
    "--to",
    t2.did,
    "--to",
    t3.did,
    "--threshold",
    "2",
    "--out",
    bundle,
  ])).json<{ threshold: number; trustees: { did: string; stanza: string }[] }>();
  assertEquals(made.threshold, 2);
  assertEquals(made.trustees.map((t) => t.stanza), ["mlkem768x25519", "X25519", "X25519"]);
  const text = await Deno.readTextFile(bundle);
  // Nothing secret in the clear: none of the owner's seeds appears.
  const secrets = await unlockKeystoreFile(`${owner.home}/identity.age`, "correct horse");
  for (const seed of [secrets.ed25519, secrets.x25519, secrets.mlKem768!, secrets.next.ed25519]) {
    assert(!text.includes(seed), "the bundle holds a seed in the clear");
  }

  // Someone who is not a trustee has no share to open.
  const stranger = await as(owner, "id", "share-open", bundle, "--out", `${dir}/x`);
  assertEquals(stranger.code, 1);
  assertMatch(stranger.stderr, /is not one of its 3 trustees/);

  const s1 = `${dir}/share-1.json`;
  const s2 = `${dir}/share-2.json`;
  await asOk(t1, "id", "share-open", bundle, "--out", s1);
  await asOk(t2, "id", "share-open", bundle, "--out", s2);
  assertEquals((await Deno.stat(s1)).mode! & 0o777, 0o600);

  // One share (or the same one twice) is refused, and the new data dir gets no identity.
  const fresh = `${dir}/restored`;
  for (const shares of [[s1], [s1, s1]]) {
    const run = await as(fresh, "id", "restore", bundle, ...shares.flatMap((s) => ["--share", s]));
    assertEquals(run.code, 1, run.stderr);
    assertMatch(run.stderr, /needs 2 different trustees' shares, 1 given/);
    assertEquals(await exists(`${fresh}/identity.age`), false);
  }
  const noShares = await as(fresh, "id", "restore", bundle);
  assertEquals(noShares.code, 1);
  assertMatch(noShares.stderr, /share-open/);

  // A forged share does not rebuild the backup key. The byte changed is one in the middle: a
  // change to the first byte can land only in the rebuilt key's low three bits, which X25519
  // clamps away, so that "forgery" rebuilds a working key (about 1 run in 37 did).
  const forged = JSON.parse(await Deno.readTextFile(s2));
  const bytes = Uint8Array.from(atob(forged.share), (c) => c.charCodeAt(0));
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  forged.share = btoa(String.fromCharCode(...bytes));
  await Deno.writeTextFile(`${dir}/forged.json`, JSON.stringify(forged));
  const bad = await as(
    fresh,
    "id",
    "restore",
    bundle,
    "--share",
    s1,
    "--share",
    `${dir}/forged.json`,
  );
  assertEquals(bad.code, 1);
  assertMatch(bad.stderr, /do not rebuild its backup key/);
  assertEquals(await exists(`${fresh}/identity.age`), false);

  // Two real shares: verify, then restore, under a new passphrase.
  await asOk(owner, "id", "backup", "verify", bundle, "--share", s1, "--share", s2);
  const restored = (await icnExpect(0, [
    "--json",
    "--data-dir",
    fresh,
    "id",
    "restore",
    bundle,
    "--share",
    s1,
    "--share",
    s2,
  ], { env: { ICN_PASSPHRASE: "a new passphrase" } })).json<{ did: string; shares: number }>();
  assertEquals(restored.did, owner.did);
  assertEquals(restored.shares, 2);
  const got = await icnExpect(0, [
    "--data-dir",
    fresh,
    "id",
    "decrypt",
    "--out",
    "-",
    `${secretFile}.age`,
  ], {
    env: { ICN_PASSPHRASE: "a new passphrase" },
  });
  assertEquals(got.stdout, "only the owner reads this\n");
});

Deno.test({
  name: "icn id trustee tests clean up",
  sanitizeResources: false,
  async fn() {
    await Deno.remove(dir, { recursive: true });
  },
});
