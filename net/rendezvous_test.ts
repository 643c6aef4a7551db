import * as dagCbor from "@ipld/dag-cbor";
import { assertEquals } from "../tests/_node_fixture.ts";
import { RejectedError } from "../core/errors.ts";
import { fixedClock, type Logger, silentLogger } from "../core/ports.ts";
import type { VerifiedHello } from "./hello.ts";
import type { PeerStanding } from "./misbehaviour.ts";
import {
  decodeRendezvousReply,
  decodeRendezvousRequest,
  Rendezvous,
  rendezvousAnswerIntervalMs,
  rendezvousAnswersPerSecond,
  rendezvousDialsPerRoundMax,
  type RendezvousHost,
  type RendezvousNeighbours,
  type RendezvousPeer,
  rendezvousPeersMax,
  rendezvousReplyBytesMax,
  rendezvousRetryMs,
} from "./rendezvous.ts";
import type { NeighbourSetName, Topology } from "./topology.ts";
import { testNow } from "./_testing.ts";

const intervalMs = 60_000;

function hello(topology: Topology | undefined, announced = ["n1"]): VerifiedHello {
  return {
    did: "did:icn:zPeer",
    first: announced[0],
    announced,
    shared: announced,
    ...(topology ? { topology } : {}),
    trustClass: "isolated",
  };
}

const north = (cluster: string, role: Topology["role"] = "edge"): Topology => ({
  region: "north",
  cluster,
  role,
});

/** Fake neighbours: verified hellos, standings and room, as `Neighbours` would give them. */
function fakeNeighbours(local: Topology) {
  const hellos = new Map<string, VerifiedHello>();
  const standings = new Map<string, PeerStanding>();
  const room: Record<NeighbourSetName, number> = {
    cluster: 0,
    regional: 0,
    backbone: 0,
    trusted: 0,
  };
  const neighbours: RendezvousNeighbours = {
    local,
    hello: (peer) => hellos.get(peer),
    hellos: () => hellos.entries(),
    standing: (peer) => ({ standing: standings.get(peer) ?? "ok" }),
    room: () => ({ ...room }),
  };
  return { neighbours, hellos, standings, room };
}

/** A fake host: connected peers, known addresses, what was dialled; `ask` answers with `reply`. */
function fakeHost(reply: (peer: string) => Promise<RendezvousPeer[]>) {
  const connected = new Set<string>();
  const addrs = new Map<string, string[]>();
  const dialled: string[] = [];
  const asked: string[] = [];
  const host: RendezvousHost = {
    connected: (peer) => connected.has(peer),
    addrsOf: (peer) => Promise.resolve(addrs.get(peer) ?? []),
    ask: async (peer) => {
      asked.push(peer);
      return { peers: await reply(peer) };
    },
    dial: (peer) => {
      dialled.push(peer);
      return Promise.resolve();
    },
  };
  return { host, connected, addrs, dialled, asked };
}

function rendezvousAt(
  local: Topology,
  reply: (peer: string) => Promise<RendezvousPeer[]> = () => Promise.resolve([]),
  logger: Logger = silentLogger,
) {
  const clock = fixedClock(testNow);
  const controller = new AbortController();
  const n = fakeNeighbours(local);
  const h = fakeHost(reply);
  const rendezvous = new Rendezvous({
    clock,
    logger,
    signal: controller.signal,
    self: () => "self",
    neighbours: n.neighbours,
    host: h.host,
  }, { intervalMs });
  return { rendezvous, clock, controller, ...n, ...h };
}

function rejection(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof RejectedError) return error.reason;
    throw error;
  }
  return "none";
}

Deno.test("rendezvous messages decode strictly: exact fields, bounded counts and sizes, valid names", () => {
  const request = dagCbor.encode({ t: "peers", max: 5 });
  assertEquals(decodeRendezvousRequest(request), { t: "peers", max: 5 });
  for (
    const bad of [
      { t: "peers", max: 0 },
      { t: "peers", max: rendezvousPeersMax + 1 },
      { t: "peers", max: 5, region: "south" },
      { t: "heads", max: 5 },
    ]
  ) {
    assertEquals(rejection(() => decodeRendezvousRequest(dagCbor.encode(bad))), "malformed");
  }
  const peer = { peer: "12D3KooWabc", addrs: ["/ip4/127.0.0.1/tcp/4001"], ...north("bakers") };
  assertEquals(decodeRendezvousReply(dagCbor.encode({ peers: [peer] })), { peers: [peer] });
  const replies = [
    { peers: [{ ...peer, role: "king" }] },
    { peers: [{ ...peer, region: "no spaces" }] },
    { peers: [{ ...peer, addrs: [] }] },
    { peers: [{ ...peer, addrs: Array(5).fill("/ip4/1.2.3.4/tcp/1") }] },
    { peers: [{ ...peer, extra: 1 }] },
    { peers: Array(rendezvousPeersMax + 1).fill(peer) },
    { peers: [peer], more: true },
  ];
  for (const bad of replies) {
    assertEquals(rejection(() => decodeRendezvousReply(dagCbor.encode(bad))), "malformed");
  }
  const huge = new Uint8Array(rendezvousReplyBytesMax + 1);
  assertEquals(rejection(() => decodeRendezvousReply(huge)), "malformed");
});

