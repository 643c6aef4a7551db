/**
 * Sybil admission on loopback: an injected address classifier presents
 * loopback peers as coming from other networks, so one "/24" is held to its
 * share of connections while members and other prefixes get in; with the
 * genesis's proof of work on, a peer that is not a member shows Argon2id
 * work before its hello is read, and one that cannot is disconnected.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import type { Libp2p } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { assert, assertEquals, startCluster, waitFor } from "./_node_fixture.ts";

function plainPeer(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  });
}

async function count(
  node: { metrics: { registry: { getSingleMetric(n: string): unknown } } },
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = node.metrics.registry.getSingleMetric(name) as {
    get(): Promise<{ values: { labels: Record<string, string>; value: number }[] }>;
  };
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((n, v) => n + v.value, 0);
}

const sybilPrefix = "ip4:198.51.100.0/24";

Deno.test({
  name:
    "connection diversity: one /24 holds at most its share of connections; other prefixes and members still get in",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const sybils = await Promise.all(Array.from({ length: 4 }, plainPeer));
    const others = await Promise.all(Array.from({ length: 2 }, plainPeer));
    const inSybilPrefix = new Set(sybils.map((p) => p.peerId.toString()));
    const cluster = await startCluster(2, {
      config: {
        connectionsPerPrefixPercentMax: 25,
        connectionsPerPrefixMin: 2,
        // Plain peers say no hello: keep them while the test counts.
        helloTimeoutMs: 60_000,
      },
      node: (index) =>
        index === 0
          ? {
            // Sybils and the member node 1 "come from" one /24; everyone else from its own.
            addressClassifier: (_remote, peer) =>
              inSybilPrefix.has(peer) || peer === cluster.nodes[1]?.peerId
                ? sybilPrefix
                : `ip4:peer-${peer}`,
          }
          : {},
    });
    const target = cluster.nodes[0];
    const addr = multiaddr(target.addrs()[0]);
    const connectedSybils = () =>
      target.libp2p.getConnections().filter((c) => inSybilPrefix.has(c.remotePeer.toString()))
        .length;
    try {
      // One dial at a time, each waited for until the target holds it (or refused it), so every
      // check counts the connections before it.
      const settle = (peer: Libp2p) =>
        waitFor(
          "the target holds the connection or refused it",
          () =>
            target.libp2p.getConnections(peer.peerId).length > 0 ||
            peer.getConnections(target.libp2p.peerId).length === 0,
        );
      for (const peer of others) {
        await peer.dial(addr);
        await settle(peer);
      }
      let refusedDials = 0;
      for (const sybil of sybils) {
        // Refused after the handshake: the dialer sees the dial fail or the connection close.
        await sybil.dial(addr).catch(() => refusedDials++);
        await settle(sybil);
      }
      // 2 others open: the first two sybils fit the minimum (2), the rest are refused.
      await waitFor(
        "refusals counted",
        async () =>
          await count(target, "icn_connections_refused_total", { reason: "prefix_share" }) >= 2,
      );
      await waitFor("at most two sybils connected", () => connectedSybils() <= 2);
      assertEquals(connectedSybils(), 2);
      // A member in the same prefix is not held to it.
      await cluster.nodes[1].connect(target.addrs()[0]);
      await waitFor(
        "the member is verified",
        () => target.peers().some((p) => p.peer === cluster.nodes[1].peerId && p.did !== null),
      );
      assert(refusedDials <= 2, `${refusedDials} dials refused`);
    } finally {
      await Promise.all([...sybils, ...others].map((p) => p.stop()));
      await cluster.stop();
    }
  },
});

Deno.test({
  name:
    "admission proof of work: a non-member shows Argon2id work before its hello is read; members skip it; a peer that cannot is disconnected",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Nodes 0 and 1 are founders; node 2 runs an identity that is no member.
    const cluster = await startCluster(3, {
      founders: 2,
      params: { "network.admissionPow.bits": 4, "network.admissionPow.memoryKib": 64 },
    });
    const plain = await plainPeer();
    try {
      const [member, otherMember, outsider] = cluster.nodes;
      await otherMember.connect(member.addrs()[0]);
      await waitFor(
        "member verified",
        () => member.peers().some((p) => p.peer === otherMember.peerId && p.did !== null),
      );
      assertEquals(await count(member, "icn_admission_pow_checks_total", {}), 0);

      await outsider.connect(member.addrs()[0]);
      await waitFor(
        "the outsider's work checked and its hello verified",
        () => member.peers().some((p) => p.peer === outsider.peerId && p.did !== null),
      );
      assertEquals(await count(member, "icn_admission_pow_checks_total", { result: "passed" }), 1);
      assertEquals(
        await count(outsider, "icn_admission_pow_solves_total", { result: "solved" }),
        1,
      );
      // The outsider checks no one: both others are members.
      assertEquals(await count(outsider, "icn_admission_pow_checks_total", {}), 0);

      // A plain libp2p peer cannot answer: refused and disconnected before any hello.
      await plain.dial(multiaddr(member.addrs()[0]));
      const peer = plain.peerId.toString();
      await waitFor(
        "the plain peer failed admission",
        async () =>
          await count(member, "icn_admission_pow_checks_total", { result: "failed" }) >= 1 &&
          await count(member, "icn_connections_refused_total", { reason: "admission" }) >= 1,
      );
      await waitFor(
        "the plain peer disconnected",
        () => !member.libp2p.getPeers().some((p) => p.toString() === peer),
      );
      assertEquals(member.misbehaviour.get(peer), undefined);
    } finally {
      await plain.stop();
      await cluster.stop();
    }
  },
});
