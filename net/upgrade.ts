/**
 * Protocol upgrades that take effect when the network is ready (docs/governance.md, "Protocol
 * upgrades"). For each network served the node keeps a bounded table member → (version, ts)
 * of the newest signed version claim of each member's node: the verified hellos of its direct
 * peers and the upgrade announces gossiped on the network's announce topic
 * (`upgrade_announce.ts`), which every member node publishes every `announceIntervalMs`.
 * Each round it reads the accepted upgrades and the members from the network's store and
 * applies the rule (`core/governance/upgrade_readiness.ts`): an upgrade is in force once its
 * deadline passed and `upgrade.readiness` % of active members' nodes announce its minVersion.
 * Until then the node only warns (status, doctor, metrics); from then on the hello refuses peers
 * below minVersion. That is never undone, not when the share drops and not by a restart: the
 * tracker keeps what it put in force, and the versions it heard, under local keys in each
 * network's store (`upgradeKeys`), and reads them back when it starts.
 *
 * A node that just started has heard few announces: in each network it decides nothing before
 * `warmupMs` (two announce intervals by default) have passed since its first verified peer
 * there, so that the table holds the members' nodes that are online.
 */
import { TopicValidatorResult } from "@libp2p/gossipsub";
import { StateOverlay } from "../core/chain/state.ts";
import { InvalidInputError, RejectedError } from "../core/errors.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { membersAt, paramsAt } from "../core/governance/membership.ts";
import {
  highestInForce,
  isActive,
  upgradeReadiness,
  type VersionAnnouncement,
} from "../core/governance/upgrade_readiness.ts";
import { compareVersions, GovernanceView, type UpgradeAction } from "../core/governance/view.ts";
import { parseDid } from "../core/identity/did.ts";
import { identityKey, type IdentityRecord, signingKeysAt } from "../core/identity/kel.ts";
import type { Ed25519KeyPair } from "../core/identity/keys.ts";
import { numberParam } from "../core/params.ts";
import type { Clock, Logger } from "../core/ports.ts";
import type { Store, StoreMutation } from "../core/store/store.ts";
import { helloSkewMs } from "./limits.ts";
import { countDropped, type NodeMetrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";
import {
  announceBytesMax,
  announceTopicOf,
  decodeAnnounce,
  encodeAnnounce,
  type UpgradeAnnounce,
  verifyAnnounce,
} from "./upgrade_announce.ts";

/** How often a member node announces its version by default (each network, each node). */
export const announceIntervalMsDefault = 3_600_000;
/** Entries one network's table holds at most (only members' are taken; this bounds the rest). */
export const announceTableMax = 100_000;
/** A member's next announce is taken only this long after the one held (replays, floods). */
export const announceGapMinMs = 1000;
/** Table entries written per store commit when the tracker saves what changed. */
const saveBatchMax = 500;

/**
 * What the tracker keeps in each network's store, so that a restarted node neither forgets an
 * upgrade it put in force nor the versions it heard: local keys, never gossiped or hashed.
 */
export const upgradeKeys = {
  seenPrefix: ["local", "upgrade", "seen"] as const,
  seen: (did: string) => ["local", "upgrade", "seen", did] as const,
  inForcePrefix: ["local", "upgrade", "in-force"] as const,
  inForce: (id: string) => ["local", "upgrade", "in-force", id] as const,
};

/** One network as the tracker needs it. */
export interface UpgradeNetwork {
  net: string;
  store: Store;
  genesis: Genesis;
  peers: Peers;
}

export interface UpgradeComponents {
  clock: Clock;
  logger: Logger;
  metrics: NodeMetrics;
  signal: AbortSignal;
  /** This node's DID and the key that signs its announces (the DID's current one). */
  identity: { did: string; ed25519: Ed25519KeyPair };
  /** This node's libp2p peer id. */
  self: () => string;
  networks: () => readonly UpgradeNetwork[];
  /** Publishes on a topic; resolves to the number of peers it was sent to. */
  publish: (topic: string, data: Uint8Array) => Promise<number>;
  /** Sets the minVersion the hello enforces (null: none). */
  enforce: (minVersion: string | null) => void;
}

export interface UpgradeInit {
  /** The protocol version this node runs and announces. */
  version: string;
  announceIntervalMs?: number;
  /**
   * Time after the first verified peer in a network before an upgrade may take effect there on
   * this node (default 2 announce intervals).
   */
  warmupMs?: number;
}

/** An accepted upgrade in one network, as `icn node status` shows it. */
export interface UpgradeStatus {
  net: string;
  /** The proposal id. */
  id: string;
  version: string;
  minVersion: string;
  deadline: number;
  effective: number;
  /** `upgrade.readiness`, in %. */
  readiness: number;
  /** Active members' nodes, those announcing ≥ minVersion, and the share. */
  active: number;
  ready: number;
  ratio: number;
  /**
   * scheduled: before its deadline (or effect time); waiting: deadline passed, readiness not
   * reached (peers are warned of, not refused); in_force: peers below minVersion are refused.
   */
  state: "scheduled" | "waiting" | "in_force";
  /** What an operator should know, when anything. */
  warning?: string;
}

interface NetworkState {
  table: Map<string, VersionAnnouncement>;
  /** Time of the newest announce taken from each member (relay deduplication; members only). */
  lastAnnounce: Map<string, number>;
  members: Set<string>;
  readiness: number;
  activeWindowMs: number;
  upgrades: { id: string; action: UpgradeAction; effective: number }[];
  lastAnnounced: number | null;
  /** When this node first had a verified peer in the network (the warm-up counts from it). */
  firstPeerAt: number | null;
  /** Members whose table entry changed (or went) since the tracker last saved it. */
  dirty: Set<string>;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class UpgradeTracker {
  readonly #components: UpgradeComponents;
  readonly version: string;
  readonly #intervalMs: number;
  readonly #warmupMs: number;
  readonly #state = new Map<string, NetworkState>();
  /**
   * Upgrades in force on this node (by network, proposal id): never undone, and kept in the
   * network's store so a restart does not forget them (`upgradeKeys.inForce`).
   */
  readonly #inForce = new Set<string>();
  /** In-force latches not yet saved (network, proposal id, minVersion). */
  #latched: { net: string; id: string; minVersion: string }[] = [];
  #status: UpgradeStatus[] = [];

  constructor(components: UpgradeComponents, init: UpgradeInit) {
    this.#components = components;
    this.version = init.version;
    this.#intervalMs = init.announceIntervalMs ?? announceIntervalMsDefault;
    this.#warmupMs = init.warmupMs ?? 2 * this.#intervalMs;
  }

  /** The announce topic of each network served. */
  topics(): { net: string; topic: string }[] {
    return this.#components.networks().map((n) => ({ net: n.net, topic: announceTopicOf(n.net) }));
  }

  /** A verified hello from a member's node: its version counts in the networks both serve. */
  heard(nets: readonly string[], did: string, version: string, ts: number): void {
    const now = this.#components.clock.now();
    for (const net of nets) {
      const state = this.#state.get(net);
      if (state) state.firstPeerAt ??= now;
      this.#record(net, did, version, ts);
    }
  }

  /** The newest claim per member held for `net` (tests, status). */
  table(net: string): ReadonlyMap<string, VersionAnnouncement> {
    return this.#state.get(net)?.table ?? new Map();
  }

  /** The accepted upgrades of every network served, as of the last round. */
  status(): UpgradeStatus[] {
    return this.#status.map((s) => ({ ...s }));
  }

  /** The topic validator of `net`'s announce topic. */
  async validate(net: string, peer: string, data: Uint8Array): Promise<TopicValidatorResult> {
    const { clock, signal, metrics } = this.#components;
    const network = this.#components.networks().find((n) => n.net === net);
    const state = this.#state.get(net);
    if (signal.aborted || !network || !state) return TopicValidatorResult.Ignore;
    const { peers } = network;
    const now = clock.now();
    // Ignored without a count: icn_messages_dropped_total counts envelopes, and an announce
    // racing its sender's hello or heard twice is common and harmless. Offences are counted.
    const drop = (_reason: string) => TopicValidatorResult.Ignore;
    if (peers.standing(peer, now) !== "ok") return drop("quarantined_peer");
    // Only a peer that proved its identity with a signed hello in this network is heard.
    if (!peers.has(peer)) return drop("no_hello");
    if (data.length > announceBytesMax) {
      peers.offence(peer, "too_large", `upgrade announce of ${data.length} bytes`);
      countDropped(metrics, "gossip", "oversized");
      return TopicValidatorResult.Reject;
    }
    if (peers.admitPeer(peer, now)) return drop("rate_limited");
    let announce: UpgradeAnnounce;
    try {
      announce = decodeAnnounce(data);
    } catch (error) {
      if (!(error instanceof RejectedError)) throw error;
      peers.offence(peer, "malformed", error.message);
      countDropped(metrics, "gossip", "malformed");
      return TopicValidatorResult.Reject;
    }
    if (announce.net !== net) {
      peers.offence(peer, "wrong_network", `upgrade announce for ${announce.net}`);
      countDropped(metrics, "gossip", "wrong_network");
      return TopicValidatorResult.Reject;
    }
    // Cheap checks before the signature: members only, fresh, newer than the one held.
    if (!state.members.has(announce.did)) return drop("other");
    if (announce.ts > now + helloSkewMs || !isActive(announce, now, state.activeWindowMs)) {
      return drop("other");
    }
    // Relayed only when newer than the last announce taken from this member (the table's entry
    // may be newer still: a direct peer's hello or connection counts there too).
    const last = state.lastAnnounce.get(announce.did);
    if (last !== undefined && announce.ts < last + announceGapMinMs) return drop("other");
    // A key this node does not know yet (a rotation still syncing) fails too: no offence, the
    // relaying peer may be honest; its rate limit bounds the checks.
    if (!(await this.#signedByCurrentKey(network.store, announce, now))) return drop("other");
    state.lastAnnounce.set(announce.did, announce.ts);
    this.#record(net, announce.did, announce.version, announce.ts);
    return TopicValidatorResult.Accept;
  }

  /**
   * One round: members, parameters and accepted upgrades read from each store, the table
   * pruned, the rule applied (after the warm-up), what is in force handed to the hello, the
   * metrics set, and this node's announce published when due.
   */
  async round(): Promise<void> {
    const { clock, signal } = this.#components;
    const now = clock.now();
    for (const network of this.#components.networks()) {
      if (signal.aborted) return;
      await this.#refresh(network, now);
    }
    this.#decide(now);
    for (const network of this.#components.networks()) {
      if (signal.aborted) return;
      await this.#save(network, now).catch((error) =>
        this.#components.logger.warn("upgrade_state_save_failed", {
          net: network.net,
          error: (error as Error).message,
        })
      );
    }
    for (const network of this.#components.networks()) {
      if (signal.aborted) return;
      await this.#announce(network, now).catch((error) =>
        this.#components.logger.debug("upgrade_announce_failed", {
          net: network.net,
          error: (error as Error).message,
        })
      );
    }
  }

  async #refresh(network: UpgradeNetwork, now: number): Promise<void> {
    const state = new StateOverlay(network.store);
    const members = new Set(await membersAt(state, network.genesis, now));
    const params = await paramsAt(state, network.genesis, now);
    const view = new GovernanceView(state, network.genesis);
    const upgrades = (await view.acceptedUpgrades(now)).map((record) => ({
      id: record.id,
      action: record.action as UpgradeAction,
      effective: record.effective,
    }));
    const held = this.#state.get(network.net);
    const table = held?.table ?? await this.#restore(network);
    const dirty = held?.dirty ?? new Set<string>();
    const lastAnnounce = held?.lastAnnounce ?? new Map<string, number>();
    const activeWindowMs = numberParam(params, "upgrade.activeWindow");
    for (const [did, entry] of table) {
      if (!members.has(did) || !isActive(entry, now, activeWindowMs)) {
        table.delete(did);
        dirty.add(did);
      }
    }
    for (const [did, ts] of lastAnnounce) {
      if (!members.has(did) || ts <= now - activeWindowMs) lastAnnounce.delete(did);
    }
    this.#state.set(network.net, {
      table,
      lastAnnounce,
      members,
      readiness: numberParam(params, "upgrade.readiness"),
      activeWindowMs,
      upgrades,
      lastAnnounced: held?.lastAnnounced ?? null,
      firstPeerAt: held?.firstPeerAt ?? null,
      dirty,
    });
    // This node's own claim counts like any member node's; a verified peer still connected
    // still runs the version its signed hello named.
    this.#record(network.net, this.#components.identity.did, this.version, now);
    for (const [, peer] of network.peers.entries()) {
      this.#record(network.net, peer.did, peer.version, now);
      this.#state.get(network.net)!.firstPeerAt ??= now;
    }
  }

  #decide(now: number): void {
    const { metrics } = this.#components;
    const rows: UpgradeStatus[] = [];
    for (const [net, state] of this.#state) {
      const warmedUp = state.firstPeerAt !== null && now - state.firstPeerAt >= this.#warmupMs;
      const netRows: UpgradeStatus[] = [];
      for (const { id, action, effective } of state.upgrades) {
        const r = upgradeReadiness({
          upgrade: { minVersion: action.minVersion, deadline: action.deadline, effective },
          members: state.members,
          announced: state.table,
          now,
          readinessPercent: state.readiness,
          activeWindowMs: state.activeWindowMs,
        });
        const key = `${net}\u0000${id}`;
        if (r.inForce && warmedUp && !this.#inForce.has(key)) {
          this.#inForce.add(key);
          this.#latched.push({ net, id, minVersion: action.minVersion });
          this.#components.logger.warn("upgrade_in_force", {
            net,
            proposal: id,
            minVersion: action.minVersion,
            ready: r.ready,
            active: r.active,
          });
        }
        const state_: UpgradeStatus["state"] = this.#inForce.has(key)
          ? "in_force"
          : r.deadlinePassed
          ? "waiting"
          : "scheduled";
        const row: UpgradeStatus = {
          net,
          id,
          version: action.version,
          minVersion: action.minVersion,
          deadline: action.deadline,
          effective,
          readiness: state.readiness,
          active: r.active,
          ready: r.ready,
          ratio: r.ratio,
          state: state_,
        };
        const warning = this.#warning(row, r.inForce && !warmedUp);
        if (warning) row.warning = warning;
        netRows.push(row);
      }
      rows.push(...netRows);
      // The metrics follow the upgrade that matters: the highest minVersion accepted.
      const current = netRows.reduce<UpgradeStatus | null>(
        (best, row) =>
          best === null || compareVersions(row.minVersion, best.minVersion) > 0 ? row : best,
        null,
      );
      if (current) {
        metrics.upgradeAdoption.set({ net }, current.ratio);
        metrics.upgradeDeadline.set({ net }, current.deadline / 1000);
        metrics.upgradeInForce.set({ net }, current.state === "in_force" ? 1 : 0);
      } else {
        metrics.upgradeAdoption.remove({ net });
        metrics.upgradeDeadline.remove({ net });
        metrics.upgradeInForce.remove({ net });
      }
    }
    this.#status = rows;
    this.#components.enforce(
      highestInForce(
        rows.map((r) => ({ minVersion: r.minVersion, inForce: r.state === "in_force" })),
      ),
    );
  }

  #warning(row: UpgradeStatus, warmingUp: boolean): string | undefined {
    const share = `${Math.round(row.ratio * 100)}% of ${row.active} active member node(s)`;
    const own = compareVersions(this.version, row.minVersion) < 0
      ? `; this node runs ${this.version}: upgrade it`
      : "";
    if (row.state === "in_force") {
      return own ? `upgrade to ${row.minVersion} is in force${own}` : undefined;
    }
    if (row.state === "scheduled") {
      return own
        ? `upgrade to ${row.minVersion} takes effect after ${
          iso(Math.max(row.deadline, row.effective))
        } once ${row.readiness}% of active member nodes run it${own}`
        : undefined;
    }
    if (warmingUp) {
      return `upgrade to ${row.minVersion} is ready (${share}); this node decides once it has listened to its peers' announces for ${
        Math.round(this.#warmupMs / 1000)
      } s`;
    }
    return `upgrade to ${row.minVersion} is past its deadline (${
      iso(row.deadline)
    }) but only ${share} run it, below the ${row.readiness}% required: peers below it are still accepted${own}`;
  }

  async #announce(network: UpgradeNetwork, now: number): Promise<void> {
    const state = this.#state.get(network.net);
    const { identity, self, publish } = this.#components;
    if (!state || !state.members.has(identity.did)) return;
    if (state.lastAnnounced !== null && now - state.lastAnnounced < this.#intervalMs) return;
    const data = await encodeAnnounce({
      did: identity.did,
      net: network.net,
      version: this.version,
      peer: self(),
      ts: now,
    }, identity.ed25519);
    // Sent to nobody (no peer subscribed yet): tried again next round.
    if ((await publish(announceTopicOf(network.net), data)) > 0) state.lastAnnounced = now;
  }

  #record(net: string, did: string, version: string, ts: number): void {
    const state = this.#state.get(net);
    if (!state || !state.members.has(did)) return;
    const held = state.table.get(did);
    if (held && held.ts >= ts) return;
    if (!held && state.table.size >= announceTableMax) return;
    state.table.set(did, { version, ts });
    state.dirty.add(did);
  }

  /**
   * What an earlier run of this node saved in `network`'s store: the versions heard (the
   * caller prunes members gone and entries too old) and the upgrades it put in force.
   */
  async #restore(network: UpgradeNetwork): Promise<Map<string, VersionAnnouncement>> {
    const table = new Map<string, VersionAnnouncement>();
    for await (
      const entry of network.store.list<VersionAnnouncement>({ prefix: upgradeKeys.seenPrefix })
    ) {
      if (table.size >= announceTableMax) break;
      const did = entry.key[entry.key.length - 1];
      const { version, ts } = entry.value ?? {};
      if (typeof did === "string" && typeof version === "string" && typeof ts === "number") {
        table.set(did, { version, ts });
      }
    }
    for await (const entry of network.store.list({ prefix: upgradeKeys.inForcePrefix })) {
      const id = entry.key[entry.key.length - 1];
      if (typeof id === "string") this.#inForce.add(`${network.net}\u0000${id}`);
    }
    return table;
  }

  /** Saves the table entries changed since the last round and the upgrades newly in force. */
  async #save(network: UpgradeNetwork, now: number): Promise<void> {
    const state = this.#state.get(network.net);
    if (!state) return;
    const mutations: StoreMutation[] = [];
    for (const latch of this.#latched.filter((l) => l.net === network.net)) {
      mutations.push({
        type: "set",
        key: upgradeKeys.inForce(latch.id),
        value: { minVersion: latch.minVersion, at: now },
      });
    }
    for (const did of state.dirty) {
      const entry = state.table.get(did);
      mutations.push(
        entry
          ? { type: "set", key: upgradeKeys.seen(did), value: { ...entry } }
          : { type: "delete", key: upgradeKeys.seen(did) },
      );
    }
    for (let i = 0; i < mutations.length; i += saveBatchMax) {
      if ((await network.store.commit([], mutations.slice(i, i + saveBatchMax))) === null) {
        throw new Error("the store refused the commit");
      }
    }
    state.dirty.clear();
    this.#latched = this.#latched.filter((l) => l.net !== network.net);
  }

  async #signedByCurrentKey(
    store: Store,
    announce: UpgradeAnnounce,
    now: number,
  ): Promise<boolean> {
    let key: Uint8Array;
    try {
      key = parseDid(announce.did);
      const record = (await store.get<IdentityRecord>(identityKey(announce.did)))?.value;
      if (record) key = signingKeysAt(record, now).ed25519;
    } catch {
      return false;
    }
    return await verifyAnnounce(announce, key);
  }
}

