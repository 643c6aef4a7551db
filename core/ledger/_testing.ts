/** Test fixtures: members with real keys and KELs in a MemoryStore, a joined genesis, transfers. */
import { appendLocal } from "../chain/append.ts";
import { ingest, type IngestDeps, type IngestOutcome } from "../chain/ingest.ts";
import { kelNet } from "../constants.ts";
import { type SealedEnvelope, sealEnvelope, type Signer } from "../envelope/envelope.ts";
import { createGenesis, type Currency, type Genesis, genesisId } from "../governance/genesis.ts";
import { didFromPublicKey } from "../identity/did.ts";
import { nextKeysDigest } from "../identity/kel.ts";
import { ed25519FromSeed, x25519FromSeed } from "../identity/keys.ts";
import { createSigner } from "../identity/signer.ts";
import { createKindRegistry } from "../kinds.ts";
import type { Params } from "../params.ts";
import { fixedClock } from "../ports.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { listAll, type Store, type StoreMutation } from "../store/store.ts";
import { joinEntry, listHistoryRefs } from "./history.ts";
import { ledgerKeys, type LineRecord } from "./keys.ts";
import { amountToBody } from "./amount.ts";
import { transferKind } from "./rules.ts";
import { joinNetwork } from "../governance/join.ts";

export const t0 = Date.UTC(2026, 0, 1);

export interface Member {
  did: string;
  signer: Signer;
  inception: SealedEnvelope;
}

/** A member from a deterministic seed, with its signed KEL inception envelope. */
export async function makeMember(index: number): Promise<Member> {
  const seed = (salt: number) => {
    const out = new Uint8Array(32);
    new DataView(out.buffer).setUint32(0, index);
    out[31] = salt;
    return out;
  };
  const ed = await ed25519FromSeed(seed(1));
  const x = await x25519FromSeed(seed(2));
  const nextX = await x25519FromSeed(seed(4));
  const nextEd = await ed25519FromSeed(seed(3));
  const did = didFromPublicKey(ed.publicKey);
  const signer = createSigner(did, ed);
  const inception = await sealEnvelope({
    net: kelNet,
    kind: "id.inception",
    seq: 0,
    prev: null,
    ts: t0 - 1000,
    body: {
      keys: { ed25519: ed.publicKey, x25519: x.publicKey },
      next: await nextKeysDigest({ ed25519: nextEd.publicKey, x25519: nextX.publicKey }),
    },
  }, signer);
  return { did, signer, inception };
}

export interface Ledger {
  store: Store;
  deps: IngestDeps;
  clock: ReturnType<typeof fixedClock>;
  net: string;
  genesis: Genesis;
  members: Member[];
}

/** A joined network whose founders are `founders` (every KEL known), plus `outsiders` who are not members. */
export async function makeLedger(
  options: {
    founders: number;
    outsiders?: number;
    params?: Params;
    currencies?: Currency[];
    store?: Store;
  },
): Promise<Ledger> {
  const all = await Promise.all(
    Array.from({ length: options.founders + (options.outsiders ?? 0) }, (_, i) => makeMember(i)),
  );
  const founders = all.slice(0, options.founders);
  const genesis = createGenesis({
    name: "Test",
    members: founders.map((m) => m.did),
    currencies: options.currencies,
    params: options.params,
    created: t0 - 1000,
  });
  const net = await genesisId(genesis);
  const store = options.store ?? new MemoryStore();
  await joinNetwork(store, { id: net, genesis });
  const clock = fixedClock(t0);
  const deps: IngestDeps = { store, clock, kinds: createKindRegistry() };
  await ingest(deps, all.map((m) => m.inception), { source: "import" });
  return { store, deps, clock, net, genesis, members: all };
}

export function transferBody(
  to: string,
  amount: bigint | number,
  options: { id: string; currency?: string; memo?: string },
) {
  return {
    to,
    amount: amountToBody(BigInt(amount)),
    currency: options.currency ?? "hours",
    memo: options.memo ?? "",
    id: options.id,
  };
}

let nextId = 0;

/** Signs and ingests a transfer from `from` to `to`; returns the outcome. */
export async function pay(
  ledger: Ledger,
  from: Member,
  to: Member | string,
  amount: bigint | number,
  options: { id?: string; currency?: string; memo?: string } = {},
): Promise<IngestOutcome> {
  const body = transferBody(typeof to === "string" ? to : to.did, amount, {
    ...options,
    id: options.id ?? `t${nextId++}`,
  });
  const { outcome } = await appendLocal(ledger.deps, from.signer, {
    net: ledger.net,
    kind: transferKind,
    body,
  });
  return outcome;
}

/** Signs and ingests any ledger envelope (`kind`, `body`) by `from` at the ledger clock. */
export async function append(
  ledger: Ledger,
  from: Member,
  kind: string,
  body: unknown,
): Promise<IngestOutcome> {
  const { outcome } = await appendLocal(ledger.deps, from.signer, { net: ledger.net, kind, body });
  return outcome;
}

/** A pending transfer from `from` to `to` (expires `timeout` after the clock), posters as given. */
export function holdBody(
  to: Member | string,
  amount: bigint | number,
  options: { id: string; timeout?: number; posters?: string[]; expiresAt?: number },
  now: number,
) {
  return {
    ...transferBody(typeof to === "string" ? to : to.did, amount, { id: options.id }),
    expires: options.expiresAt ?? now + (options.timeout ?? 3_600_000),
    posters: [...(options.posters ?? [])].sort(),
  };
}

/**
 * The writes that turn a store's history back into layout 3 (a full entry per side under
 * `["ledger","hist",...]`, no lines, pages or tails), for tests of the in-place upgrade.
 */
export async function legacyHistoryMutations(store: Store): Promise<StoreMutation[]> {
  const mutations: StoreMutation[] = [];
  for await (const { currency, did, index, ref } of listHistoryRefs(store)) {
    const line = (await store.get<LineRecord>(ledgerKeys.line(ref[0])))!.value;
    mutations.push({
      type: "set",
      key: ledgerKeys.legacyHistory(currency, did, index),
      value: joinEntry(line, ref),
    });
  }
  for (const entry of await listAll(store, { prefix: ["ledger"] })) {
    if (["line", "lineNext", "hp", "ht"].includes(entry.key[1] as string)) {
      mutations.push({ type: "delete", key: entry.key });
    }
  }
  return mutations;
}
