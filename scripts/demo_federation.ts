/**
 * Demo step: a second cooperative (alice joins it too, so her data dir holds
 * two networks and `--net` picks one), then the two cooperatives federate:
 * a delegate of each signs the federation genesis, both join, a text proposal
 * is voted by both cooperatives' delegates, and one cooperative vouches for
 * the other. Envelopes travel as `node export/import --net` bundles; no
 * nodes run in this step.
 */
import type { DemoContext } from "./demo_context.ts";

const coop = "Hillside Bakers";
const federation = "Valley federation";

export async function run(d: DemoContext): Promise<void> {
  d.say(`\n${d.n}. A second cooperative, and the two form a federation of cooperatives:`);
  const file = (name: string) => `${d.work}/${name}`;

  // Two new members; alice is a founder of this cooperative too.
  for (const name of ["dave", "erin"]) {
    d.dids[name] = (await d.icnJson<{ did: string }>(name, ["id", "init"])).did;
  }
  const founders = ["dave", "erin", "alice"];
  await d.icn("dave", [
    "governance",
    "genesis",
    "create",
    "--name",
    coop,
    "--member",
    d.dids.erin,
    "--member",
    d.dids.alice,
    "--out",
    file("hillside.json"),
  ]);
  for (const name of founders) {
    await d.icn(name, ["governance", "genesis", "sign", file("hillside.json")]);
  }
  for (const name of founders) await d.icn(name, ["governance", "join", file("hillside.json")]);
  d.say(`   dave, erin and alice found ${coop}; alice's data dir now holds two networks:`);
  const networks = await d.icn("alice", ["governance", "networks"]);
  for (const line of networks.stdout.trim().split("\n")) d.say(`     ${line}`);
  const ambiguous = await d.icn("alice", ["governance", "list"], 2);
  const firstLine = ambiguous.stderr.trim().split("\n")[0].replace(/^error: /, "")
    .replace(/ \(or set .*$/, "");
  d.say(`   without --net, \`icn governance list\` exits 2: ${firstLine}`);
  await d.icn("alice", ["governance", "list", "--net", coop]);
  d.say(
    `   \`icn governance list --net "${coop}"\` works (a name, an id or a unique start of one)`,
  );

  // Bob (for Riverside Makers, by default) and dave (for Hillside Bakers) are the delegates.
  const created = await d.icnJson<{ id: string }>("bob", [
    "federation",
    "create",
    "--name",
    federation,
    "--coop",
    file("genesis.json"),
    "--coop",
    file("hillside.json"),
    "--delegate",
    `${coop}=${d.dids.dave}`,
    "--out",
    file("federation.json"),
  ]);
  const delegates = ["bob", "dave"];
  for (const name of delegates) await d.icn(name, ["federation", "sign", file("federation.json")]);
  for (const name of delegates) await d.icn(name, ["federation", "join", file("federation.json")]);
  const fed = created.id;
  d.say(
    `   ${federation} (id ${fed.slice(0, 16)}…): bob signs for Riverside Makers, dave for ${coop}`,
  );

  /** Carries the federation's envelopes from `from` to `to` as a `--net` bundle. */
  let bundles = 0;
  const carry = async (from: string, to: string) => {
    const bundle = file(`federation-${from}-${bundles++}.car`);
    await d.icn(from, ["node", "export", "--net", fed, "--out", bundle]);
    await d.icn(to, ["node", "import", bundle, "--net", fed]);
  };

  const proposed = await d.icnJson<{ id: string }>("bob", [
    "federation",
    "propose",
    "--kind",
    "text",
    "--title",
    "Share one delivery van",
  ]);
  await carry("bob", "dave");
  await d.icn("bob", ["federation", "vote", proposed.id, "for"]);
  await d.icn("dave", ["federation", "vote", proposed.id, "for"]);
  await carry("dave", "bob");
  d.say("   a federation vote (one cooperative, one vote; its delegate casts it):");
  const shown = await d.icn("bob", ["federation", "show", proposed.id, "--explain"]);
  const skip = /^\s+(id|kind|opened|closes|effective):/; // kept short: the tally and who voted
  for (const line of shown.stdout.trim().split("\n")) {
    if (!skip.test(line)) d.say(`     ${line}`);
  }

  await d.icn("bob", ["federation", "vouch", coop, "--score", "0.8"]);
  const trust = await d.icn("bob", ["federation", "trust", coop]);
  d.say("   Riverside Makers vouches for Hillside Bakers; trust between cooperatives:");
  for (const line of trust.stdout.trim().split("\n")) d.say(`     ${line}`);
}
