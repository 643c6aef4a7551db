/**
 * Node benchmark (loopback, one process): gossip throughput against raw
 * signed gossipsub, propagation along a line of 8 nodes, sync of 100,000
 * envelopes into a fresh node, honest throughput under a spamming peer.
 * `deno run -A scripts/bench_node.ts [--quick]` prints a markdown report.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { ingest } from "../core/chain/ingest.ts";
import { type SealedEnvelope, sealEnvelope } from "../core/envelope/envelope.ts";
import type { TestIdentity } from "../core/testing.ts";
import { connect, logSize, startCluster, waitFor } from "../tests/_node_fixture.ts";

const quick = Deno.args.includes("--quick");
const throughputCount = quick ? 300 : 2000;
const syncCount = quick ? 10_000 : 100_000;
const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  // deno-lint-ignore no-console
  console.error(line);
};
const fast = { globalRate: 1_000_000, peerRate: 1_000_000 };

/** A chain of `count` trust edges by `author` in `net`, signed ahead of time. */
async function signedChain(
  author: TestIdentity,
  net: string,
  to: string,
  count: number,
  startTs: number,
): Promise<SealedEnvelope[]> {
  const out: SealedEnvelope[] = [];
  let prev: string | null = null;
  for (let seq = 0; seq < count; seq++) {
    const sealed: SealedEnvelope = await sealEnvelope({
      net,
      // Trust edges: ledger transfers would hit the per-hour velocity rule.
      kind: "trust.edge",
      seq,
      prev,
      ts: startTs + seq,
      body: { to, score: 1 + (seq % 999), graph: "social" },
    }, author.signer);
    out.push(sealed);
    prev = sealed.cid;
  }
  return out;
}

async function rawGossipsubRate(count: number, size: number): Promise<number> {
  const make = () =>
    createLibp2p({
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
    });
  const [a, b] = [await make(), await make()];
  try {
    a.services.pubsub.subscribe("raw");
    b.services.pubsub.subscribe("raw");
    await a.dial(b.getMultiaddrs()[0]);
    await waitFor("raw mesh", () => a.services.pubsub.getSubscribers("raw").length > 0);
    let received = 0;
    b.services.pubsub.addEventListener("message", () => received++);
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const data = new Uint8Array(size);
      new DataView(data.buffer).setUint32(0, i);
      await a.services.pubsub.publish("raw", data);
    }
    await waitFor("raw delivery", () => received >= count, 60_000);
    return count / ((performance.now() - started) / 1000);
  } finally {
    await a.stop();
    await b.stop();
  }
}

async function gossipRate(
  options: { spam?: boolean } = {},
): Promise<{ rate: number; size: number }> {
  const cluster = await startCluster(3, {
    config: { ...fast, peerRate: 8000 },
    node: { authorLimits: false },
  });
  try {
    const [sender, receiver, spammer] = cluster.nodes;
    await connect([sender, receiver], "line");
    if (options.spam) await connect([spammer, receiver], "line");
    await waitFor("kels", async () => await logSize(cluster.stores[1]) >= (options.spam ? 3 : 2));
    const now = Date.now();
    const chain = await signedChain(
      cluster.members[0],
      cluster.net,
      cluster.members[1].did,
      throughputCount,
      now - 30_000,
    );
    let spamming = true;
    const spamLoop = (async () => {
      if (!options.spam) return;
      // 10x the spammer's allowance (peer rate 8000 x 1/8 for an isolated peer = 1000/s).
      const spam = await signedChain(
        cluster.members[2],
        cluster.net,
        cluster.members[1].did,
        2000,
        now - 30_000,
      );
      let i = 0;
      while (spamming) {
        const started = performance.now();
        for (let k = 0; k < 100; k++) await spammer.publish(spam[(i++) % spam.length].bytes);
        const spent = performance.now() - started;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10 - spent)));
      }
    })();
    const base = await logSize(cluster.stores[1]);
    const started = performance.now();
    for (const sealed of chain) await sender.publish(sealed.bytes);
    await waitFor(
      "receiver stored everything",
      async () => await logSize(cluster.stores[1]) >= base + chain.length,
      60_000,
    );
    const rate = chain.length / ((performance.now() - started) / 1000);
    spamming = false;
    await spamLoop;
    return { rate, size: chain[0].bytes.length };
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  report(`# Node benchmark${quick ? " (quick)" : ""}`);
  report("");
  const raw = await rawGossipsubRate(throughputCount, 300);
  const icn = await gossipRate();
  report(
    `- 2 nodes: ${icn.rate.toFixed(0)} validated+stored envelopes/s vs ${
      raw.toFixed(0)
    } raw signed gossipsub msgs/s (${icn.size}-byte envelopes): ratio ${
      (icn.rate / raw).toFixed(2)
    }`,
  );
  await propagationLine();
  await syncFresh();
  const spammed = await gossipRate({ spam: true });
  report(
    `- Under a peer spamming at 10x its allowance: ${spammed.rate.toFixed(0)} envelopes/s, ${
      (100 * spammed.rate / icn.rate).toFixed(0)
    }% of the unspammed figure`,
  );
}

