/**
 * The CLI's wall clock, and its one test hook.
 *
 * TEST ONLY: `ICN_TEST_CLOCK_OFFSET_MS=N` moves this process's clock by N
 * milliseconds (a whole number, may be negative), so end-to-end tests step past
 * voting periods, timelocks and recovery delays instead of sleeping through them:
 * fixed sleeps made the suite fail on a busy machine. It is not a feature and is
 * not in `--help`. It cannot be used against anyone: it changes only the local
 * clock, which whoever sets this process's environment already controls (the
 * system time), it is never read from the network or a file, and other members
 * judge the timestamps it produces like any skewed clock's (refused beyond the
 * genesis's `network.clockSkew`).
 */
import { envGet, perInvocation } from "./io_scope.ts";
import { InvalidInputError } from "../core/errors.ts";
import type { Clock } from "../core/ports.ts";

/** Ten years: more than any test steps, and far from where Date arithmetic loses precision. */
export const clockOffsetMsMax = 10 * 365 * 24 * 3600 * 1000;

/** Read once per command (an in-process test command has its own environment). */
const offsetMs = perInvocation(() => ({ ms: undefined as number | undefined }));

function readOffsetMs(): number {
  const text = envGet("ICN_TEST_CLOCK_OFFSET_MS");
  if (text === undefined || text === "") return 0;
  const value = /^-?\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || Math.abs(value) > clockOffsetMsMax) {
    throw new InvalidInputError(
      `Cannot use ICN_TEST_CLOCK_OFFSET_MS="${
        text.slice(0, 40)
      }": it must be a whole number of milliseconds within ±${clockOffsetMsMax}`,
    );
  }
  return value;
}

/** `Date.now()`, moved by `ICN_TEST_CLOCK_OFFSET_MS` when a test sets it. */
export const systemClock: Clock = {
  now: () => Date.now() + (offsetMs().ms ??= readOffsetMs()),
};
