/**
 * `icn id unlock` / `icn id lock` / `icn id agent status` end to end: the unlock agent signs
 * writes without a passphrase, stops on lock, at expiry and when the keys rotate, only its user
 * can reach it, and garbage on its socket changes nothing.
 */
import { tryLock } from "../cli/lock.ts";
import {
  assertEquals,
  assertMatch,
  icn,
  icnExpect,
  needsTools,
  sameSnapshot,
  snapshotDir,
} from "./_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "icn-agent-" });
const a = `${dir}/a`;
const b = `${dir}/b`;
const agentDir = `${a}/agent`;
const socket = `${agentDir}/agent.sock`;
/** No passphrase at all: a write that needs one fails ("Refusing an empty passphrase"). */
const noPassphrase = { ICN_PASSPHRASE: "" };
/** How long a test waits for the agent to start, stop or expire before it fails. */
const waitMs = 30_000;

// `a` uses the default scrypt work factor, so a write with the passphrase costs what it costs
// people, and is hybrid, so the agent signs with ML-DSA-65 too; `b` only needs to exist.
const didA = (await icnExpect(0, ["--json", "--data-dir", a, "id", "init", "--pq"], {
  env: { ICN_SCRYPT_LOG_N: "18" },
})).json<{ did: string }>().did;
const didB = (await icnExpect(0, ["--json", "--data-dir", b, "id", "init"])).json<{ did: string }>()
  .did;
const genesisFile = `${dir}/genesis.json`;
await icnExpect(0, [
  "--data-dir",
  a,
  "governance",
  "genesis",
  "create",
  "--name",
  "Agent Co-op",
  "--member",
  didA,
  "--member",
  didB,
  "--out",
  genesisFile,
]);
for (const home of [a, b]) {
  await icnExpect(0, ["--data-dir", home, "governance", "genesis", "sign", genesisFile]);
}
await icnExpect(0, ["--data-dir", a, "governance", "join", genesisFile]);

function write(score: string, env: Record<string, string> = noPassphrase) {
  return icn(["--data-dir", a, "trust", "add", didB, score], { env });
}

/** Whether an agent holds the agent lock of `a` (the OS lock is the truth, not the files). */
async function agentRunning(): Promise<boolean> {
  try {
    await Deno.lstat(`${agentDir}/agent.lock`);
  } catch {
    return false;
  }
  const probe = await tryLock(`${agentDir}/agent.lock`, {
    pid: Deno.pid,
    command: "agent_cli_test",
    since: 0,
  });
  probe?.release();
  return probe === null;
}

async function waitFor(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${waitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stops any agent of `a` the test left behind: `id lock`, then SIGTERM to the lock's holder. */
async function stopAgent(): Promise<void> {
  await icn(["--data-dir", a, "id", "lock"]);
  if (!(await agentRunning())) return;
  const holder = JSON.parse(await Deno.readTextFile(`${agentDir}/agent.lock`));
  try {
    Deno.kill(holder.pid, "SIGTERM");
  } catch {
    // Gone.
  }
  await waitFor("the agent to stop", async () => !(await agentRunning()));
}

/** Sends raw bytes to the agent's socket; returns its reply line (or "" if it only closed). */
async function sendRaw(bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    await conn.write(bytes);
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(4096);
    while (true) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      if (buffer.subarray(0, n).includes(10)) break;
    }
    return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    conn.close();
  }
}

function elapsed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  return work().then((value) => ({ ms: performance.now() - started, value }));
}

Deno.test("id unlock lets writes run without a passphrase, each in under half a passphrase write", async () => {
  try {
    const withPassphrase = await elapsed(() => write("0.5", {}));
    assertEquals(withPassphrase.value.code, 0, withPassphrase.value.stderr);
    const refused = await write("0.5");
    assertEquals(refused.code, 1, "a write with neither agent nor passphrase");
    assertMatch(refused.stderr, /passphrase/);

    const unlocked = await icnExpect(0, ["--json", "--data-dir", a, "id", "unlock", "--for", "5m"]);
    const info = unlocked.json<{ did: string; pid: number; until: string }>();
    assertEquals(info.did, didA);
    const first = await elapsed(() => write("0.6"));
    assertEquals(first.value.code, 0, first.value.stderr);
    const second = await elapsed(() => write("0.7"));
    assertEquals(second.value.code, 0, second.value.stderr);
    assertMatch(second.value.stdout, /Added trust 0\.7/);
    if (second.ms >= withPassphrase.ms * 0.5) {
      throw new Error(
        `a write through the agent took ${Math.round(second.ms)} ms, not under half of ${
          Math.round(withPassphrase.ms)
        } ms with the passphrase`,
      );
    }
    const status = await icnExpect(0, ["--json", "--data-dir", a, "id", "agent", "status"]);
    const shown = status.json<
      { running: boolean; did: string; pid: number; until: string; pq: boolean }
    >();
    assertEquals([shown.running, shown.did, shown.pid, shown.until, shown.pq], [
      true,
      didA,
      info.pid,
      info.until,
      true,
    ]);
  } finally {
    await stopAgent();
  }
});

