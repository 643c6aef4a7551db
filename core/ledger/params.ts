import type { ParamDef } from "../params.ts";

/** Credit policy (DESIGN.md, Ledger). Amounts in minor units. */
export const ledgerParams: readonly ParamDef[] = [
  {
    key: "credit.baseline",
    type: "int",
    default: 10_000,
    min: 0,
    max: 1e15,
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
];
