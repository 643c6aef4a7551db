/** Demo step: mutual-credit transfers, balances that sum to zero, an audit. */
import type { DemoContext } from "./demo_context.ts";

export async function run(d: DemoContext): Promise<void> {
  d.say(
    `\n${d.n}. Members trade in mutual credit (balances may go negative down to a credit limit):`,
  );
  await d.icn("alice", [
    "ledger",
    "transfer",
    "--to",
    d.dids.bob,
    "--amount",
    "12.5",
    "--memo",
    "bike repair",
  ]);
  await d.icn("bob", [
    "ledger",
    "transfer",
    "--to",
    d.dids.carol,
    "--amount",
    "4",
    "--memo",
    "bread",
  ]);
  await d.exchange(d.members);
  const balances = await d.icn("carol", ["ledger", "balances"]);
  for (const line of balances.stdout.trim().split("\n")) d.say(`     ${line}`);
  const tooMuch = await d.icn("carol", [
    "ledger",
    "transfer",
    "--to",
    d.dids.alice,
    "--amount",
    "999999",
  ], 1);
  d.say(
    `   a transfer past the limit is refused: ${tooMuch.stderr.trim().replace(/^error: /, "")}`,
  );
  await d.icn("carol", ["ledger", "check"]);
  d.say(
    "   `icn ledger check` re-verified every signature and re-folded every balance: all consistent",
  );
}