async function propagationLine(): Promise<void> {
  const arrivals = new Map<string, number>();
  let lastNode = -1;
  const cluster = await startCluster(8, {
    node: {
      authorLimits: false,
      onAccepted: (sealed, source) => {
        if (source === "gossip" && lastNode >= 0) {
          arrivals.set(sealed.cid, Math.max(arrivals.get(sealed.cid) ?? 0, performance.now()));
        }
      },
    },
  });
  try {
    await connect(cluster.nodes, "line");
    await waitFor("kels on the far end", async () => await logSize(cluster.stores[7]) >= 8, 30_000);
    lastNode = 7;
    const sent: { cid: string; at: number }[] = [];
    const count = quick ? 30 : 100;
    for (let i = 0; i < count; i++) {
      const { sealed } = await cluster.nodes[0].submit({
        kind: "trust.edge",
        body: { to: cluster.members[1].did, score: 1 + i, graph: "social" },
      });
      sent.push({ cid: sealed.cid, at: performance.now() });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitFor(
      "far end has all",
      async () => await logSize(cluster.stores[7]) >= 8 + count,
      30_000,
    );
    // arrivals holds the latest acceptance time of each cid over all nodes: the far end is the last.
    const latencies = sent.map((s) => (arrivals.get(s.cid) ?? Infinity) - s.at).sort((a, b) =>
      a - b
    );
    const p = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    report(
      `- 8 nodes in a line, ${count} envelopes at 20/s: propagation to the far end p50 ${
        p(0.5).toFixed(1)
      } ms, p99 ${p(0.99).toFixed(1)} ms`,
    );
  } finally {
    await cluster.stop();
  }
}

async function syncFresh(): Promise<void> {
  const authors = 10;
  const source = await startCluster(2, {
    extraMembers: authors,
    config: { ...fast, syncPageSize: 1000, syncIntervalMs: 600_000 },
    node: { authorLimits: false },
  });
  try {
    const [full, fresh] = source.nodes;
    const started = performance.now();
    const perAuthor = syncCount / authors;
    const now = Date.now();
    const extra = source.members.slice(2);
    for (const author of extra) {
      const chain = await signedChain(
        author,
        source.net,
        source.members[1].did,
        perAuthor,
        now - 50_000,
      );
      for (let i = 0; i < chain.length; i += 1000) {
        await ingest(full.deps, chain.slice(i, i + 1000), { source: "import" });
      }
    }
    const setupSeconds = (performance.now() - started) / 1000;
    const target = await logSize(source.stores[0]);
    const rssBefore = Deno.memoryUsage().rss;
    const t0 = performance.now();
    await connect([full, fresh], "line");
    let peakRss = rssBefore;
    await waitFor("fresh node synced", async () => {
      peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
      return await logSize(source.stores[1]) >= target;
    }, 180_000);
    const seconds = (performance.now() - t0) / 1000;
    report(
      `- Fresh node syncs ${syncCount.toLocaleString("en")} envelopes (${authors} authors) in ${
        seconds.toFixed(1)
      } s (${(syncCount / seconds).toFixed(0)}/s; setup ${
        setupSeconds.toFixed(0)
      } s); process RSS peak ${
        (peakRss / 2 ** 20).toFixed(0)
      } MB with both nodes and both stores in memory`,
    );
  } finally {
    await source.stop();
  }
}

await main();
// deno-lint-ignore no-console
console.log(lines.join("\n"));
Deno.exit(0);