Deno.test("a rendezvous node answers a verified asker with the peers of its region that share a network with it, its cluster first", () => {
  const r = rendezvousAt(north("hub", "rendezvous"));
  r.hellos.set("asker", hello(north("bakers")));
  r.hellos.set("p-b", hello(north("bakers")));
  r.hellos.set("p-a", hello(north("millers")));
  r.hellos.set("p-c", hello(north("bakers", "archive")));
  r.hellos.set("south", hello({ region: "south", cluster: "bakers", role: "edge" }));
  r.hellos.set("other-net", hello(north("bakers"), ["n2"]));
  r.hellos.set("bad", hello(north("bakers")));
  r.standings.set("bad", "quarantined");
  r.hellos.set("old", hello(undefined));
  const answer = r.rendezvous.answer("asker", { t: "peers", max: 10 });
  assertEquals(answer.peers.map((p) => [p.peer, p.cluster, p.role]), [
    ["p-b", "bakers", "edge"],
    ["p-c", "bakers", "archive"],
    ["p-a", "millers", "edge"],
  ]);
  // Bounded by the asker's max; a second ask within the interval is refused.
  r.clock.advance(rendezvousAnswerIntervalMs);
  assertEquals(r.rendezvous.answer("asker", { t: "peers", max: 1 }).peers.length, 1);
  assertEquals(
    rejection(() => r.rendezvous.answer("asker", { t: "peers", max: 1 })),
    "rate_limited",
  );
  // Only to a verified peer.
  assertEquals(
    rejection(() => r.rendezvous.answer("stranger", { t: "peers", max: 1 })),
    "not_verified",
  );
  // An asker in another region learns that region's peers only.
  assertEquals(r.rendezvous.answer("south", { t: "peers", max: 10 }).peers, []);
  // An older peer announced no region: nothing to give it.
  assertEquals(r.rendezvous.answer("old", { t: "peers", max: 10 }).peers, []);
});

Deno.test("answerWithAddrs() lists each peer's addresses (at most 4), leaving out peers with none; an edge node does not answer", async () => {
  const r = rendezvousAt(north("hub", "rendezvous"));
  r.hellos.set("asker", hello(north("bakers")));
  r.hellos.set("p1", hello(north("bakers")));
  r.hellos.set("p2", hello(north("bakers")));
  r.addrs.set("p1", [
    "/ip4/10.0.0.1/tcp/1",
    "/ip4/10.0.0.1/tcp/2",
    "/ip4/10.0.0.1/tcp/3",
    "/ip4/10.0.0.1/tcp/4",
    "/ip4/10.0.0.1/tcp/5",
    `/dns4/${"x".repeat(300)}/tcp/1`,
  ]);
  const reply = await r.rendezvous.answerWithAddrs("asker", { t: "peers", max: 10 });
  assertEquals(reply.peers.map((p) => [p.peer, p.addrs.length]), [["p1", 4]]);
  // What goes on the wire decodes on the other side.
  assertEquals(decodeRendezvousReply(dagCbor.encode(reply)), reply);

  const edge = rendezvousAt(north("bakers"));
  edge.hellos.set("asker", hello(north("bakers")));
  assertEquals(edge.rendezvous.serving, false);
  assertEquals(
    rejection(() => edge.rendezvous.answer("asker", { t: "peers", max: 1 })),
    "not_rendezvous",
  );
});

