/**
 * Store layout benchmark: the writes a sync of trust edges makes (10 authors,
 * ~380-byte envelopes, commits of 110 envelopes as ingest cuts them by key
 * size), into two fresh Deno KV stores in alternating rounds: the legacy
 * layout (encoding under a random `["env", cid]` key, the CID at the chain
 * position) against the current one (CID and encoding at the chain position).
 *
 * `deno run -A scripts/bench_layout.ts [--quick]` prints a markdown report.
 */
import { paired } from "./_bench.ts";
import { parseScriptArgs, scriptSpec } from "./_args.ts";

const { values } = parseScriptArgs(scriptSpec({
  usage: "deno run -A scripts/bench_layout.ts [--quick]",
  description: "The store writes of a trust-edge sync, legacy layout against the current one\n" +
    "(a markdown report on stdout).",
  options: {
    quick: { type: "boolean", default: false, description: "a fifth of the envelopes" },
  },
}));
const quick = values.quick;
const envelopes = quick ? 22_000 : 110_000;
const perCommit = 110;
const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
const random = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b & 31]).join("");
const net = "bafy" + random(55);
const authors = Array.from({ length: 10 }, () => "did:key:z6Mk" + random(44));
const to = "did:key:z6Mk" + random(44);

type Layout = "legacy" | "current";

async function writer(layout: Layout, dir: string) {
  const kv = await Deno.openKv(`${dir}/${layout}.kv`);
  let log = 0;
  const seqs = new Array(authors.length).fill(0);
  const commit = async () => {
    const op = kv.atomic();
    for (let i = 0; i < perCommit; i++, log++) {
      const a = log % authors.length;
      const author = authors[a];
      const seq = seqs[a]++;
      const cid = "bafyrei" + random(52);
      const bytes = crypto.getRandomValues(new Uint8Array(380));
      const ts = 1_700_000_000_000 + seq;
      if (layout === "legacy") {
        op.set(["env", cid], bytes);
        op.set(["chain", net, author, seq], cid);
      } else {
        op.set(["chain", net, author, seq], { cid, bytes });
      }
      op.set(["log", log], { cid, net, author, seq });
      op.set(["head", net, author], { seq, cid, ts });
      const edge = { from: author, to, graph: "social", score: 5, ts, cid };
      op.set(["trust", "log", ts, cid], edge);
      op.set(["trust", "out", "social", author, to], { ...edge, seq });
      op.set(["trust", "in", "social", to, author], { ...edge, seq });
    }
    op.set(["meta", "logNext"], log);
    const result = await op.commit();
    if (!result.ok) throw new Error("commit failed");
  };
  return { commit, close: () => kv.close() };
}

const dir = await Deno.makeTempDir({ prefix: "icn-bench-layout-" });
try {
  const legacy = await writer("legacy", dir);
  const current = await writer("current", dir);
  const commits = envelopes / perCommit;
  const [legacyRate, currentRate] = await paired(legacy.commit, current.commit, {
    count: commits - 10,
    warmup: 10,
  });
  legacy.close();
  current.close();
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  const fmt = (n: number) => Math.round(n * perCommit).toLocaleString("en");
  const lines = [
    `## Store layout (${envelopes.toLocaleString("en")} envelopes each, load ${load})`,
    "",
    "| layout | envelopes/s written |",
    "| --- | --- |",
    `| legacy: \`["env", cid]\` + CID at position | ${fmt(legacyRate)} |`,
    `| current: CID and encoding at position | ${fmt(currentRate)} |`,
    "",
    `Ratio current / legacy: **${(currentRate / legacyRate).toFixed(2)}×**`,
  ];
  Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
} finally {
  await Deno.remove(dir, { recursive: true });
}
