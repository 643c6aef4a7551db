/**
 * One writer of the keystore at a time: parallel `icn id change-passphrase`
 * and `icn id rotate` processes either take effect or say they did not, the
 * keystore always opens with the passphrase of the last change reported, and
 * its keys stay the key event log's current keys.
 */
import { decryptSecrets, readKeystoreFile, writeKeystoreFile } from "../cli/keystore.ts";
import { tryLock } from "../cli/lock.ts";
import {
  assertEquals,
  assertMatch,
  icnExpect,
  icnProcess,
  sameSnapshot,
  snapshotDir,
} from "./_cli.ts";

/** Wide enough (about 0.2 s per scrypt here) that unlocked writers overlap. */
const raceEnv = { ICN_SCRYPT_LOG_N: "16" };
/** How long a test waits for a helper process to report that it holds the lock. */
const helperReadyMs = 30_000;

async function newHome(name: string): Promise<string> {
  const home = await Deno.makeTempDir({ prefix: `icn-kslock-${name}-` });
  await icnExpect(0, ["--data-dir", home, "id", "init"], { env: { ICN_PASSPHRASE: "p0" } });
  return home;
}

/** The passphrases among `candidates` that open the keystore of `home`. */
async function opening(home: string, candidates: string[]): Promise<string[]> {
  const data = await Deno.readFile(`${home}/identity.age`);
  const out: string[] = [];
  for (const candidate of candidates) {
    try {
      await decryptSecrets(data, candidate);
      out.push(candidate);
    } catch {
      // Not this one.
    }
  }
  return out;
}

interface Change {
  from: string;
  to: string;
}

/** Its own process: the races are between processes, each with its own scrypt thread. */
function changePassphrase(home: string, change: Change) {
  return icnProcess(["--data-dir", home, "id", "change-passphrase"], {
    env: { ...raceEnv, ICN_PASSPHRASE: change.from, ICN_NEW_PASSPHRASE: change.to },
  });
}

/**
 * The reported successes must chain from `start` in some order, and the
 * keystore must open with the end of that chain and with no other candidate.
 */
async function assertChangesTookEffect(
  home: string,
  start: string,
  changes: Change[],
  codes: number[],
): Promise<void> {
  const succeeded = changes.filter((_, i) => codes[i] === 0);
  let current = start;
  const left = [...succeeded];
  while (left.length > 0) {
    const next = left.findIndex((c) => c.from === current);
    if (next < 0) {
      throw new Error(
        `reported successes ${JSON.stringify(succeeded)} do not chain from "${start}"`,
      );
    }
    current = left.splice(next, 1)[0].to;
  }
  const candidates = [start, ...changes.map((c) => c.to)];
  assertEquals(await opening(home, candidates), [current], "passphrases that open the keystore");
}

Deno.test("four parallel change-passphrase runs: exactly the reported successes took effect", async () => {
  const home = await newHome("four");
  const changes = [1, 2, 3, 4].map((i) => ({ from: "p0", to: `p${i}` }));
  const runs = await Promise.all(changes.map((c) => changePassphrase(home, c)));
  const codes = runs.map((r) => r.code);
  for (const run of runs) {
    if (run.code !== 0) assertMatch(run.stderr, /wrong passphrase|in use by|changed it/);
    if (run.code !== 0) assertEquals(run.code, 1, "a refused change exits 1");
  }
  assertEquals(codes.filter((c) => c === 0).length, 1, "successes");
  await assertChangesTookEffect(home, "p0", changes, codes);
});

Deno.test("a chain of parallel change-passphrase runs ends on the last success reported", async () => {
  const home = await newHome("chain");
  const changes = [
    { from: "p0", to: "q1" },
    { from: "q1", to: "q2" },
    { from: "q2", to: "q3" },
    { from: "p0", to: "q4" },
  ];
  const runs = await Promise.all(changes.map((c) => changePassphrase(home, c)));
  await assertChangesTookEffect(home, "p0", changes, runs.map((r) => r.code));
});

Deno.test("rotate and change-passphrase at once: both changes that report success hold", async () => {
  for (let round = 0; round < 2; round++) {
    const home = await newHome(`rotate${round}`);
    const [rotated, changed] = await Promise.all([
      icnProcess(["--data-dir", home, "id", "rotate"], {
        env: { ...raceEnv, ICN_PASSPHRASE: "p0" },
      }),
      changePassphrase(home, { from: "p0", to: "p1" }),
    ]);
    for (const run of [rotated, changed]) {
      if (run.code !== 0) {
        assertEquals(run.code, 1, `exit code\n${run.stderr}`);
        assertMatch(run.stderr, /wrong passphrase|in use by|changed it/);
      }
    }
    const final = changed.code === 0 ? "p1" : "p0";
    assertEquals(await opening(home, ["p0", "p1"]), [final], "passphrase that opens it");
    const history = await icnExpect(0, ["--json", "--data-dir", home, "id", "history"]);
    const events = history.json<{ events: unknown[] }>().events.length;
    assertEquals(events, rotated.code === 0 ? 2 : 1, "key events");
    // The keystore holds the key log's current keys: another rotation works from it.
    await icnExpect(0, ["--data-dir", home, "id", "rotate"], { env: { ICN_PASSPHRASE: final } });
  }
});

