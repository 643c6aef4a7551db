/**
 * When an accepted upgrade's `minVersion` takes effect (docs/governance.md, "Protocol
 * upgrades"): at the later of its deadline and the moment `upgrade.readiness` % of the
 * network's active members' nodes announce a version at or above it. A member is active while
 * its node's newest signed announcement (a verified hello or a gossiped upgrade announce) is
 * younger than `upgrade.activeWindow`; members whose nodes never announced, or fell silent for
 * longer, count neither for nor against. Pure: the node supplies the announcements it holds
 * and the time.
 */
import { compareVersions } from "./view.ts";

/** A member node's newest signed announcement of its protocol version. */
export interface VersionAnnouncement {
  version: string;
  /** The announcement's signed timestamp, ms since epoch. */
  ts: number;
}

/** An accepted upgrade as the rule needs it. */
export interface UpgradeTerms {
  minVersion: string;
  /** ms since epoch: not before it. */
  deadline: number;
  /** closes + timelock: not before it either (the proposal's own effect time). */
  effective: number;
}

export interface ReadinessInput {
  upgrade: UpgradeTerms;
  /** Current members of the network. */
  members: Iterable<string>;
  /** Newest announcement per member node (by DID); entries of non-members are ignored. */
  announced: ReadonlyMap<string, VersionAnnouncement>;
  now: number;
  /** `upgrade.readiness`: share of active members' nodes that must run minVersion, in % (0–100). */
  readinessPercent: number;
  /** `upgrade.activeWindow`: a member is active while its newest announcement is younger. */
  activeWindowMs: number;
}

export interface Readiness {
  /** Members whose node announced within the active window. */
  active: number;
  /** Of those, members whose node announced a version ≥ minVersion. */
  ready: number;
  /** ready / active (0 when no member is active). */
  ratio: number;
  /** The readiness share is reached (never with no active member unless readiness is 0). */
  thresholdMet: boolean;
  /** The deadline and the proposal's effect time have passed. */
  deadlinePassed: boolean;
  /** Both: peers below minVersion are refused. */
  inForce: boolean;
}

/** Whether an announcement counts at `now`: younger than the window (a clock ahead counts too). */
export function isActive(
  announcement: VersionAnnouncement,
  now: number,
  windowMs: number,
): boolean {
  return announcement.ts > now - windowMs;
}

/** The readiness of one accepted upgrade at `now`. */
export function upgradeReadiness(input: ReadinessInput): Readiness {
  const { upgrade, announced, now, readinessPercent, activeWindowMs } = input;
  let active = 0;
  let ready = 0;
  for (const member of new Set(input.members)) {
    const announcement = announced.get(member);
    if (!announcement || !isActive(announcement, now, activeWindowMs)) continue;
    active++;
    if (compareVersions(announcement.version, upgrade.minVersion) >= 0) ready++;
  }
  // ready/active ≥ readiness/100, in integers and one product (no rounding at the boundary).
  const thresholdMet = readinessPercent <= 0 ||
    (active > 0 && ready * 100 >= readinessPercent * active);
  const deadlinePassed = now >= upgrade.deadline && now >= upgrade.effective;
  return {
    active,
    ready,
    ratio: active === 0 ? 0 : ready / active,
    thresholdMet,
    deadlinePassed,
    inForce: thresholdMet && deadlinePassed,
  };
}

/** The highest `minVersion` among upgrades in force, or null. */
export function highestInForce(
  upgrades: readonly { minVersion: string; inForce: boolean }[],
): string | null {
  let highest: string | null = null;
  for (const u of upgrades) {
    if (u.inForce && (highest === null || compareVersions(u.minVersion, highest) > 0)) {
      highest = u.minVersion;
    }
  }
  return highest;
}
