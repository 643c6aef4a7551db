/**
 * Opening the data dir's store: Deno KV, upgraded to the current layout on the
 * way. A store in a directory icn cannot write (a read-only mount, a backup on
 * a CD, another user's data dir) is opened from a private snapshot, read-only:
 * reads work, and any write is refused with a clear error instead of landing in
 * the snapshot.
 */
import { envGet } from "./io_scope.ts";
import { upgradeStoreLayout } from "../core/chain/layout.ts";
import { hasLegacyHistory } from "../core/ledger/history_upgrade.ts";
import { upgradeLedgerLayout } from "../core/ledger/layout.ts";
import { StoreUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/ports.ts";
import { KvStore } from "../core/store/kv_store.ts";
import type {
  ListOptions,
  ListSelector,
  Store,
  StoreEntry,
  StoreKey,
} from "../core/store/store.ts";

/**
 * Where the store of a data dir is: `ICN_KV_URL` (a remote Deno KV) when set, else
 * `DATA_DIR/icn.kv`. The one place that reads `ICN_KV_URL`.
 */
export interface StoreLocation {
  /** The file, or the remote KV's URL: what `openStore` opens. */
  path: string;
  remote: boolean;
}

export function storeLocation(dataDir: string): StoreLocation {
  const url = envGet("ICN_KV_URL");
  return url ? { path: url, remote: true } : { path: `${dataDir}/icn.kv`, remote: false };
}

/** Opens the KV store at `path` (a file, or a remote KV URL) and upgrades an older layout in place. */
export async function openStore(path: string, logger?: Logger): Promise<Store> {
  let store: Store;
  try {
    store = await KvStore.open(path);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError) || /^[a-z]+:\/\//.test(path)) throw error;
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
    if (await isWritableDir(dir)) throw error;
    return await openSnapshot(path, dir, logger);
  }
  try {
    const upgraded = await upgradeStoreLayout(store);
    if (upgraded > 0) logger?.info("store layout upgraded", { positions: upgraded });
    if (await hasLegacyHistory(store)) {
      // Shown by default (a large store takes minutes): the command is not hung.
      logger?.warn(
        "upgrading this store's ledger history to layout 4, once; about 2,400 transfers a second, " +
          "and an interrupted upgrade resumes on the next open",
      );
    }
    const ledger = await upgradeLedgerLayout(store);
    if (ledger.payers > 0 || ledger.lines > 0) logger?.info("ledger layout upgraded", ledger);
  } catch (error) {
    store.close();
    throw error;
  }
  return store;
}

async function isWritableDir(dir: string): Promise<boolean> {
  try {
    const probe = await Deno.makeTempFile({ dir, prefix: ".icn-write-probe-" });
    await Deno.remove(probe);
    return true;
  } catch {
    return false;
  }
}

/** SQLite's companion files of a store, copied with it when present. */
const storeFileSuffixes = ["", "-wal"];

async function openSnapshot(path: string, dir: string, logger?: Logger): Promise<Store> {
  const copy = await Deno.makeTempDir({ prefix: "icn-readonly-" });
  try {
    const name = path.slice(path.lastIndexOf("/") + 1);
    for (const suffix of storeFileSuffixes) {
      try {
        await Deno.copyFile(`${path}${suffix}`, `${copy}/${name}${suffix}`);
      } catch (error) {
        if (suffix === "" || !(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    const store = await KvStore.open(`${copy}/${name}`);
    await upgradeStoreLayout(store);
    await upgradeLedgerLayout(store);
    logger?.debug("store opened read-only from a snapshot", { dir });
    return new ReadOnlyStore(store, dir, copy);
  } catch (error) {
    await Deno.remove(copy, { recursive: true }).catch(() => {});
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(
      `Cannot open the store in ${dir} read-only: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Reads from a snapshot of a store whose directory is read-only; refuses every write. */
class ReadOnlyStore implements Store {
  constructor(
    private readonly inner: Store,
    private readonly dir: string,
    private readonly snapshot: string,
  ) {}

  get<T>(key: StoreKey): Promise<StoreEntry<T> | null> {
    return this.inner.get<T>(key);
  }

  getMany<T>(keys: readonly StoreKey[]): Promise<(StoreEntry<T> | null)[]> {
    return this.inner.getMany<T>(keys);
  }

  list<T>(selector: ListSelector, options?: ListOptions): AsyncIterable<StoreEntry<T>> {
    return this.inner.list<T>(selector, options);
  }

  commit(): Promise<string | null> {
    return Promise.reject(
      new StoreUnavailableError(
        `Cannot write to the store: ${this.dir} is read-only (reads work; writes need a writable data dir)`,
      ),
    );
  }

  close(): void {
    this.inner.close();
    try {
      Deno.removeSync(this.snapshot, { recursive: true });
    } catch {
      // A leftover temp dir is harmless; it holds public data only.
    }
  }
}
