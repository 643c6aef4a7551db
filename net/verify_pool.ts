/**
 * Signature verification on every core: a small, bounded pool of workers that
 * verify batches of Ed25519 (and ML-DSA-65) signatures while the main thread
 * validates the ledger's rules (issue #19). It implements core's
 * `SignatureVerifier` port (core/chain/verifier.ts); ingest uses it only for
 * batches above `verifyPoolThreshold` (import, sync) and only when one is
 * supplied in `IngestDeps.verifier`; a single CLI write never starts a worker.
 * It lives here, not in core, because it starts threads.
 *
 * Results are the same as `verifySignatures` on the main thread: the workers
 * run `verifyRequests` (core/chain/verifier.ts). A worker that fails makes
 * `verify` reject, and ingest then verifies that batch on the main thread.
 * `close()` terminates every worker; a closed pool rejects further calls.
 */
import { type SignatureVerifier, verifyChunk, type VerifyRequest } from "../core/chain/verifier.ts";

/** Never more workers than this, whatever the machine reports. */
export const verifyWorkersMax = 8;

/** Workers for this machine: one per core the runtime reports, at least 1, at most `verifyWorkersMax`. */
export function verifyPoolSize(): number {
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency : 1;
  return Math.max(1, Math.min(verifyWorkersMax, Number.isSafeInteger(cores) ? cores : 1));
}

interface Job {
  resolve: (results: Uint8Array) => void;
  reject: (error: Error) => void;
  worker: number;
}

/** A fixed set of verify workers (`verify_pool_worker.ts`). */
export class VerifyPool implements SignatureVerifier {
  readonly size: number;
  readonly #workers: Worker[] = [];
  readonly #jobs = new Map<number, Job>();
  #nextJob = 0;
  #nextWorker = 0;
  #failure: Error | null = null;

  constructor(size = verifyPoolSize()) {
    if (!Number.isSafeInteger(size) || size < 1 || size > verifyWorkersMax) {
      throw new RangeError(`A verify pool has 1–${verifyWorkersMax} workers, not ${size}`);
    }
    this.size = size;
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL("./verify_pool_worker.ts", import.meta.url).href, {
        type: "module",
      });
      worker.onmessage = (event: MessageEvent<{ id: number; results: Uint8Array }>) => {
        const job = this.#jobs.get(event.data.id);
        if (!job) return;
        this.#jobs.delete(event.data.id);
        job.resolve(event.data.results);
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#fail(new Error(`Signature worker failed: ${event.message}`));
      };
      this.#workers.push(worker);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const job of this.#jobs.values()) job.reject(error);
    this.#jobs.clear();
  }

  verify(requests: readonly VerifyRequest[]): Promise<boolean[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#workers.length === 0) return Promise.reject(new Error("The verify pool is closed"));
    const parts: Promise<Uint8Array>[] = [];
    for (let i = 0; i < requests.length; i += verifyChunk) {
      const chunk = requests.slice(i, i + verifyChunk);
      const id = this.#nextJob++;
      const worker = this.#nextWorker;
      this.#nextWorker = (worker + 1) % this.#workers.length;
      parts.push(
        new Promise<Uint8Array>((resolve, reject) => {
          this.#jobs.set(id, { resolve, reject, worker });
          this.#workers[worker].postMessage({ id, requests: chunk });
        }),
      );
    }
    return Promise.all(parts).then((chunks) => {
      const out: boolean[] = [];
      for (const chunk of chunks) for (const ok of chunk) out.push(ok === 1);
      return out;
    });
  }

  /** Terminates every worker; calls waiting on them reject. Idempotent. */
  close(): void {
    for (const worker of this.#workers) worker.terminate();
    this.#workers.length = 0;
    this.#fail(new Error("The verify pool is closed"));
  }
}
