import fc from "fast-check";
import { numberParam, parseParamValue } from "../params.ts";
import { testIdentity } from "../testing.ts";
import { createGenesis, validateGenesis } from "./genesis.ts";
import {
  highestInForce,
  type ReadinessInput,
  upgradeReadiness,
  type VersionAnnouncement,
} from "./upgrade_readiness.ts";

function assertEquals(actual: unknown, expected: unknown): void {
  const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== e) throw new Error(`expected ${e}, got ${a}`);
}

const day = 86_400_000;
const now = 1_800_000_000_000;

function input(
  versions: (string | null)[],
  extra: Partial<ReadinessInput> = {},
): ReadinessInput {
  const members = versions.map((_, i) => `did:icn:zMember${i}`);
  const announced = new Map<string, VersionAnnouncement>();
  versions.forEach((version, i) => {
    if (version !== null) announced.set(members[i], { version, ts: now - 1000 });
  });
  return {
    upgrade: { minVersion: "1.1.0", deadline: now - 1, effective: now - 1 },
    members,
    announced,
    now,
    readinessPercent: 80,
    activeWindowMs: 7 * day,
    ...extra,
  };
}

Deno.test("upgradeReadiness: 3 of 5 at the new version is not enough at 80 %, 4 of 5 is", () => {
  const three = upgradeReadiness(input(["1.1.0", "1.1.0", "1.2.0", "1.0.0", "1.0.0"]));
  assertEquals(three, {
    active: 5,
    ready: 3,
    ratio: 0.6,
    thresholdMet: false,
    deadlinePassed: true,
    inForce: false,
  });
  const four = upgradeReadiness(input(["1.1.0", "1.1.0", "1.2.0", "1.1.0", "1.0.0"]));
  assertEquals([four.ready, four.ratio, four.inForce], [4, 0.8, true]);
});

Deno.test("upgradeReadiness: members without a node, silent ones and non-members do not count", () => {
  const base = input(["1.1.0", "1.1.0", "1.1.0", "1.1.0", null, "1.0.0"]);
  const announced = new Map(base.announced);
  // Member 5's node fell silent more than a week ago; a non-member announces an old version.
  announced.set("did:icn:zMember5", { version: "1.0.0", ts: now - 8 * day });
  announced.set("did:icn:zStranger", { version: "0.9.0", ts: now });
  const result = upgradeReadiness({ ...base, announced });
  assertEquals([result.active, result.ready, result.inForce], [4, 4, true]);
  // No active member: never in force (unless readiness is 0, the deadline-only rule).
  const none = input([null, null]);
  assertEquals(upgradeReadiness(none).inForce, false);
  assertEquals(upgradeReadiness({ ...none, readinessPercent: 0 }).inForce, true);
});

Deno.test("upgradeReadiness: the deadline and the effect time are respected whatever the share", () => {
  const all = input(["1.1.0", "1.1.0"]);
  const early = upgradeReadiness({
    ...all,
    upgrade: { ...all.upgrade, deadline: now + 1 },
  });
  assertEquals([early.thresholdMet, early.deadlinePassed, early.inForce], [true, false, false]);
  const timelocked = upgradeReadiness({
    ...all,
    upgrade: { ...all.upgrade, effective: now + 1 },
  });
  assertEquals(timelocked.inForce, false);
});

Deno.test("highestInForce: the highest minVersion of the upgrades in force", () => {
  assertEquals(highestInForce([]), null);
  assertEquals(
    highestInForce([
      { minVersion: "1.10.0", inForce: true },
      { minVersion: "1.9.0", inForce: true },
      { minVersion: "2.0.0", inForce: false },
    ]),
    "1.10.0",
  );
});

const version = fc.constantFrom("1.0.0", "1.0.5", "1.1.0", "1.2.0", "2.0.0");
const announcement = fc.option(
  fc.record({ version, age: fc.integer({ min: -60_000, max: 10 * day }) }),
  { nil: null },
);
const scenario = fc.record({
  nodes: fc.array(announcement, { minLength: 0, maxLength: 40 }),
  readinessPercent: fc.integer({ min: 0, max: 100 }),
  deadlineOffset: fc.integer({ min: -day, max: day }),
  activeWindowMs: fc.integer({ min: 1000, max: 8 * day }),
});

