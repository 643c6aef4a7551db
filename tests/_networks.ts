/** Helpers of the several-networks CLI tests: two members who founded two cooperatives. */
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { kelNet } from "../core/constants.ts";
import { KvStore } from "../core/store/kv_store.ts";
import { assertEquals, icnExpect } from "./_cli.ts";

export const cli = (code: number, args: string[], env: Record<string, string> = {}) =>
  icnExpect(code, args, { env });

export async function json<T>(home: string, ...args: string[]): Promise<T> {
  return (await cli(0, ["--json", "--data-dir", home, ...args])).json<T>();
}

export interface TwoNetworks {
  dir: string;
  a: string;
  b: string;
  didA: string;
  didB: string;
  /** Network ids by name. */
  ids: Record<"Bakers" | "Brewers", string>;
}

/** A genesis named `name` with founders a and b, signed by both; returns its file and id. */
export async function genesisOf(dir: string, a: string, b: string, name: string, didB: string) {
  const file = `${dir}/${name}.json`;
  const created = await json<{ id: string }>(
    a,
    "governance",
    "genesis",
    "create",
    "--name",
    name,
    "--member",
    didB,
    "--out",
    file,
  );
  await cli(0, ["--data-dir", a, "governance", "genesis", "sign", file]);
  await cli(0, ["--data-dir", b, "governance", "genesis", "sign", file]);
  return { file, id: created.id };
}

/** Moves network `net`'s envelopes from `from` to `to` with a bundle. */
export async function exchange(dir: string, net: string, from: string, to: string): Promise<void> {
  const file = `${dir}/${crypto.randomUUID()}.car`;
  await cli(0, ["--data-dir", from, "node", "export", "--net", net, "--out", file]);
  // No --net: the bundle names its network, and import picks that one.
  await cli(0, ["--data-dir", to, "node", "import", file]);
}

/** a and b, both founders of Bakers (joined first) and Brewers (joined second). */
export async function twoNetworks(): Promise<TwoNetworks> {
  const dir = await Deno.makeTempDir({ prefix: "icn-networks-" });
  const [a, b] = [`${dir}/a`, `${dir}/b`];
  const didA = (await json<{ did: string }>(a, "id", "init")).did;
  const didB = (await json<{ did: string }>(b, "id", "init")).did;
  const bakers = await genesisOf(dir, a, b, "Bakers", didB);
  const brewers = await genesisOf(dir, a, b, "Brewers", didB);
  for (const home of [a, b]) await cli(0, ["--data-dir", home, "governance", "join", bakers.file]);
  await exchange(dir, bakers.id, a, b);
  await exchange(dir, bakers.id, b, a);
  for (const home of [a, b]) {
    const joined = await json<{ joined: boolean; file: string }>(
      home,
      "governance",
      "join",
      brewers.file,
    );
    assertEquals([joined.joined, joined.file], [true, `networks/${brewers.id}.kv`]);
  }
  return { dir, a, b, didA, didB, ids: { Bakers: bakers.id, Brewers: brewers.id } };
}

/** Everything a member sees of one network: balances, trust, proposals, the ledger's hash. */
export async function stateOf(home: string, net: string) {
  const balances = await json<unknown>(home, "ledger", "balances", "--net", net);
  const trust = await json<unknown>(home, "trust", "list", "--net", net);
  const proposals = await json<unknown>(home, "governance", "list", "--net", net);
  const check = await json<{ ok: boolean; net: string; stateHash: string }>(
    home,
    "ledger",
    "check",
    "--net",
    net,
  );
  assertEquals(check.ok, true, `ledger check of ${net}`);
  return { balances, trust, proposals, net: check.net, stateHash: check.stateHash };
}

/** In `net`: a pays b, vouches for b, proposes a text and both vote for it. */
export async function act(
  t: TwoNetworks,
  net: string,
  amount: string,
  score: string,
): Promise<void> {
  const { dir, a, b, didB } = t;
  await cli(0, [
    "--data-dir",
    a,
    "ledger",
    "transfer",
    "--net",
    net,
    "--to",
    didB,
    "--amount",
    amount,
  ]);
  await cli(0, ["--data-dir", a, "trust", "add", didB, score, "--net", net]);
  const proposal = await json<{ id: string }>(
    a,
    "governance",
    "propose",
    "--net",
    net,
    "--kind",
    "text",
    "--title",
    `Bake in ${net.slice(-6)}`,
  );
  await cli(0, ["--data-dir", a, "governance", "vote", proposal.id, "for", "--net", net]);
  await exchange(dir, net, a, b);
  await cli(0, ["--data-dir", b, "governance", "vote", "--net", net, proposal.id, "for"]);
  await exchange(dir, net, b, a);
}

export async function kelHeads(home: string, did: string): Promise<number[]> {
  const files = [`${home}/icn.kv`];
  try {
    for await (const entry of Deno.readDir(`${home}/networks`)) {
      if (entry.name.endsWith(".kv")) files.push(`${home}/networks/${entry.name}`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const out: number[] = [];
  for (const file of files) {
    const store = await KvStore.open(file);
    try {
      out.push((await store.get<ChainHead>(chainKeys.head(kelNet, did)))?.value.seq ?? -1);
    } finally {
      store.close();
    }
  }
  return out;
}
