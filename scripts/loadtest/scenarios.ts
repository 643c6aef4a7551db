/**
 * The load-test scenarios: load steps (phases) of simulated members, each with a ramp and a
 * duration. The reference system's Locust runs (seed 000, §5) were 10, 100, 500 and 1000 users
 * for 5 to 20 minutes; these are scaled to a small machine that also runs the nodes and the load
 * generator, and each heavier scenario climbs in steps so that the breaking point can be read off.
 */

export interface Phase {
  name: string;
  /** Simulated members active once the ramp is done. */
  users: number;
  /** Members started (or stopped) per second until `users` is reached; Infinity: at once. */
  rampPerS: number;
  /** Seconds the phase lasts, ramp included. */
  seconds: number;
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  /** Think time between a member's operations, ms (Locust's `between(1, 3)`). */
  thinkMs: readonly [number, number];
  phases: readonly Phase[];
}

export const scenarioNames = ["baseline", "medium", "high", "stress", "spike"] as const;
export type ScenarioName = typeof scenarioNames[number];

const think: readonly [number, number] = [1000, 3000];
const step = (users: number, rampPerS: number, seconds: number): Phase => ({
  name: `${users} members`,
  users,
  rampPerS,
  seconds,
});

export const scenarios: Record<ScenarioName, Scenario> = {
  baseline: {
    name: "baseline",
    description: "10 members, ramp 2/s, 60 s: the everyday load",
    thinkMs: think,
    phases: [step(10, 2, 60)],
  },
  medium: {
    name: "medium",
    description: "10 → 25 → 50 members in steps of 40 s, ramp 10/s",
    thinkMs: think,
    phases: [step(10, 10, 40), step(25, 10, 40), step(50, 10, 40)],
  },
  high: {
    name: "high",
    description: "25 → 50 → 100 members in steps of 40 s, ramp 25/s",
    thinkMs: think,
    phases: [step(25, 25, 40), step(50, 25, 40), step(100, 25, 40)],
  },
  stress: {
    name: "stress",
    description: "25 → 50 → 100 → 150 → 200 → 300 members in steps of 30 s, ramp 50/s",
    thinkMs: think,
    phases: [
      step(25, 50, 30),
      step(50, 50, 30),
      step(100, 50, 30),
      step(150, 50, 30),
      step(200, 50, 30),
      step(300, 50, 30),
    ],
  },
  spike: {
    name: "spike",
    description: "10 members for 30 s, a sudden jump to 200 for 30 s, back to 10 for 30 s",
    thinkMs: think,
    phases: [
      { name: "before (10)", users: 10, rampPerS: 10, seconds: 30 },
      { name: "spike (200)", users: 200, rampPerS: Infinity, seconds: 30 },
      { name: "after (10)", users: 10, rampPerS: Infinity, seconds: 30 },
    ],
  },
};

/** Total seconds of a scenario's phases. */
export function scenarioSeconds(scenario: Scenario): number {
  return scenario.phases.reduce((sum, p) => sum + p.seconds, 0);
}

/**
 * The scenario with its phases scaled to last `seconds` in all (each at least 1 s, in the same
 * proportions); the scenario itself when `seconds` is undefined.
 */
export function withDuration(scenario: Scenario, seconds: number | undefined): Scenario {
  if (seconds === undefined) return scenario;
  const total = scenarioSeconds(scenario);
  return {
    ...scenario,
    phases: scenario.phases.map((p) => ({
      ...p,
      seconds: Math.max(1, Math.round((p.seconds * seconds) / total * 10) / 10),
    })),
  };
}

/** The most members a scenario has active at once (so many are set up). */
export function peakUsers(scenario: Scenario): number {
  return Math.max(...scenario.phases.map((p) => p.users));
}