interface Scenario {
  readinessPercent: number;
  deadlineOffset: number;
  activeWindowMs: number;
}

function build(
  s: ({ version: string; age: number } | null)[],
  rest: Scenario,
): ReadinessInput {
  const members = s.map((_, i) => `did:icn:zM${i}`);
  const announced = new Map<string, VersionAnnouncement>();
  s.forEach((a, i) => {
    if (a) announced.set(members[i], { version: a.version, ts: now - a.age });
  });
  return {
    upgrade: { minVersion: "1.1.0", deadline: now + rest.deadlineOffset, effective: now - 1 },
    members,
    announced,
    now,
    readinessPercent: rest.readinessPercent,
    activeWindowMs: rest.activeWindowMs,
  };
}

Deno.test("upgradeReadiness (property): never in force below the threshold or before the deadline", () => {
  fc.assert(
    fc.property(scenario, ({ nodes, ...rest }) => {
      const i = build(nodes, rest);
      const r = upgradeReadiness(i);
      if (r.inForce) {
        // Exact: ready/active ≥ readiness %, and the deadline passed.
        if (
          rest.readinessPercent > 0 &&
          !(r.active > 0 && r.ready / r.active >= rest.readinessPercent / 100 - 1e-12)
        ) {
          return false;
        }
        if (i.now < i.upgrade.deadline) return false;
      }
      return r.ready <= r.active && r.active <= nodes.length;
    }),
    { numRuns: 500 },
  );
});

Deno.test("upgradeReadiness (property): monotone in announcements of the new version", () => {
  fc.assert(
    fc.property(scenario, fc.nat(), ({ nodes, ...rest }, pick) => {
      const before = build(nodes, rest);
      const r0 = upgradeReadiness(before);
      // One more member node announces (freshly) a version at or above minVersion: a node that
      // was old, silent or without a node upgrades.
      const members = [...before.members];
      if (members.length === 0) return true;
      const who = members[pick % members.length];
      const announced = new Map(before.announced);
      announced.set(who, { version: "1.2.0", ts: now });
      const r1 = upgradeReadiness({ ...before, announced });
      if (r0.inForce && !r1.inForce) return false;
      if (r1.ready < r0.ready) return false;
      return r1.ratio >= r0.ratio - 1e-12;
    }),
    { numRuns: 500 },
  );
});

Deno.test("upgradeReadiness (property): later time never undoes the deadline", () => {
  fc.assert(
    fc.property(scenario, fc.integer({ min: 0, max: day }), ({ nodes, ...rest }, step) => {
      const i = build(nodes, rest);
      const a = upgradeReadiness(i);
      const b = upgradeReadiness({ ...i, now: i.now + step });
      return !a.deadlinePassed || b.deadlinePassed;
    }),
    { numRuns: 200 },
  );
});

Deno.test("upgrade.readiness and upgrade.activeWindow: a genesis without them validates and gets 80 % and 7 days", async () => {
  const genesis = createGenesis({
    name: "Older",
    members: [(await testIdentity(1)).did],
    created: now,
  });
  assertEquals([genesis.params["upgrade.readiness"], genesis.params["upgrade.activeWindow"]], [
    80,
    7 * day,
  ]);
  const params = { ...genesis.params };
  delete params["upgrade.readiness"];
  delete params["upgrade.activeWindow"];
  validateGenesis({ ...genesis, params });
  assertEquals(numberParam(params, "upgrade.readiness"), 80);
  assertEquals(numberParam(params, "upgrade.activeWindow"), 7 * day);
  assertEquals(parseParamValue("upgrade.readiness", "67.5"), 67.5);
  assertEquals(parseParamValue("upgrade.activeWindow", "30d"), 30 * day);
  for (const [key, text] of [["upgrade.readiness", "101"], ["upgrade.activeWindow", "10s"]]) {
    let refused = "";
    try {
      parseParamValue(key, text);
    } catch (error) {
      refused = (error as Error).message;
    }
    if (!refused.includes(`Cannot set "${key}"`)) throw new Error(`${key}=${text}: ${refused}`);
  }
});
