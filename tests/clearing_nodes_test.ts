/**
 * Clearing between two cooperatives on four running nodes over loopback, with the clearing agent
 * (`federation.agent`, net/clearing_agent.ts) on each cooperative's delegate's node. Alpha {a1, a2}
 * and Beta {b1, b2}; a1 and b1 are their delegates to the federation; every data dir serves its
 * cooperative and the federation, each from its own node process. Limit 100, rates 1.
 *
 * 1. a2 pays b2 30 with `icn ledger transfer --coop Beta` through its running node: the agents
 *    commit, accept, credit and post; b2 is credited, a2's pending posted, and every node agrees
 *    (positions, `federation check`, `ledger check`, state hashes).
 * 2. a2 pays 80 (30 + 80 > 100): Beta's agent refuses, Alpha's voids, the reservation is released.
 * 3. A partition during a payment: Beta's delegate's node is down while Alpha's agent commits;
 *    then Alpha's two nodes go down, Beta's agent accepts and credits; the four nodes come back
 *    with their clocks past the payment's answer-by time, and every node ends with the payment
 *    accepted, posted once and credited once.
 * 4. Both agents' nodes killed with -9 mid-payment (a1 once its commit is out, b1 once its accept
 *    is): after restart and sync nothing is paid twice.
 * 5. hledger: each cooperative's export and the federation's (`icn federation export`) pass
 *    `hledger check -s`, and each cooperative's clearing account in `hledger balance` equals the
 *    partner's account in the federation's journal and the position.
 *
 * Each node dials every node already running: a cooperative's envelopes travel only among the
 * nodes that serve it, and two Beta nodes that knew only an Alpha node did not find each other.
 *
 * Voting periods are an hour: the set-up is written in data dirs with the CLI's clock stepped past
 * them (`ICN_TEST_CLOCK_OFFSET_MS`, cli/clock.ts), and the nodes run with the same offset; the
 * partition's expiry is passed the same way, by restarting the nodes with a later offset.
 */
import { KvStore } from "../core/store/kv_store.ts";
import { hasCommand, icn, icnExpect } from "./_cli.ts";
import {
  createFederationWorld,
  fullCreditSets,
  quickDelegatesSets,
  transferArgs,
} from "./_federation_world.ts";
import { assert, assertEquals, stateDigest, waitFor } from "./_node_fixture.ts";
import { nodeInfo, spawnNodeWithEnv } from "./_node_process.ts";

interface Balance {
  balance: string;
  reserved?: string;
}
interface Position {
  names: string[];
  owed: string;
  debtor: string | null;
  limit: string | null;
}
interface Commit {
  cid: string;
  id: string;
  status: string;
  reason?: string;
}

/** Generous bounds: the test must pass on a loaded 2-core machine. */
const waitMs = 60_000;

