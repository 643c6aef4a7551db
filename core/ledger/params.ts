import type { ParamDef } from "../params.ts";
import { amountMinorMaxNumber } from "./amount.ts";

/** Governance's per-member maximum balance travels as config keys `ledger.maxBalance.<did>` (minor units, 0: none). */
export const maxBalanceOverridePrefix = "ledger.maxBalance.";

/** Credit policy (docs/design.md, Ledger). Amounts in minor units. */
export const ledgerParams: readonly ParamDef[] = [
  {
    key: "credit.baseline",
    type: "int",
    default: 10_000,
    min: 0,
    max: amountMinorMaxNumber,
    description: "Base credit limit of every member, in minor units",
  },
  {
    key: "credit.trustMultiplier",
    type: "number",
    default: 0.3,
    min: 0,
    max: 100,
    description: "Extra limit per unit of trust score, as a multiple of the baseline",
  },
  {
    key: "credit.historyRate",
    type: "number",
    default: 0.05,
    min: 0,
    max: 10,
    description: "Extra limit per unit of cleared volume",
  },
  {
    key: "credit.rampDuration",
    type: "duration",
    default: 90 * 86_400_000,
    min: 0,
    max: 10 * 365 * 86_400_000,
    description: "New-member ramp: time after admission until the full limit applies (0: no ramp)",
  },
  {
    key: "credit.rampStart",
    type: "percent",
    default: 25,
    description: "New-member ramp: share of the limit a member gets on admission, in percent",
  },
  {
    key: "credit.softLimit",
    type: "percent",
    default: 10,
    description: "Warn when a transfer leaves the payer within this share of the limit (0: off)",
  },
  {
    key: "credit.transferMax",
    type: "int",
    default: amountMinorMaxNumber,
    min: 1,
    max: amountMinorMaxNumber,
    description: "Largest single transfer, in minor units",
  },
  {
    key: "ledger.maxBalance",
    type: "int",
    default: 0,
    min: 0,
    max: amountMinorMaxNumber,
    description:
      "Highest balance a member may reach in each currency, in minor units (0: no maximum); a transfer that would take the payee above it is refused",
    since: "2026-12-02",
  },
];
