/**
 * `/metrics` passes `promtool check metrics` on a node that has had
 * peers pinging each other, the DHT, a relay reservation and gossip running:
 * libp2p's own metric names (`..._ping_time_milliseconds`, the gauge
 * `..._kad_bucket_total`) fail promtool until `promtoolSafe` renames and
 * rescales them. promtool's rules are also checked by `lintFamily` (a port),
 * so a machine without promtool still tests them; CI runs the real one.
 */
import { defaultConfig, type NodeConfig } from "../net/config.ts";
import { exposition, lintFamily, parseExposition } from "../net/metrics.ts";
import { transferBody } from "../core/ledger/_testing.ts";
import { assert, assertEquals, startCluster, waitFor } from "./_node_fixture.ts";
import { requireTool } from "./_tools.ts";

function serverConfig(extra: Partial<NodeConfig> = {}): Partial<NodeConfig> {
  return {
    ...defaultConfig("server"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    http: "127.0.0.1:0",
    inboundConnectionThreshold: 10_000,
    dhtPrivate: true,
    ...extra,
  };
}

async function promtool(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** Whether the exposition has a sample (not only HELP/TYPE) of a family starting with `name`. */
function hasSample(text: string, name: string): boolean {
  return text.split("\n").some((line) => line.startsWith(name) && !line.startsWith("#"));
}

Deno.test({
  name:
    "/metrics passes promtool check metrics after peers pinged, the DHT filled, a relay reserved and gossip flowed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Node 0 exposes libp2p's metrics (one node per process: they are process-global), relays,
    // and pings every second instead of libp2p's 10 s so ping times appear at once.
    const cluster = await startCluster(3, {
      config: (index) =>
        index === 0
          ? serverConfig({ relayServer: true })
          : index === 2
          ? serverConfig({ listen: ["/ip4/127.0.0.1/tcp/0", "/p2p-circuit"] })
          : serverConfig(),
      node: (index) => index === 0 ? { libp2pMetrics: true, pingIntervalMs: 1000 } : {},
    });
    try {
      const [observed, peer, behind] = cluster.nodes;
      await peer.connect(observed.addrs()[0]);
      await behind.connect(observed.addrs()[0]);
      await waitFor(
        "a circuit address through node 0",
        () => behind.addrs().some((a) => a.includes("/p2p-circuit") && a.includes(observed.peerId)),
      );
      const { outcome } = await peer.submit({
        kind: "ledger.transfer",
        body: transferBody(cluster.members[0].did, 5, { id: "metrics" }),
      });
      assertEquals(outcome.status, "accepted");
      const raw = () => observed.metrics.libp2pRegistry.metrics();
      let missing: string[] = [];
      await waitFor("ping times, DHT buckets and gossip in the metrics", async () => {
        const text = await raw();
        const own = await observed.metrics.registry.metrics();
        missing = [
          "libp2p_connection_monitor_ping_time_milliseconds",
          "libp2p_kad_dht_routing_table_kad_bucket_total",
          "libp2p_kad_dht_routing_table_size",
        ].filter((name) => !hasSample(text, name));
        // Published right after connecting, the transfer arrives by gossip once the mesh has
        // formed, or else by the sync that follows the hello (a busy machine): either counts.
        if (
          !/icn_envelopes_accepted_total\{kind="ledger.transfer",source="(gossip|sync)"\} 1/.test(
            own,
          )
        ) {
          missing.push("the transfer (by gossip or sync)");
        }
        return missing.length === 0;
      }, 30_000).catch((error) => {
        throw new Error(`${error.message}: missing ${missing.join(", ")}`);
      });
      // libp2p's registry as it is breaks promtool's rules (what this test guards against).
      const rawText = await raw();
      assert(
        parseExposition(rawText).some((family) => lintFamily(family).length > 0),
        "libp2p's raw names break promtool's rules",
      );
      // /metrics as served.
      const text = await exposition(observed.metrics);
      for (
        const name of [
          "libp2p_connection_monitor_ping_time_seconds",
          "libp2p_kad_dht_routing_table_kad_buckets",
          "libp2p_data_transfer_bytes_total",
          "icn_gossipsub_mesh_peers",
        ]
      ) assert(hasSample(text, name), `${name} in /metrics`);
      for (const family of parseExposition(text)) assertEquals(lintFamily(family), [], family.name);
      // The real promtool, where it is installed (CI installs it).
      if (requireTool("promtool", "promtool check metrics on a busy node's /metrics")) {
        const refused = await promtool(rawText);
        assert(refused.code !== 0, "promtool refuses libp2p's raw metric names");
        assert(refused.output.includes("milliseconds"), refused.output);
        const checked = await promtool(text);
        assertEquals(checked.code, 0, checked.output);
      }
    } finally {
      await cluster.stop();
    }
  },
});
