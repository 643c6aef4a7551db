/**
 * The networks a data dir has joined, one store each (docs/design.md, "One store per network").
 *
 * `$ICN_HOME/icn.kv` is the home store: the identity's key event log and the first network
 * joined, laid out as before networks could be several, so an old data dir moves no data.
 * Further networks live in `$ICN_HOME/networks/<network id>.kv`. The home store lists every
 * joined network under `["meta", "networks", id]`; a data dir from before gets its one entry
 * the first time it is read here (the automatic upgrade).
 *
 * The identity's own key events are committed to the home store first, then to every network
 * store; a network store that missed one (a crash between the two) catches up from the home
 * store whenever it is opened. A remote store (`ICN_KV_URL`) holds one network.
 */
import { envGet } from "./io_scope.ts";
import { chainKeys } from "../core/chain/keys.ts";
import type { KindRegistry } from "../core/chain/ingest.ts";
import { kelNet } from "../core/constants.ts";
import {
  IcnError,
  InvalidInputError,
  NotFoundError,
  StoreUnavailableError,
} from "../core/errors.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import {
  type JoinResult,
  type NetworkKind,
  networkKinds,
  readNetworkKind,
} from "../core/governance/join.ts";
import { terminalSafe } from "../core/safe_text.ts";
import type { Store } from "../core/store/store.ts";
import type { CliContext } from "./context.ts";
import { crashPoint } from "./crash_point.ts";
import { UsageError } from "./usage_error.ts";
import { pathExists, readInputText } from "./files.ts";
import { openStore } from "./store_open.ts";

/** The home store's file in the data dir (also the `file` of the home network's entry). */
export const homeStoreFile = "icn.kv";

/** Folder of the data dir that holds the stores of networks joined after the first. */
export const networksDir = "networks";

/** The file of network `id`'s store, relative to the data dir. */
export function networkStoreFile(id: string): string {
  return `${networksDir}/${id}.kv`;
}

/** Where the home store lists a joined network. */
export const networkEntryKey = (id: string) => ["meta", "networks", id] as const;
const networkEntryPrefix = ["meta", "networks"] as const;

/** A joined network as the home store lists it. */
export interface JoinedNetwork {
  /** Network id: the genesis CID. */
  id: string;
  name: string;
  kind: NetworkKind;
  /** Its store, relative to the data dir: `icn.kv` (the home store) or `networks/<id>.kv`. */
  file: string;
}

/** A joined network with its store open and the kinds that network accepts. */
export interface OpenNetwork extends JoinedNetwork {
  store: Store;
  /**
   * The kinds this network accepts, for an ingest or append. A function so that every kind's
   * rules (and with them Ed25519 and CIDs) load only when a command writes, not when it reads.
   */
  kinds(): Promise<KindRegistry>;
}

/** The kinds a network of `kind` accepts, built on the first call and kept. */
export function lazyKinds(kind: NetworkKind): () => Promise<KindRegistry> {
  let kinds: Promise<KindRegistry> | undefined;
  return () =>
    kinds ??= import("../core/kinds.ts").then(({ kindRegistryFor }) => kindRegistryFor(kind));
}

/**
 * Most networks one data dir may join: each is a store file, opened by every command that
 * lists them and by the node, which serves at most as many (`networksPerNodeMax`, net/limits.ts).
 */
export const joinedNetworksMax = 16;

/** What the home store holds per entry (the id is the key's last part). */
interface NetworkEntry {
  name: string;
  kind: NetworkKind;
  file: string;
}

/** The name a network store gives its network: the cooperative's or the federation's genesis. */
async function networkName(store: Store, id: string, kind: NetworkKind): Promise<string> {
  if (kind === "federation") {
    // The federation's views (and with them Ed25519) load only for a federation's store.
    const { federationKeys } = await import("../core/federation/view.ts");
    return (await store.get<{ name: string }>(federationKeys.genesis))?.value?.name ?? "";
  }
  return (await store.get<Genesis>(chainKeys.genesis(id)))?.value?.name ?? "";
}

