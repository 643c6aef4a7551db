import { assert, assertEquals } from "../tests/_node_fixture.ts";
import { MisbehaviourTracker } from "./misbehaviour.ts";

Deno.test("MisbehaviourTracker escalates ok → quarantined → banned and keeps bounded evidence", () => {
  const tracker = new MisbehaviourTracker({ quarantinePoints: 20, banPoints: 100, banMs: 60_000 });
  assertEquals(tracker.record("p", "malformed", "x", 0), "ok");
  assertEquals(tracker.record("p", "invalid_signature", "x", 0), "ok");
  assertEquals(tracker.record("p", "invalid_signature", "x", 0), "quarantined");
  let standing = "quarantined";
  for (let i = 0; i < 20 && standing !== "banned"; i++) {
    standing = tracker.record("p", "invalid_signature", `sig ${i}`, 0);
  }
  assertEquals(standing, "banned");
  assert(tracker.get("p")!.evidence.length <= 16, "evidence is bounded");
  assertEquals(tracker.standing("other", 0), "ok");
  // A ban expires.
  assertEquals(tracker.standing("p", 61_000), "ok");
});

Deno.test("MisbehaviourTracker lets a quarantined peer recover as its points decay", () => {
  const tracker = new MisbehaviourTracker({ quarantinePoints: 20, banPoints: 100, banMs: 60_000 });
  tracker.record("p", "fork", "x", 0);
  assertEquals(tracker.standing("p", 0), "quarantined");
  assertEquals(tracker.standing("p", 120_000), "ok");
});