Deno.test({
  name: "clearing on four nodes: agents carry a payment across cooperatives, refuse one over the " +
    "limit, and a partition or a kill -9 mid-payment pays nothing twice",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const root = await Deno.makeTempDir({ prefix: "icn-clearing-nodes-" });
    const names = ["a1", "a2", "b1", "b2"] as const;
    type Name = typeof names[number];
    const home = Object.fromEntries(names.map((n) => [n, `${root}/${n}`])) as Record<Name, string>;
    const coopOf = (n: Name) => n.startsWith("a") ? "Alpha" : "Beta";
    const agents: Name[] = ["a1", "b1"];
    const nodes = new Map<Name, Deno.ChildProcess>();
    const listen = new Map<Name, string>();
    const logs = Object.fromEntries(names.map((n) => [n, ""])) as Record<Name, string>;
    /** The clock offset of the running nodes and of every CLI command. */
    let offsetMs = 0;
    const run = (n: Name, args: string[], code = 0) =>
      icnExpect(code, ["--json", "--data-dir", home[n], ...args], {
        env: { ICN_TEST_CLOCK_OFFSET_MS: String(offsetMs) },
      });
    const cli = async <T = Record<string, unknown>>(n: Name, args: string[]) =>
      (await run(n, args)).json<T>();
    /** `cli`, or undefined when the command exits non-zero (a check that is not yet true). */
    const tryCli = async <T = Record<string, unknown>>(n: Name, args: string[]) => {
      const done = await icn(["--json", "--data-dir", home[n], ...args], {
        env: { ICN_TEST_CLOCK_OFFSET_MS: String(offsetMs) },
      });
      return done.code === 0 ? done.json<T>() : undefined;
    };

    /** Starts `n`, dialling every node running (the nodes of a cooperative must meet). */
    const start = async (n: Name) => {
      // A clean stop removes node.json, a kill -9 does not: a stale one must not be read as new.
      await Deno.remove(`${home[n]}/node.json`).catch(() => {});
      const env: Record<string, string> = { ICN_TEST_CLOCK_OFFSET_MS: String(offsetMs) };
      if (agents.includes(n)) env.ICN_FEDERATION_AGENT = "true";
      const peers = [...listen.values()].flatMap((addr) => ["--bootstrap", addr]);
      const child = spawnNodeWithEnv(home[n], env, ...peers);
      nodes.set(n, child);
      logs[n] += `--- node started at offset ${offsetMs}\n`;
      // Drained so the pipe never fills; shown when the test fails.
      (async () => {
        for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
          logs[n] = (logs[n] + text).slice(-20_000);
        }
      })().catch(() => {});
      const info = await nodeInfo(home[n]);
      listen.set(n, info.listen.find((addr) => addr.startsWith("/ip4/127.0.0.1/"))!);
    };
    /**
     * Starts `which`: first, one at a time, a node of each cooperative none of whose nodes runs;
     * then the others together, each dialling those.
     */
    const startAll = async (which: Name[]) => {
      const first: Name[] = [];
      for (const n of which) {
        const coopRuns = [...nodes.keys(), ...first].some((m) => coopOf(m) === coopOf(n));
        if (!coopRuns) first.push(n);
      }
      for (const n of first) await start(n);
      await Promise.all(which.filter((n) => !first.includes(n)).map(start));
    };
    const forget = (n: Name) => {
      const child = nodes.get(n)!;
      nodes.delete(n);
      listen.delete(n);
      return child;
    };
    /** SIGTERM: each node exits 0 within its bound (SIGKILL after it, failing the test). */
    const stop = async (...which: Name[]) => {
      await Promise.all(which.map(async (n) => {
        const child = forget(n);
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        const { code } = await child.status;
        clearTimeout(timer);
        assertEquals(code, 0, `node of ${n} exits 0 on SIGTERM`);
      }));
    };
    const kill9 = async (n: Name) => {
      const child = forget(n);
      child.kill("SIGKILL");
      await child.status;
    };

    const did = {} as Record<Name, string>;
    const nets: Record<string, string> = {};
    /** Waits until every node holds as many envelopes of each network it serves as the others. */
    const synced = async (phase: string) => {
      const serving: [string, Name[]][] = [
        [nets.Alpha, ["a1", "a2"]],
        [nets.Beta, ["b1", "b2"]],
        [nets.fed, [...names]],
      ];
      let last = "";
      await waitFor(`${phase}: the nodes converge`, async () => {
        const counts = await Promise.all(
          serving.map(([net, which]) =>
            Promise.all(
              which.map(async (n) =>
                (await cli<{ networks: { id: string; envelopes: number }[] }>(n, [
                  "node",
                  "status",
                ]))
                  .networks.find((s) => s.id === net)?.envelopes ?? -1
              ),
            )
          ),
        );
        last = JSON.stringify(counts);
        return counts.every((c) => c.every((x) => x > 0 && x === c[0]));
      }, waitMs).catch((error) => {
        throw new Error(`${(error as Error).message}; envelopes ${last}`);
      });
    };
    const balance = async (n: Name, of: Name) =>
      await cli<Balance>(n, ["ledger", "balance", did[of], "--net", coopOf(of)]);
    const positions = async (n: Name) =>
      (await cli<{ positions: Position[] }>(n, ["federation", "positions"])).positions
        .map((p) => [p.owed, p.debtor === null ? null : p.debtor, p.limit]);
    const commits = async (n: Name) =>
      (await cli<{ commits: Commit[] }>(n, ["federation", "clear", "list"])).commits;
    const statusOf = async (n: Name, payment: string) =>
      (await commits(n)).find((c) => c.id === payment)?.status;
    const pay = (amount: string, id: string) =>
      cli<{ cid: string; status: string }>(
        "a2",
        transferArgs({ net: "Alpha", to: did.b2, coop: "Beta", amount, id }),
      );
    /**
     * Every node agrees: the same positions and clearing outcomes, federation and ledger checks
     * pass, and the two nodes of each cooperative have the same ledger state hash.
     */
    const agreed = async (phase: string, owed: string, outcomes: string[]) => {
      let last = "";
      const until = async (what: string, check: () => Promise<boolean>) =>
        await waitFor(`${phase}: ${what}`, check, waitMs).catch((error) => {
          throw new Error(`${(error as Error).message}; last seen ${last}`);
        });
      await until("every node has the same outcomes and positions", async () => {
        const seen = await Promise.all(names.map(async (n) => ({
          positions: await positions(n),
          outcomes: (await commits(n)).map((c) => c.status),
        })));
        last = JSON.stringify(seen);
        return seen.every((s) =>
          s.positions.length === 1 && s.positions[0][0] === owed &&
          JSON.stringify(s.positions) === JSON.stringify(seen[0].positions) &&
          JSON.stringify(s.outcomes) === JSON.stringify(outcomes)
        );
      });
      await until("each cooperative's nodes have the same ledger state hash", async () => {
        const seen = await Promise.all(
          names.map((n) =>
            tryCli<{ stateHash: string }>(n, ["ledger", "check", "--net", coopOf(n)])
          ),
        );
        last = JSON.stringify(seen);
        return seen.every((s) => s !== undefined) &&
          seen[0]!.stateHash === seen[1]!.stateHash && seen[2]!.stateHash === seen[3]!.stateHash;
      });
      for (const n of names) {
        const checked = await cli<{ ok: boolean }>(n, [
          "federation",
          "check",
          "--coop-net",
          coopOf(n),
        ]);
        assertEquals(checked.ok, true, `${phase}: federation check at ${n}`);
      }
    };
    /** Waits until a2 and b2 (read on their own nodes) hold these balances and no reservation. */
    const balances = async (phase: string, payer: string, payee: string) => {
      let last = "";
      await waitFor(`${phase}: a2 ${payer}, b2 ${payee}`, async () => {
        const seen = [await balance("a2", "a2"), await balance("b2", "b2")];
        last = JSON.stringify(seen);
        return seen[0].balance === payer && (seen[0].reserved ?? "0.00") === "0.00" &&
          seen[1].balance === payee;
      }, waitMs).catch((error) => {
        throw new Error(`${(error as Error).message}; last seen ${last}`);
      });
    };

    /** A step; the ones after a failed step would only fail for its reason. */
    const step = async (name: string, fn: () => Promise<void>) => {
      if (!(await t.step(name, fn))) throw new Error(`Step failed: ${name}`);
    };

    try {
      // ---- Set-up in data dirs (no nodes yet): the bundle carries the agreement's proposal to
      // b1; the nodes sync the rest.
      const world = await createFederationWorld(cli, {
        root,
        names,
        coops: [
          { name: "Alpha", founders: ["a1", "a2"] },
          { name: "Beta", founders: ["b1", "b2"] },
        ],
        sets: [
          ...quickDelegatesSets,
          ...fullCreditSets,
        ],
        federation: { name: "Bread federation", sets: ["federation.clearing.votingPeriod=1h"] },
        agreement: { limit: "100", rate: "1", partnerRate: "1" },
      });
      Object.assign(did, world.did);
      Object.assign(nets, world.nets, { fed: world.federation });
      const fed = world.federation;
      offsetMs = world.decidedAt + 2000 - Date.now();

      await step(
        "a member of Alpha pays a member of Beta through the running nodes",
        async () => {
          await startAll([...names]);
          // The nodes sync the set-up: a2 holds Alpha's delegates, b1's vote reaches everyone.
          await waitFor("the agreement in force on every node", async () => {
            const seen = await Promise.all(names.map(positions));
            return seen.every((p) => p.length === 1 && p[0][2] === "100.00");
          }, waitMs);
          await synced("after start");
          const paid = await pay("30", "p1");
          assertEquals(paid.status, "pending");
          await balances("the first payment", "-30.00", "30.00");
          await agreed("after the first payment", "30.00", ["accepted"]);
        },
      );

      await step("a payment over the limit is refused and the reservation released", async () => {
        const paid = await pay("80", "p2");
        assertEquals(paid.status, "pending");
        await balances("over the limit", "-30.00", "30.00");
        await agreed("after the refusal", "30.00", ["accepted", "refused"]);
        const refused = (await commits("b2")).find((c) => c.id === paid.cid)!;
        assertEquals(refused.status, "refused");
      });

      await step(
        "a partition during a payment resolves to one outcome on every node",
        async () => {
          // Beta's agent is away while Alpha's commits the payment.
          await stop("b1");
          const paid = await pay("20", "p3");
          const answerBy = (paid as unknown as { answerBy: number }).answerBy;
          await waitFor(
            "the commit reaches b2",
            async () => (await statusOf("b2", paid.cid)) === "open",
            waitMs,
          );
          // Alpha's nodes go away; Beta's agent comes back, accepts and credits b2.
          await stop("a1", "a2");
          await startAll(["b1"]);
          await waitFor(
            "b1 accepts and credits b2",
            async () =>
              (await balance("b2", "b2")).balance === "50.00" &&
              (await statusOf("b2", paid.cid)) === "accepted",
            waitMs,
          );
          // Alpha has not seen the accept: a2's 20 is still reserved, its balance unchanged.
          await stop("b1", "b2");
          const unseen = await balance("a2", "a2");
          assertEquals([unseen.balance, unseen.reserved], ["-30.00", "20.00"]);
          assertEquals(await statusOf("a1", paid.cid), "open");
          // Healed after the answer-by time (within the payer's grace): every node ends the same.
          offsetMs = Math.max(offsetMs, answerBy + 60_000 - Date.now());
          await startAll(["b1", "a1", "b2", "a2"]);
          await balances("after the partition", "-50.00", "50.00");
          await agreed("after the partition", "50.00", ["accepted", "refused", "accepted"]);
        },
      );

      await step("agents' nodes killed with -9 mid-payment pay nothing twice", async () => {
        const paid = await pay("15", "p4");
        await waitFor(
          "Alpha's commit is out",
          async () => (await statusOf("b2", paid.cid)) !== undefined,
          waitMs,
        );
        await kill9("a1");
        await waitFor(
          "Beta's accept is out",
          async () => (await statusOf("b2", paid.cid)) === "accepted",
          waitMs,
        );
        await kill9("b1");
        await startAll(["a1", "b1"]);
        await balances("after kill -9", "-65.00", "65.00");
        await agreed("after kill -9", "65.00", ["accepted", "refused", "accepted", "accepted"]);
        // Retrying the payment writes nothing new.
        assertEquals((await pay("15", "p4")).status, "already_exists");
        await synced("before stopping");
        await stop(...names);
        const digests: string[] = [];
        for (const n of names) {
          const store = await KvStore.open(`${home[n]}/networks/${fed}.kv`);
          try {
            digests.push(await stateDigest(store, fed));
          } finally {
            store.close();
          }
        }
        assert(digests.every((d) => d === digests[0]), `federation state hashes ${digests}`);
        await balances("after the nodes stopped", "-65.00", "65.00");
      });

      await t.step({
        name: "hledger checks each cooperative's export and the federation's, and they agree",
        ignore: !hasCommand("hledger"),
        fn: async () => {
          const hledger = async (journal: string, ...args: string[]) => {
            const out = await new Deno.Command("hledger", { args: ["-f", journal, ...args] })
              .output();
            const why = new TextDecoder().decode(out.stderr);
            assertEquals(out.code, 0, `hledger ${args.join(" ")} of ${journal}: ${why}`);
            return new TextDecoder().decode(out.stdout);
          };
          /** `hledger balance PATTERN` as [account, amount] rows. */
          const balancesOf = async (journal: string, pattern: string) =>
            (await hledger(journal, "balance", pattern, "--flat", "--no-total", "-O", "csv"))
              .trim().split("\n").slice(1).map((line) => {
                const [account, amount] = line.split(",").map((c) => c.replace(/^"|"$/g, ""));
                return [account, amount.split(" ")[0]];
              });
          // Alpha owes Beta 65 in the federation: coops:Beta +65, coops:Alpha -65. At rate 1,
          // Alpha's clearing account for Beta holds +65 (its members paid into it) and Beta's
          // for Alpha -65 (Beta's members were paid out of it).
          const [row] = await positions("a1");
          assertEquals([row[0], row[2]], ["65.00", "100.00"], "the position");
          const fedJournal = `${root}/federation.journal`;
          // A bad output is refused, naming it.
          for (const bad of [root, "/dev/full", `${root}/missing/federation.journal`]) {
            const refused = await run("b2", ["federation", "export", "--out", bad], 1);
            assert(refused.stderr.includes(bad), `the refusal names ${bad}: ${refused.stderr}`);
          }
          await cli("b2", ["federation", "export", "--out", fedJournal]);
          await hledger(fedJournal, "check", "-s");
          const fedRows = await balancesOf(fedJournal, "^coops:");
          assertEquals(
            fedRows,
            [
              [`coops:${nets.Alpha}`, "-65.00"],
              [`coops:${nets.Beta}`, "65.00"],
            ].sort(),
            "the federation's accounts",
          );
          const expected = { a1: ["Beta", "65.00"], b1: ["Alpha", "-65.00"] } as const;
          for (const n of ["a1", "b1"] as const) {
            const journal = `${root}/${n}.journal`;
            await cli(n, ["ledger", "export", "--net", coopOf(n), "--out", journal]);
            await hledger(journal, "check", "-s");
            const [partner, amount] = expected[n];
            assertEquals(
              await balancesOf(journal, "^clearing:"),
              [[`clearing:${nets[partner]}`, amount]],
              `${coopOf(n)}'s clearing accounts`,
            );
            // The same figure as the partner's account in the federation's journal.
            const fedSide = fedRows.find(([account]) => account === `coops:${nets[partner]}`);
            assertEquals(fedSide?.[1], amount, `${coopOf(n)} against the federation`);
          }
        },
      });
    } catch (error) {
      // The nodes' own warnings (an agent's failed run, a refused envelope) say why.
      const tails = names.map((n) => `--- node of ${n}:\n${logs[n].slice(-3000)}`).join("\n");
      throw new Error(`${(error as Error).message}\n${tails}`, { cause: error });
    } finally {
      for (const n of [...nodes.keys()]) await kill9(n);
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
