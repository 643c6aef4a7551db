/** A member's maximum balance set by governance: `ledger.maxBalance.<did>` in an accepted config proposal. */
import assert from "node:assert/strict";
import { Coop, t0 } from "../governance/_fixture.ts";
import { paramsAt } from "../governance/membership.ts";
import { maxBalanceOf } from "./pending.ts";

const s = 1000;
const fast = {
  "governance.config.votingPeriod": 10 * s,
  "governance.config.timelock": 20 * s,
  "ledger.maxBalance": 500,
};

Deno.test("a config proposal sets one member's maximum balance; a bad value is refused", async () => {
  const coop = await Coop.create(2, 0, fast);
  const [a, b] = coop.people;
  const set = await coop.submit(
    a,
    "gov.proposal",
    coop.proposalBody("config", { set: { [`ledger.maxBalance.${b.did}`]: 123 } }),
    t0,
  );
  for (const who of [a, b]) {
    await coop.submit(who, "gov.vote", { proposal: set.cid, choice: "for" }, t0 + s);
  }
  const before = await paramsAt(coop.reader(), coop.genesis, t0 + 2 * s);
  assert.equal(maxBalanceOf(before, b.did), 500n);
  const later = await paramsAt(coop.reader(), coop.genesis, t0 + 60 * s);
  assert.deepEqual([maxBalanceOf(later, b.did), maxBalanceOf(later, a.did)], [123n, 500n]);
  await assert.rejects(
    coop.submit(
      a,
      "gov.proposal",
      coop.proposalBody("config", { set: { [`ledger.maxBalance.${b.did}`]: -1 } }),
      t0 + 2 * s,
    ),
    /minor units/,
  );
});
