/** JSON for people and peers alike: what the CLI prints with `--json` and the node's HTTP API serves. */
import { toBase64 } from "./bytes.ts";

/** JSON with bigint as decimal strings and bytes as base64. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return toBase64(v);
    return v;
  }, 2);
}
