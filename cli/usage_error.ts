/**
 * A usage error a handler finds (an ambiguous DID prefix, an unknown `--net`): exit 2 and
 * the hint to run `icn --help`, like commander's own usage errors (`cli/run.ts`). Its own
 * class, not commander's `CommanderError`, so a handler that can refuse its command line does
 * not load commander (and Deno's Node layer) on every run.
 */
import { exitCodes } from "./exit_codes.ts";

export class UsageError extends Error {
  /** Always `exitCodes.usage`; named as on `CommanderError`. */
  readonly exitCode: number = exitCodes.usage;
  /** What went wrong, e.g. `icn.ambiguousDid`. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "UsageError";
    this.code = code;
  }
}
