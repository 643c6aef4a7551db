/** `icn doctor` end to end: healthy data dirs pass, each problem is an error with a fix. */

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;
const env = { ICN_PASSPHRASE: "doctor test passphrase", ICN_SCRYPT_LOG_N: "10", NO_COLOR: "1" };

interface Finding {
  check: string;
  status: string;
  message: string;
  fix?: string;
}

async function icn(dir: string, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", mainPath, "--data-dir", dir, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** Two ports no one listens on, so the checks do not depend on the machine. */
function freePorts(): [string, string] {
  const a = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const b = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ports: [string, string] = [
    String((a.addr as Deno.NetAddr).port),
    String((b.addr as Deno.NetAddr).port),
  ];
  a.close();
  b.close();
  return ports;
}

async function doctor(dir: string, extra: string[] = []) {
  const [p2p, http] = freePorts();
  const result = await icn(dir, [
    "--json",
    "doctor",
    "--p2p-port",
    p2p,
    "--http-port",
    http,
    ...extra,
  ]);
  const report = JSON.parse(result.stdout) as { ok: boolean; findings: Finding[] };
  return {
    ...result,
    report,
    find: (check: string) => report.findings.find((f) => f.check === check),
  };
}

async function initialized(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "icn-doctor-" });
  const result = await icn(dir, ["id", "init"]);
  assert(result.code === 0, result.stderr);
  return dir;
}

Deno.test("icn doctor passes on a fresh identity and checks keystore, store and log", async () => {
  const dir = await initialized();
  try {
    const { code, report, find } = await doctor(dir);
    assert(code === 0, `exit ${code}: ${JSON.stringify(report)}`);
    assert(report.ok, "report ok");
    assert(find("data-dir")?.status === "ok", "data dir ok");
    assert(find("keystore")?.status === "ok", "keystore 0600");
    assert(find("store")?.status === "ok", "store opens");
    assert(find("log")?.status === "ok" && find("log")!.message.startsWith("1 envelopes"), "log");
    assert(find("port-p2p")?.status === "ok" && find("port-http")?.status === "ok", "ports free");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("icn doctor reports a keystore readable by others as an error with a chmod fix", async () => {
  const dir = await initialized();
  try {
    await Deno.chmod(`${dir}/identity.age`, 0o644);
    const { code, find, stderr } = await doctor(dir);
    assert(code === 1, `exit ${code} ${stderr}`);
    const keystore = find("keystore")!;
    assert(keystore.status === "error" && keystore.message.includes("0644"), keystore.message);
    assert(keystore.fix === `chmod 600 ${dir}/identity.age`, String(keystore.fix));
    const mode = (await Deno.stat(`${dir}/identity.age`)).mode! & 0o777;
    assert(mode === 0o644, "doctor changes nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("icn doctor reports a port held by another program as an error", async () => {
  const dir = await initialized();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = String((listener.addr as Deno.NetAddr).port);
    const [p2p] = freePorts();
    const result = await icn(dir, ["--json", "doctor", "--p2p-port", p2p, "--http-port", port]);
    assert(result.code === 1, `exit ${result.code}`);
    const report = JSON.parse(result.stdout) as { findings: Finding[] };
    const http = report.findings.find((f) => f.check === "port-http")!;
    assert(http.status === "error" && http.fix?.includes(port), JSON.stringify(http));
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("icn doctor on a missing data dir fails with a fix and does not create it", async () => {
  const parent = await Deno.makeTempDir();
  const dir = `${parent}/missing`;
  try {
    const { code, find } = await doctor(dir);
    assert(code === 1, `exit ${code}`);
    assert(find("data-dir")?.status === "error" && !!find("data-dir")?.fix, "data dir error");
    let created = true;
    try {
      await Deno.stat(dir);
    } catch {
      created = false;
    }
    assert(!created, "doctor must not create the data dir");
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("icn doctor reads the ports from config.toml and rejects a bad --p2p-port", async () => {
  const dir = await initialized();
  try {
    const [p2p] = freePorts();
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `[node]\nlisten = ["/ip4/127.0.0.1/tcp/${p2p}"]\n[http]\nlisten = "127.0.0.1:0"\n`,
    );
    const result = await icn(dir, ["--json", "doctor"]);
    assert(result.code === 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { findings: Finding[] };
    const port = report.findings.find((f) => f.check === "port-p2p")!;
    assert(port.message.includes(`127.0.0.1:${p2p}`), port.message);
    assert(report.findings.find((f) => f.check === "port-http")?.status === "skip", "port 0");
    const bad = await icn(dir, ["doctor", "--p2p-port", "seventy"]);
    assert(bad.code === 1 && bad.stderr.includes(`"seventy"`), bad.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("icn doctor text output prints each problem with its fix", async () => {
  const dir = await initialized();
  try {
    await Deno.chmod(dir, 0o777);
    const [p2p, http] = freePorts();
    const result = await icn(dir, ["doctor", "--p2p-port", p2p, "--http-port", http]);
    assert(result.code === 1, `exit ${result.code}`);
    assert(result.stdout.includes("ERROR data-dir"), result.stdout);
    assert(result.stdout.includes(`fix: chmod 700 ${dir}`), result.stdout);
  } finally {
    await Deno.chmod(dir, 0o700);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "icn doctor on a joined data dir with a running node: ledger check, node's port held by it",
  sanitizeResources: false,
  async fn() {
    const dir = await initialized();
    let child: Deno.ChildProcess | undefined;
    try {
      const did = JSON.parse((await icn(dir, ["--json", "id", "show"])).stdout).did as string;
      const genesis = `${dir}/genesis.json`;
      for (
        const args of [
          [
            "governance",
            "genesis",
            "create",
            "--name",
            "Doctor coop",
            "--member",
            did,
            "--out",
            genesis,
          ],
          ["governance", "genesis", "sign", genesis],
          ["governance", "join", genesis],
        ]
      ) {
        const result = await icn(dir, args);
        assert(result.code === 0, `${args.join(" ")}: ${result.stderr}`);
      }
      child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", mainPath, "--data-dir", dir, "node", "run", "--profile", "test"],
        env,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      let url = "";
      // Poll for the node's address file, bounded by a deadline rather than a count of sleeps.
      const deadline = Date.now() + 60_000;
      while (!url && Date.now() < deadline) {
        try {
          url = JSON.parse(await Deno.readTextFile(`${dir}/node.json`)).url;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      assert(url, "node.json appeared");
      const port = new URL(url).port;
      const [p2p] = freePorts();
      const result = await icn(dir, ["--json", "doctor", "--p2p-port", p2p, "--http-port", port]);
      const report = JSON.parse(result.stdout) as { findings: Finding[] };
      const find = (check: string) => report.findings.find((f) => f.check === check);
      assert(result.code === 0, JSON.stringify(report.findings, null, 1));
      assert(find("network")?.status === "ok", "joined");
      assert(find("ledger")?.status === "ok", `ledger: ${JSON.stringify(find("ledger"))}`);
      assert(find("port-http")?.message.includes("by the node of this data dir"), "held by node");
      assert(find("clock")?.message.includes("A node runs at"), JSON.stringify(find("clock")));
    } finally {
      if (child) {
        child.kill("SIGTERM");
        await child.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