/**
 * The upgrade options of a node run under `profile`. Under the `test` profile only: members
 * announce every sync interval (seconds, not an hour), and `ICN_TEST_PROTOCOL_VERSION`
 * (`testVersion`, x.y.z) makes the node say it runs that version in its hello and announces,
 * so a test can run old and new nodes side by side. Set under another profile, it is refused:
 * a real node never claims a version it does not run.
 */
export function testUpgradeOptions(
  profile: string,
  syncIntervalMs: number,
  testVersion: string | undefined,
): { protocolVersion?: string; upgradeAnnounceIntervalMs?: number } {
  if (testVersion !== undefined && testVersion !== "") {
    if (profile !== "test") {
      throw new InvalidInputError(
        "Cannot use ICN_TEST_PROTOCOL_VERSION: it is honoured only by `icn node run --profile test`",
      );
    }
    if (!/^\d{1,6}\.\d{1,6}\.\d{1,6}$/.test(testVersion)) {
      throw new InvalidInputError(
        `Cannot use ICN_TEST_PROTOCOL_VERSION="${
          testVersion.slice(0, 40)
        }": it must be a version x.y.z`,
      );
    }
  }
  if (profile !== "test") return {};
  return {
    upgradeAnnounceIntervalMs: syncIntervalMs,
    ...(testVersion ? { protocolVersion: testVersion } : {}),
  };
}