/**
 * Every network this data dir has joined, the home store's first, as the home store lists them;
 * `unlisted` is the home store's own network when it has no entry yet (a data dir from before
 * several networks), included in `networks` all the same. Writes nothing (`icn doctor` reads
 * with it); `joinedNetworks` records the missing entry.
 */
export async function readJoinedNetworks(
  ctx: CliContext,
): Promise<{ networks: JoinedNetwork[]; unlisted?: JoinedNetwork }> {
  const home = await ctx.homeStore();
  const listed: JoinedNetwork[] = [];
  for await (
    const item of home.list<NetworkEntry>({ prefix: networkEntryPrefix }, {
      limit: joinedNetworksMax + 1,
    })
  ) {
    const id = item.key[2];
    const entry = item.value;
    if (
      typeof id !== "string" || typeof entry?.file !== "string" ||
      !networkKinds.includes(entry.kind)
    ) {
      throw new InvalidInputError(
        `The home store of ${ctx.dataDir} lists a damaged network entry: run \`icn doctor\``,
      );
    }
    listed.push({ id, name: entry.name, kind: entry.kind, file: entry.file });
  }
  let unlisted: JoinedNetwork | undefined;
  const homeNet = (await home.get<string>(chainKeys.network))?.value;
  if (homeNet && !listed.some((n) => n.id === homeNet)) {
    const kind = await readNetworkKind(home);
    unlisted = {
      id: homeNet,
      name: await networkName(home, homeNet, kind),
      kind,
      file: homeStoreFile,
    };
    listed.push(unlisted);
  }
  // The home network first (the node's hello names it), then the others by id.
  const networks = listed.sort((a, b) =>
    a.file === homeStoreFile ? -1 : b.file === homeStoreFile ? 1 : a.id < b.id ? -1 : 1
  );
  return unlisted ? { networks, unlisted } : { networks };
}

/**
 * Every network this data dir has joined, the home store's first. A home store that joined a
 * network before networks could be several lacks its entry: it is recorded now (the automatic
 * upgrade; a read-only store shows it without recording). A data dir that joined nothing has
 * none, and its home store is still the store of every command.
 */
export async function joinedNetworks(ctx: CliContext): Promise<JoinedNetwork[]> {
  const { networks, unlisted } = await readJoinedNetworks(ctx);
  if (unlisted) await recordEntry(ctx, unlisted);
  return networks;
}

/** The upgrade of a data dir from before: the home store's network gets its entry. */
async function recordEntry(ctx: CliContext, network: JoinedNetwork): Promise<void> {
  const { id, ...entry } = network;
  try {
    // Checked absent: a concurrent upgrade wrote the same entry, which is as good.
    await (await ctx.homeStore()).commit([{ key: networkEntryKey(id), versionstamp: null }], [
      { type: "set", key: networkEntryKey(id), value: entry },
    ]);
    ctx.logger.debug("networks: recorded the home network", { id });
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
  }
}

/**
 * Opens the store of `network` (kept open for the rest of the command, closed with the
 * context), catching its copy of the identity's key event log up from the home store.
 */
export async function openNetwork(ctx: CliContext, network: JoinedNetwork): Promise<OpenNetwork> {
  const kinds = lazyKinds(network.kind);
  if (network.file === homeStoreFile) return { ...network, store: await ctx.homeStore(), kinds };
  let store = ctx.keptStore(network.id);
  if (!store) {
    if (ctx.storeLocation.remote) {
      throw new InvalidInputError(
        `Cannot open network ${network.id}: this data dir uses a remote store (ICN_KV_URL), which holds one network; unset ICN_KV_URL to use ${
          ctx.path(network.file)
        }`,
      );
    }
    const path = ctx.path(network.file);
    if (!(await pathExists(path))) {
      throw new NotFoundError(
        `The store of network "${
          terminalSafe(network.name)
        }" (${network.id}) is missing: ${path} is gone; restore it from a backup, or join the network again with its genesis`,
      );
    }
    store = await openStore(path, ctx.logger);
    ctx.keepStore(network.id, store);
    const joined = (await store.get<string>(chainKeys.network))?.value;
    if (joined !== network.id) {
      throw new InvalidInputError(
        `The store ${path} belongs to network ${
          joined ?? "(none)"
        }, not ${network.id}: run \`icn doctor\``,
      );
    }
    await catchUpOwnKel(ctx, store, kinds);
  }
  return { ...network, store, kinds };
}

