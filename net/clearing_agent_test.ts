/**
 * The clearing agent over in-memory stores: notified, it answers a payment to its cooperative
 * and credits the payee (the cooperative's envelopes are recorded, not applied); as anyone who
 * is not a delegate it does nothing, nor as a delegate other than the first-listed one; a refusal it
 * cannot avoid is logged, not thrown. After its first (catch-up) run, a run reads only the open
 * work: as many keys with 30 decided payments before as with 3, and never a list of the history;
 * an accept made elsewhere and a settlement are found from the envelopes the node tells it of.
 */
import { chainKeys } from "../core/chain/keys.ts";
import { federationRulesFor } from "../core/federation/params.ts";
import {
  FederationNet,
  t0,
  type TestCoop,
  testCoop,
  testFederation,
} from "../core/federation/_fixture.ts";
import type { TestIdentity } from "../core/testing.ts";
import {
  answerKind,
  commitKind,
  readClearing,
  settleKind,
} from "../core/federation/clearing_kinds.ts";
import { clearingCreditKind, clearingSettleKind } from "../core/ledger/clearing.ts";
import { fixedClock } from "../core/ports.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import type { ListOptions, ListSelector, Store, StoreKey } from "../core/store/store.ts";
import { ClearingAgent } from "./clearing_agent.ts";

