/**
 * Hostile peers built from libp2p's own API. One says a valid hello for an
 * identity of its own (no member) and floods an honest cluster with forged
 * signatures, replays, wrong-network, oversized and random messages: every
 * one is rejected or ignored and counted, the peer is penalised, state does
 * not change, honest traffic flows. Plain peers that never say a hello have
 * all their gossip dropped before decoding, and counted.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { gossipsub, StrictNoSign, StrictSign } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { Libp2p } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { readChain } from "../core/chain/read.ts";
import { kelNet, protocolVersion } from "../core/constants.ts";
import { sealEnvelope } from "../core/envelope/envelope.ts";
import { didFromPublicKey } from "../core/identity/did.ts";
import { ed25519FromSeed, type Ed25519KeyPair } from "../core/identity/keys.ts";
import { createSigner } from "../core/identity/signer.ts";
import { transferBody } from "../core/ledger/_testing.ts";
import { exposition } from "../net/metrics.ts";
import type { IcnNode } from "../net/node.ts";
import { helloBytesMax, helloProtocol, request, signHello } from "../net/protocol.ts";
import {
  assert,
  assertEquals,
  connect,
  converge,
  logSize,
  startCluster,
  stateDigest,
  waitFor,
} from "./_node_fixture.ts";

async function counter(
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

/** Says a signed hello to `node` as the identity of `key` (anyone can make one). */
async function sayHello(peer: Libp2p, node: IcnNode, key: Ed25519KeyPair): Promise<void> {
  const connection = peer.getConnections().find((c) => c.remotePeer.toString() === node.peerId);
  if (!connection) throw new Error("Not connected");
  const stream = await connection.newStream(helloProtocol);
  const hello = await signHello({
    did: didFromPublicKey(key.publicKey),
    net: node.net,
    version: protocolVersion,
    from: peer.peerId.toString(),
    to: node.peerId,
    ts: Date.now(),
  }, key);
  await request(stream, hello, helloBytesMax);
}

Deno.test({
  name:
    "a libp2p peer with a hello of its own sending forged, replayed, wrong-network, oversized and random messages is rejected, counted and penalised",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(3);
    const adversarySeed = new Uint8Array(32).fill(77);
    const adversaryKey = await ed25519FromSeed(adversarySeed);
    const adversary = await createLibp2p({
      privateKey: await generateKeyPairFromSeed("Ed25519", adversarySeed),
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        pubsub: gossipsub({
          globalSignaturePolicy: StrictNoSign,
          allowPublishToZeroTopicPeers: true,
          floodPublish: true,
        }),
      },
    });
    try {
      const { nodes, members, net, stores } = cluster;
      await connect(nodes, "line");
      await converge(cluster);
      const victim = members[1];
      const before = await Promise.all(stores.map((s) => stateDigest(s, net)));
      const sizeBefore = await logSize(stores[0]);

      const topic = nodes[0].topic;
      adversary.services.pubsub.subscribe(topic);
      await adversary.dial(multiaddr(nodes[0].addrs()[0]));
      await sayHello(adversary, nodes[0], adversaryKey);
      const peer = adversary.peerId.toString();
      await waitFor(
        "adversary's hello verified",
        () => nodes[0].peers().some((p) => p.peer === peer && p.did !== null),
      );
      await waitFor(
        "adversary sees the topic",
        () => adversary.services.pubsub.getSubscribers(topic).length > 0,
      );
      const attackerKey = await ed25519FromSeed(new Uint8Array(32).fill(66));
      // Forged: the victim's first transfer, signed with the attacker's key.
      const forged = await sealEnvelope({
        net,
        kind: "ledger.transfer",
        seq: 0,
        prev: null,
        ts: Date.now(),
        body: transferBody(members[0].did, 1, { id: "forged" }),
      }, createSigner(victim.did, attackerKey));
      // Replay: node 0 received this KEL by sync, so gossip validation sees it as a duplicate.
      const [replayed] = await readChain(stores[0], kelNet, members[2].did);
      const wrongNetwork = await sealEnvelope({
        net: "bafyreiotheraaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        kind: "ledger.transfer",
        seq: 0,
        prev: null,
        ts: Date.now(),
        body: transferBody(members[0].did, 1, { id: "evil" }),
      }, createSigner(victim.did, attackerKey));
      const oversized = new Uint8Array(65 * 1024 + 10).fill(7);
      // Ordered so that quarantine (20 points) comes only with the last one.
      const attacks = [
        crypto.getRandomValues(new Uint8Array(300)),
        oversized,
        wrongNetwork.bytes,
        replayed.bytes,
        forged.bytes,
      ];
      for (const bytes of attacks) {
        await adversary.services.pubsub.publish(topic, bytes).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      // Then random garbage at a high rate.
      const flood = [];
      for (let i = 0; i < 400; i++) {
        flood.push(
          adversary.services.pubsub.publish(topic, crypto.getRandomValues(new Uint8Array(200)))
            .catch(() => {}),
        );
      }
      await Promise.all(flood);
      const node = nodes[0];
      await waitFor(
        "attacks counted",
        async () =>
          await counter(node, "icn_envelopes_rejected_total", { reason: "invalid_signature" }) >=
            1 &&
          await counter(node, "icn_envelopes_rejected_total", { reason: "wrong_network" }) >= 1 &&
          await counter(node, "icn_envelopes_rejected_total", { reason: "too_large" }) >= 1 &&
          await counter(node, "icn_envelopes_rejected_total", { reason: "malformed" }) >= 1 &&
          await counter(node, "icn_envelopes_ignored_total", { reason: "duplicate" }) >= 1,
      );
      for (const reason of ["invalid_signature", "wrong_network", "oversized", "malformed"]) {
        assert(
          await counter(node, "icn_messages_dropped_total", { channel: "gossip", reason }) >= 1,
          `dropped ${reason} counted`,
        );
      }
      await waitFor(
        "adversary penalised",
        () => node.misbehaviour.standing(peer, Date.now()) !== "ok",
      );
      assert(
        await counter(node, "icn_misbehaviour_total", { offence: "invalid_signature" }) >= 1,
        "invalid signature recorded",
      );
      const record = node.misbehaviour.get(peer)!;
      assert(record.evidence.length > 0 && record.evidence.length <= 16, "bounded evidence");
      // Quarantined, it kept flooding beyond its rate: banned and disconnected.
      await waitFor(
        "adversary banned",
        () => node.misbehaviour.standing(peer, Date.now()) === "banned",
      );
      await waitFor(
        "adversary disconnected",
        () => !node.libp2p.getPeers().some((p) => p.toString() === peer),
      );
      const score = () =>
        (node.libp2p.services.pubsub as unknown as { getScore(p: string): number }).getScore(peer);
      await waitFor("negative gossipsub score for the adversary", () => score() < 0, 5000);
      // No state change from the attack.
      assertEquals(await Promise.all(stores.map((s) => stateDigest(s, net))), before);
      // Honest traffic keeps flowing.
      const { outcome } = await nodes[0].submit({
        kind: "ledger.transfer",
        body: transferBody(members[2].did, 7, { id: "honest" }),
      });
      assertEquals(outcome.status, "accepted");
      await waitFor(
        "honest transfer everywhere",
        async () => (await Promise.all(stores.map(logSize))).every((n) => n === sizeBefore + 1),
      );
    } finally {
      await adversary.stop();
      await cluster.stop();
    }
  },
});

