/**
 * Governance benchmark: tally of one proposal with 100,000 eligible members,
 * 100,000 vote records (80,000 voters, 20,000 of them changing their vote)
 * and 20,000 delegations (chains of 1–4 links), against a baseline that only
 * counts the direct votes of the same members in the same run. Also times
 * the same tally read back from a store (MemoryStore) through GovernanceView.
 */
import { StateOverlay } from "../core/chain/state.ts";
import { createGenesis } from "../core/governance/genesis.ts";
import { type Choice, tally } from "../core/governance/tally.ts";
import {
  type DelegationRecord,
  GovernanceView,
  govKeys,
  type ProposalRecord,
  rulesFor,
  type VoteRecord,
} from "../core/governance/view.ts";
import { didFromPublicKey } from "../core/identity/did.ts";
import { Coop, t0 } from "../core/governance/_fixture.ts";
import { isMember, paramsAt } from "../core/governance/membership.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import type { StoreMutation } from "../core/store/store.ts";
import { parseScriptArgs, scriptSpec } from "./_args.ts";

parseScriptArgs(scriptSpec({
  usage: "deno run -A scripts/bench_governance.ts",
  description: "Tally of one proposal with 100,000 eligible members, votes and delegations,\n" +
    "against counting direct votes only (a markdown report on stdout).",
}));

const eligibleCount = 100_000;
const voteCount = 100_000;
const delegationCount = 20_000;
const targetMs = 200;
const runs = 7;

const members = Array.from({ length: eligibleCount }, (_, i) => `did:icn:member${i}`);
const eligible = new Set(members);
const voters = members.slice(delegationCount); // 80,000 direct voters
const choices: Choice[] = ["for", "against", "abstain"];
/** Vote records in arrival order: every voter once, then 20,000 of them again. */
const records: { voter: string; choice: Choice; seq: number }[] = [];
for (let i = 0; i < voters.length; i++) {
  records.push({ voter: voters[i], choice: choices[i % 3], seq: 1 });
}
for (let i = 0; records.length < voteCount; i++) {
  records.push({ voter: voters[i * 3], choice: "for", seq: 2 });
}
/** Delegators 0..19,999: chains of 1–4 links ending in a voter (4-link ones do not count). */
const delegations = new Map<string, string>();
for (let i = 0; i < delegationCount; i++) {
  const depth = (i % 4) + 1;
  delegations.set(
    members[i],
    depth === 1 || i + 1 >= delegationCount ? voters[i % voters.length] : members[i + 1],
  );
}
const rules = { quorum: 50, approval: 50, mode: "majority" as const };

function fullTally() {
  const latest = new Map<string, { choice: Choice; seq: number }>();
  for (const record of records) {
    const previous = latest.get(record.voter);
    if (!previous || previous.seq < record.seq) latest.set(record.voter, record);
  }
  const votes = new Map<string, Choice>();
  for (const [voter, vote] of latest) votes.set(voter, vote.choice);
  return tally({ eligible, votes, delegations, rules });
}

