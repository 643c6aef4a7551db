import { multiaddr } from "@multiformats/multiaddr";
import * as dagCbor from "@ipld/dag-cbor";
import { defaultParams } from "../core/params.ts";
import { assert, assertEquals } from "../tests/_node_fixture.ts";
import {
  admissionPow,
  checkPow,
  decodeAnswer,
  decodeChallenge,
  leadingZeroBits,
  type PowChallenge,
  powHash,
  prefixKey,
  prefixShareAllowed,
  solvePow,
} from "./admission.ts";

Deno.test("prefixKey() is the IPv4 /24 or IPv6 /48 of a public address", () => {
  const key = (addr: string) => prefixKey(multiaddr(addr));
  assertEquals(key("/ip4/203.0.113.7/tcp/4001"), "ip4:203.0.113.0/24");
  assertEquals(key("/ip4/203.0.113.200/tcp/9"), "ip4:203.0.113.0/24");
  assertEquals(key("/ip4/198.51.100.1/tcp/4001"), "ip4:198.51.100.0/24");
  assertEquals(key("/ip6/2001:db8:abcd:12::1/tcp/4001"), "ip6:2001:db8:abcd::/48");
  assertEquals(key("/ip6/2001:db8:abcd:ffff::9/tcp/4001"), "ip6:2001:db8:abcd::/48");
  assertEquals(key("/ip6/2001:db8::1/tcp/4001"), "ip6:2001:db8:0::/48");
  assertEquals(key("/ip6/::ffff:203.0.113.9/tcp/4001"), "ip4:203.0.113.0/24");
});

Deno.test("prefixKey() gives no prefix to loopback, private, link-local and relayed addresses", () => {
  for (
    const addr of [
      "/ip4/127.0.0.1/tcp/4001",
      "/ip4/10.1.2.3/tcp/4001",
      "/ip4/172.20.0.5/tcp/4001",
      "/ip4/192.168.1.20/tcp/4001",
      "/ip4/169.254.3.4/tcp/4001",
      "/ip4/100.64.0.1/tcp/4001",
      "/ip6/::1/tcp/4001",
      "/ip6/fd00::5/tcp/4001",
      "/ip6/fe80::1/tcp/4001",
      "/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit",
    ]
  ) assertEquals(prefixKey(multiaddr(addr)), null, addr);
});

Deno.test("prefixShareAllowed() lets a prefix hold the minimum, then its share of connections", () => {
  const limits = { connectionsPerPrefixPercentMax: 25, connectionsPerPrefixMin: 4 };
  // Up to the minimum, whatever the share.
  assert(prefixShareAllowed(3, 3, limits), "4th of 4");
  assert(!prefixShareAllowed(4, 4, limits), "5th of 5");
  // 19 other connections open: 25 % of 24 is 6.
  assert(prefixShareAllowed(5, 23, limits), "6th of 24");
  assert(!prefixShareAllowed(6, 24, limits), "7th of 25 (6.25 allowed)");
  assert(prefixShareAllowed(6, 27, limits), "7th of 28");
});

Deno.test("admissionPow() is off by default and reads the genesis parameters", () => {
  assertEquals(admissionPow(defaultParams()), null);
  assertEquals(
    admissionPow({
      ...defaultParams(),
      "network.admissionPow.bits": 6,
      "network.admissionPow.memoryKib": 64,
    }),
    { bits: 6, memoryKib: 64, iterations: 1 },
  );
});

Deno.test("leadingZeroBits() counts from the first byte's high bit", () => {
  assertEquals(leadingZeroBits(new Uint8Array([0, 0, 0x80])), 16);
  assertEquals(leadingZeroBits(new Uint8Array([0, 0x01])), 15);
  assertEquals(leadingZeroBits(new Uint8Array([0xff])), 0);
  assertEquals(leadingZeroBits(new Uint8Array(4)), 32);
});

