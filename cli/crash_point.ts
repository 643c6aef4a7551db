import { envGet } from "./io_scope.ts";

/** Test hook: `ICN_TEST_CRASH_AT=name` kills the process at that named point (crash tests). */
export function crashPoint(name: string): void {
  if (envGet("ICN_TEST_CRASH_AT") === name) Deno.exit(137);
}