function baseline() {
  const votes = new Map<string, Choice>();
  for (const record of records) votes.set(record.voter, record.choice);
  let cast = 0;
  for (const member of members) if (votes.has(member)) cast++;
  return cast;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

for (let i = 0; i < 3; i++) {
  fullTally();
  baseline();
}
const tallyMs: number[] = [];
const baseMs: number[] = [];
for (let i = 0; i < runs; i++) {
  baseMs.push(time(baseline));
  tallyMs.push(time(fullTally));
}
const result = fullTally();

// The same proposal stored as the kind handlers store it, tallied through the view.
const genesis = createGenesis({
  name: "Bench",
  members: [didFromPublicKey(new Uint8Array(32).fill(1))],
  created: 0,
});
const store = new MemoryStore();
const record: ProposalRecord = {
  id: "bafybench",
  author: members[0],
  kind: "text",
  title: "Bench",
  text: "",
  action: {},
  rules: rulesFor(genesis.params, "text"),
  opened: 1000,
  closes: 1000 + 7 * 86_400_000,
  effective: 1000 + 7 * 86_400_000,
};
const mutations: StoreMutation[] = [
  { type: "set", key: govKeys.proposal(record.id), value: record },
];
for (const r of records) {
  const vote: VoteRecord = { choice: r.choice, ts: 2000, seq: r.seq, cid: "bafyvote" };
  mutations.push({ type: "set", key: govKeys.vote(record.id, r.voter), value: vote });
}
for (const [delegator, to] of delegations) {
  const value: DelegationRecord = { delegator, scope: "all", to, ts: 500, cid: "bafydel" };
  mutations.push({ type: "set", key: govKeys.delegation(delegator, "all", 500, "bafydel"), value });
}
await store.commit([], mutations);
// The stored proposal's eligible set comes from the genesis; give the view the same 100,000.
const bigGenesis = { ...genesis, members: [...members].sort() };
let storedMs = performance.now();
const stored = await new GovernanceView(new StateOverlay(store), bigGenesis).tally(record);
storedMs = performance.now() - storedMs;

// What ledger validation pays per envelope: isMember + paramsAt with 100 decided proposals
// (50 membership, 50 config), on a cold view (first query after a governance change)
// and on a warm one (same governance revision).
const coop = await Coop.create(5, 50, {
  "governance.membership.votingPeriod": 10_000,
  "governance.config.votingPeriod": 10_000,
  "governance.config.timelock": 0,
});
const decided = [];
for (let i = 0; i < 50; i++) {
  const [p0, p1, p2] = coop.people;
  const admit = await coop.seal(
    p0,
    "gov.proposal",
    coop.proposalBody("membership", { admit: coop.people[5 + i].did }),
    t0 + i,
  );
  const config = await coop.seal(
    p1,
    "gov.proposal",
    coop.proposalBody("config", { set: { "credit.baseline": 10_000 + i } }),
    t0 + i,
  );
  decided.push(admit, config);
  for (const who of [p0, p1, p2]) {
    for (const proposal of [admit, config]) {
      decided.push(
        await coop.seal(who, "gov.vote", { proposal: proposal.cid, choice: "for" }, t0 + 100 + i),
      );
    }
  }
}
await coop.ingestAll(decided);
const queryTs = t0 + 1_000_000;
const query = async () => {
  const reader = coop.reader();
  await isMember(reader, coop.genesis, coop.people[40].did, queryTs);
  return await paramsAt(reader, coop.genesis, queryTs);
};
const coldStart = performance.now();
const coldParams = await query();
const coldMs = performance.now() - coldStart;
const warmRuns: number[] = [];
for (let i = 0; i < 50; i++) {
  const start = performance.now();
  await query();
  warmRuns.push(performance.now() - start);
}
const warmMs = median(warmRuns);
if (coldParams["credit.baseline"] !== 10_049) throw new Error("unexpected params");

const t = median(tallyMs);
const b = median(baseMs);
const lines = [
  "## Governance tally",
  "",
  `100,000 eligible, ${records.length.toLocaleString("en")} vote records (${
    voters.length.toLocaleString("en")
  } voters), ${delegations.size.toLocaleString("en")} delegations; median of ${runs} runs.`,
  "",
  "| what | ms | vs baseline |",
  "| --- | ---: | ---: |",
  `| baseline: count direct votes only | ${b.toFixed(1)} | 1.0× |`,
  `| tally(): latest vote, delegation chains, outcome | ${t.toFixed(1)} | ${(t / b).toFixed(1)}× |`,
  `| GovernanceView.tally() from a MemoryStore (once) | ${storedMs.toFixed(0)} | ${
    (storedMs / b).toFixed(1)
  }× |`,
  `| isMember + paramsAt, 100 decided proposals, cold view | ${coldMs.toFixed(1)} | ${
    (coldMs / b).toFixed(1)
  }× |`,
  `| isMember + paramsAt, same revision (warm, median of 50) | ${warmMs.toFixed(2)} | ${
    (warmMs / b).toFixed(2)
  }× |`,
  "",
  `Result: cast ${result.cast} (${result.delegated} delegated), for ${result.for}, outcome ${result.outcome}; ` +
  `stored path agrees: ${stored.cast === result.cast && stored.for === result.for}.`,
  `Target: tally ≤ ${targetMs} ms — ${t <= targetMs ? "met" : "NOT met"}.`,
];
Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
if (t > targetMs) Deno.exit(1);