/**
 * Whether the store file of a joined network is gone (deleted, or the data dir restored without
 * it). Never for the home store, a remote store or a store this command already opened.
 * `icn governance networks` lists such a network as `store missing`; every command that uses it
 * fails (`openNetwork`) with how to recover.
 */
export async function storeMissing(ctx: CliContext, network: JoinedNetwork): Promise<boolean> {
  if (network.file === homeStoreFile || ctx.storeLocation.remote) return false;
  if (ctx.keptStore(network.id)) return false;
  return !(await pathExists(ctx.path(network.file)));
}

/**
 * Every joined network with its store open, the home network first: what `icn node run` serves.
 *
 * @example
 * ```ts ignore
 * for (const { id, kind, store } of await openJoinedNetworks(ctx)) serve(id, kind, store);
 * ```
 */
export async function openJoinedNetworks(ctx: CliContext): Promise<OpenNetwork[]> {
  const out: OpenNetwork[] = [];
  for (const network of await joinedNetworks(ctx)) out.push(await openNetwork(ctx, network));
  return out;
}

/**
 * Brings `store`'s copy of this identity's key event log up to the home store's: the events a
 * crash kept from it, or the ones the home store got since. Ingested, so they are verified as
 * any import. A data dir without an identity has nothing to catch up. Returns how many it took.
 */
export async function catchUpOwnKel(
  ctx: CliContext,
  store: Store,
  kinds: () => Promise<KindRegistry>,
): Promise<number> {
  if (!(await pathExists(ctx.publicIdentityPath))) return 0;
  // Loaded here, not at the top: a command that only reads a network needs neither.
  const { readChainBytes, readHead } = await import("../core/chain/read.ts");
  const home = await ctx.homeStore();
  if (store === home) return 0;
  const { did } = await ctx.readPublicIdentity();
  const homeHead = await readHead(home, kelNet, did);
  if (!homeHead) return 0;
  const head = await readHead(store, kelNet, did);
  if (head && head.seq >= homeHead.seq) return 0;
  const missing = await readChainBytes(home, kelNet, did, head ? head.seq + 1 : 0);
  const { ingest } = await import("../core/chain/ingest.ts");
  const outcomes = await ingest(
    { store, clock: ctx.clock, kinds: await kinds(), logger: ctx.logger },
    missing,
    { source: "import" },
  );
  let taken = 0;
  for (const outcome of outcomes) {
    if (outcome.status === "accepted") taken++;
    if (outcome.status === "rejected") {
      ctx.logger.warn("networks: a key event of the home store was refused by a network store", {
        reason: outcome.reason,
        message: outcome.message,
      });
    }
  }
  if (taken > 0) ctx.logger.debug("networks: key events caught up", { taken });
  return taken;
}

/**
 * After a key event of this identity was committed to the home store: every other network
 * store takes it too (`ICN_TEST_CRASH_AT=kel:before-networks` stops between the two).
 */
export async function spreadOwnKel(ctx: CliContext): Promise<void> {
  crashPoint("kel:before-networks");
  for (const network of await joinedNetworks(ctx)) {
    if (network.file === homeStoreFile) continue;
    const open = await openNetwork(ctx, network);
    await catchUpOwnKel(ctx, open.store, open.kinds);
  }
}

/** The CLI's own settings: `$ICN_HOME/cli.toml` (the node's are in `config.toml`). */
export const cliConfigFile = "cli.toml";
/** The file holds a line or two; anything larger is not it. */
const cliConfigBytesMax = 64 * 1024;
/** Environment variable that overrides `default_net` of `cli.toml`. */
export const defaultNetEnv = "ICN_DEFAULT_NET";

/** `default_net`: `ICN_DEFAULT_NET`, else `cli.toml`, else none. */
export async function readDefaultNet(ctx: CliContext): Promise<
  { value: string; from: string } | undefined
