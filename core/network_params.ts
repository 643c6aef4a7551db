import { clockSkewMsDefault, clockSkewMsMax } from "./constants.ts";
import type { ParamDef } from "./params.ts";

export const networkParams: readonly ParamDef[] = [
  {
    key: "network.clockSkew",
    type: "duration",
    default: clockSkewMsDefault,
    min: 0,
    max: clockSkewMsMax,
    description:
      "Largest accepted difference between an envelope's timestamp and the receiver's clock",
  },
  {
    key: "network.admissionPow.bits",
    // Added 2026-12-02: a genesis without it has no proof of work, as before.
    since: "2026-12-02",
    type: "int",
    default: 0,
    min: 0,
    // 2^24 Argon2id hashes is days of work: anything above is a mistake, not a policy.
    max: 24,
    description:
      "Leading zero bits of the Argon2id proof of work a peer that is not a member must show before its hello is read (0: no proof of work)",
  },
  {
    key: "network.admissionPow.memoryKib",
    // Added 2026-12-02: a genesis without it has no proof of work, as before.
    since: "2026-12-02",
    type: "int",
    default: 4096,
    // Argon2 needs at least 8 KiB; above 256 MiB small members' nodes could not verify.
    min: 8,
    max: 262_144,
    description: "Memory of one admission proof-of-work hash (Argon2id m), in KiB",
  },
  {
    key: "network.admissionPow.iterations",
    // Added 2026-12-02: a genesis without it has no proof of work, as before.
    since: "2026-12-02",
    type: "int",
    default: 1,
    min: 1,
    max: 8,
    description: "Passes over memory of one admission proof-of-work hash (Argon2id t)",
  },
];
