/**
 * A federation on four running nodes over loopback. Two cooperatives of three members each, Alpha
 * {x, a2, a3} and Beta {x, b2, b3}: x is a member of both, and its node serves Alpha, Beta and the
 * federation; a2 (Alpha's delegate) serves Alpha and the federation; b2 (Beta's delegate) serves
 * Beta and the federation; a3 serves Alpha alone. b3 and g1 (Gamma's one founder and delegate) run
 * no node. Alpha and Beta form a federation, admit Gamma by a federation vote (both cooperatives
 * for, each delegate casting through its own node) and remove it by another. Every node serving
 * the federation agrees on its members and state hash; a network's envelopes never reach a node
 * that does not serve it, neither its stores nor its `icn_network_envelopes_received_total{net}`.
 *
 * Voting periods are an hour: instead of sleeping through them, the nodes are restarted with their
 * clock moved past the admission (`ICN_TEST_CLOCK_OFFSET_MS`, cli/clock.ts) — the node dates the
 * envelopes written through it — and reads step the CLI's clock past each effective time.
 */
import { readHeads } from "../core/chain/read.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { icnExpect } from "./_cli.ts";
import { assert, assertEquals, stateDigest, waitFor } from "./_node_fixture.ts";
import { killAll, netCounter, nodeInfo, spawnNodeWithEnv, stopWithin } from "./_node_process.ts";

interface Members {
  coops: { net: string; name: string; delegates: string[] }[];
}
interface Shown {
  tally: { for: number; cast: number; outcome: string };
}
interface Status {
  networks: { id: string; envelopes: number }[];
}

/** Generous bounds: the test must pass on a loaded 2-core machine. */
const waitMs = 45_000;

