/**
 * The app gateway against the local control API (issue 18, "Benchmark"), in the same run, on
 * loopback HTTP, over one in-process node on a Deno KV store as `icn node run` keeps it:
 * - reads: one account's balance, `GET /api/v1/accounts/{did}/balance` (token checked, rate
 *   limits, response validated) against `GET /control/balance` (the same core read);
 * - writes: a transfer the client signs, `POST /api/v1/prepare` + Ed25519 signing in the client
 *   + `POST /api/v1/envelopes`, against `POST /control/submit`, which the node signs. Both end in
 *   the same write lane and `ingest`.
 * Operations run one at a time (latency, not a load test), in alternating rounds so that load from
 * other processes hits both alike. The gateway's rate limits are lifted for the run.
 *
 * `deno run -A scripts/bench_gateway.ts [--ops N] [--rounds R]` prints a markdown report on
 * stdout (progress on stderr).
 */
import { fromBase64, toBase64, toHex } from "../core/bytes.ts";
import { ingest } from "../core/chain/ingest.ts";
import { createGenesis, genesisId } from "../core/governance/genesis.ts";
import { joinNetwork } from "../core/governance/join.ts";
import { signEd25519 } from "../core/identity/keys.ts";
import { createKindRegistry } from "../core/kinds.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { testIdentity } from "../core/testing.ts";
import { defaultConfig } from "../net/config.ts";
import { encodeSubmitRequest } from "../net/control.ts";
import { serveGateway } from "../net/gateway/serve.ts";
import { serveNode } from "../net/http.ts";
import { IcnNode } from "../net/node.ts";
import { quietLogger, systemClock } from "../tests/_node_fixture.ts";
import { parseScriptArgs, scriptSpec, wholeNumberArg } from "./_args.ts";

const usage = scriptSpec({
  usage: "deno run -A scripts/bench_gateway.ts [--ops N] [--rounds R]",
  description:
    "Balance reads and client-signed transfers through the app gateway against the same through\n" +
    "the local control API, on loopback, in the same run; a markdown report on stdout.",
  options: {
    ops: { type: "string", value: "N", default: "400", description: "operations of each kind" },
    rounds: { type: "string", value: "R", default: "4", description: "alternating rounds" },
  },
});
const flags = parseScriptArgs(usage).values;
const ops = wholeNumberArg(usage, flags.ops, {
  name: "--ops",
  fallback: 400,
  min: 10,
  max: 100_000,
});
const rounds = wholeNumberArg(usage, flags.rounds, {
  name: "--rounds",
  fallback: 4,
  min: 1,
  max: 50,
});

const encoder = new TextEncoder();
const log = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));
const unlimited = { rate: 1e9, burst: 1e9 };

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

function git(...args: string[]): string {
  try {
    const out = new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).outputSync();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "";
  }
}

async function expectOk(response: Response, what: string): Promise<unknown> {
  const body = await response.json();
  if (!response.ok) throw new Error(`${what}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

const dir = await Deno.makeTempDir({ prefix: "icn-bench-gateway-" });
const [nodeId, payer, payee] = await Promise.all(
  [1, 2, 3].map((i) => testIdentity(i, Date.now() - 60_000)),
);
// Lift every class's hourly transfer cap: it is not what is measured.
const genesis = createGenesis({
  name: "Gateway bench",
  members: [nodeId.did, payer.did, payee.did],
  created: Date.now() - 120_000,
  params: Object.fromEntries(
    ["isolated", "known", "partner", "federated"].map((c) => [`policy.${c}.velocity`, 1_000_000]),
  ),
});
const net = await genesisId(genesis);
const store = await KvStore.open(`${dir}/icn.kv`);
await joinNetwork(store, { id: net, genesis });
const deps = { store, clock: systemClock, kinds: createKindRegistry() };
await ingest(deps, [nodeId.inception, payer.inception, payee.inception], { source: "import" });
const config = { ...defaultConfig("test"), gatewayListen: "127.0.0.1:0" };
const node = await IcnNode.create({
  ...deps,
  logger: quietLogger,
  identity: { did: nodeId.did, signer: nodeId.signer, ed25519: nodeId.ed25519 },
}, config);
await node.start();
const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
const control = serveNode(node, { hostname: "127.0.0.1", port: 0, token });
const gateway = await serveGateway(node, config, quietLogger, {
  rates: {
    signIn: unlimited,
    perDid: unlimited,
    read: unlimited,
    write: unlimited,
    governance: unlimited,
  },
});
const api = `${gateway.url}/api/v1`;
const controlHeaders = { authorization: `Bearer ${token}`, "content-type": "application/json" };
const currency = genesis.currencies[0].code;

// The payer signs in as an app does.
const challenge = await expectOk(
  await fetch(`${api}/auth/challenge`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ did: payer.did, scopes: ["read", "ledger:write"] }),
  }),
  "challenge",
) as { nonce: string; message: string };
const signature = toBase64(await signEd25519(payer.ed25519, encoder.encode(challenge.message)));
const { token: appToken } = await expectOk(
  await fetch(`${api}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ did: payer.did, nonce: challenge.nonce, signature }),
  }),
  "token",
) as { token: string };
const appHeaders = { authorization: `Bearer ${appToken}`, "content-type": "application/json" };

