import { deepStrictEqual as assertEquals } from "node:assert";
import type { CommitOutcome, CommitRecord } from "./clearing.ts";
import { coopAccount, federationJournal } from "./export.ts";

const hours = { code: "hours", decimals: 2 } as never;
const day = Date.UTC(2026, 11, 2);

function commit(cid: string, from: string, to: string, amount: bigint): CommitRecord {
  return {
    cid,
    id: `pay-${cid}`,
    from,
    to,
    payer: "did:icn:zPayer",
    payee: "did:icn:zPayee",
    amount,
    amountFrom: amount,
    amountTo: amount,
    expires: day + 3_600_000,
    ts: day,
    author: "did:icn:zDelegate",
  };
}

Deno.test("federationJournal() books accepted payments and applied settlements, nothing else", () => {
  const commits = [
    commit("c1", "netA", "netB", 3000n),
    commit("c2", "netA", "netB", 8000n),
    commit("c3", "netB", "netA", 500n),
  ];
  const outcomes = new Map<string, CommitOutcome>([
    ["c1", { status: "accepted", decidedAt: day + 1000 }],
    ["c2", { status: "refused", reason: "over_limit", decidedAt: day + 2000 }],
    ["c3", { status: "accepted", decidedAt: day + 3000 }],
  ]);
  const settlements = [
    {
      id: "s1",
      pair: "netA/netB",
      status: "applied" as const,
      amount: 1000n,
      payer: "netA",
      payee: "netB",
      appliedAt: day + 4000,
    },
    {
      id: "s2",
      pair: "netA/netB",
      status: "noted" as const,
      amount: 9000n,
      payer: "netA",
      payee: "netB",
    },
  ];
  const journal = federationJournal({
    reading: { commits, state: { pairs: new Map(), commits: outcomes, settlements } },
    coops: [{ net: "netB", name: "Beta" }, { net: "netA", name: "Alpha; the first" }],
    currency: hours,
  });
  const postings = journal.split("\n").filter((l) => /^ {4}coops:/.test(l)).map((l) => l.trim());
  assertEquals(postings, [
    "coops:netA  -30.00 hours",
    "coops:netB  30.00 hours",
    "coops:netB  -5.00 hours",
    "coops:netA  5.00 hours",
    "coops:netA  10.00 hours",
    "coops:netB  -10.00 hours",
  ]);
  // Declared accounts (hledger check -s), names kept to one comment.
  assertEquals(journal.split("\n").filter((l) => l.startsWith("account ")), [
    `account ${coopAccount("netA")}  ; Alpha  the first`,
    `account ${coopAccount("netB")}  ; Beta`,
  ]);
  assertEquals(journal.includes("commodity 1000.00 hours"), true);
});
