import fc from "fast-check";
import { appendLocal } from "../chain/append.ts";
import { chainKeys, type StoredEnvelope } from "../chain/keys.ts";
import { upgradeStoreLayout } from "../chain/layout.ts";
import type { KindHandler } from "../chain/ingest.ts";
import { createKindRegistry } from "../kinds.ts";
import { KvStore } from "../store/kv_store.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { listAll, type Store, type StoreMutation } from "../store/store.ts";
import {
  append,
  holdBody,
  type Ledger,
  legacyHistoryMutations,
  makeLedger,
  pay,
} from "./_testing.ts";
import { checkLedger, ledgerStateHash } from "./audit.ts";
import { upgradeLedgerHistory } from "./history_upgrade.ts";
import { type Account, hourMs, ledgerKeys } from "./keys.ts";
import { hasLegacyLedgerLayout, upgradeLedgerLayout } from "./layout.ts";
import { pendingKind } from "./pending.ts";

function expectEqual(actual: unknown, expected: unknown, what = ""): void {
  const a = JSON.stringify(actual, (_, v) => typeof v === "bigint" ? `${v}n` : v);
  const e = JSON.stringify(expected, (_, v) => typeof v === "bigint" ? `${v}n` : v);
  if (a !== e) throw new Error(`${what}: expected ${e.slice(0, 400)}, got ${a.slice(0, 400)}`);
}

const currencies = [
  { code: "hours", decimals: 2 },
  { code: "kwh", decimals: 0 },
];
const blobKind: KindHandler = { apply() {} };

/** A ledger in two currencies whose members paid in several hours, with pendings and one split envelope. */
async function fixture(store: Store = new MemoryStore()): Promise<Ledger> {
  const ledger = await makeLedger({
    founders: 6,
    currencies,
    params: { "credit.baseline": 1_000_000, "policy.isolated.velocity": 1000 },
    store,
  });
  const kinds = new Map(createKindRegistry());
  kinds.set("test.blob", blobKind);
  ledger.deps = { ...ledger.deps, kinds };
  const m = ledger.members;
  for (let i = 0; i < 60; i++) {
    if (i % 7 === 0) ledger.clock.advance(hourMs / 2);
    const from = m[i % 6];
    const to = m[(i * 5 + 1) % 6] === from ? m[(i + 1) % 6] : m[(i * 5 + 1) % 6];
    if (i % 11 === 5) {
      await append(
        ledger,
        from,
        pendingKind,
        holdBody(to, 3 + i, { id: `h${i}` }, ledger.clock.now()),
      );
    } else {
      const outcome = await pay(ledger, from, to, 10 + i, {
        currency: i % 3 === 0 ? "kwh" : "hours",
      });
      if (outcome.status !== "accepted") {
        throw new Error(`fixture transfer ${i}: ${outcome.status}`);
      }
    }
  }
  // An envelope too large for one store value: the chain layout splits it into parts.
  await appendLocal(ledger.deps, m[0].signer, {
    net: ledger.net,
    kind: "test.blob",
    body: { text: "x".repeat(62_000) },
  });
  return ledger;
}

/** Every entry's key and value, without versionstamps. */
async function snapshot(store: Store) {
  return (await listAll(store, { prefix: [] })).map((e) => [e.key, e.value] as const);
}

/**
 * Rewrites the store the way icn kept it before layout 3 (velocity keys per payer and hour,
 * accounts without the counter) and before layout 2 (envelopes under their CID).
 */
async function toLegacy(store: Store): Promise<void> {
  const mutations: StoreMutation[] = [];
  const latest = new Map<string, Map<number, number>>();
  for (const entry of await listAll<Account>(store, { prefix: ["ledger", "acct"] })) {
    const { velocityHour, velocityCount, ...rest } = entry.value;
    if (velocityHour === undefined) continue;
    const payer = entry.key[3] as string;
    const hours = latest.get(payer) ?? new Map<number, number>();
    hours.set(velocityHour, (hours.get(velocityHour) ?? 0) + (velocityCount ?? 0));
    latest.set(payer, hours);
    // Layout 2 wrote no account for pendings alone: an account that never moved did not exist.
    const untouched = rest.count === 0 && BigInt(rest.balance) === 0n &&
      BigInt(rest.received) === 0n;
    mutations.push(
      untouched ? { type: "delete", key: entry.key } : { type: "set", key: entry.key, value: rest },
    );
  }
  for (const [payer, hours] of latest) {
    for (const [hour, count] of hours) {
      mutations.push({ type: "set", key: ledgerKeys.legacyVelocity(payer, hour), value: count });
      // Older hours, as layout 2 kept every hour ever paid in.
      mutations.push({ type: "set", key: ledgerKeys.legacyVelocity(payer, hour - 3), value: 2 });
    }
  }
  mutations.push(...await legacyHistoryMutations(store));
  for (const entry of await listAll<StoredEnvelope>(store, { prefix: ["chain"] })) {
    const [, net, author, seq] = entry.key as [string, string, string, number];
    const stored = entry.value;
    mutations.push({ type: "set", key: entry.key, value: stored.cid });
    if ("bytes" in stored) {
      mutations.push({ type: "set", key: ["env", stored.cid], value: stored.bytes });
      continue;
    }
    mutations.push({ type: "set", key: ["env", stored.cid], value: { parts: stored.parts } });
    for (let i = 0; i < stored.parts; i++) {
      const key = chainKeys.part(net, author, seq, i);
      const part = (await store.get(key))!.value;
      mutations.push({ type: "delete", key }, {
        type: "set",
        key: ["envpart", stored.cid, i],
        value: part,
      });
    }
  }
  for (let i = 0; i < mutations.length; i += 500) {
    await store.commit([], mutations.slice(i, i + 500));
  }
}

