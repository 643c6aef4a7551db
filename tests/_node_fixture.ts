/**
 * In-process node clusters for the node tests and benchmark: each node has
 * its own MemoryStore joined to one genesis and starts with only its own KEL
 * inception, so everything else must travel by gossip or sync.
 */
import { ingest } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { readHeads, readLog } from "../core/chain/read.ts";
import { kelNet } from "../core/constants.ts";
import { toHex } from "../core/bytes.ts";
import { sha256 } from "../core/identity/keys.ts";
import { createGenesis, type Genesis, genesisId } from "../core/governance/genesis.ts";
import { createKindRegistry } from "../core/kinds.ts";
import type { Params } from "../core/params.ts";
import type { Logger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import { type TestIdentity, testIdentity } from "../core/testing.ts";
import type { SealedEnvelope } from "../core/envelope/envelope.ts";
import { defaultConfig, type NodeConfig } from "../net/config.ts";
import { IcnNode, type NodeOptions } from "../net/node.ts";
import { joinNetwork } from "../core/governance/join.ts";

export const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

export const systemClock = { now: () => Date.now() };

export interface Cluster {
  net: string;
  genesis: Genesis;
  members: TestIdentity[];
  /** Inception timestamp of every member (`testIdentity(i + 1, identityTs)` rebuilds member i). */
  identityTs: number;
  nodes: IcnNode[];
  stores: Store[];
  stop(): Promise<void>;
}

/** Builds and starts one node for `member` on `store`, joined to `genesis`, holding `kels`. */
export async function startNode(spec: {
  genesis: Genesis;
  member: TestIdentity;
  /** KEL inceptions to store first (the member's own, at least). */
  kels: SealedEnvelope[];
  store?: Store;
  config?: Partial<NodeConfig>;
  node?: NodeOptions;
  logger?: Logger;
}): Promise<IcnNode> {
  const net = await genesisId(spec.genesis);
  const store = spec.store ?? new MemoryStore();
  await joinNetwork(store, { id: net, genesis: spec.genesis });
  const deps = { store, clock: systemClock, kinds: createKindRegistry() };
  await ingest(deps, spec.kels, { source: "import" });
  const { member } = spec;
  const node = await IcnNode.create(
    {
      ...deps,
      logger: spec.logger ?? quietLogger,
      identity: { did: member.did, signer: member.signer, ed25519: member.ed25519 },
    },
    { ...defaultConfig("test"), ...spec.config },
    { ...spec.node },
  );
  await node.start();
  return node;
}

/** Builds and starts `count` nodes (not yet connected). */
export async function startCluster(
  count: number,
  options: {
    /** Extra members without a node; their KEL inceptions go to node 0's store only. */
    extraMembers?: number;
    /** Config of every node, or of node `index` (over the `test` profile's defaults). */
    config?: Partial<NodeConfig> | ((index: number) => Partial<NodeConfig>);
    /** Options of every node, or of node `index`. */
    node?: NodeOptions | ((index: number) => NodeOptions);
    /** Founders: the first `n` members, or these member indices (default: every member). */
    founders?: number | number[];
    store?: () => Store;
    /** Logger of node `index` (default: silent). */
    logger?: (index: number) => Logger;
    /** Genesis parameters over the defaults (e.g. `network.admissionPow.bits`). */
    params?: Params;
  } = {},
): Promise<Cluster> {
  const now = Date.now();
  const identityTs = now - 60_000;
  const members: TestIdentity[] = [];
  const total = count + (options.extraMembers ?? 0);
  for (let i = 0; i < total; i++) members.push(await testIdentity(i + 1, identityTs));
  const founders = options.founders ?? total;
  const genesis = createGenesis({
    name: "Node test cooperative",
    members: (typeof founders === "number" ? members.slice(0, founders) : founders.map((i) =>
      members[i]
    )).map((m) => m.did),
    created: now - 120_000,
    params: options.params,
  });
  const net = await genesisId(genesis);
  const nodes: IcnNode[] = [];
  const stores: Store[] = [];
  for (const member of members.slice(0, count)) {
    const store = options.store?.() ?? new MemoryStore();
    const index = nodes.length;
    const kels = index === 0 ? [member, ...members.slice(count)] : [member];
    const node = await startNode({
      genesis,
      member,
      kels: kels.map((m) => m.inception),
      store,
      config: typeof options.config === "function" ? options.config(index) : options.config,
      node: typeof options.node === "function" ? options.node(index) : options.node,
      logger: options.logger?.(index),
    });
    nodes.push(node);
    stores.push(store);
  }
  return {
    net,
    genesis,
    members,
    identityTs,
    nodes,
    stores,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/** Connects node i to node i+1 (a line) or every pair (`full`). */
export async function connect(
  nodes: IcnNode[],
  shape: "line" | "full" | "star" = "line",
): Promise<void> {
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      if (shape === "line" && j !== i + 1) continue;
      if (shape === "star" && i !== 0) continue;
      await nodes[i].connect(nodes[j].addrs()[0]);
    }
  }
}

/** A digest of every chain head (KEL and network) of a store: equal digests mean equal logs. */
export async function stateDigest(store: Store, net: string): Promise<string> {
  const parts: string[] = [];
  for (const n of [kelNet, net]) {
    const heads = await readHeads(store, n);
    for (const author of [...heads.keys()].sort()) {
      parts.push(`${n}/${author}/${heads.get(author)!.seq}/${heads.get(author)!.cid}`);
    }
  }
  return toHex(await sha256(new TextEncoder().encode(parts.join("\n"))));
}

export async function logSize(store: Store): Promise<number> {
  return (await store.get<number>(chainKeys.logNext))?.value ?? 0;
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Waits until every node has the same state digest. */
export async function converge(cluster: Cluster, timeoutMs = 20_000): Promise<string> {
  let digests: string[] = [];
  await waitFor("convergence", async () => {
    digests = await Promise.all(cluster.stores.map((s) => stateDigest(s, cluster.net)));
    return digests.every((d) => d === digests[0]);
  }, timeoutMs);
  return digests[0];
}

export { readLog };

export function assertEquals<T>(actual: T, expected: T, message = ""): void {
  const a = JSON.stringify(actual, (_k, v) => typeof v === "bigint" ? v.toString() : v);
  const e = JSON.stringify(expected, (_k, v) => typeof v === "bigint" ? v.toString() : v);
  if (a !== e) throw new Error(`${message ? message + ": " : ""}expected ${e}, got ${a}`);
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