function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message} expected ${e}, got ${a}`);
}

const params = { "federation.clearing.votingPeriod": 1000 };

async function world(options: { delegates?: number } = {}) {
  const alpha = await testCoop("Alpha", [1, 2]);
  const beta = await testCoop("Beta", [3, 4]);
  const file = await testFederation([alpha, beta], { params, delegates: options.delegates });
  const [a] = alpha.members;
  const [b, b2] = beta.members;
  const fed = await FederationNet.create(file, [a, b, b2]);
  const agreement = await fed.submit(a, "fed.proposal", {
    coop: alpha.net,
    kind: "clearing",
    title: "Clearing",
    body: "",
    action: {
      coopA: alpha.net,
      coopB: beta.net,
      limit: 100,
      rateA: "1",
      rateB: "1",
      settlementInterval: 86_400_000,
    },
    rules: federationRulesFor(params, "clearing"),
  }, t0 + 1);
  await fed.submit(a, "fed.vote", { proposal: agreement, coop: alpha.net, choice: "for" }, t0 + 2);
  await fed.submit(b, "fed.vote", { proposal: agreement, coop: beta.net, choice: "for" }, t0 + 3);
  const ts = t0 + 2000;
  const commit = await fed.submit(a, commitKind, {
    id: "p1",
    from: alpha.net,
    to: beta.net,
    payer: alpha.members[1].did,
    payee: b2.did,
    amount: 40,
    amountFrom: 40,
    amountTo: 40,
    expires: ts + 60_000,
  }, ts);
  // Beta's store: its genesis is all the agent reads of it here (b2 is a founder, so a member).
  const coopStore = new MemoryStore();
  await coopStore.commit([], [
    { type: "set", key: chainKeys.genesis(beta.net), value: beta.file.genesis },
  ]);
  return { alpha, beta, b, b2, fed, commit, coopStore, ts };
}

/**
 * An agent for cooperative `coop` as `did` at `now`, writing into `written` (federation
 * envelopes really submitted as `signer` when given, else faked) and logging into `info`/`warnings`.
 */
function testAgent(options: {
  fed: FederationNet;
  fedStore?: Store;
  coop: { id: string; store: Store };
  did: string;
  now: number;
  signer?: TestIdentity;
}) {
  const { fed, did, now, signer } = options;
  const written: { net: string; kind: string; body: Record<string, unknown> }[] = [];
  const info: string[] = [];
  const warnings: string[] = [];
  const controller = new AbortController();
  const agent = new ClearingAgent({
    fed: { id: fed.net, store: options.fedStore ?? fed.store },
    coop: options.coop,
    did,
    clock: fixedClock(now),
    submit: async (net, request) => {
      written.push({ net, ...request } as never);
      if (signer && net === fed.net) {
        return { cid: await fed.submit(signer, request.kind, request.body, now) };
      }
      return { cid: `bafyfake${written.length}` };
    },
    logger: {
      debug() {},
      info: (event) => info.push(event),
      warn: (event, fields) => warnings.push(`${event} ${JSON.stringify(fields)}`),
      error() {},
    },
    signal: controller.signal,
  }, { intervalMs: 3_600_000 });
  /** Stops the agent and its signal. */
  const stop = async () => {
    await agent.stop();
    controller.abort();
  };
  return { agent, written, info, warnings, stop };
}

Deno.test("ClearingAgent answers a payment to its cooperative and credits the payee", async () => {
  const { beta, b, fed, commit, coopStore, ts } = await world();
  const { agent, written, warnings, stop } = testAgent({
    fed,
    coop: { id: beta.net, store: coopStore },
    did: b.did,
    now: ts + 10,
    signer: b,
  });
  agent.start();
  agent.notify();
  await agent.idle();
  await stop();
  assertEquals(warnings, []);
  const reading = await readClearing(fed.view(), ts + 20);
  assertEquals(reading.state.commits.get(commit)?.status, "accepted");
  const credits = written.filter((w) => w.kind === clearingCreditKind);
  // The fake cooperative store never records the credit, so each run credits again: the real
  // handler refuses the second (`duplicate`); here only its body is checked.
  assertEquals(credits.length >= 1, true, "a credit was written");
  assertEquals(
    [credits[0].net, credits[0].body.commit, credits[0].body.amount],
    [beta.net, commit, 40],
  );
});

Deno.test("ClearingAgent does nothing for an identity that is not a delegate", async () => {
  const { beta, b2, fed, coopStore, ts } = await world();
  const { agent, written, stop } = testAgent({
    fed,
    coop: { id: beta.net, store: coopStore },
    did: b2.did,
    now: ts + 10,
  });
  agent.start();
  await agent.idle();
  await stop();
  assertEquals(written, []);
  assertEquals(agent.actions, 0);
});

Deno.test("ClearingAgent of a second delegate stands by: the first-listed delegate's agent answers", async () => {
  const { beta, b, b2, fed, coopStore, ts } = await world({ delegates: 2 });
  const current = await fed.view().delegatesAt(beta.net, ts + 10);
  assertEquals([...current!.delegates].sort(), [b.did, b2.did].sort(), "Beta has two delegates");
  const [firstDid, secondDid] = current!.delegates;
  const run = async (did: string) => {
    const { agent, written, info, stop } = testAgent({
      fed,
      coop: { id: beta.net, store: coopStore },
      did,
      now: ts + 10,
    });
    agent.start();
    agent.notify();
    await agent.idle();
    await stop();
    return { written: written.map((w) => w.kind), logged: info };
  };
  const second = await run(secondDid);
  assertEquals(second.written, [], "the second delegate's agent writes nothing");
  assertEquals(second.logged, ["clearing_agent_standby"], "and says once that it stands by");
  const first = await run(firstDid);
  assertEquals(first.written.includes(answerKind), true, "the first-listed delegate answers");
});

/** A store that counts what is read from it: each `get` key and each entry a `list` yields. */
function countingStore(inner: MemoryStore) {
  const counts = { reads: 0, prefixes: [] as string[] };
  const store: Store = {
    get<T>(key: StoreKey) {
      counts.reads++;
      return inner.get<T>(key);
    },
    getMany<T>(keys: readonly StoreKey[]) {
      counts.reads += keys.length;
      return inner.getMany<T>(keys);
    },
    async *list<T>(selector: ListSelector, options?: ListOptions) {
      counts.prefixes.push(selector.prefix.join("/"));
      for await (const entry of inner.list<T>(selector, options)) {
        counts.reads++;
        yield entry;
      }
    },
    commit: (checks, mutations) => inner.commit(checks, mutations),
    close: () => inner.close(),
  };
  return { store, counts };
}

/**
 * Alpha pays Beta `decided` payments, each answered, then one more that stays open; Beta's agent
 * runs once (it catches up on what was decided before it started), then once more when the open
 * one arrives: what that run reads is counted.
 */
interface HistoryWorld {
  fed: FederationNet;
  alpha: TestCoop;
  beta: TestCoop;
  b: TestIdentity;
  now: number;
  pay(id: string, at: number): Promise<string>;
}

/** What arrives after the agent caught up: by default one payment to Beta, left open. */
type Arrival = (
  world: HistoryWorld,
) => Promise<{ open: string; envelope: { kind: string; body: unknown } }>;

const openPayment: Arrival = async (world) => ({
  open: await world.pay("open", world.now),
  envelope: { kind: commitKind, body: {} },
});

async function agentRunAfterHistory(decided: number, arrive: Arrival = openPayment) {
  const alpha = await testCoop("Alpha", [1, 2]);
  const beta = await testCoop("Beta", [3, 4]);
  const file = await testFederation([alpha, beta], { params });
  const [a] = alpha.members;
  const [b, b2] = beta.members;
  const fed = await FederationNet.create(file, [a, b]);
  const agreement = await fed.submit(a, "fed.proposal", {
    coop: alpha.net,
    kind: "clearing",
    title: "Clearing",
    body: "",
    action: {
      coopA: alpha.net,
      coopB: beta.net,
      limit: 1_000_000,
      rateA: "1",
      rateB: "1",
      settlementInterval: 86_400_000,
    },
    rules: federationRulesFor(params, "clearing"),
  }, t0 + 1);
  await fed.submit(a, "fed.vote", { proposal: agreement, coop: alpha.net, choice: "for" }, t0 + 2);
  await fed.submit(b, "fed.vote", { proposal: agreement, coop: beta.net, choice: "for" }, t0 + 3);
  const ts = t0 + 2000;
  const pay = (id: string, at: number) =>
    fed.submit(a, commitKind, {
      id,
      from: alpha.net,
      to: beta.net,
      payer: alpha.members[1].did,
      payee: b2.did,
      amount: 1,
      amountFrom: 1,
      amountTo: 1,
      expires: at + 600_000,
    }, at);
  for (let i = 0; i < decided; i++) {
    const commit = await pay(`d${i}`, ts + i);
    const choice = i % 3 === 0 ? "refuse" : "accept";
    await fed.submit(b, answerKind, { commit, choice }, ts + i);
  }
  const coopInner = new MemoryStore();
  await coopInner.commit([], [
    { type: "set", key: chainKeys.genesis(beta.net), value: beta.file.genesis },
  ]);
  const fedCounted = countingStore(fed.store);
  const coopCounted = countingStore(coopInner);
  const now = ts + decided + 10;
  const { agent, written, warnings, stop } = testAgent({
    fed,
    fedStore: fedCounted.store,
    coop: { id: beta.net, store: coopCounted.store },
    did: b.did,
    now,
    signer: b,
  });
  agent.start();
  await agent.idle();
  const { open, envelope } = await arrive({ fed, alpha, beta, b, now, pay });
  written.length = 0;
  for (const counted of [fedCounted, coopCounted]) {
    counted.counts.reads = 0;
    counted.counts.prefixes.length = 0;
  }
  agent.notify(envelope);
  await agent.idle();
  await stop();
  assertEquals(warnings, []);
  return {
    open,
    written,
    fed: fedCounted.counts,
    coop: coopCounted.counts,
    status: (await readClearing(fed.view(), now)).state.commits.get(open)?.status,
  };
}

Deno.test("ClearingAgent run after many decided payments reads and acts on the open one only", async () => {
  const few = await agentRunAfterHistory(3);
  const many = await agentRunAfterHistory(30);
  for (const run of [few, many]) {
    assertEquals(run.status, "accepted", "the open payment is accepted");
    assertEquals(
      run.written.map((w) => [w.kind, w.body.commit]),
      [[answerKind, run.open], [clearingCreditKind, run.open]],
      "the run answers and credits the open payment, and nothing else",
    );
    // No list of the history: commits, answers, notes, outcomes, settlements, clearing pays.
    const history = ["fed/clr/c", "fed/clr/a", "fed/clr/s", "fed/clr/o", "fed/clr/so"];
    for (const prefix of [...run.fed.prefixes, ...run.coop.prefixes]) {
      assertEquals(history.includes(prefix) || prefix === "ledger/clr/pay", false, prefix);
    }
  }
  assertEquals(
    [many.fed.reads, many.coop.reads],
    [few.fed.reads, few.coop.reads],
    "reads of a run with 30 decided payments before, against 3",
  );
});

Deno.test("ClearingAgent credits a payment answered elsewhere and books a settlement, from the envelopes it is told of", async (t) => {
  await t.step("an accept by another data dir of the cooperative: credited", async () => {
    const run = await agentRunAfterHistory(6, async (world) => {
      const open = await world.pay("open", world.now);
      const body = { commit: open, choice: "accept" };
      await world.fed.submit(world.b, answerKind, body, world.now);
      return { open, envelope: { kind: answerKind, body } };
    });
    assertEquals(run.status, "accepted");
    assertEquals(
      run.written.map((w) => [w.kind, w.body.commit]),
      [[clearingCreditKind, run.open]],
      "the run credits the payment and answers nothing",
    );
  });
  await t.step("a settlement both sides noted: booked", async () => {
    const run = await agentRunAfterHistory(6, async (world) => {
      const body = { id: "s1", payer: world.alpha.net, payee: world.beta.net, amount: 2 };
      const [a] = world.alpha.members;
      await world.fed.submit(a, settleKind, { ...body, by: world.alpha.net }, world.now);
      await world.fed.submit(world.b, settleKind, { ...body, by: world.beta.net }, world.now);
      return { open: "s1", envelope: { kind: settleKind, body: { ...body, by: world.beta.net } } };
    });
    assertEquals(
      run.written.map((w) => [w.kind, w.body.id, w.body.direction, w.body.amount]),
      [[clearingSettleKind, "s1", "received", 2]],
      "the run books the settlement Beta received",
    );
  });
});
