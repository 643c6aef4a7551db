import { policyFor } from "../core/policy/policy.ts";
import { assert, assertEquals } from "../tests/_node_fixture.ts";
import { RateLimiter, TokenBucket } from "./limits.ts";

Deno.test("TokenBucket allows a burst, then refills at its rate", () => {
  const bucket = new TokenBucket(10, 5, 0);
  let allowed = 0;
  for (let i = 0; i < 20; i++) if (bucket.take(0)) allowed++;
  assertEquals(allowed, 5);
  assert(!bucket.take(50), "half a token after 50 ms");
  assert(bucket.take(100), "one token after 100 ms");
});

Deno.test("RateLimiter: many low-trust peers together cannot starve a trusted peer of its global share", () => {
  const limiter = new RateLimiter({ globalRate: 100, peerRate: 1000 }, 0);
  limiter.setPeer("trusted", "federated", 0);
  for (let i = 0; i < 20; i++) limiter.setPeer(`spam${i}`, "isolated", 0);
  // Spammers burn every spare token for one simulated second.
  for (let t = 0; t <= 1000; t += 10) {
    for (let i = 0; i < 20; i++) for (let k = 0; k < 5; k++) limiter.admitPeer(`spam${i}`, t);
  }
  let trusted = 0;
  for (let t = 1000; t <= 2000; t += 10) if (limiter.admitPeer("trusted", t) === null) trusted++;
  // Its trust-weighted share is 100 * 8 / (8 + 20) ≈ 28 per second.
  assert(trusted >= 25, `trusted peer got ${trusted} envelopes through`);
});

Deno.test("RateLimiter: an author over its class rate is refused after the burst", () => {
  const limiter = new RateLimiter({ globalRate: 1000, peerRate: 1000 }, 0);
  const policy = policyFor({}, "isolated");
  let allowed = 0;
  for (let i = 0; i < 50; i++) if (limiter.admitAuthor("did:icn:zA", policy, 0)) allowed++;
  assertEquals(allowed, policy.burst);
  const off = new RateLimiter({ globalRate: 1000, peerRate: 1000, authorLimits: false }, 0);
  assert(off.admitAuthor("did:icn:zA", policy, 0), "author limits can be turned off");
});
