import { assert } from "../errors.ts";
import { decodeEnvelope, type SealedEnvelope } from "../envelope/envelope.ts";
import type { Store } from "../store/store.ts";
import { storedBytes } from "./ingest.ts";
import { type ChainHead, chainKeys, type LogEntry, type StoredEnvelope } from "./keys.ts";

const getter = (store: Store) => ({
  get: async <T>(key: readonly (string | number)[]) => (await store.get<T>(key))?.value,
});

/** Log entries fetched per store read in `readLog`. */
const logReadAhead = 10;

/** Envelopes in acceptance order from log position `since` (inclusive), with the position after the last one. */
export async function* readLog(
  store: Store,
  since = 0,
  limit = Infinity,
): AsyncIterable<{ position: number; entry: LogEntry; bytes: Uint8Array }> {
  let count = 0;
  let batch: { position: number; entry: LogEntry }[] = [];
  const flush = async function* () {
    const stored = await store.getMany<StoredEnvelope>(
      batch.map(({ entry }) => chainKeys.position(entry.net, entry.author, entry.seq)),
    );
    for (let i = 0; i < batch.length; i++) {
      const { position, entry } = batch[i];
      const value = stored[i]?.value;
      const bytes = value && value.cid === entry.cid
        ? await storedBytes(getter(store), entry, value)
        : undefined;
      // The log entry and the envelope commit together: one without the other is a bug.
      assert(bytes, `Store is missing envelope ${entry.cid} named by its log`);
      yield { position, entry, bytes };
    }
    batch = [];
  };
  for await (
    const item of store.list<LogEntry>({ prefix: chainKeys.logPrefix, start: chainKeys.log(since) })
  ) {
    if (count++ >= limit) break;
    batch.push({ position: item.key[1] as number, entry: item.value });
    if (batch.length === logReadAhead) yield* flush();
  }
  if (batch.length > 0) yield* flush();
}

/** Encodings of one author's chain in a network from `fromSeq`, as stored (what sync serves). */
export async function readChainBytes(
  store: Store,
  net: string,
  author: string,
  fromSeq = 0,
  limit = Infinity,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (
    const item of store.list<StoredEnvelope>(
      {
        prefix: chainKeys.chainPrefix(net, author),
        start: chainKeys.position(net, author, fromSeq),
      },
      { limit: Number.isFinite(limit) ? limit : undefined },
    )
  ) {
    const seq = item.key[3] as number;
    const bytes = await storedBytes(getter(store), { net, author, seq }, item.value);
    // Parts commit with their chain position: a position without them is a bug.
    assert(bytes, `Store is missing part of envelope ${item.value.cid}`);
    out.push(bytes);
  }
  return out;
}

/** One author's chain in a network, decoded, from `fromSeq`. */
export async function readChain(
  store: Store,
  net: string,
  author: string,
  fromSeq = 0,
  limit = Infinity,
): Promise<SealedEnvelope[]> {
  const out: SealedEnvelope[] = [];
  for (const bytes of await readChainBytes(store, net, author, fromSeq, limit)) {
    out.push(await decodeEnvelope(bytes));
  }
  return out;
}

/** Head of one chain. */
export async function readHead(
  store: Store,
  net: string,
  author: string,
): Promise<ChainHead | undefined> {
  return (await store.get<ChainHead>(chainKeys.head(net, author)))?.value;
}

/** Every chain head of a network: the summary peers exchange to find gaps. */
export async function readHeads(store: Store, net: string): Promise<Map<string, ChainHead>> {
  const out = new Map<string, ChainHead>();
  for await (const item of store.list<ChainHead>({ prefix: chainKeys.headPrefix(net) })) {
    out.set(item.key[2] as string, item.value);
  }
  return out;
}