const operations = {
  "read via gateway": async () => {
    await expectOk(
      await fetch(`${api}/accounts/${payee.did}/balance`, { headers: appHeaders }),
      "gateway read",
    );
  },
  "read via control": async () => {
    await expectOk(
      await fetch(`${control.url}/control/balance?did=${encodeURIComponent(payee.did)}`, {
        headers: controlHeaders,
      }),
      "control read",
    );
  },
  "write via gateway": async () => {
    const prepared = await expectOk(
      await fetch(`${api}/prepare`, {
        method: "POST",
        headers: appHeaders,
        body: JSON.stringify({
          kind: "ledger.transfer",
          body: { to: payee.did, amount: 1, currency },
        }),
      }),
      "prepare",
    ) as { envelope: Record<string, unknown>; signingBytes: string };
    const sig = await signEd25519(payer.ed25519, fromBase64(prepared.signingBytes));
    const receipt = await expectOk(
      await fetch(`${api}/envelopes`, {
        method: "POST",
        headers: appHeaders,
        body: JSON.stringify({
          envelope: { ...prepared.envelope, sigs: [{ alg: "ed25519", sig: toBase64(sig) }] },
        }),
      }),
      "submit",
    ) as { outcome: { status: string } };
    if (receipt.outcome.status !== "accepted") {
      throw new Error(`gateway write ${JSON.stringify(receipt)}`);
    }
  },
  "write via control": async () => {
    const reply = await expectOk(
      await fetch(`${control.url}/control/submit`, {
        method: "POST",
        headers: controlHeaders,
        body: JSON.stringify(encodeSubmitRequest({
          kind: "ledger.transfer",
          body: {
            to: payee.did,
            amount: 1,
            currency,
            memo: "",
            id: `b-${toHex(crypto.getRandomValues(new Uint8Array(8)))}`,
          },
        })),
      }),
      "control submit",
    ) as { outcome: { status: string } };
    if (reply.outcome.status !== "accepted") {
      throw new Error(`control write ${JSON.stringify(reply)}`);
    }
  },
};
type Name = keyof typeof operations;
const latencies = new Map<Name, number[]>(Object.keys(operations).map((n) => [n as Name, []]));
const totalMs = new Map<Name, number>();

try {
  log("warming up");
  for (let i = 0; i < 20; i++) for (const op of Object.values(operations)) await op();
  const perRound = Math.ceil(ops / rounds);
  for (let round = 0; round < rounds; round++) {
    for (const [name, op] of Object.entries(operations) as [Name, () => Promise<void>][]) {
      const started = performance.now();
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await op();
        latencies.get(name)!.push(performance.now() - t0);
      }
      totalMs.set(name, (totalMs.get(name) ?? 0) + performance.now() - started);
    }
    log(`round ${round + 1}/${rounds} done`);
  }
} finally {
  await gateway.shutdown();
  await control.shutdown();
  await node.stop();
  store.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

const stats = (name: Name) => {
  const list = [...latencies.get(name)!].sort((a, b) => a - b);
  const at = (q: number) => list[Math.min(list.length - 1, Math.floor(q * list.length))];
  return { rate: list.length / (totalMs.get(name)! / 1000), p50: at(0.5), p99: at(0.99) };
};
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const lines = [
  `## App gateway vs control API (${new Date().toISOString().slice(0, 10)}, commit ${
    git("rev-parse", "--short", "HEAD")
  })`,
  "",
  `Loopback HTTP, one in-process node on Deno KV, ${ops} operations of each kind one at a time in ${rounds} alternating rounds, load average ${loadAverage()} (\`/proc/loadavg\`), ${navigator.hardwareConcurrency} CPUs.`,
  "",
  "| operation | gateway req/s | control req/s | ratio | gateway p50 / p99 ms | control p50 / p99 ms |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
];
for (const kind of ["read", "write"] as const) {
  const g = stats(`${kind} via gateway`);
  const c = stats(`${kind} via control`);
  lines.push(
    `| ${
      kind === "read" ? "balance read" : "transfer (gateway: prepare + client sign + submit)"
    } | ${f1(g.rate)} | ${f1(c.rate)} | ${f2(g.rate / c.rate)} | ${f2(g.p50)} / ${f2(g.p99)} | ${
      f2(c.p50)
    } / ${f2(c.p99)} |`,
  );
}
// deno-lint-ignore no-console
console.log(lines.join("\n"));
// libp2p's timers outlive node.stop() by a while; the report is out.
Deno.exit(0);