Deno.test("a keystore writer waits a bounded time for the lock, then refuses naming the holder", async () => {
  const home = await newHome("busy");
  const lock = await tryLock(`${home}/keystore.lock`, {
    pid: Deno.pid,
    command: "icn id rotate",
    since: Date.now(),
  });
  if (!lock) throw new Error("lock not taken");
  try {
    const before = await snapshotDir(home);
    const run = await icnExpect(1, ["--data-dir", home, "id", "change-passphrase"], {
      env: { ICN_PASSPHRASE: "p0", ICN_NEW_PASSPHRASE: "p1", ICN_KEYSTORE_LOCK_WAIT_MS: "300" },
    });
    assertMatch(
      run.stderr,
      new RegExp(`keystore .*is in use by pid ${Deno.pid} \\(icn id rotate, for \\d+ s\\)`),
    );
    assertMatch(run.stderr, /keystore\.lock/);
    if (/\n\s+at /.test(run.stderr)) throw new Error(`stack trace:\n${run.stderr}`);
    if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("data dir changed");
  } finally {
    lock.release();
  }
  await icnExpect(0, ["--data-dir", home, "id", "change-passphrase"], {
    env: { ICN_PASSPHRASE: "p0", ICN_NEW_PASSPHRASE: "p1", ICN_KEYSTORE_LOCK_WAIT_MS: "0" },
  });
  assertEquals(await opening(home, ["p0", "p1"]), ["p1"]);
});

Deno.test("a keystore lock left by a killed process does not block the next writer", async () => {
  const home = await newHome("stale");
  const lockModule = new URL("../cli/lock.ts", import.meta.url).href;
  const helper = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { tryLock } from "${lockModule}";
       const held = await tryLock(${JSON.stringify(`${home}/keystore.lock`)},
         { pid: Deno.pid, command: "icn id rotate", since: Date.now() });
       console.log(held ? "locked" : "busy");
       setInterval(() => {}, 1000);`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = helper.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = AbortSignal.timeout(helperReadyMs);
  let said = "";
  while (!said.includes("\n") && !deadline.aborted) {
    const { value, done } = await reader.read();
    if (done) break;
    said += value;
  }
  assertEquals(said.trim(), "locked", "helper");
  helper.kill("SIGKILL");
  await helper.status;
  await reader.cancel();
  const holder = JSON.parse(await Deno.readTextFile(`${home}/keystore.lock`));
  if (holder.pid === Deno.pid) throw new Error("lock file does not name the helper");
  await icnExpect(0, ["--data-dir", home, "id", "change-passphrase"], {
    env: { ICN_PASSPHRASE: "p0", ICN_NEW_PASSPHRASE: "p1", ICN_KEYSTORE_LOCK_WAIT_MS: "0" },
  });
  assertEquals(await opening(home, ["p0", "p1"]), ["p1"]);
});

Deno.test("writeKeystoreFile() refuses to replace a keystore that changed since it was read", async () => {
  const previous = Deno.env.get("ICN_SCRYPT_LOG_N");
  Deno.env.set("ICN_SCRYPT_LOG_N", "10");
  try {
    const home = await newHome("cas");
    const path = `${home}/identity.age`;
    const secrets = await readKeystoreFile(path, "p0");
    // Another writer that ignores the lock (an older icn, a restore by hand) changes it.
    await writeKeystoreFile(`${home}/other.age`, secrets, "someone else");
    await Deno.copyFile(`${home}/other.age`, path);
    const before = await Deno.readFile(path);
    let message = "";
    try {
      await writeKeystoreFile(path, secrets, "p1");
    } catch (error) {
      message = (error as Error).message;
    }
    assertMatch(message, /changed it after this one read it; nothing was written/);
    assertEquals([...await Deno.readFile(path)], [...before], "keystore bytes");
  } finally {
    if (previous === undefined) Deno.env.delete("ICN_SCRYPT_LOG_N");
    else Deno.env.set("ICN_SCRYPT_LOG_N", previous);
  }
});