> {
  const fromEnv = envGet(defaultNetEnv);
  if (fromEnv) return { value: fromEnv, from: defaultNetEnv };
  const path = ctx.path(cliConfigFile);
  if (!(await pathExists(path))) return undefined;
  const text = await readInputText(path, "CLI config", { bytesMax: cliConfigBytesMax });
  const { parse } = await import("smol-toml");
  let config: Record<string, unknown>;
  try {
    config = parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new InvalidInputError(`Cannot parse ${path}: ${(error as Error).message}`);
  }
  for (const key of Object.keys(config)) {
    if (key !== "default_net") {
      throw new InvalidInputError(`Invalid CLI config ${path}: unknown key "${terminalSafe(key)}"`);
    }
  }
  const value = config.default_net;
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidInputError(
      `Invalid CLI config ${path}: default_net must be a network name or id`,
    );
  }
  return { value, from: path };
}

/** The joined networks, one a line, for a usage error. */
function networksListing(networks: readonly JoinedNetwork[]): string {
  return networks.map((n) => `  ${terminalSafe(n.name).padEnd(20)} ${n.id}  (${n.kind})`)
    .join("\n");
}

function usage(code: string, message: string): UsageError {
  return new UsageError(code, message);
}

/**
 * The network `text` names among `networks`: its id, its name, or a unique start of its id.
 * Unknown or ambiguous is a usage error that lists the joined networks.
 */
export function findNetwork(
  networks: readonly JoinedNetwork[],
  text: string,
  what = "--net",
): JoinedNetwork {
  const byId = networks.find((n) => n.id === text);
  if (byId) return byId;
  const byName = networks.filter((n) => n.name === text);
  const matches = byName.length > 0 ? byName : networks.filter((n) => n.id.startsWith(text));
  if (matches.length === 1) return matches[0];
  const shownText = terminalSafe(text.slice(0, 200));
  if (matches.length === 0) {
    throw usage(
      "icn.unknownNetwork",
      networks.length === 0
        ? `Unknown network "${shownText}" (${what}): this data dir has joined no network`
        : `Unknown network "${shownText}" (${what}): this data dir has joined\n${
          networksListing(networks)
        }`,
    );
  }
  throw usage(
    "icn.ambiguousNetwork",
    `${what} "${shownText}" names ${matches.length} joined networks; give the id or more of it:\n${
      networksListing(matches)
    }`,
  );
}

/**
 * The network a command works on: `--net` when given, else the only joined network, else
 * `default_net`; undefined when this data dir has joined none (commands then use the home
 * store and say it has not joined). Two or more networks and no choice is a usage error.
 */
export async function resolveNetwork(
  ctx: CliContext,
  given: string | undefined,
): Promise<JoinedNetwork | undefined> {
  const networks = await joinedNetworks(ctx);
  if (given !== undefined) return findNetwork(networks, given);
  if (networks.length <= 1) return networks[0];
  const configured = await readDefaultNet(ctx);
  if (configured) {
    return findNetwork(networks, configured.value, `default_net in ${configured.from}`);
  }
  throw usage(
    "icn.networkNotChosen",
    `This data dir has joined ${networks.length} networks: choose one with --net NAME|ID (or set default_net in ${
      ctx.path(cliConfigFile)
    }):\n${networksListing(networks)}`,
  );
}

/** What `joinAnotherNetwork` is asked to join. */
export interface JoinRequest<R extends JoinResult> {
  id: string;
  name: string;
  kind: NetworkKind;
  /** Records the network in an empty store (`joinNetwork`, `joinFederation`); writes nothing on failure. */
  join: (store: Store) => Promise<R>;
}

/** `join`'s result, and the store file the network now lives in. */
export type JoinedResult<R extends JoinResult> = R & { file: string };

/**
 * Joins a network: the first one in the home store (as before several were possible); each
 * later one in a store of its own, `networks/<id>.kv`, which starts with the home store's key
 * event logs (ingested, so verified) and is listed in the home store once complete. Joining a
 * network again is `already`. A failure leaves nothing: the new store is built under a temporary
 * name and moved into place before its entry is recorded, and a file without an entry (a crash
 * between the two) is discarded by the next join. A remote store holds one network.
 */
