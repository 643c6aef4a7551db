/**
 * Demo step: a small local network. Each member runs `icn node run` on
 * loopback; a transfer and a vote written through one member's node reach the
 * others by gossip; then every node stops cleanly on SIGTERM. Every wait is
 * bounded, and the nodes are killed if the step fails.
 */
import type { DemoContext } from "./demo_context.ts";

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;
const configPath = new URL("../deno.json", import.meta.url).pathname;
/** How long the demo waits for a node to start, peers to meet or an envelope to arrive. */
const waitMs = 60_000;
/** How often it looks again while waiting. */
const pollMs = 200;
/** How long a node may take to stop on SIGTERM before it is killed. */
const stopMs = 10_000;

interface NodeInfo {
  url: string;
  listen: string[];
}

interface Status {
  envelopes: number;
  peers: { did: string | null }[];
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`Timed out after ${waitMs / 1000} s waiting for ${what}`);
}

export async function run(d: DemoContext): Promise<void> {
  d.say(`\n${d.n}. A small local network: each member runs a node on loopback (libp2p, gossip):`);
  const dir = (name: string) => `${d.work}/${name}`;
  const children = new Map<string, Deno.ChildProcess>();
  const spawn = (name: string, bootstrap?: string) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        configPath,
        mainPath,
        "--data-dir",
        dir(name),
        "node",
        "run",
        "--profile",
        "test",
        "--log-level",
        "error",
        ...(bootstrap ? ["--bootstrap", bootstrap] : []),
      ],
      env: { ICN_PASSPHRASE: "demo passphrase", NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.set(name, child);
  };
  const info = async (name: string): Promise<NodeInfo> => {
    let found: NodeInfo | undefined;
    await waitFor(`${name}'s node to start`, async () => {
      found = JSON.parse(await Deno.readTextFile(`${dir(name)}/node.json`)) as NodeInfo;
      return true;
    });
    return found!;
  };
  const status = (name: string) => d.icnJson<Status>(name, ["node", "status"]);
  try {
    const [first, ...rest] = d.members;
    spawn(first);
    const bootstrap = (await info(first)).listen.find((a) => a.startsWith("/ip4/127.0.0.1/"));
    if (!bootstrap) throw new Error(`${first}'s node has no loopback address`);
    for (const name of rest) spawn(name, bootstrap);
    for (const name of rest) await info(name);
    await waitFor("every node to meet the others", async () => {
      const all = await Promise.all(d.members.map(status));
      return all.every((s) => s.peers.filter((p) => p.did).length >= 1) &&
        all.every((s) => s.envelopes === all[0].envelopes);
    });
    const before = (await status(first)).envelopes;
    d.say(`   ${d.members.length} nodes connected, each holding ${before} envelopes`);

    await d.icn(first, [
      "ledger",
      "transfer",
      "--to",
      d.dids[rest[0]],
      "--amount",
      "3",
      "--memo",
      "seedlings",
    ]);
    const arrived = async (count: number) => {
      const all = await Promise.all(d.members.map(status));
      return all.every((s) => s.envelopes >= count);
    };
    const started = Date.now();
    await waitFor("the transfer to reach every node", () => arrived(before + 1));
    d.say(
      `   ${first} paid ${rest[0]} 3 hours through ${first}'s node; \`icn node status\` ` +
        `showed it on every node after ${Date.now() - started} ms`,
    );

    const proposed = await d.icnJson<Record<string, unknown>>(rest[0], [
      "governance",
      "propose",
      "--kind",
      "text",
      "--title",
      "Share the seedlings at the spring fair",
    ]);
    const id = String(proposed.id ?? proposed.proposal ?? proposed.cid);
    await waitFor("the proposal to reach every node", () => arrived(before + 2));
    await d.icn(rest[rest.length - 1], ["governance", "vote", id, "for"]);
    await waitFor("the vote to reach every node", () => arrived(before + 3));
    const shown = await d.icnJson<{ tally?: { for?: number; against?: number } }>(first, [
      "governance",
      "show",
      id,
    ]);
    d.say(
      `   ${rest[0]} proposed and ${rest[rest.length - 1]} voted through their own nodes; ` +
        `${first}'s node counts it: for ${shown.tally?.for ?? 0}, against ${
          shown.tally?.against ?? 0
        }`,
    );

    for (const [name, child] of children) {
      const stopped = Date.now();
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), stopMs);
      const { code } = await child.output();
      clearTimeout(timer);
      children.delete(name);
      if (code !== 0) throw new Error(`${name}'s node exited ${code} on SIGTERM`);
      d.say(`   ${name}'s node stopped cleanly in ${Date.now() - stopped} ms`);
    }
  } finally {
    for (const child of children.values()) {
      try {
        child.kill("SIGKILL");
        await child.output();
      } catch {
        // already gone
      }
    }
  }
}
