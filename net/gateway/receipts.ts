/**
 * Receipts of writes through the gateway: one per submit, whatever its outcome, kept in memory
 * (at most `receiptsMax`, the oldest forgotten first). A receipt is what the gateway saw and
 * did; the envelope itself, once accepted, lives in the store for good.
 */
import { receiptsMax } from "./limits.ts";

export interface Receipt {
  id: string;
  caller: string;
  kind: string;
  outcome: { status: "accepted" | "duplicate" | "rejected"; reason?: string; message?: string };
  cid: string | null;
  ts: number;
  net: string;
}

export class Receipts {
  readonly #byId = new Map<string, Receipt>();
  readonly #max: number;

  constructor(max = receiptsMax) {
    this.#max = max;
  }

  get size(): number {
    return this.#byId.size;
  }

  add(receipt: Receipt): void {
    this.#byId.set(receipt.id, receipt);
    while (this.#byId.size > this.#max) this.#byId.delete(this.#byId.keys().next().value!);
  }

  get(id: string): Receipt | undefined {
    return this.#byId.get(id);
  }
}
