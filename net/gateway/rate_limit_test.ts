import { assert, assertEquals } from "../../tests/_node_fixture.ts";
import { fixedClock } from "../../core/ports.ts";
import { GatewayError } from "./auth.ts";
import { encodeCursor, pageOf } from "./cursor.ts";
import { rateLimits, trustClassRateFactor } from "./limits.ts";
import { RateLimiter } from "./rate_limit.ts";
import { Receipts } from "./receipts.ts";

function burstOf(limiter: RateLimiter, who: string, cls: keyof typeof trustClassRateFactor) {
  let n = 0;
  for (; n < 1000; n++) {
    try {
      limiter.request(who, "write", cls);
    } catch (error) {
      assert(error instanceof GatewayError && error.status === 429, "a 429");
      assert(Number(error.headers["retry-after"]) >= 1, "with Retry-After");
      break;
    }
  }
  return n;
}

Deno.test("RateLimiter.request() scales a category's burst by trust class, per DID", () => {
  const limiter = new RateLimiter(fixedClock(0));
  const write = rateLimits.write.burst;
  assertEquals(burstOf(limiter, "isolated", "isolated"), Math.round(write * 0.5));
  assertEquals(burstOf(limiter, "known", "known"), write);
  assertEquals(burstOf(limiter, "partner", "partner"), write * 2);
  // The per-DID layer (100) caps a federated member's 80 writes only beyond it.
  assertEquals(burstOf(limiter, "federated", "federated"), write * 4);
  // Another DID has its own buckets.
  assertEquals(burstOf(limiter, "known-2", "known"), write);
});

Deno.test("RateLimiter refills with time on the injected clock", () => {
  const clock = fixedClock(0);
  const limiter = new RateLimiter(clock, { governance: { rate: 1, burst: 2 } });
  limiter.request("a", "governance", "known");
  limiter.request("a", "governance", "known");
  let refused = false;
  try {
    limiter.request("a", "governance", "known");
  } catch {
    refused = true;
  }
  assert(refused, "the third is refused");
  clock.advance(1000);
  limiter.request("a", "governance", "known");
});

Deno.test("Receipts keeps at most its bound, forgetting the oldest", () => {
  const receipts = new Receipts(3);
  for (let i = 0; i < 5; i++) {
    receipts.add({
      id: `r-${i}`,
      caller: "did",
      kind: "trust.edge",
      outcome: { status: "accepted" },
      cid: null,
      ts: i,
      net: "n",
    });
  }
  assertEquals(receipts.size, 3);
  assertEquals(receipts.get("r-1"), undefined);
  assertEquals(receipts.get("r-4")?.ts, 4);
});

Deno.test("pageOf() continues after the last key even when items were removed meanwhile", () => {
  const items = ["a", "b", "c", "d", "e"];
  const first = pageOf("l", items, (x) => x, { limit: 2 });
  assertEquals(first.items, ["a", "b"]);
  const after = pageOf("l", ["a", "c", "d", "e"], (x) => x, { cursor: first.next!, limit: 2 });
  assertEquals(after.items, ["c", "d"]);
  let refused = "";
  try {
    pageOf("other", items, (x) => x, { cursor: encodeCursor("l", "b"), limit: 2 });
  } catch (error) {
    refused = (error as GatewayError).code;
  }
  assertEquals(refused, "invalid_cursor");
});