/** Both upgrades, as `openStore` runs them; the payers whose velocity was upgraded. */
async function upgrade(store: Store): Promise<number> {
  await upgradeStoreLayout(store);
  return (await upgradeLedgerLayout(store)).payers;
}

async function expectUpgraded(ledger: Ledger, store: Store, before: unknown, hash: string) {
  expectEqual(await hasLegacyLedgerLayout(store), false, "legacy keys left");
  expectEqual(await snapshot(store), before, "store after upgrade");
  expectEqual(await ledgerStateHash(store), hash, "state hash");
  expectEqual(await checkLedger(store, { kinds: ledger.deps.kinds }), [], "ledger check");
}

Deno.test("ledger layout upgrade folds old velocity keys into the accounts, as a fresh fold writes them", async () => {
  const ledger = await fixture();
  const { store } = ledger;
  const before = await snapshot(store);
  if (!before.some(([key]) => key[0] === "chainpart")) throw new Error("no split envelope");
  const hash = await ledgerStateHash(store);
  expectEqual(await checkLedger(store, { kinds: ledger.deps.kinds }), [], "check before");
  expectEqual(await upgradeLedgerLayout(store), { payers: 0, lines: 0 }, "nothing to upgrade");
  await toLegacy(store);
  expectEqual(await hasLegacyLedgerLayout(store), true, "legacy store");
  expectEqual(await upgrade(store), 6, "payers upgraded");
  await expectUpgraded(ledger, store, before, hash);
  // The upgraded store takes new transfers on the folded counters.
  const outcome = await pay(ledger, ledger.members[1], ledger.members[2], 5);
  expectEqual(outcome.status, "accepted", "transfer after upgrade");
});

Deno.test("ledger layout upgrade from two writers at once gives the same store", async () => {
  const ledger = await fixture();
  const { store } = ledger;
  const before = await snapshot(store);
  const hash = await ledgerStateHash(store);
  await toLegacy(store);
  const counts = await Promise.all([upgrade(store), upgrade(store)]);
  if (counts[0] + counts[1] < 6) throw new Error(`payers upgraded: ${counts}`);
  await expectUpgraded(ledger, store, before, hash);
});

Deno.test("ledger layout upgrade of two processes' handles on one Deno KV file", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await KvStore.open(`${dir}/icn.kv`);
  const other = await KvStore.open(`${dir}/icn.kv`);
  try {
    const ledger = await fixture(kv);
    const before = await snapshot(kv);
    const hash = await ledgerStateHash(kv);
    await toLegacy(kv);
    await Promise.all([upgrade(kv), upgrade(other)]);
    await expectUpgraded(ledger, kv, before, hash);
  } finally {
    kv.close();
    other.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an interrupted ledger layout upgrade completes when the store is opened again", async () => {
  const ledger = await fixture();
  const { store } = ledger;
  const before = await snapshot(store);
  const hash = await ledgerStateHash(store);
  await toLegacy(store);
  await upgradeStoreLayout(store);
  // A process that dies after its second commit.
  let commits = 0;
  const dying: Store = {
    get: (key) => store.get(key),
    getMany: (keys) => store.getMany(keys),
    list: (selector, options) => store.list(selector, options),
    commit: (checks, mutations) => {
      if (++commits > 2) return Promise.reject(new Error("killed"));
      return store.commit(checks, mutations);
    },
    close: () => {},
  };
  let message = "";
  await upgradeLedgerLayout(dying).catch((error) => message = error.message);
  expectEqual(message, "killed", "interrupted");
  expectEqual(await hasLegacyLedgerLayout(store), true, "work left");
  expectEqual(
    (await upgradeLedgerLayout(store)).payers,
    4,
    "payers upgraded on the second open",
  );
  await expectUpgraded(ledger, store, before, hash);
});

