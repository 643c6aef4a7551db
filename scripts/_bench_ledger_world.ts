/**
 * The ledger benchmarks' world (`bench_ledger.ts`, `bench_ledger_layouts.ts`): 1,000 members
 * founding one cooperative and a run of pre-signed transfers among them, the same for both so
 * their figures compare.
 */
import { type SealedEnvelope, sealEnvelope } from "../core/envelope/envelope.ts";
import { createGenesis, genesisId } from "../core/governance/genesis.ts";
import { makeMember, type Member } from "../core/ledger/_testing.ts";
import { amountToBody } from "../core/ledger/amount.ts";
import { transferKind } from "../core/ledger/rules.ts";
import type { Store, StoreMutation } from "../core/store/store.ts";

export const benchMembersTotal = 1_000;
/** The transfers' first timestamp (the genesis is a second older). */
export const benchT0 = Date.UTC(2026, 0, 1);

/** Deterministic xorshift for picking payers, payees and amounts. */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/** The members, the genesis and `transfersTotal` transfers signed by their payers, in chain order. */
export async function signBenchTransfers(
  transfersTotal: number,
  progress: (line: string) => void,
) {
  progress(`creating ${benchMembersTotal} members`);
  const members: Member[] = [];
  for (let i = 0; i < benchMembersTotal; i++) members.push(await makeMember(i));
  const genesis = createGenesis({
    name: "Bench",
    members: members.map((m) => m.did),
    params: { "credit.baseline": 1_000_000 },
    created: benchT0 - 1000,
  });
  const net = await genesisId(genesis);
  progress(`pre-signing ${transfersTotal} transfers`);
  const pick = rng(42);
  const heads = new Map<string, { seq: number; cid: string | null }>();
  const envelopes: SealedEnvelope[] = [];
  // Spread over time so no payer passes the default velocity cap (10/hour for the isolated class).
  const spacingMs = Math.ceil(3_600_000 * benchMembersTotal / 5 / transfersTotal);
  const signStart = performance.now();
  for (let i = 0; i < transfersTotal; i++) {
    const from = members[pick(benchMembersTotal)];
    let to = members[pick(benchMembersTotal)];
    if (to === from) to = members[(members.indexOf(from) + 1) % benchMembersTotal];
    const head = heads.get(from.did) ?? { seq: -1, cid: null };
    const sealed = await sealEnvelope({
      net,
      kind: transferKind,
      seq: head.seq + 1,
      prev: head.cid,
      ts: benchT0 + Math.floor(i * spacingMs / 1000) * 1000,
      body: {
        to: to.did,
        amount: amountToBody(BigInt(1 + pick(5_000))),
        currency: "hours",
        memo: "",
        id: `b${i}`,
      },
    }, from.signer);
    heads.set(from.did, { seq: head.seq + 1, cid: sealed.cid });
    envelopes.push(sealed);
  }
  const signSeconds = (performance.now() - signStart) / 1000;
  return { members, genesis, net, envelopes, signSeconds };
}

/**
 * `store` with every commit's mutations kept while `recording` is on, to replay them into a
 * fresh store (the benchmarks' store-only baseline).
 */
export function recordingStore(store: Store) {
  const commits: StoreMutation[][] = [];
  const recorder = {
    recording: false,
    commits,
    store: {
      get: (key) => store.get(key),
      getMany: (keys) => store.getMany(keys),
      list: (selector, options) => store.list(selector, options),
      commit: (checks, mutations) => {
        if (recorder.recording) commits.push([...mutations]);
        return store.commit(checks, mutations);
      },
      close: () => store.close(),
    } satisfies Store as Store,
  };
  return recorder;
}
