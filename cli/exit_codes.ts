/**
 * The exit codes of `icn`, in one place: run.ts decides which one a run ends with, and a
 * handler that has a result and still failed (`ledger check` with findings) names one here.
 */
export const exitCodes = {
  /** The command did what was asked. */
  ok: 0,
  /** An expected failure (an `IcnError`: rejected, not found, invalid input). */
  failure: 1,
  /** The command line itself is wrong (unknown option, missing argument, repeated option). */
  usage: 2,
  /** Anything else: a bug in icn, reported with its stack. */
  bug: 3,
  /** Stopped by SIGINT, as shells report it (128 + 2). */
  interrupted: 130,
} as const;

export type ExitCode = typeof exitCodes[keyof typeof exitCodes];