const challenge: PowChallenge = {
  net: "bafytestnet",
  verifier: "12D3KooWverifier",
  prover: "12D3KooWprover",
  nonce: new Uint8Array(32).fill(9),
  pow: { bits: 5, memoryKib: 8, iterations: 1 },
};

Deno.test("solvePow() finds a counter that checkPow() accepts, bound to the challenge", async () => {
  const counter = await solvePow(challenge);
  assert(await checkPow(challenge, counter), "the solution checks");
  assert(leadingZeroBits(await powHash(challenge, counter)) >= 5, "5 leading zero bits");
  // The same counter for another prover, verifier, nonce or network is (almost surely) no proof.
  let reused = 0;
  for (
    const other of [
      { ...challenge, prover: "12D3KooWother" },
      { ...challenge, verifier: "12D3KooWother" },
      { ...challenge, nonce: new Uint8Array(32).fill(10) },
      { ...challenge, net: "bafyother" },
    ]
  ) if (await checkPow(other, counter)) reused++;
  assert(reused <= 1, `a proof carried over to ${reused} other challenges`);
  assertEquals(await checkPow(challenge, -1), false);
  assertEquals(await checkPow(challenge, 1.5), false);
});

Deno.test("solvePow() stops when its signal aborts", async () => {
  const hard = { ...challenge, pow: { bits: 24, memoryKib: 8, iterations: 1 } };
  const controller = new AbortController();
  const solving = solvePow(hard, { signal: controller.signal });
  controller.abort(new Error("stop"));
  let error: unknown;
  await solving.catch((e) => error = e);
  assertEquals((error as Error)?.message, "stop");
});

Deno.test("decodeChallenge() and decodeAnswer() are strict and bounded", () => {
  const nonce = new Uint8Array(32);
  assertEquals(
    decodeChallenge(dagCbor.encode({ bits: 8, iterations: 1, memoryKib: 4096, nonce })).pow,
    { bits: 8, iterations: 1, memoryKib: 4096 },
  );
  assertEquals(decodeAnswer(dagCbor.encode({ counter: 42 })), 42);
  for (
    const bad of [
      dagCbor.encode({ bits: 8, iterations: 1, memoryKib: 4096 * 1024, nonce }),
      dagCbor.encode({ bits: 30, iterations: 1, memoryKib: 4096, nonce }),
      dagCbor.encode({ bits: 8, iterations: 1, memoryKib: 4096, nonce, extra: 1 }),
      dagCbor.encode({ bits: 8, iterations: 1, memoryKib: 4096, nonce: new Uint8Array(8) }),
      new Uint8Array(1000),
      new Uint8Array([0xff]),
    ]
  ) {
    let error: unknown;
    try {
      decodeChallenge(bad);
    } catch (e) {
      error = e;
    }
    assert((error as Error)?.message?.startsWith("Cannot read admission challenge"), String(error));
  }
  let error: unknown;
  try {
    decodeAnswer(dagCbor.encode({ counter: -1 }));
  } catch (e) {
    error = e;
  }
  assert(error !== undefined, "a negative counter is refused");
});

Deno.test("Lane runs at most its limit at once and refuses past its queue", async () => {
  const { Lane } = await import("./admission.ts");
  const lane = new Lane({ inFlightMax: 2, waitingMax: 1 });
  let running = 0;
  let most = 0;
  const gates: PromiseWithResolvers<void>[] = [];
  const task = () => {
    const gate = Promise.withResolvers<void>();
    gates.push(gate);
    running++;
    most = Math.max(most, running);
    return gate.promise.then(() => running--);
  };
  const results = [lane.run(task), lane.run(task), lane.run(task)];
  let refused: unknown;
  await lane.run(task).catch((error) => refused = error);
  assert(String(refused).includes("already wait"), "the 4th is refused");
  while (gates.length < 3) {
    await Promise.resolve();
    for (const gate of gates) gate.resolve();
  }
  for (const gate of gates) gate.resolve();
  await Promise.all(results);
  assertEquals(most, 2);
});