Deno.test({
  name: "four nodes: a federation of two cooperatives admits and removes a third by vote, " +
    "every federation node agrees, and no network's envelopes reach a node that does not serve it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "icn-federation-nodes-" });
    const names = ["x", "a2", "a3", "b2", "b3", "g1"] as const;
    type Name = typeof names[number];
    const home = Object.fromEntries(names.map((n) => [n, `${root}/${n}`])) as Record<Name, string>;
    const nodes = new Map<Name, Deno.ChildProcess>();
    const urls = new Map<Name, string>();
    /** The clock offset of the running nodes and of the CLI commands that write through them. */
    let offsetMs = 0;
    const cli = async (n: Name, args: string[], readOffsetMs = offsetMs) =>
      (await icnExpect(0, ["--json", "--data-dir", home[n], ...args], {
        env: { ICN_TEST_CLOCK_OFFSET_MS: String(readOffsetMs) },
      })).json<Record<string, unknown>>();

    const startNodes = async (served: Name[]) => {
      const env = { ICN_TEST_CLOCK_OFFSET_MS: String(offsetMs) };
      // node.json is removed by a clean stop; a stale one must not be read as the new node's.
      await Promise.all(served.map((n) => Deno.remove(`${home[n]}/node.json`).catch(() => {})));
      nodes.set("x", spawnNodeWithEnv(home.x, env));
      const first = await nodeInfo(home.x);
      urls.set("x", first.url);
      const bootstrap = first.listen.find((addr) => addr.startsWith("/ip4/127.0.0.1/"))!;
      for (const n of served.filter((n) => n !== "x")) {
        nodes.set(n, spawnNodeWithEnv(home[n], env, "--bootstrap", bootstrap));
      }
      for (const n of served) urls.set(n, (await nodeInfo(home[n])).url);
    };
    const stopNodes = async () => {
      const stopped = await Promise.all(
        [...nodes].map(async ([n, child]) => [n, (await stopWithin(child, 15_000)).code] as const),
      );
      nodes.clear();
      for (const [n, code] of stopped) assertEquals(code, 0, `node of ${n} exits 0 on SIGTERM`);
    };
    const status = async (n: Name) => (await cli(n, ["node", "status"])) as unknown as Status;
    const envelopesIn = async (n: Name, net: string) =>
      (await status(n)).networks.find((s) => s.id === net)?.envelopes ?? -1;
    const members = async (n: Name, atMs: number) =>
      ((await cli(n, ["federation", "members"], atMs - Date.now())) as unknown as Members).coops
        .map((c) => c.name).sort();

    try {
      // Identities; three cooperatives, each founder signing.
      const did = Object.fromEntries(
        await Promise.all(
          names.map(async (n) => [n, (await cli(n, ["id", "init"])).did as string] as const),
        ),
      ) as Record<Name, string>;
      const genesis = async (name: string, founders: Name[]) => {
        const file = `${root}/${name}.json`;
        const created = await cli(founders[0], [
          "governance",
          "genesis",
          "create",
          "--name",
          name,
          ...founders.slice(1).flatMap((n) => ["--member", did[n]]),
          "--out",
          file,
        ]);
        for (const n of founders) await cli(n, ["governance", "genesis", "sign", file]);
        return { file, id: created.id as string };
      };
      const [alpha, beta, gamma] = await Promise.all([
        genesis("Alpha", ["a2", "x", "a3"]),
        genesis("Beta", ["b2", "x", "b3"]),
        genesis("Gamma", ["g1"]),
      ]);
      // Meanwhile a2 writes the federation (Alpha's delegate by default), b2 is Beta's; both sign.
      const join = (n: Name, file: string) => cli(n, ["governance", "join", file]);
      const fedFile = `${root}/federation.json`;
      const rules = ["admit", "remove"].flatMap((kind) => [
        "--set",
        `federation.${kind}.votingPeriod=1h`,
        "--set",
        `federation.${kind}.timelock=1s`,
      ]);
      const federate = async () => {
        await cli("a2", [
          "federation",
          "create",
          "--name",
          "Bread federation",
          "--coop",
          alpha.file,
          "--coop",
          beta.file,
          "--delegate",
          `Beta=${did.b2}`,
          ...rules,
          "--out",
          fedFile,
        ]);
        await cli("a2", ["federation", "sign", fedFile]);
        await cli("b2", ["federation", "sign", fedFile]);
      };
      await Promise.all([
        join("x", alpha.file).then(() => join("x", beta.file)),
        join("a2", alpha.file),
        join("a3", alpha.file),
        join("b2", beta.file),
        federate(),
      ]);
      const fed = (await Promise.all(
        (["a2", "b2", "x"] as const).map((n) => cli(n, ["federation", "join", fedFile])),
      ))[0].id as string;

      const fedNodes: Name[] = ["x", "a2", "b2"];
      const served: Record<Name, string[]> = {
        x: [alpha.id, beta.id, fed],
        a2: [alpha.id, fed],
        b2: [beta.id, fed],
        a3: [alpha.id],
        b3: [],
        g1: [],
      };
      const all = [alpha.id, beta.id, fed];
      const nodeNames: Name[] = ["x", "a2", "b2", "a3"];

      /** Each node's received counters: zero for every network it does not serve. */
      const checkCounters = async (phase: string) => {
        for (const n of nodeNames) {
          for (const net of all.filter((id) => !served[n].includes(id))) {
            const received = await netCounter(
              urls.get(n)!,
              "icn_network_envelopes_received_total",
              net,
            );
            assertEquals(received, 0, `${phase}: ${n} received envelopes of ${net}`);
          }
        }
      };
      /** With the nodes stopped: no store of a data dir holds a chain of a network it does not serve. */
      const checkStores = async (phase: string) => {
        for (const n of nodeNames) {
          const files = [`${home[n]}/icn.kv`];
          try {
            for await (const entry of Deno.readDir(`${home[n]}/networks`)) {
              if (entry.name.endsWith(".kv")) files.push(`${home[n]}/networks/${entry.name}`);
            }
          } catch (error) {
            if (!(error instanceof Deno.errors.NotFound)) throw error;
          }
          assertEquals(files.length, served[n].length, `${phase}: ${n}'s stores`);
          const held = new Set<string>();
          for (const file of files) {
            const store = await KvStore.open(file);
            try {
              for (const net of all) {
                const heads = await readHeads(store, net);
                if (heads.size > 0) held.add(net);
                if (!served[n].includes(net)) {
                  assertEquals(heads.size, 0, `${phase}: ${file} holds chains of ${net}`);
                }
              }
            } finally {
              store.close();
            }
          }
          // And the check reads what is there: each network served has chains in its store.
          assertEquals(
            [...held].sort(),
            [...served[n]].sort(),
            `${phase}: ${n} holds its networks`,
          );
        }
      };
      const fedDigests = async () => {
        const out: string[] = [];
        for (const n of fedNodes) {
          const store = await KvStore.open(`${home[n]}/networks/${fed}.kv`);
          try {
            out.push(await stateDigest(store, fed));
          } finally {
            store.close();
          }
        }
        return out;
      };
      /** Waits until every federation node holds as many federation envelopes as `n` does. */
      const fedConverged = async (what: string) => {
        await waitFor(what, async () => {
          const counts = await Promise.all(fedNodes.map((n) => envelopesIn(n, fed)));
          return counts.every((c) => c > 0 && c === counts[0]);
        }, waitMs);
      };

      // Phase 1: the nodes at the real time.
      await startNodes(nodeNames);
      await waitFor("x serves Alpha, Beta and the federation", async () => {
        const ids = (await status("x")).networks.map((s) => s.id).sort();
        return JSON.stringify(ids) === JSON.stringify([...served.x].sort());
      }, waitMs);

      // Each cooperative writes through its members' nodes: the envelopes reach the nodes that
      // serve it (positive control for the isolation checks below).
      const alphaBefore = await envelopesIn("a3", alpha.id);
      const betaBefore = await envelopesIn("b2", beta.id);
      await Promise.all([
        cli("a2", ["trust", "add", did.a3, "0.6", "--net", "Alpha"]),
        cli("b2", ["trust", "add", did.b3, "0.6", "--net", "Beta"]),
        cli("x", ["trust", "add", did.a2, "0.7", "--net", "Alpha"])
          .then(() => cli("x", ["trust", "add", did.b2, "0.7", "--net", "Beta"])),
      ]);
      await waitFor(
        "Alpha's writes reach a3, Beta's b2",
        async () =>
          (await envelopesIn("a3", alpha.id)) >= alphaBefore + 2 &&
          (await envelopesIn("b2", beta.id)) >= betaBefore + 2,
        waitMs,
      );

      // Gamma is admitted: Alpha's delegate proposes, both delegates vote through their nodes.
      const admit = await cli("a2", [
        "federation",
        "propose",
        "--kind",
        "admit",
        "--title",
        "Admit Gamma",
        "--admit",
        gamma.file,
        "--delegate",
        did.g1,
      ]) as { id: string; closes: number };
      await waitFor("the admission reaches b2", async () => {
        const listed = (await cli("b2", ["federation", "list"])).proposals as { id: string }[];
        return listed.some((p) => p.id === admit.id);
      }, waitMs);
      await Promise.all([
        cli("a2", ["federation", "vote", admit.id, "for"]),
        cli("b2", ["federation", "vote", admit.id, "for"]),
      ]);
      await Promise.all(
        fedNodes.map((n) =>
          waitFor(`both votes on the admission reach ${n}`, async () => {
            const shown = (await cli(n, ["federation", "show", admit.id])) as unknown as Shown;
            return shown.tally.cast === 2;
          }, waitMs)
        ),
      );
      await fedConverged("the federation nodes converge after the admission");
      const admitted = admit.closes + 1000 + 1000;
      await Promise.all(fedNodes.map(async (n) => {
        const shown = (await cli(
          n,
          ["federation", "show", admit.id],
          admitted - Date.now(),
        )) as unknown as Shown;
        assertEquals([shown.tally.for, shown.tally.cast, shown.tally.outcome], [2, 2, "Accepted"]);
        assertEquals(await members(n, admitted), ["Alpha", "Beta", "Gamma"], `members at ${n}`);
      }));
      await checkCounters("after the admission");
      // The counters do count: each network's envelopes arrived, by the network, where it is served.
      const arrived: [Name, string][] = [
        ...fedNodes.map((n) => [n, fed] as [Name, string]),
        ["a3", alpha.id],
        ["x", alpha.id],
        ["x", beta.id],
      ];
      for (const [n, net] of arrived) {
        const received = await netCounter(
          urls.get(n)!,
          "icn_network_envelopes_received_total",
          net,
        );
        assert(received > 0, `${n} received envelopes of ${net}`);
      }
      await stopNodes();
      const [d1, d2, d3] = await fedDigests();
      assertEquals([d1 === d2, d2 === d3], [true, true], "federation state hash after admission");
      await checkStores("after the admission");

      // Phase 2: restart every node with its clock past the admission's effective time.
      offsetMs = admitted + 1000 - Date.now();
      await startNodes(nodeNames);
      const remove = await cli("b2", [
        "federation",
        "propose",
        "--kind",
        "remove",
        "--title",
        "Remove Gamma",
        "--remove",
        "Gamma",
      ]) as { id: string; closes: number };
      await waitFor("the removal reaches a2", async () => {
        const listed = (await cli("a2", ["federation", "list"])).proposals as { id: string }[];
        return listed.some((p) => p.id === remove.id);
      }, waitMs);
      await Promise.all([
        cli("a2", ["federation", "vote", remove.id, "for"]),
        cli("b2", ["federation", "vote", remove.id, "for"]),
      ]);
      await Promise.all(
        fedNodes.map((n) =>
          waitFor(`both votes on the removal reach ${n}`, async () => {
            const shown = (await cli(n, ["federation", "show", remove.id])) as unknown as Shown;
            return shown.tally.cast === 2;
          }, waitMs)
        ),
      );
      await fedConverged("the federation nodes converge after the removal");
      const removed = remove.closes + 1000 + 1000;
      await Promise.all(fedNodes.map(async (n) => {
        assertEquals(await members(n, removed), ["Alpha", "Beta"], `members at ${n}`);
      }));
      await checkCounters("after the removal");
      await stopNodes();
      const [e1, e2, e3] = await fedDigests();
      assertEquals([e1 === e2, e2 === e3], [true, true], "federation state hash after removal");
      assert(e1 !== d1, "the removal changed the federation's state");
      await checkStores("after the removal");
      // The CLI agrees: a data dir that does not hold a network refuses to export it.
      await icnExpect(2, ["--data-dir", home.b2, "node", "export", "--net", alpha.id]);
      await icnExpect(2, ["--data-dir", home.a3, "node", "export", "--net", fed]);
    } finally {
      await killAll(nodes.values());
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
