/** Opening the data dir's store: Deno KV, upgraded to the current layout on the way. */
import { upgradeStoreLayout } from "../core/chain/layout.ts";
import type { Logger } from "../core/ports.ts";
import { KvStore } from "../core/store/kv_store.ts";
import type { Store } from "../core/store/store.ts";

/** Opens the KV store at `path` (a file, or a remote KV URL) and upgrades an older layout in place. */
export async function openStore(path: string, logger?: Logger): Promise<Store> {
  const store = await KvStore.open(path);
  try {
    const upgraded = await upgradeStoreLayout(store);
    if (upgraded > 0) logger?.info("store layout upgraded", { positions: upgraded });
  } catch (error) {
    store.close();
    throw error;
  }
  return store;
}