export async function joinAnotherNetwork<R extends JoinResult>(
  ctx: CliContext,
  request: JoinRequest<R>,
): Promise<JoinedResult<R>> {
  const home = await ctx.homeStore();
  const homeNet = (await home.get<string>(chainKeys.network))?.value;
  if (!homeNet || homeNet === request.id) {
    const result = await request.join(home);
    if (result.status !== "elsewhere") await joinedNetworks(ctx);
    return { ...result, file: homeStoreFile };
  }
  const networks = await joinedNetworks(ctx);
  const known = networks.find((n) => n.id === request.id);
  if (known) {
    const open = await openNetwork(ctx, known);
    return { ...(await request.join(open.store)), file: known.file };
  }
  if (ctx.storeLocation.remote) {
    throw new InvalidInputError(
      `Cannot join network ${request.id}: this data dir's remote store (ICN_KV_URL) holds one network, ${homeNet}; a remote store cannot hold a second — join it from a data dir with a local store`,
    );
  }
  if (networks.length >= joinedNetworksMax) {
    throw new InvalidInputError(
      `Cannot join network ${request.id}: this data dir has joined ${networks.length} networks, the most it may`,
    );
  }
  const file = networkStoreFile(request.id);
  const path = ctx.path(file);
  await Deno.mkdir(ctx.path(networksDir), { recursive: true, mode: 0o700 });
  // No entry, yet a file: a join that stopped before recording it. It holds nothing of value.
  await removeStoreFiles(path);
  const temporary = ctx.path(`${networksDir}/.${request.id}.joining.kv`);
  await removeStoreFiles(temporary);
  let result: R;
  try {
    const store = await openStore(temporary, ctx.logger);
    try {
      await copyKels(ctx, home, store, await lazyKinds(request.kind)());
      result = await request.join(store);
    } finally {
      store.close();
    }
    if (result.status !== "joined") {
      throw new Error(`Join of a new store answered ${result.status}`);
    }
    crashPoint("join:before-move");
    for (const suffix of storeFileSuffixes) {
      if (await pathExists(`${temporary}${suffix}`)) {
        await Deno.rename(`${temporary}${suffix}`, `${path}${suffix}`);
      }
    }
    crashPoint("join:before-entry");
    const entry: NetworkEntry = { name: request.name, kind: request.kind, file };
    const ok = await home.commit([{ key: networkEntryKey(request.id), versionstamp: null }], [
      { type: "set", key: networkEntryKey(request.id), value: entry },
    ]);
    if (!ok) {
      throw new IcnError(
        "conflict",
        `Another process joined network ${request.id} at the same time; run join again to see the result`,
      );
    }
  } catch (error) {
    await removeStoreFiles(temporary);
    await removeStoreFiles(path);
    throw error;
  }
  return { ...result, file };
}

/** SQLite's files of one store. */
const storeFileSuffixes = ["", "-wal", "-shm"];

async function removeStoreFiles(path: string): Promise<void> {
  for (const suffix of storeFileSuffixes) {
    await Deno.remove(`${path}${suffix}`).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Key events read from the home store per ingest when a new network store starts. */
const kelCopyBatch = 500;

/** Copies every key event log of `from` into `to`, in the order `from` accepted them. */
async function copyKels(
  ctx: CliContext,
  from: Store,
  to: Store,
  kinds: KindRegistry,
): Promise<void> {
  const { ingest } = await import("../core/chain/ingest.ts");
  const { readLog } = await import("../core/chain/read.ts");
  const deps = { store: to, clock: ctx.clock, kinds, logger: ctx.logger };
  let batch: Uint8Array[] = [];
  const flush = async () => {
    for (const outcome of await ingest(deps, batch, { source: "import" })) {
      if (outcome.status === "rejected") {
        ctx.logger.warn("networks: a key event was not copied to the new network's store", {
          reason: outcome.reason,
          message: outcome.message,
        });
      }
    }
    batch = [];
  };
  for await (const item of readLog(from)) {
    if (item.entry.net !== kelNet) continue;
    batch.push(item.bytes);
    if (batch.length === kelCopyBatch) await flush();
  }
  if (batch.length > 0) await flush();
}
