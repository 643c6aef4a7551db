import type { ParamDef } from "../params.ts";

/** Trust policy parameters; the trust module owns this list. */
export const trustParams: readonly ParamDef[] = [];
