/**
 * Crash test: `icn id rotate` and `icn id restore` are killed at random
 * points (named crash points via ICN_TEST_CRASH_AT, plus real SIGKILLs at
 * random times), 50 runs in all. After every run the identity must be
 * usable: the keystore decrypts, its keys are the KEL's current keys and its
 * next keys match the committed digest. Every few runs the CLI itself signs
 * and verifies.
 */
import { bytesEqual } from "../core/bytes.ts";
import {
  identityKey,
  type IdentityRecord,
  nextKeysDigest,
  sameKeys,
} from "../core/identity/kel.ts";
import { seededRng } from "../core/ports.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { publicKeysOf } from "../cli/public_identity.ts";
import { assertEquals, icnExpect } from "./_cli.ts";
// Unlocking, not only reading: a run killed mid-rotation leaves a pending event to settle.
import { unlockKeystoreFile as readKeystoreFile } from "./_keystore.ts";

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;
const configPath = new URL("../deno.json", import.meta.url).pathname;
const passphrase = "correct horse";
const dir = await Deno.makeTempDir({ prefix: "icn-crash-" });
const rng = seededRng(20261120);
const rotatePoints = [
  "rotate:before-pending",
  "rotate:after-pending",
  "rotate:after-commit",
  "rotate:after-keystore",
  "kill",
  "kill",
  "none",
];
const restorePoints = [
  "restore:after-ingest",
  "restore:after-bak",
  "restore:after-keystore",
  "kill",
  "none",
];

function pick<T>(items: readonly T[]): T {
  return items[rng.bytes(1)[0] % items.length];
}

/** Runs icn; `crash` is a named point, "kill" (SIGKILL after a random delay) or "none". */
async function runWithCrash(args: string[], crash: string): Promise<number> {
  const env: Record<string, string> = {
    ICN_PASSPHRASE: passphrase,
    ICN_SCRYPT_LOG_N: "10",
    NO_COLOR: "1",
  };
  if (crash !== "none" && crash !== "kill") env.ICN_TEST_CRASH_AT = crash;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", configPath, mainPath, ...args],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (crash === "kill") {
    const delayMs = 100 + (rng.bytes(2)[0] * 256 + rng.bytes(1)[0]) % 1100;
    timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }, delayMs);
  }
  const status = await child.status;
  clearTimeout(timer);
  return status.code;
}

/** The identity in `home` is usable: keystore ↔ KEL agree (settling a pending rotation first). */
async function checkUsable(home: string, did: string): Promise<number> {
  const secrets = await readKeystoreFile(`${home}/identity.age`, passphrase);
  assertEquals(secrets.did, did, "keystore DID");
  if (secrets.pending) throw new Error("keystore still has a pending event after unlock");
  const store = await KvStore.open(`${home}/icn.kv`);
  try {
    const record = (await store.get<IdentityRecord>(identityKey(did)))!.value;
    if (!sameKeys(await publicKeysOf(secrets), record.keys)) {
      throw new Error(`keystore keys are not the KEL's current keys (seq ${record.seq})`);
    }
    const next = await nextKeysDigest(await publicKeysOf(secrets.next));
    if (!bytesEqual(next, record.next!)) throw new Error("keystore next keys do not match the KEL");
    return record.seq;
  } finally {
    store.close();
  }
}

async function signAndVerify(home: string, tag: string): Promise<void> {
  const file = `${dir}/${tag}.txt`;
  await Deno.writeTextFile(file, tag);
  await icnExpect(0, ["--data-dir", home, "id", "sign", file]);
  await icnExpect(0, ["--data-dir", home, "id", "verify", file]);
}

async function init(name: string): Promise<{ home: string; did: string }> {
  const home = `${dir}/${name}`;
  const run = await icnExpect(0, ["--json", "--data-dir", home, "id", "init"]);
  return { home, did: run.json<{ did: string }>().did };
}

Deno.test("killing `icn id rotate` at random points never leaves an unusable identity (40 runs)", async () => {
  const lanes = await Promise.all([0, 1, 2, 3].map((i) => init(`lane${i}`)));
  const outcomes = new Map<string, number>();
  await Promise.all(lanes.map(async ({ home, did }, lane) => {
    let seq = 0;
    for (let i = 0; i < 10; i++) {
      const crash = pick(rotatePoints);
      await runWithCrash(["--data-dir", home, "id", "rotate"], crash);
      const after = await checkUsable(home, did);
      if (after < seq) throw new Error(`KEL went backwards: ${seq} → ${after}`);
      outcomes.set(crash, (outcomes.get(crash) ?? 0) + 1);
      seq = after;
    }
    await signAndVerify(home, `lane${lane}`);
    if (seq < 2) throw new Error(`only ${seq} rotations completed in 10 runs`);
  }));
  for (const point of new Set(rotatePoints)) {
    if (!outcomes.get(point)) throw new Error(`crash point ${point} never exercised`);
  }
});

Deno.test("killing `icn id restore` at random points never leaves an unusable identity (10 runs)", async () => {
  const { home, did } = await init("restore-src");
  await icnExpect(0, ["--data-dir", home, "id", "rotate"]);
  const backup = `${dir}/crash-backup.age`;
  await icnExpect(0, ["--data-dir", home, "id", "backup", "--out", backup]);
  // Over the same identity with --force: always usable, even mid-restore.
  for (let i = 0; i < 6; i++) {
    await runWithCrash(
      ["--data-dir", home, "id", "restore", backup, "--force"],
      pick(restorePoints),
    );
    assertEquals(await checkUsable(home, did), 1, "KEL seq");
  }
  // Into an empty data dir: after a crash, running restore again completes it.
  for (let i = 0; i < 4; i++) {
    const target = `${dir}/restore-empty-${i}`;
    await runWithCrash(["--data-dir", target, "id", "restore", backup], pick(restorePoints));
    const code = await runWithCrash(
      ["--data-dir", target, "id", "restore", backup, "--force"],
      "none",
    );
    assertEquals(code, 0, "second restore exit code");
    assertEquals(await checkUsable(target, did), 1, "KEL seq");
  }
  await signAndVerify(home, "restored");
});
