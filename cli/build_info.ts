/**
 * Build metadata. In a checkout these are the from-source values;
 * `scripts/compile.ts` overwrites this file in its isolated build copy with
 * the version, git commit and build date of the binary it compiles.
 */
export interface BuildInfo {
  /** icn version at build time, or null when running from source (deno.json decides). */
  version: string | null;
  /** Full git commit the binary was built from, or null from source. */
  commit: string | null;
  /** ISO 8601 time of the commit the binary was built from, or null from source. */
  date: string | null;
  /** "compiled" for a release binary, "source" for a checkout. */
  source: "compiled" | "source";
}

export const buildInfo: BuildInfo = { version: null, commit: null, date: null, source: "source" };
