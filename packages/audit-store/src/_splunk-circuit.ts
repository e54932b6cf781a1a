// Retry pacing for the Splunk forwarder: exponential backoff with jitter and a closed/open/half_open circuit
// breaker (spec 20 §9.2). Pure bookkeeping over an injected clock and random source; the forwarder sleeps.

/** The circuit breaker's states. */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** Backoff and breaker settings. */
export type PacingOptions = {
  /** The first retry delay. */
  initialBackoffMs: number;
  /** The longest retry delay. */
  maxBackoffMs: number;
  /** ±fraction applied to every delay. */
  jitter: number;
  /** Consecutive failed batches that open the circuit. */
  failureThreshold: number;
  /** How long the circuit first stays open; doubles on every failed half-open probe. */
  openMs: number;
  /** The longest the circuit stays open. */
  maxOpenMs: number;
  random: () => number;
};

/** The pacing state machine. */
export type Pacing = {
  readonly state: CircuitState;
  /** Failed batches since the last success. */
  readonly consecutiveFailures: number;
  /** Epoch ms before which no request may start (0: now). */
  readonly nextAttemptAt: number;
  /** How long the next opening lasts. */
  readonly openDurationMs: number;
  /** A batch was accepted: close the circuit and forget the failures. */
  success(): void;
  /**
   * A batch failed at `now`; `retryAfterMs` (from the server) stretches the wait, `openNow` opens the circuit at
   * once (token rejected). Returns the epoch ms of the next attempt.
   */
  failure(now: number, options?: { retryAfterMs?: number; openNow?: boolean }): number;
  /** Moves an open circuit whose time is up to half_open; returns the state. */
  poll(now: number): CircuitState;
};

/** Creates the pacing state machine, closed. */
export function createPacing(o: PacingOptions): Pacing {
  let state: CircuitState = 'closed';
  let consecutiveFailures = 0;
  let nextAttemptAt = 0;
  let openDurationMs = o.openMs;

  const jittered = (ms: number) => Math.max(0, Math.round(ms * (1 + o.jitter * (2 * o.random() - 1))));

  const open = (now: number, retryAfterMs: number) => {
    state = 'open';
    nextAttemptAt = now + Math.max(jittered(openDurationMs), Math.min(retryAfterMs, o.maxOpenMs));
    openDurationMs = Math.min(openDurationMs * 2, o.maxOpenMs);
  };

  return {
    get state() {
      return state;
    },
    get consecutiveFailures() {
      return consecutiveFailures;
    },
    get nextAttemptAt() {
      return nextAttemptAt;
    },
    get openDurationMs() {
      return openDurationMs;
    },
    success() {
      state = 'closed';
      consecutiveFailures = 0;
      nextAttemptAt = 0;
      openDurationMs = o.openMs;
    },
    failure(now, options = {}) {
      consecutiveFailures += 1;
      // Retry-After is honoured, but never beyond the longest opening.
      const retryAfterMs = options.retryAfterMs ?? 0;
      if (options.openNow || state === 'half_open' || consecutiveFailures >= o.failureThreshold) {
        open(now, retryAfterMs);
      } else {
        const backoff = Math.min(o.initialBackoffMs * 2 ** (consecutiveFailures - 1), o.maxBackoffMs);
        nextAttemptAt = now + Math.max(jittered(backoff), Math.min(retryAfterMs, o.maxOpenMs));
      }
      return nextAttemptAt;
    },
    poll(now) {
      if (state === 'open' && now >= nextAttemptAt) state = 'half_open';
      return state;
    },
  };
}
