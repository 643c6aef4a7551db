/**
 * The gateway's rate limits in layers (`limits.ts`, `rateLimits`): per address on sign-in, per
 * DID on everything, and per category (read, write, governance) scaled by the caller's trust
 * class. Token buckets on the injected clock; at most `bucketsMax` kept, the least recently
 * used dropped first (a dropped bucket is a full one: a flood of new keys cannot grow memory,
 * and the worst it gains is one burst per evicted key).
 */
import type { Clock } from "../../core/ports.ts";
import type { TrustClass } from "../../core/policy/policy.ts";
import { GatewayError } from "./errors.ts";
import {
  type BucketRate,
  bucketsMax,
  type RateLayer,
  rateLimits,
  trustClassRateFactor,
} from "./limits.ts";

interface Bucket {
  tokens: number;
  at: number;
}

export type RateCategory = "read" | "write" | "governance";

export class RateLimiter {
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();
  readonly #rates: Record<RateLayer, BucketRate>;

  constructor(clock: Clock, rates: Partial<Record<RateLayer, BucketRate>> = {}) {
    this.#clock = clock;
    this.#rates = { ...rateLimits, ...rates };
  }

  /** Takes one token from each layer or refuses with 429 and the seconds to wait. */
  take(keys: { layer: string; key: string; rate: BucketRate }[]): void {
    const now = this.#clock.now();
    let waitMs = 0;
    const buckets = keys.map(({ layer, key, rate }) => {
      const id = `${layer}\u0000${key}`;
      const bucket = this.#buckets.get(id) ?? { tokens: rate.burst, at: now };
      this.#buckets.delete(id);
      this.#buckets.set(id, bucket);
      bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.rate);
      bucket.at = now;
      if (bucket.tokens < 1) waitMs = Math.max(waitMs, ((1 - bucket.tokens) / rate.rate) * 1000);
      return { bucket, layer };
    });
    while (this.#buckets.size > bucketsMax) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      const layers = keys.filter((_, i) => buckets[i].bucket.tokens < 1).map((k) => k.layer);
      throw new GatewayError(
        429,
        "rate_limited",
        `Too many requests (${layers.join(", ")}): retry in ${seconds} s`,
        { "retry-after": String(seconds) },
      );
    }
    for (const { bucket } of buckets) bucket.tokens -= 1;
  }

  /** Sign-in endpoints: per address. */
  signIn(address: string): void {
    this.take([{ layer: "sign-in", key: address, rate: this.#rates.signIn }]);
  }

  /**
   * Any other request: per DID (per address when signed out) and per category, the category's
   * rate scaled by the trust class (signed out: `isolated`).
   */
  request(who: string, category: RateCategory, trustClass: TrustClass): void {
    const factor = trustClassRateFactor[trustClass];
    const base = this.#rates[category];
    this.take([
      { layer: "caller", key: who, rate: this.#rates.perDid },
      {
        layer: category,
        key: who,
        rate: { rate: base.rate * factor, burst: Math.max(1, Math.round(base.burst * factor)) },
      },
    ]);
  }
}
