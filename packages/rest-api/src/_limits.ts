// Inspect admission (spec 20 §6.2 step 8): a cap on requests in flight, and a token bucket per non-loopback peer.
import { RestApiError } from './errors.ts';

/** Token-bucket settings: steady rate and burst. */
export type RateLimit = { perSecond: number; burst: number };

/** Admits inspect requests; `release` must follow every successful `acquire`. */
export type InspectLimiter = {
  /** Admits one request or throws 503 `overloaded` / 429 `rate_limited`. */
  acquire(peer: string | undefined, loopback: boolean): void;
  /** Frees the in-flight slot of an admitted request. */
  release(): void;
  /** Requests in flight now. */
  readonly inFlight: number;
};

/** The most peers whose buckets are remembered (the oldest is forgotten first). */
const MAX_BUCKETS = 4096;

/** Creates the limiter; `now` is a monotonic clock in milliseconds. */
export function createInspectLimiter(options: {
  maxInFlight: number;
  rateLimit: RateLimit;
  now: () => number;
}): InspectLimiter {
  let inFlight = 0;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const { perSecond, burst } = options.rateLimit;

  const take = (peer: string): boolean => {
    const t = options.now();
    let bucket = buckets.get(peer);
    if (bucket === undefined) {
      bucket = { tokens: burst, at: t };
      if (buckets.size >= MAX_BUCKETS) buckets.delete(buckets.keys().next().value as string);
    } else {
      buckets.delete(peer); // re-inserted below: Map order doubles as LRU order
      bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond);
      bucket.at = t;
    }
    buckets.set(peer, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };

  return {
    acquire(peer, loopback) {
      if (!loopback && !take(peer ?? 'unknown')) {
        throw new RestApiError('rate_limited', 'too many inspect requests from this peer', {
          headers: { 'Retry-After': '1' },
        });
      }
      if (inFlight >= options.maxInFlight) {
        throw new RestApiError('overloaded', 'too many inspect requests in flight', {
          headers: { 'Retry-After': '1' },
        });
      }
      inFlight += 1;
    },
    release() {
      inFlight = Math.max(0, inFlight - 1);
    },
    get inFlight() {
      return inFlight;
    },
  };
}
