/**
 * Strict decoding of input that crosses a trust boundary (files, wire
 * messages, control API bodies): the size is checked before parsing, the
 * parse is exact (canonical DAG-CBOR, well-formed UTF-8 JSON), and the value
 * must match a shape exactly (no unknown fields, every type and range
 * checked). Every refusal is an `InvalidInputError`, or the error a caller's
 * `refuse` builds (e.g. `RejectedError("malformed")` on the wire), so a CLI
 * run ends with exit 1 and a node counts the offence, never with a bug.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { bytesEqual } from "./bytes.ts";
import { shown } from "./errors.ts";
import { checkShape, refusal, type Shape, type StrictOptions } from "./strict_shapes.ts";

export * from "./strict_shapes.ts";

/**
 * Decodes DAG-CBOR strictly: at most `bytesMax` bytes (checked first), valid,
 * canonical (re-encoding gives the same bytes, so one value has one
 * encoding and one hash), and matching `shape`.
 */
export function decodeCanonicalCbor<T>(
  input: unknown,
  shape: Shape<T>,
  options: StrictOptions & { bytesMax: number },
): T {
  if (!(input instanceof Uint8Array)) return refusal(options, "not bytes");
  if (input.length > options.bytesMax) {
    refusal(options, `${input.length} bytes, the limit is ${options.bytesMax}`);
  }
  let value: unknown;
  try {
    value = dagCbor.decode(input);
  } catch (error) {
    refusal(options, `not valid DAG-CBOR (${shown((error as Error)?.message, 120)})`);
  }
  let again: Uint8Array | undefined;
  try {
    again = dagCbor.encode(value);
  } catch {
    // Left undefined: refused just below.
  }
  if (!again || !bytesEqual(again, input)) refusal(options, "the encoding is not canonical");
  return checkShape(shape, value, options);
}
