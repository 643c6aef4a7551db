import type { ParamDef } from "./params.ts";

export const networkParams: readonly ParamDef[] = [
  {
    key: "network.clockSkew",
    type: "duration",
    default: 300_000,
    min: 0,
    max: 3_600_000,
    description:
      "Largest accepted difference between an envelope's timestamp and the receiver's clock",
  },
];
