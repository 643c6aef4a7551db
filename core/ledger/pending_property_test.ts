/**
 * Properties of two-phase transfers: random histories of transfers, pendings
 * (with and without posters), posts, voids and expiry, delivered in any order
 * that keeps each chain's own order, give the same ledger state hash; balances
 * sum to zero; no payee is credited by a pending unless it is posted, and a
 * posted one moves its amount exactly once.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ingest, type IngestSource } from "../chain/ingest.ts";
import { type ChainHead, chainKeys } from "../chain/keys.ts";
import { readLog } from "../chain/read.ts";
import { decodeEnvelope, type SealedEnvelope, sealEnvelope } from "../envelope/envelope.ts";
import { listAll, type Store } from "../store/store.ts";
import { holdBody, type Ledger, makeLedger, type Member, transferBody } from "./_testing.ts";
import { checkLedger, ledgerStateHash } from "./audit.ts";
import { type Account, ledgerKeys, type PendingRecord } from "./keys.ts";
import { pendingKind, pendingStatus, postKind, voidKind } from "./pending.ts";
import { transferKind } from "./rules.ts";

const members = 4;
const params = {
  "credit.trustMultiplier": 0,
  "credit.historyRate": 0,
  "credit.baseline": 1_000,
  ...Object.fromEntries(
    ["isolated", "known", "partner", "federated"].map((c) => [`policy.${c}.velocity`, 100_000]),
  ),
};

/** Signs at the head of `member`'s chain and ingests with `source` (so resolutions from "elsewhere" can conflict). */
async function appendAs(
  ledger: Ledger,
  member: Member,
  kind: string,
  body: unknown,
  source: IngestSource,
): Promise<boolean> {
  const head = (await ledger.store.get<ChainHead>(chainKeys.head(ledger.net, member.did)))?.value;
  const sealed = await sealEnvelope({
    net: ledger.net,
    kind,
    seq: head ? head.seq + 1 : 0,
    prev: head ? head.cid : null,
    ts: Math.max(ledger.clock.now(), head?.ts ?? 0),
    body,
  }, member.signer);
  const [outcome] = await ingest(ledger.deps, [sealed], { source });
  return outcome.status === "accepted";
}

type Op =
  | { op: "transfer"; from: number; to: number; amount: number }
  | { op: "hold"; from: number; to: number; amount: number; timeout: number; posters: number[] }
  | { op: "post" | "void"; by: number; pending: number }
  | { op: "advance"; ms: number };

