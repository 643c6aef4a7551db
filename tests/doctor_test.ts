/** `icn doctor` end to end: healthy data dirs pass, each problem is an error with a fix. */
import { icn as runIcn } from "./_cli.ts";

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

/** `icn --data-dir DIR ARGS...`, in-process where it can (`./_cli.ts`). */
async function icn(dir: string, args: string[], extraEnv: Record<string, string> = {}) {
  const { code, stdout, stderr } = await runIcn(["--data-dir", dir, ...args], {
    env: { ...env, ...extraEnv },
  });
  return { code, stdout, stderr };
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

/** Polls `read` until it returns a value, within a deadline (no fixed sleeps). */
async function waitFor<T>(
  what: string,
  read: () => Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen within ${ms} ms`);
}

Deno.test({
  name:
    "icn doctor on a joined data dir with a running node: ledger check, the node's real ports held by it",
  sanitizeResources: false,
  async fn() {
    const dir = await initialized();
    let child: Deno.ChildProcess | undefined;
    const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
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
      // Random ports, not the defaults (4001, 5601) nor what config.toml would say: doctor must
      // read the running node's own addresses.
      await Deno.writeTextFile(
        `${dir}/config.toml`,
        `[node]\nlisten = ["/ip4/127.0.0.1/tcp/${freePorts()[0]}"]\n`,
      );
      child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          mainPath,
          "--data-dir",
          dir,
          "node",
          "run",
          "--profile",
          "test",
          "--listen",
          "/ip4/127.0.0.1/tcp/0",
          "--http",
          "127.0.0.1:0",
        ],
        env,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const info = await waitFor("node.json with the node's addresses", async () => {
        const value = JSON.parse(await Deno.readTextFile(`${dir}/node.json`)) as {
          pid: number;
          url: string;
          listen: string[];
        };
        return value.url && value.listen.length > 0 ? value : undefined;
      });
      assert(info.pid === child.pid, `node.json pid ${info.pid}, child ${child.pid}`);
      const httpPort = new URL(info.url).port;
      const p2pPort = /\/tcp\/(\d+)/.exec(info.listen[0])![1];

      const result = await icn(dir, ["--json", "doctor"]);
      const report = JSON.parse(result.stdout) as { findings: Finding[] };
      const find = (check: string) => report.findings.find((f) => f.check === check);
      assert(result.code === 0, JSON.stringify(report.findings, null, 1));
      assert(find("network")?.status === "ok", "joined");
      assert(find("ledger")?.status === "ok", `ledger: ${JSON.stringify(find("ledger"))}`);
      const held = `held by this data dir's node (pid ${child.pid})`;
      const p2p = find("port-p2p")!;
      assert(
        p2p.status === "ok" && p2p.message.includes(`127.0.0.1:${p2pPort}`) &&
          p2p.message.includes(held),
        JSON.stringify(p2p),
      );
      const http = find("port-http")!;
      assert(
        http.status === "ok" && http.message.includes(`127.0.0.1:${httpPort}`) &&
          http.message.includes(held),
        JSON.stringify(http),
      );
      const ports = report.findings.filter((f) => f.check.startsWith("port-"));
      assert(ports.length === 2, `only the node's ports: ${JSON.stringify(ports)}`);
      assert(find("clock")?.message.includes("A node runs at"), JSON.stringify(find("clock")));

      // A port given as a flag is still checked: another program's is an error, not the node's.
      const otherPort = String((other.addr as Deno.NetAddr).port);
      const flagged = await icn(dir, ["--json", "doctor", "--http-port", otherPort]);
      assert(flagged.code === 1, `exit ${flagged.code}: ${flagged.stdout}`);
      const flaggedHttp = (JSON.parse(flagged.stdout) as { findings: Finding[] }).findings
        .filter((f) => f.check === "port-http");
      assert(
        flaggedHttp.some((f) => f.status === "ok" && f.message.includes(held)) &&
          flaggedHttp.some((f) =>
            f.status === "error" && f.message.includes(`:${otherPort} is used by another program`)
          ),
        JSON.stringify(flaggedHttp),
      );

      // Once the node stops, its leftovers do not count: the configured ports are checked.
      child.kill("SIGTERM");
      await child.status;
      child = undefined;
      const after = await icn(dir, ["--json", "doctor"]);
      const afterPorts = (JSON.parse(after.stdout) as { findings: Finding[] }).findings
        .filter((f) => f.check.startsWith("port-"));
      assert(
        afterPorts.every((f) => !f.message.includes("held by")) &&
          afterPorts.some((f) => f.check === "port-http" && f.message.includes(":5601")),
        JSON.stringify(afterPorts),
      );
    } finally {
      other.close();
      if (child) {
        child.kill("SIGTERM");
        await child.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("icn doctor without a node checks the ports the environment configures", async () => {
  const dir = await initialized();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const [p2p] = freePorts();
    const result = await icn(dir, ["--json", "doctor"], {
      ICN_NODE_LISTEN: `/ip4/127.0.0.1/tcp/${p2p}`,
      ICN_HTTP_LISTEN: `127.0.0.1:${port}`,
    });
    assert(result.code === 1, `exit ${result.code}: ${result.stdout}${result.stderr}`);
    const report = JSON.parse(result.stdout) as { findings: Finding[]; ports: { from: string } };
    const http = report.findings.find((f) => f.check === "port-http")!;
    assert(
      http.status === "error" && http.message.includes(`127.0.0.1:${port} is used by another`),
      JSON.stringify(http),
    );
    const p2pFinding = report.findings.find((f) => f.check === "port-p2p")!;
    assert(p2pFinding.message === `Port 127.0.0.1:${p2p} is free`, JSON.stringify(p2pFinding));
    assert(report.ports.from === "environment", report.ports.from);
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
