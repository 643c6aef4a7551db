/**
 * The `lan` profile's mDNS discovery. Multicast leaves the loopback
 * interface (lo has no MULTICAST flag, so queries go out on the LAN
 * interface), so this test only runs when asked: ICN_TEST_MDNS=1.
 */
import { defaultConfig } from "../net/config.ts";
import { startCluster, waitFor } from "./_node_fixture.ts";

Deno.test({
  name: "lan profile: two nodes find each other by mDNS and exchange hellos (ICN_TEST_MDNS=1)",
  ignore: Deno.env.get("ICN_TEST_MDNS") !== "1",
  // libp2p integration: its timers and sockets outlive a test step.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(2, {
      config: {
        ...defaultConfig("lan"),
        listen: ["/ip4/127.0.0.1/tcp/0"],
        http: "127.0.0.1:0",
        inboundConnectionThreshold: 10_000,
      },
    });
    try {
      const [a, b] = cluster.nodes;
      await waitFor(
        "a found b by mDNS and verified its hello",
        () => a.peers().some((p) => p.peer === b.peerId && p.did !== null),
        15_000,
      );
    } finally {
      await cluster.stop();
    }
  },
});