const member = fc.integer({ min: 0, max: members - 1 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("transfer" as const),
      from: member,
      to: member,
      amount: fc.integer({ min: 1, max: 400 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("hold" as const),
      from: member,
      to: member,
      amount: fc.integer({ min: 1, max: 400 }),
      timeout: fc.integer({ min: 10_000, max: 120_000 }),
      posters: fc.uniqueArray(member, { maxLength: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom("post" as const, "void" as const),
      // Below `members`: that member (often not allowed); above: one of the pending's resolvers.
      by: fc.integer({ min: 0, max: 3 * members }),
      pending: fc.nat({ max: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.integer({ min: 1, max: 60_000 }),
    }),
  },
);

/** Plays `ops` on a fresh ledger; resolutions are ingested as if from elsewhere (no local refusals), so posters may conflict. */
async function play(ops: Op[]): Promise<Ledger> {
  const ledger = await makeLedger({ founders: members, params });
  const m = ledger.members;
  const held: { payer: number; id: string; resolvers: number[] }[] = [];
  let n = 0;
  for (const op of ops) {
    ledger.clock.advance(1);
    if (op.op === "advance") ledger.clock.advance(op.ms);
    else if (op.op === "transfer") {
      if (op.from === op.to) continue;
      await appendAs(
        ledger,
        m[op.from],
        transferKind,
        transferBody(m[op.to].did, op.amount, { id: `t${n++}` }),
        "local",
      );
    } else if (op.op === "hold") {
      if (op.from === op.to) continue;
      const id = `p${n++}`;
      const body = holdBody(m[op.to], op.amount, {
        id,
        timeout: op.timeout,
        posters: op.posters.map((i) => m[i].did),
      }, ledger.clock.now());
      if (await appendAs(ledger, m[op.from], pendingKind, body, "local")) {
        held.push({
          payer: op.from,
          id,
          resolvers: op.posters.length > 0 ? op.posters : [op.from],
        });
      }
    } else if (held.length > 0) {
      const target = held[op.pending % held.length];
      const by = op.by < members ? op.by : target.resolvers[op.by % target.resolvers.length];
      await appendAs(
        ledger,
        m[by],
        op.op === "post" ? postKind : voidKind,
        { payer: m[target.payer].did, id: target.id },
        "sync",
      );
    }
  }
  return ledger;
}

async function envelopesOf(store: Store): Promise<SealedEnvelope[]> {
  const out: SealedEnvelope[] = [];
  for await (const item of readLog(store)) {
    if (item.entry.net !== "kel") out.push(await decodeEnvelope(item.bytes));
  }
  return out;
}

/** A random interleaving that keeps each chain's own order. */
function interleave(envelopes: SealedEnvelope[], seed: number): SealedEnvelope[] {
  const byAuthor = new Map<string, SealedEnvelope[]>();
  for (const e of envelopes) {
    byAuthor.set(e.envelope.author, [...(byAuthor.get(e.envelope.author) ?? []), e]);
  }
  const queues = [...byAuthor.values()];
  const out: SealedEnvelope[] = [];
  let state = seed >>> 0 || 1;
  while (queues.some((q) => q.length > 0)) {
    state = (state * 1103515245 + 12345) >>> 0;
    const live = queues.filter((q) => q.length > 0);
    out.push(live[state % live.length].shift()!);
  }
  return out;
}

/** Ingests in the given order, retrying rejected ones until no progress (what sync does). */
async function fold(envelopes: SealedEnvelope[], now: number): Promise<Ledger> {
  const fresh = await makeLedger({ founders: members, params });
  fresh.clock.set(now);
  let left = envelopes;
  for (let round = 0; round < envelopes.length + 1 && left.length > 0; round++) {
    const outcomes = await ingest(fresh.deps, left, { source: "sync" });
    left = left.filter((_, i) => outcomes[i].status === "rejected");
  }
  assert.equal(left.length, 0, "every envelope is accepted in any order");
  return fresh;
}

/** Sum zero, ledger check clean, and every balance is exactly transfers plus posted pendings. */
async function assertInvariants(ledger: Ledger, envelopes: SealedEnvelope[]): Promise<void> {
  const accounts = await listAll<Account>(ledger.store, { prefix: ["ledger", "acct"] });
  let sum = 0n;
  const balances = new Map<string, bigint>();
  for (const entry of accounts) {
    sum += BigInt(entry.value.balance);
    balances.set(entry.key[3] as string, BigInt(entry.value.balance));
  }
  assert.equal(sum, 0n, "balances sum to zero");
  const expected = new Map<string, bigint>();
  const move = (from: string, to: string, amount: bigint) => {
    expected.set(from, (expected.get(from) ?? 0n) - amount);
    expected.set(to, (expected.get(to) ?? 0n) + amount);
  };
  for (const { envelope } of envelopes) {
    if (envelope.kind !== transferKind) continue;
    const body = envelope.body as { to: string; amount: number };
    move(envelope.author, body.to, BigInt(body.amount));
  }
  const pendings = await listAll<PendingRecord>(ledger.store, { prefix: ledgerKeys.pendingPrefix });
  for (const { value: p } of pendings) {
    if (pendingStatus(p, ledger.clock.now()) === "posted") {
      move(p.from, p.to, BigInt(p.amount));
    }
  }
  for (const [did, balance] of balances) {
    assert.equal(balance, expected.get(did) ?? 0n, `balance of ${did}: no credit without a post`);
  }
  assert.deepEqual(await checkLedger(ledger.store, { kinds: ledger.deps.kinds }), []);
}

Deno.test("property: pendings, posts, voids and expiry give the same state in any delivery order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArbitrary, { minLength: 8, maxLength: 40 }),
      fc.integer(),
      fc.integer(),
      async (ops, seed1, seed2) => {
        const source = await play(ops);
        const envelopes = await envelopesOf(source.store);
        await assertInvariants(source, envelopes);
        const hash = await ledgerStateHash(source.store);
        for (const seed of [seed1, seed2]) {
          const refolded = await fold(interleave(envelopes, seed), source.clock.now());
          assert.equal(await ledgerStateHash(refolded.store), hash);
          await assertInvariants(refolded, envelopes);
        }
      },
    ),
    { numRuns: 30 },
  );
});