Deno.test("an edge node asks the rendezvous nodes of its region and dials what its neighbour sets have room for", async () => {
  const listed = (peer: string, topology: Topology): RendezvousPeer => ({
    peer,
    addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${peer}`],
    ...topology,
  });
  const answer = [
    listed("self", north("bakers")),
    listed("connected", north("bakers")),
    listed("c1", north("bakers")),
    listed("c2", north("bakers")),
    listed("r1", north("millers")),
    listed("r2", north("millers")),
    listed("far", { region: "south", cluster: "bakers", role: "edge" }),
  ];
  const e = rendezvousAt(north("bakers"), () => Promise.resolve(answer));
  e.hellos.set("hub", hello(north("hub", "rendezvous")));
  e.hellos.set("hub-south", hello({ region: "south", cluster: "hub", role: "rendezvous" }));
  e.hellos.set("plain", hello(north("bakers")));
  for (const peer of ["hub", "hub-south", "plain", "connected"]) e.connected.add(peer);
  e.room.cluster = 1;
  e.room.regional = 1;
  const first = await e.rendezvous.round();
  assertEquals(first, { asked: ["hub"], dialled: ["c1", "r1"] });
  // Not due again before the interval: nothing asked.
  e.clock.advance(intervalMs - 1);
  assertEquals(await e.rendezvous.round(), { asked: [], dialled: [] });
  // Due: asked again; c1 and r1 were tried and are not retried yet, the next ones are.
  e.clock.advance(1);
  assertEquals(await e.rendezvous.round(), { asked: ["hub"], dialled: ["c2", "r2"] });
  // With no room left, nothing is dialled.
  e.clock.advance(rendezvousRetryMs);
  e.room.cluster = 0;
  e.room.regional = 0;
  assertEquals(await e.rendezvous.round(), { asked: ["hub"], dialled: [] });
  assertEquals(e.dialled, ["c1", "r1", "c2", "r2"]);
  // Stopping: nothing more.
  e.controller.abort();
  e.clock.advance(intervalMs);
  assertEquals(await e.rendezvous.round(), { asked: [], dialled: [] });
});

Deno.test("rendezvous rounds are bounded: dials per round, and a failed ask is logged and retried after the interval", async () => {
  const many = Array.from({ length: rendezvousPeersMax }, (_, i) => ({
    peer: `p${String(i).padStart(2, "0")}`,
    addrs: ["/ip4/127.0.0.1/tcp/1"],
    ...north("bakers"),
  }));
  let fail = true;
  const logged: string[] = [];
  const logger = { ...silentLogger, debug: (event: string) => void logged.push(event) };
  const e = rendezvousAt(
    north("bakers"),
    () => fail ? Promise.reject(new Error("stream reset")) : Promise.resolve(many),
    logger,
  );
  e.hellos.set("hub", hello(north("hub", "rendezvous")));
  e.connected.add("hub");
  e.room.cluster = 100;
  assertEquals(await e.rendezvous.round(), { asked: ["hub"], dialled: [] });
  assertEquals(logged, ["rendezvous_ask_failed"]);
  fail = false;
  assertEquals((await e.rendezvous.round()).asked, []);
  e.clock.advance(intervalMs);
  const round = await e.rendezvous.round();
  assertEquals(round.dialled.length, rendezvousDialsPerRoundMax);
  // A rendezvous node does not ask.
  const r = rendezvousAt(north("hub", "rendezvous"), () => Promise.resolve(many));
  r.hellos.set("hub", hello(north("hub2", "rendezvous")));
  r.connected.add("hub");
  assertEquals(await r.rendezvous.round(), { asked: [], dialled: [] });
});

Deno.test("a verified rendezvous node of the region is asked at once", async () => {
  const e = rendezvousAt(north("bakers"));
  e.connected.add("hub");
  e.hellos.set("hub", hello(north("hub", "rendezvous")));
  e.rendezvous.verified("hub", e.hellos.get("hub")!);
  // The round runs in the background; it asks before its first await returns.
  await Promise.resolve();
  assertEquals(e.asked, ["hub"]);
  e.rendezvous.verified("south", hello({ region: "south", cluster: "x", role: "rendezvous" }));
  e.rendezvous.verified("plain", hello(north("bakers")));
  await Promise.resolve();
  assertEquals(e.asked, ["hub"]);
});

Deno.test("a rendezvous node answers at most rendezvousAnswersPerSecond askers a second, then again as the budget refills", () => {
  const r = rendezvousAt(north("hub", "rendezvous"));
  const askers = Array.from({ length: rendezvousAnswersPerSecond + 1 }, (_, i) => `a${i}`);
  for (const peer of askers) r.hellos.set(peer, hello(north("bakers")));
  const outcomes = askers.map((peer) =>
    rejection(() => r.rendezvous.answer(peer, { t: "peers", max: 1 }))
  );
  assertEquals(outcomes.filter((o) => o === "none").length, rendezvousAnswersPerSecond);
  assertEquals(outcomes.at(-1), "rate_limited");
  r.clock.advance(1000 / rendezvousAnswersPerSecond);
  assertEquals(
    rejection(() => r.rendezvous.answer(askers.at(-1)!, { t: "peers", max: 1 })),
    "none",
  );
});
