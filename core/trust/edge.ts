/**
 * The `trust.edge` envelope body and its rules. Scores travel as integer
 * thousandths (0..1000) so no float ever reaches the canonical encoding and
 * `0.75` means exactly 750 everywhere.
 */
import { InvalidInputError, RejectedError, shown } from "../errors.ts";
import { parseDid } from "../identity/did.ts";

export const trustGraphs = ["social", "economic", "technical"] as const;
export type TrustGraphName = typeof trustGraphs[number];
/** A graph, or `all` for edges of every graph (highest score per pair). */
export type GraphScope = TrustGraphName | "all";

/** Score unit: thousandths. */
export const scoreScale = 1000;
/** Labels are for humans; long ones only bloat every envelope. */
export const labelLengthMax = 200;

export interface EdgeBody {
  to: string;
  /** Thousandths, 0..1000; 0 revokes. */
  score: number;
  graph: TrustGraphName;
  label?: string;
  /** Absolute expiry, ms since the epoch; the edge counts as absent from then on. */
  expires?: number;
}

/** Parses a score typed by a person (`0.75`, `1`, `.5`) into thousandths. */
export function parseScore(text: string): number {
  const trimmed = String(text).trim();
  const match = /^(0|1)?(?:\.(\d{1,3}))?$/.exec(trimmed);
  if (trimmed === "" || trimmed === "." || !match || (match[1] === undefined && !match[2])) {
    const hint = /^(0|1)?\.\d{4,}$/.test(trimmed)
      ? "use at most 3 decimals"
      : "use a number from 0 to 1 with at most 3 decimals, like 0.75";
    throw new InvalidInputError(`Cannot use trust score "${text}": ${hint}`);
  }
  const whole = Number(match[1] ?? "0");
  const frac = Number((match[2] ?? "").padEnd(3, "0"));
  const value = whole * scoreScale + frac;
  if (value > scoreScale) {
    throw new InvalidInputError(`Cannot use trust score "${text}": it must be between 0 and 1`);
  }
  return value;
}

/** Renders thousandths as a decimal (`750` → `0.75`). */
export function formatScore(thousandths: number): string {
  return (thousandths / scoreScale).toString();
}

export function parseGraph(text: string | undefined, allowAll = false): GraphScope {
  if (text === undefined) return allowAll ? "all" : "social";
  if ((trustGraphs as readonly string[]).includes(text)) return text as TrustGraphName;
  if (allowAll && text === "all") return "all";
  throw new InvalidInputError(
    `Cannot use trust graph "${text}": expected one of ${trustGraphs.join(", ")}${
      allowAll ? ", all" : ""
    }`,
  );
}

const bodyKeys = new Set(["to", "score", "graph", "label", "expires"]);

/** Checks a body against the rules; throws `RejectedError` with a stable reason. */
export function checkEdgeBody(body: unknown, envelope: { author: string; ts: number }): EdgeBody {
  const { author, ts } = envelope;
  const reject = (reason: string, message: string): never => {
    throw new RejectedError(reason, `Cannot accept trust edge: ${message}`);
  };
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    reject("trust_body", "body is not a map");
  }
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!bodyKeys.has(key)) reject("trust_body", `unknown field "${key}"`);
  }
  const { to, score, graph, label, expires } = record;
  if (typeof to !== "string") return reject("trust_body", `"to" is not a DID`);
  try {
    parseDid(to);
  } catch (error) {
    reject("trust_target", (error as Error).message);
  }
  if (to === author) reject("trust_self", "a member cannot vouch for itself");
  if (typeof score !== "number" || !Number.isInteger(score) || score < 0 || score > scoreScale) {
    reject("trust_score", `score ${shown(score)} is not a whole number of thousandths 0..1000`);
  }
  if (typeof graph !== "string" || !(trustGraphs as readonly string[]).includes(graph)) {
    reject("trust_graph", `graph "${shown(graph)}" is not one of ${trustGraphs.join(", ")}`);
  }
  if (label !== undefined && (typeof label !== "string" || label.length > labelLengthMax)) {
    reject("trust_label", `label is not a string of at most ${labelLengthMax} characters`);
  }
  if (expires !== undefined) {
    if (typeof expires !== "number" || !Number.isSafeInteger(expires)) {
      reject("trust_expires", "expiry is not a whole number of milliseconds");
    }
    if ((expires as number) <= ts) {
      reject("trust_expires", `expiry ${expires} is not after the envelope time ${ts}`);
    }
  }
  return record as unknown as EdgeBody;
}