Deno.test(needsTools(["script"], {
  name: "opening the keystore on a terminal shows the elapsed time on stderr, cleared when done",
  fn: async () => {
    // Before the rotation below rewrites a's keystore at the tests' cheap work factor.
    const file = `${dir}/signed.txt`;
    await Deno.writeTextFile(file, "progress\n");
    const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;
    const configPath = new URL("../deno.json", import.meta.url).pathname;
    const inner = [Deno.execPath(), "run", "-A", "--quiet", "--config", configPath, mainPath]
      .concat(["--data-dir", a, "id", "sign", file]).map((w) => `'${w}'`).join(" ");
    const out = await new Deno.Command("script", {
      args: ["-qec", inner, "/dev/null"],
      env: { ICN_PASSPHRASE: "correct horse", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, text);
    // The terminal's escape is spelled out: lint (rightly) refuses control characters in a RegExp.
    const clear = "\r\x1b[K";
    const shown = text.split(clear).flatMap((part) =>
      /^Unlocking keystore… (\d+\.\d) s$/.exec(part)?.slice(1) ?? []
    );
    if (new Set(shown).size < 2) {
      throw new Error(`expected a ticking line, got ${JSON.stringify(text)}`);
    }
    assertEquals(text.split(clear).at(-1)?.startsWith("Signed "), true, "the line is cleared");
    // Not a terminal: no progress at all.
    const piped = await icnExpect(0, ["--data-dir", a, "id", "sign", file]);
    assertEquals(piped.stderr, "", "stderr without a terminal");
  },
}));

Deno.test("id lock stops the agent and the next write needs the passphrase again", async () => {
  try {
    const first = await icnExpect(0, ["--json", "--data-dir", a, "id", "unlock"]);
    // Unlocking again asks for the passphrase again and replaces the agent.
    const second = await icnExpect(0, ["--json", "--data-dir", a, "id", "unlock"]);
    const [one, two] = [first, second].map((r) => r.json<{ pid: number; replaced: boolean }>());
    assertEquals([one.replaced, two.replaced, one.pid !== two.pid], [false, true, true]);
    const running = await icnExpect(0, ["--json", "--data-dir", a, "id", "agent", "status"]);
    assertEquals(running.json<{ pid: number }>().pid, two.pid);
    await icnExpect(0, ["--data-dir", a, "trust", "add", didB, "0.4"], { env: noPassphrase });
    const locked = await icnExpect(0, ["--json", "--data-dir", a, "id", "lock"]);
    assertEquals(typeof locked.json<{ stopped: number }>().stopped, "number");
    assertEquals(await agentRunning(), false, "agent lock after id lock");
    await Deno.lstat(socket).then(
      () => Promise.reject(new Error("the socket outlived the agent")),
      () => {},
    );
    const after = await write("0.45");
    assertEquals(after.code, 1, after.stderr);
    assertMatch(after.stderr, /passphrase/);
    const again = await icnExpect(0, ["--json", "--data-dir", a, "id", "lock"]);
    assertEquals(again.json<{ stopped: null }>().stopped, null, "a second lock is a no-op");
    const status = await icnExpect(0, ["--json", "--data-dir", a, "id", "agent", "status"]);
    assertEquals(status.json<{ running: boolean }>().running, false);
  } finally {
    await stopAgent();
  }
});

Deno.test("SIGTERM stops the agent cleanly, and one killed with -9 leaves nothing that blocks", async () => {
  try {
    const first = await icnExpect(0, ["--json", "--data-dir", a, "id", "unlock"]);
    Deno.kill(first.json<{ pid: number }>().pid, "SIGTERM");
    await waitFor("the agent to stop on SIGTERM", async () => !(await agentRunning()));
    await Deno.lstat(socket).then(
      () => Promise.reject(new Error("the socket outlived a SIGTERM")),
      () => {},
    );
    const second = await icnExpect(0, ["--json", "--data-dir", a, "id", "unlock"]);
    Deno.kill(second.json<{ pid: number }>().pid, "SIGKILL");
    await waitFor("the killed agent's lock to go", async () => !(await agentRunning()));
    // Its socket is left behind, but nothing answers on it: the write asks for the passphrase.
    const after = await write("0.15");
    assertEquals(after.code, 1, after.stderr);
    assertMatch(after.stderr, /passphrase/);
    await icnExpect(0, ["--data-dir", a, "id", "unlock"]);
    await icnExpect(0, ["--data-dir", a, "trust", "add", didB, "0.15"], { env: noPassphrase });
  } finally {
    await stopAgent();
  }
});

Deno.test("an unlock ends by itself when its --for runs out", async () => {
  try {
    await icnExpect(0, ["--data-dir", a, "id", "unlock", "--for", "2s"]);
    await waitFor("the agent to expire", async () => !(await agentRunning()));
    const after = await write("0.3");
    assertEquals(after.code, 1, after.stderr);
  } finally {
    await stopAgent();
  }
});

Deno.test("after a rotation the agent signs nothing with the old keys and stops", async () => {
  try {
    await icnExpect(0, ["--data-dir", a, "id", "unlock"]);
    const before = await sendRaw(new TextEncoder().encode('{"v":1,"op":"status"}\n'));
    const keystore = JSON.parse(before).keystore as string;
    await icnExpect(0, ["--data-dir", a, "id", "rotate"]);
    // The CLI sees the keystore changed and does not use the agent: no passphrase, no write.
    const after = await write("0.2");
    assertEquals(after.code, 1, after.stderr);
    assertMatch(after.stderr, /passphrase/);
    // Asked directly, the agent refuses (or has already gone).
    const data = btoa("signing bytes");
    const reply = await sendRaw(
      new TextEncoder().encode(JSON.stringify({ v: 1, op: "sign", keystore, data }) + "\n"),
    ).catch(() => "");
    if (reply !== "") assertEquals(JSON.parse(reply).ok, false, reply);
    await waitFor("the agent to stop after the rotation", async () => !(await agentRunning()));
    // The new keys unlock and sign.
    await icnExpect(0, ["--data-dir", a, "id", "unlock"]);
    await icnExpect(0, ["--data-dir", a, "trust", "add", didB, "0.25"], { env: noPassphrase });
  } finally {
    await stopAgent();
  }
});

Deno.test("the agent's socket is mode 0600 in a 0700 directory", async () => {
  try {
    await icnExpect(0, ["--data-dir", a, "id", "unlock"]);
    const info = await Deno.lstat(socket);
    assertEquals([info.isSocket, (info.mode ?? 0) & 0o777], [true, 0o600]);
    assertEquals((await Deno.lstat(agentDir)).mode! & 0o777, 0o700);
  } finally {
    await stopAgent();
  }
});

Deno.test("garbage on the agent's socket is refused and the agent keeps running", async () => {
  try {
    await icnExpect(0, ["--data-dir", a, "id", "unlock"]);
    const encoder = new TextEncoder();
    const garbage = [
      encoder.encode("hello\n"),
      encoder.encode("null\n"),
      encoder.encode('{"v":1,"op":"export"}\n'),
      encoder.encode('{"v":1,"op":"status","extra":1}\n'),
      encoder.encode('{"v":2,"op":"status"}\n'),
      encoder.encode('{"v":1,"op":"sign","keystore":"x","data":"!!"}\n'),
      new Uint8Array([0xff, 0xfe, 0x00, 10]),
      encoder.encode("x".repeat(200_000) + "\n"),
    ];
    for (const bytes of garbage) {
      const reply = await sendRaw(bytes).catch(() => "");
      if (reply !== "") assertEquals(JSON.parse(reply).ok, false, reply);
    }
    const status = await icnExpect(0, ["--json", "--data-dir", a, "id", "agent", "status"]);
    assertEquals(status.json<{ running: boolean }>().running, true);
    await icnExpect(0, ["--data-dir", a, "trust", "add", didB, "0.35"], { env: noPassphrase });
  } finally {
    await stopAgent();
  }
});

Deno.test("id unlock refuses a bad --for with exit 1 and starts nothing", async () => {
  const before = await snapshotDir(a);
  for (const value of ["13h", "0", "soon", "5 m", "-1m", "1.5h", "999999999999999w"]) {
    const run = await icn(["--data-dir", a, "id", "unlock", "--for", value]);
    assertEquals(run.code, 1, `--for ${value}: ${run.stderr}`);
    assertMatch(run.stderr, /^error: Cannot (unlock for|parse duration)/);
  }
  assertEquals(await agentRunning(), false);
  if (!sameSnapshot(before, await snapshotDir(a))) {
    throw new Error("bad --for changed the data dir");
  }
});

Deno.test("no unlock agent is left running after these tests", async () => {
  await stopAgent();
  assertEquals(await agentRunning(), false);
});
