/**
 * What a node is built from: its identity, its dependencies (the networks it serves and their
 * stores) and its options. Kept apart from `node.ts` so the composition root holds wiring only.
 */
import type { IngestDeps, IngestSource } from "../core/chain/ingest.ts";
import type { SealedEnvelope, Signer } from "../core/envelope/envelope.ts";
import type { Ed25519KeyPair } from "../core/identity/keys.ts";
import type { Logger } from "../core/ports.ts";
import type { AddressClassifier } from "./admission.ts";
import type { NodeMetrics } from "./metrics.ts";
import type { NodeNetwork } from "./network.ts";

export interface NodeIdentity {
  did: string;
  signer: Signer;
  /** The identity's current signing key: it signs envelopes and the hello. */
  ed25519: Ed25519KeyPair;
  /**
   * Seed of the node's own libp2p key (its peer id), kept apart from the identity's keys so the
   * peer id stays the same across key rotations. The hello binds it to the DID: it names this
   * peer id and is signed by the DID's current key. Default: the identity key's seed (tests).
   */
  nodeKey?: Uint8Array;
}

export interface NodeDeps extends IngestDeps {
  logger: Logger;
  identity: NodeIdentity;
  /**
   * Every network to serve, the first being the home network (its id is the hello's `net` and
   * the default topology cluster). Default: the one network `store` joined. Each store must hold
   * the identity's key event log.
   */
  networks?: NodeNetwork[];
}

export interface NodeOptions {
  metrics?: NodeMetrics;
  /** Per-author rate limits (on by default; benchmarks of the raw pipeline turn them off). */
  authorLimits?: boolean;
  /** Called for every envelope this node accepts, in any network (benchmarks measure propagation with it). */
  onAccepted?: (sealed: SealedEnvelope, source: IngestSource) => void;
  /**
   * libp2p's own metrics (`@libp2p/prometheus-metrics`) in this node's registry. Its metric
   * objects are process-global, so turn it on for one node per process only (`icn node run`).
   */
  libp2pMetrics?: boolean;
  /** How often libp2p's connection monitor pings each peer (its default, 10 s, unless set: tests). */
  pingIntervalMs?: number;
  /**
   * The network prefix a remote address counts against for connection diversity (default
   * `prefixKey`: IPv4 /24, IPv6 /48, none for loopback and private addresses). Tests inject
   * one to present loopback peers as other networks.
   */
  addressClassifier?: AddressClassifier;
  /** How often the neighbour sets are refreshed and evicted peers disconnected (tests: less). */
  maintenanceIntervalMs?: number;
  /** How often the rendezvous nodes of the region are asked for peers (`rendezvousIntervalMs`). */
  rendezvousIntervalMs?: number;
  /**
   * The protocol version this node says it runs, in its hello and upgrade announces (default
   * `protocolVersion`). Tests of protocol upgrades only: `icn node run` takes it from
   * `ICN_TEST_PROTOCOL_VERSION` under `--profile test` alone.
   */
  protocolVersion?: string;
  /** How often a member node announces its version in each network (default 1 h; tests: less). */
  upgradeAnnounceIntervalMs?: number;
}
