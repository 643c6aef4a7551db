/** Demo step: a proposal and a vote. */
import type { DemoContext } from "./demo_context.ts";

export async function run(d: DemoContext): Promise<void> {
  d.say(`\n${d.n}. The cooperative decides together (one member, one vote):`);
  const proposed = await d.icnJson<Record<string, unknown>>("alice", [
    "governance",
    "propose",
    "--kind",
    "text",
    "--title",
    "Open a tool library on Saturdays",
  ]);
  const id = String(proposed.id ?? proposed.proposal ?? proposed.cid);
  await d.exchange(d.members);
  await d.icn("alice", ["governance", "vote", id, "for"]);
  await d.icn("bob", ["governance", "vote", id, "for"]);
  await d.icn("carol", ["governance", "vote", id, "against"]);
  await d.exchange(d.members);
  const shown = await d.icn("carol", ["governance", "show", id]);
  for (const line of shown.stdout.trim().split("\n").slice(0, 16)) d.say(`     ${line}`);
}
