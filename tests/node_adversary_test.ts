/**
 * A hostile peer built only from libp2p's own API (no icn networking code)
 * floods an honest cluster with forged signatures, replays, wrong-network,
 * oversized and random messages. Every one is rejected or ignored and
 * counted, the peer is penalised, state does not change, honest traffic flows.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { gossipsub, StrictNoSign } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { readChain } from "../core/chain/read.ts";
import { kelNet } from "../core/constants.ts";
import { sealEnvelope } from "../core/envelope/envelope.ts";
import { ed25519FromSeed } from "../core/identity/keys.ts";
import { createSigner } from "../core/identity/signer.ts";
import { transferBody } from "../core/ledger/_testing.ts";
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

Deno.test({
  name:
    "a plain libp2p peer sending forged, replayed, wrong-network, oversized and random messages is rejected, counted and penalised",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(3);
    const adversary = await createLibp2p({
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
      const peer = adversary.peerId.toString();
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