Deno.test("an interrupted history upgrade (layout 3 to 4) completes, from one or two writers", async () => {
  const ledger = await fixture();
  const { store } = ledger;
  await upgradeStoreLayout(store);
  const before = await snapshot(store);
  const hash = await ledgerStateHash(store);
  const lines = (await listAll(store, { prefix: ledgerKeys.linePrefix })).length;
  // Only the history in the old layout: the accounts keep their folded velocity.
  await toLegacy(store);
  await upgradeStoreLayout(store);
  await upgradeVelocityOnly(store);
  let commits = 0;
  const dying: Store = {
    ...store,
    get: (key) => store.get(key),
    getMany: (keys) => store.getMany(keys),
    list: (selector, options) => store.list(selector, options),
    commit: (checks, mutations) => {
      if (++commits > 3) return Promise.reject(new Error("killed"));
      return store.commit(checks, mutations);
    },
  };
  let message = "";
  await upgradeLedgerHistory(dying, { linesPerCommit: 7 }).catch((e) => message = e.message);
  expectEqual(message, "killed", "interrupted");
  expectEqual(await hasLegacyLedgerLayout(store), true, "work left");
  const written = await Promise.all([
    upgradeLedgerHistory(store, { linesPerCommit: 5 }),
    upgradeLedgerHistory(store, { linesPerCommit: 9 }),
  ]);
  expectEqual(written[0] + written[1], lines - 21, "lines written after the interruption");
  await expectUpgraded(ledger, store, before, hash);
  const outcome = await pay(ledger, ledger.members[1], ledger.members[2], 5);
  expectEqual(outcome.status, "accepted", "transfer after upgrade");
});

Deno.test("history upgrade of accounts past one page: full pages, the tail, a page filled mid-commit", async () => {
  const ledger = await makeLedger({
    founders: 3,
    currencies,
    params: { "credit.baseline": 1_000_000, "policy.isolated.velocity": 1000 },
  });
  const m = ledger.members;
  for (let i = 0; i < 150; i++) {
    ledger.clock.advance(60_000);
    const outcome = await pay(ledger, m[i % 3], m[(i + 1 + (i % 2)) % 3], 1 + i);
    expectEqual(outcome.status, "accepted", `transfer ${i}`);
  }
  const { store } = ledger;
  const before = await snapshot(store);
  if (!before.some(([key]) => key[1] === "hp")) throw new Error("no full page");
  const hash = await ledgerStateHash(store);
  await toLegacy(store);
  await upgradeStoreLayout(store);
  await upgradeVelocityOnly(store);
  await Promise.all([
    upgradeLedgerHistory(store, { linesPerCommit: 37 }),
    upgradeLedgerHistory(store, { linesPerCommit: 50 }),
  ]);
  await expectUpgraded(ledger, store, before, hash);
});

/** Runs the velocity part of the ledger upgrade, leaving the old history for the test. */
async function upgradeVelocityOnly(store: Store): Promise<void> {
  const hidden: Store = {
    ...store,
    get: (key) => store.get(key),
    getMany: (keys) => store.getMany(keys),
    commit: (checks, mutations) => store.commit(checks, mutations),
    close: () => {},
    // The history upgrade finds nothing to do when it cannot see the old entries.
    list: (selector, options) =>
      selector.prefix[1] === "hist" && selector.prefix.length === 2
        ? (async function* () {})()
        : store.list(selector, options),
  };
  await upgradeLedgerLayout(hidden);
}

Deno.test("ledger layout upgrade deletes more old keys than one commit takes", async () => {
  const ledger = await fixture();
  const { store } = ledger;
  const before = await snapshot(store);
  const hash = await ledgerStateHash(store);
  await toLegacy(store);
  const payer = ledger.members[3].did;
  const old: StoreMutation[] = Array.from({ length: 450 }, (_, i) => ({
    type: "set",
    key: ledgerKeys.legacyVelocity(payer, i),
    value: 1,
  }));
  await store.commit([], old);
  await upgrade(store);
  await expectUpgraded(ledger, store, before, hash);
});

const opsArbitrary = fc.array(
  fc.record({
    from: fc.nat(3),
    to: fc.nat(3),
    amount: fc.integer({ min: 1, max: 3_000 }),
    kwh: fc.boolean(),
    hold: fc.boolean(),
    advance: fc.integer({ min: 0, max: hourMs }),
  }),
  { minLength: 1, maxLength: 25 },
);

Deno.test("property: the folded velocity and an upgraded old store equal a fresh fold of all chains", async () => {
  await fc.assert(
    fc.asyncProperty(opsArbitrary, async (ops) => {
      const ledger = await makeLedger({
        founders: 4,
        currencies,
        params: { "credit.baseline": 2_000, "policy.isolated.velocity": 3 },
      });
      const m = ledger.members;
      for (const op of ops) {
        ledger.clock.advance(op.advance);
        const to = op.from === op.to ? (op.to + 1) % 4 : op.to;
        if (op.hold) {
          await append(ledger, m[op.from], pendingKind, {
            ...holdBody(m[to], op.amount, { id: `p${ops.indexOf(op)}` }, ledger.clock.now()),
            currency: op.kwh ? "kwh" : "hours",
          });
        } else {
          await pay(ledger, m[op.from], m[to], op.amount, { currency: op.kwh ? "kwh" : "hours" });
        }
      }
      const { store } = ledger;
      // The stored layout equals a fresh fold (`ledger check` refolds every chain and compares).
      expectEqual(await checkLedger(store, { kinds: ledger.deps.kinds }), [], "check");
      const before = await snapshot(store);
      const hash = await ledgerStateHash(store);
      await toLegacy(store);
      await upgrade(store);
      expectEqual(await snapshot(store), before, "upgraded store");
      expectEqual(await ledgerStateHash(store), hash, "state hash");
    }),
    { numRuns: 25 },
  );
});
