/**
 * `deno task demo`: the README's main job. In a temporary directory it
 * creates a few identities and a cooperative, signs and verifies a file,
 * exchanges envelopes between data dirs, and then runs each capability that
 * has landed (trust, transfers, a vote, a small local network), printing
 * what happened in plain words. Exits non-zero if any step fails.
 */
import { parseScriptArgs, scriptSpec } from "./_args.ts";

parseScriptArgs(scriptSpec({
  usage: "deno task demo",
  description:
    "Walks through icn in a temporary directory: identities, a cooperative, a signed file,\n" +
    "trust, transfers, a vote and a small local network, printing what happens. Exits\n" +
    "non-zero if any step fails.",
}));

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;
const configPath = new URL("../deno.json", import.meta.url).pathname;
const encoder = new TextEncoder();
const work = await Deno.makeTempDir({ prefix: "icn-demo-" });
const env = { ICN_PASSPHRASE: "demo passphrase", ICN_SCRYPT_LOG_N: "14", NO_COLOR: "1" };

function say(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

export interface DemoRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `icn` in member `name`'s data dir; throws with the output when it fails unexpectedly. */
export async function icn(name: string | null, args: string[], expectCode = 0): Promise<DemoRun> {
  const dataDir = name ? ["--data-dir", `${work}/${name}`] : [];
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", configPath, mainPath, ...dataDir, ...args],
    env,
    cwd: work,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const run = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (run.code !== expectCode) {
    throw new Error(
      `icn ${
        args.join(" ")
      } exited ${run.code} (expected ${expectCode})\n${run.stdout}${run.stderr}`,
    );
  }
  return run;
}

export async function icnJson<T = Record<string, unknown>>(
  name: string | null,
  args: string[],
): Promise<T> {
  return JSON.parse((await icn(name, ["--json", ...args])).stdout) as T;
}

/** Every member exports its envelopes and every other member imports them. */
export async function exchange(names: readonly string[]): Promise<void> {
  for (const from of names) {
    await icn(from, ["node", "export", "--out", `${work}/${from}.car`]);
  }
  for (const to of names) {
    for (const from of names) {
      if (from !== to) await icn(to, ["node", "import", `${work}/${from}.car`]);
    }
  }
}

const members = ["alice", "bob", "carol"] as const;
const dids: Record<string, string> = {};

try {
  say(`icn demo — working in ${work}\n`);

  say("1. Three members create self-sovereign identities (Ed25519 keys in an age keystore):");
  for (const name of members) {
    dids[name] = (await icnJson<{ did: string }>(name, ["id", "init"])).did;
    say(`   ${name.padEnd(6)} ${dids[name]}`);
  }

  say("\n2. Alice drafts the genesis of a cooperative; every founder signs it; all join:");
  const created = await icnJson<{ id: string }>("alice", [
    "governance",
    "genesis",
    "create",
    "--name",
    "Riverside Makers",
    "--member",
    dids.bob,
    "--member",
    dids.carol,
    "--currency",
    "hours:2",
    "--set",
    "governance.text.votingPeriod=10m",
    "--set",
    "governance.text.quorum=50",
    "--out",
    `${work}/genesis.json`,
  ]);
  for (const name of members) {
    await icn(name, ["governance", "genesis", "sign", `${work}/genesis.json`]);
  }
  for (const name of members) await icn(name, ["governance", "join", `${work}/genesis.json`]);
  say(`   network id ${created.id} (the genesis's content id), 3 founders signed`);

  say("\n3. Bob signs a file; anyone can verify it (and so can the real minisign):");
  await Deno.writeTextFile(`${work}/minutes.txt`, "Minutes of the founding meeting\n");
  await icn("bob", ["id", "sign", `${work}/minutes.txt`]);
  const verified = await icnJson<{ did: string }>("carol", ["id", "verify", `${work}/minutes.txt`]);
  say(
    `   carol verified the signature: it is from ${
      verified.did === dids.bob ? "bob" : verified.did
    }`,
  );
  await Deno.writeTextFile(`${work}/minutes.txt`, "Minutes of the founding meeting (edited)\n");
  const tampered = await icn("carol", ["id", "verify", `${work}/minutes.txt`], 1);
  say(`   after an edit, verification fails: ${tampered.stderr.trim().replace(/^error: /, "")}`);

  say("\n4. Members exchange their key event logs as CAR bundles (offline sync):");
  await exchange(members);
  say("   every data dir now knows every member's keys");

  // Later capabilities add their steps here (each guarded so the demo stays honest about what exists).
  const steps = [
    "./demo_trust.ts",
    "./demo_ledger.ts",
    "./demo_governance.ts",
    "./demo_node.ts",
    "./demo_federation.ts",
  ];
  let n = 5;
  for (const step of steps) {
    const url = new URL(step, import.meta.url);
    const exists = await Deno.stat(url).then(() => true, () => false);
    if (!exists) continue;
    const module = await import(url.href);
    await module.run({ n: n++, say, icn, icnJson, exchange, dids, work, members });
  }

  say("\nDone. Everything above ran against real data dirs in " + work + " (removed now).");
} catch (error) {
  say(`\nDemo failed: ${(error as Error).message}`);
  Deno.exitCode = 1;
} finally {
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
