/** Reconnect backoff settings (spec 10 §5.11). */
export type ReconnectOptions = {
  /**
   * The nominal wait after the first failed attempt.
   * @default 800
   */
  initialDelayMs?: number;
  /**
   * The factor applied to the nominal wait after each further failure.
   * @default 1.7
   */
  multiplier?: number;
  /**
   * The cap on the nominal wait (jitter applies after the cap, so the longest wait is 1.2 × this).
   * @default 15000
   */
  maxDelayMs?: number;
  /**
   * The ± fraction of random jitter applied to the capped wait.
   * @default 0.2
   */
  jitterRatio?: number;
};

/** The defaults of `ReconnectOptions`. */
export const DEFAULT_RECONNECT_OPTIONS: Readonly<Required<ReconnectOptions>> = Object.freeze({
  initialDelayMs: 800,
  multiplier: 1.7,
  maxDelayMs: 15_000,
  jitterRatio: 0.2,
});

/**
 * Computes the wait before the next attempt after `failures` consecutive failures (0 = the first):
 * `round(min(maxDelayMs, initialDelayMs × multiplier^failures) × (1 + jitterRatio × (2·random() − 1)))`.
 *
 * @example
 * computeBackoffDelay(0, {}, () => 0.5); // 800
 * computeBackoffDelay(3, {}, () => 0.5); // 3930
 */
export function computeBackoffDelay(
  failures: number,
  options: ReconnectOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? DEFAULT_RECONNECT_OPTIONS.initialDelayMs;
  const multiplier = options.multiplier ?? DEFAULT_RECONNECT_OPTIONS.multiplier;
  const max = options.maxDelayMs ?? DEFAULT_RECONNECT_OPTIONS.maxDelayMs;
  const jitter = options.jitterRatio ?? DEFAULT_RECONNECT_OPTIONS.jitterRatio;
  const nominal = Math.min(max, initial * multiplier ** Math.max(0, failures));
  const delay = Math.round(nominal * (1 + jitter * (2 * random() - 1)));
  return Math.max(0, delay);
}
