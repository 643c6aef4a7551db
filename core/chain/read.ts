import { decodeEnvelope, type SealedEnvelope } from "../envelope/envelope.ts";
import type { Store } from "../store/store.ts";
import { readEnvelopeBytes } from "./ingest.ts";
import { type ChainHead, chainKeys, type LogEntry } from "./keys.ts";

/** Envelope bytes by CID, or undefined. */
export function getEnvelopeBytes(store: Store, cid: string): Promise<Uint8Array | undefined> {
  return readEnvelopeBytes({ get: async (key) => (await store.get(key))?.value as never }, cid);
}

/** Envelopes in acceptance order from log position `since` (inclusive), with the position after the last one. */
export async function* readLog(
  store: Store,
  since = 0,
  limit = Infinity,
): AsyncIterable<{ position: number; entry: LogEntry; bytes: Uint8Array }> {
  let count = 0;
  for await (
    const item of store.list<LogEntry>({ prefix: chainKeys.logPrefix, start: chainKeys.log(since) })
  ) {
    if (count++ >= limit) return;
    const bytes = await getEnvelopeBytes(store, item.value.cid);
    if (!bytes) throw new Error(`Store is missing envelope ${item.value.cid} named by its log`);
    yield { position: item.key[1] as number, entry: item.value, bytes };
  }
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
  for await (
    const item of store.list<string>(
      {
        prefix: chainKeys.chainPrefix(net, author),
        start: chainKeys.position(net, author, fromSeq),
      },
      { limit: Number.isFinite(limit) ? limit : undefined },
    )
  ) {
    const bytes = await getEnvelopeBytes(store, item.value);
    if (!bytes) throw new Error(`Store is missing envelope ${item.value}`);
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
