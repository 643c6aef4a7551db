/** Demo step: members vouch for each other and read explainable scores. */
import type { DemoContext } from "./demo_context.ts";

export async function run(d: DemoContext): Promise<void> {
  d.say(`\n${d.n}. Members vouch for each other in the web of trust:`);
  await d.icn("alice", ["trust", "add", d.dids.bob, "0.9"]);
  await d.icn("alice", ["trust", "add", d.dids.carol, "0.6"]);
  await d.icn("bob", ["trust", "add", d.dids.carol, "0.8"]);
  await d.exchange(d.members);
  const score = await d.icn("alice", ["trust", "score", d.dids.carol, "--explain"]);
  d.say("   alice's view of carol (direct edge plus bob as intermediary):");
  for (const line of score.stdout.trim().split("\n")) d.say(`     ${line}`);
}
