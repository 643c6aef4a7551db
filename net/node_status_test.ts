import { deepStrictEqual as assertEquals } from "node:assert";
import type { VerifiedHello } from "./hello.ts";
import { describePeers } from "./node_status.ts";
import { testComponents, testNow } from "./_testing.ts";

const topology = { region: "eu", cluster: "coop", role: "edge" } as const;

Deno.test("describePeers() shows each peer with the networks both serve, its standing in each, its set and topology", async () => {
  const a = await testComponents();
  const b = await testComponents();
  const c = await testComponents();
  const did = a.network.members[1].did;
  a.peers.verify("p1", { did, version: "1.2.0", trustClass: "known" });
  b.peers.verify("p1", { did, version: "1.2.0", trustClass: "known" });
  const hellos = new Map<string, VerifiedHello>([["p1", {
    did,
    first: "a",
    announced: ["a", "b"],
    shared: ["a", "b"],
    topology,
    trustClass: "known",
  }]]);
  const [p1, stranger] = describePeers(
    [
      { peer: "p1", addrs: ["/ip4/10.0.0.1/tcp/4001"], score: 3 },
      { peer: "p2", addrs: [], score: 0 },
    ],
    {
      networks: [
        { id: "a", peers: a.peers },
        { id: "b", peers: b.peers },
        { id: "c", peers: c.peers },
      ],
      neighbours: {
        hello: (peer) => hellos.get(peer),
        setOf: (peer) => peer === "p1" ? "cluster" : null,
      },
    },
    testNow,
  );
  assertEquals(p1, {
    ...a.peers.describe("p1", { addrs: ["/ip4/10.0.0.1/tcp/4001"], score: 3 }),
    networks: ["a", "b"],
    standings: { a: "ok", b: "ok" },
    set: "cluster",
    topology,
  });
  assertEquals([p1.did, p1.version], [did, "1.2.0"]);
  // A peer without a verified hello is described by the home network and shares none.
  assertEquals(stranger, {
    ...a.peers.describe("p2", { addrs: [], score: 0 }),
    networks: [],
    standings: {},
    set: null,
    topology: null,
  });
  assertEquals(stranger.did, null);
});