Deno.test({
  name:
    "plain libp2p peers that never say a hello have every gossip message dropped and counted (no_hello, bad_frame)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(2);
    // One publishes unsigned frames (the network's policy), one signed frames (gossipsub's default).
    const plain = await Promise.all(
      ([StrictNoSign, StrictSign] as const).map((policy) =>
        createLibp2p({
          addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
          transports: [tcp()],
          connectionEncrypters: [noise()],
          streamMuxers: [yamux()],
          services: {
            identify: identify(),
            pubsub: gossipsub({
              globalSignaturePolicy: policy,
              allowPublishToZeroTopicPeers: true,
              floodPublish: true,
            }),
          },
        })
      ),
    );
    try {
      const { nodes, stores, net } = cluster;
      await connect(nodes, "line");
      await converge(cluster);
      const before = await Promise.all(stores.map((s) => stateDigest(s, net)));
      const node = nodes[0];
      const topic = node.topic;
      const dropped = (reason: string) =>
        counter(node, "icn_messages_dropped_total", { channel: "gossip", reason });
      assertEquals(await dropped("no_hello"), 0);
      for (const peer of plain) {
        peer.services.pubsub.subscribe(topic);
        await peer.dial(multiaddr(node.addrs()[0]));
        await waitFor(
          "the peer sees the topic",
          () => peer.services.pubsub.getSubscribers(topic).length > 0,
        );
      }
      const perPeer = 150;
      await Promise.all(
        plain.flatMap((peer) =>
          Array.from(
            { length: perPeer },
            () =>
              peer.services.pubsub.publish(topic, crypto.getRandomValues(new Uint8Array(200)))
                .catch(() => {}),
          )
        ),
      );
      await waitFor(
        "every garbage message counted as dropped",
        async () => await dropped("no_hello") >= perPeer && await dropped("bad_frame") >= perPeer,
      );
      // Nothing reached decoding or validation, and nothing changed.
      assertEquals(await counter(node, "icn_envelopes_rejected_total", {}), 0);
      assertEquals(await Promise.all(stores.map((s) => stateDigest(s, net))), before);
      const text = await exposition(node.metrics);
      assert(
        /icn_messages_dropped_total\{channel="gossip",reason="no_hello"\} [1-9]/.test(text),
        "no_hello drops in /metrics",
      );
    } finally {
      await Promise.all(plain.map((peer) => peer.stop()));
      await cluster.stop();
    }
  },
});
