import { sleep as realSleep } from './_fs.ts';
import { SupervisorError } from './errors.ts';
import type { HealthOutcome } from './health-probe.ts';

/** Waits between consecutive restarts: 0, 5, 15, 45, 135, then 300 s (spec 20 §3). */
export const DEFAULT_RESTART_BACKOFF_MS: readonly number[] = [0, 5_000, 15_000, 45_000, 135_000, 300_000];

/** What the watchdog knows about the daemon before probing it. */
export type WatchdogTarget =
  /** The PID file is gone: the stop was intended, the watchdog exits. */
  | { state: 'absent' }
  /** The PID file names a verified live daemon. */
  | { state: 'alive'; pid: number }
  /** The PID file names a dead or foreign process: a crash, restart at once. */
  | { state: 'dead'; pid: number | undefined; reason: string };

/** What one restart attempt achieved. */
export type RestartResult =
  | { ok: true; pid: number; readyMs: number }
  | { ok: false; reason: string }
  /** Not attempted, e.g. because `stop` holds the lifecycle lock; does not count against the limit. */
  | { ok: 'skipped'; reason: string };

/** The watchdog's persisted state (`watchdog.state`), snake_case as the daemon exposes it. */
export type WatchdogState = {
  state: 'watching' | 'restarting' | 'backing_off' | 'paused';
  consecutive_failures: number;
  /** ISO times of the restarts inside the sliding window. */
  restarts: string[];
  last_restart_at: string | null;
  last_reason: string | null;
  paused_until: string | null;
};

/** The tunables the watchdog re-reads on `reconfigure` (config.yaml `gateway.watchdog.*`). */
export type WatchdogSettings = {
  /** Poll period (±`jitter`). */
  intervalMs: number;
  /** Consecutive failed polls that trigger a restart. */
  failures: number;
  /** How long `gateway` may stay in an internal `error` before a poll counts as failed. */
  gatewayErrorGraceMs: number;
  /** Restarts allowed per sliding `restartWindowMs`. */
  maxRestarts: number;
  /** The sliding window of the restart-rate limit. */
  restartWindowMs: number;
};

/** Options of `createWatchdog`. */
export type WatchdogOptions = WatchdogSettings & {
  /** Reads the PID file and verifies the process it names. */
  checkTarget: () => Promise<WatchdogTarget>;
  /** Polls the daemon's health. */
  probe: (signal: AbortSignal) => Promise<HealthOutcome>;
  /** Restarts the daemon (stop + start semantics) with the given reason. */
  restart: (request: {
    reason: string;
    previousPid: number | undefined;
    signal: AbortSignal;
  }) => Promise<RestartResult>;
  /** Receives one line per decision (never one per healthy poll). */
  log: (line: string) => void;
  /** Receives every state change (to persist `watchdog.state`). */
  onState?: (state: WatchdogState) => void;
  /** Waits between consecutive restarts. @default DEFAULT_RESTART_BACKOFF_MS */
  backoffMs?: readonly number[];
  /** Healthy time after a restart that resets the backoff. @default 300000 */
  healthyResetMs?: number;
  /** Relative jitter of the poll period. @default 0.1 */
  jitter?: number;
  /** Period of the `heartbeat: healthy` line. @default 3600000 */
  heartbeatMs?: number;
  /** Clock. @default Date.now */
  now?: () => number;
  /** Sleep that rejects when the signal aborts. @default a timer */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Random source for the jitter. @default Math.random */
  random?: () => number;
};

/** Why `run` returned. */
export type WatchdogExit = { reason: 'pid_file_removed' | 'aborted' };

/** A watchdog loop. */
export type Watchdog = {
  /** Polls until the PID file disappears or the signal aborts. */
  run(signal: AbortSignal): Promise<WatchdogExit>;
  /** Applies new settings from the next poll on. */
  reconfigure(settings: Partial<WatchdogSettings>): void;
  /** A copy of the current state. */
  readonly state: WatchdogState;
};

/**
 * Creates the watchdog loop of spec 20 §3: every interval it checks the PID file (absent → exit; dead → restart at
 * once), then probes health; `failures` consecutive failures trigger a restart. Restarts wait per the backoff
 * table and are limited to `maxRestarts` per sliding window, after which restarts pause until the window allows
 * one again. Every decision is one `log` line.
 *
 * @example
 * ```ts
 * const dog = createWatchdog({ intervalMs: 10_000, failures: 3, gatewayErrorGraceMs: 120_000, maxRestarts: 5,
 *   restartWindowMs: 600_000, checkTarget, probe, restart, log: (line) => appendLine(logFile, line) });
 * await dog.run(controller.signal);
 * ```
 */
export function createWatchdog(options: WatchdogOptions): Watchdog {
  let settings: WatchdogSettings = validate({
    intervalMs: options.intervalMs,
    failures: options.failures,
    gatewayErrorGraceMs: options.gatewayErrorGraceMs,
    maxRestarts: options.maxRestarts,
    restartWindowMs: options.restartWindowMs,
  });
  const backoffMs = options.backoffMs ?? DEFAULT_RESTART_BACKOFF_MS;
  const healthyResetMs = options.healthyResetMs ?? 300_000;
  const jitter = options.jitter ?? 0.1;
  const heartbeatMs = options.heartbeatMs ?? 3_600_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const iso = (ms: number) => new Date(ms).toISOString();

  let failures = 0;
  let restarts: number[] = [];
  let consecutiveRestarts = 0;
  let lastRestartAt: number | undefined;
  let lastReason: string | undefined;
  let pausedUntil: number | undefined;
  let phase: WatchdogState['state'] = 'watching';
  let lastHeartbeat = now();

  const snapshot = (): WatchdogState => ({
    state: phase,
    consecutive_failures: failures,
    restarts: restarts.map(iso),
    last_restart_at: lastRestartAt === undefined ? null : iso(lastRestartAt),
    last_reason: lastReason ?? null,
    paused_until: pausedUntil === undefined ? null : iso(pausedUntil),
  });
  const emit = () => options.onState?.(snapshot());
  const setPhase = (next: WatchdogState['state']) => {
    phase = next;
    emit();
  };

  const pruneWindow = () => {
    const cutoff = now() - settings.restartWindowMs;
    restarts = restarts.filter((t) => t > cutoff);
    if (pausedUntil !== undefined && now() >= pausedUntil && restarts.length < settings.maxRestarts) {
      pausedUntil = undefined;
      options.log('restart limit window passed; restarts enabled again');
      setPhase('watching');
    }
  };

  // Returns false when the watchdog must exit (the PID file vanished during the backoff).
  const restartDaemon = async (
    reason: string,
    pid: number | undefined,
    signal: AbortSignal,
  ): Promise<boolean> => {
    pruneWindow();
    if (restarts.length >= settings.maxRestarts) {
      const until = restarts[0]! + settings.restartWindowMs;
      if (pausedUntil !== until) {
        pausedUntil = until;
        options.log(
          `restart limit reached: ${settings.maxRestarts} restarts in ${Math.round(settings.restartWindowMs / 1000)}s; pausing restarts until ${iso(until)}`,
        );
        setPhase('paused');
      }
      return true;
    }
    const wait = backoffMs[Math.min(consecutiveRestarts, backoffMs.length - 1)] ?? 0;
    if (wait > 0) {
      setPhase('backing_off');
      options.log(`backing off ${formatSeconds(wait)} before restart ${consecutiveRestarts + 1}`);
      await sleep(wait, signal);
      const again = await options.checkTarget();
      if (again.state === 'absent') return false;
      if (again.state === 'alive') pid = again.pid;
    }
    setPhase('restarting');
    lastReason = reason;
    options.log(`restarting daemon${pid === undefined ? '' : ` (PID ${pid})`}: ${reason}`);
    const result = await options.restart({ reason: `watchdog: ${reason}`, previousPid: pid, signal });
    if (result.ok === 'skipped') {
      options.log(`restart skipped: ${result.reason}`);
      setPhase('watching');
      return true;
    }
    const at = now();
    restarts.push(at);
    lastRestartAt = at;
    consecutiveRestarts += 1;
    failures = 0;
    // State first, then the log line: a reader that sees the line finds the state up to date.
    setPhase('watching');
    if (result.ok) {
      options.log(`restart ok: new PID ${result.pid} ready in ${(result.readyMs / 1000).toFixed(1)}s`);
    } else {
      options.log(`restart failed: ${result.reason}`);
    }
    return true;
  };

  const poll = async (signal: AbortSignal): Promise<boolean> => {
    pruneWindow();
    const target = await options.checkTarget();
    if (target.state === 'absent') return false;
    if (target.state === 'dead') {
      if (phase !== 'paused') options.log(`daemon not running: ${target.reason}`);
      return restartDaemon(target.reason, target.pid, signal);
    }
    const outcome = await options.probe(signal);
    const graceOver =
      outcome.kind === 'gateway_internal_error' && now() - outcome.sinceMs >= settings.gatewayErrorGraceMs;
    if (outcome.kind === 'healthy' || (outcome.kind === 'gateway_internal_error' && !graceOver)) {
      if (failures > 0) {
        options.log(`recovered after ${failures} failed poll${failures === 1 ? '' : 's'}`);
        failures = 0;
        emit();
      }
      if (consecutiveRestarts > 0 && lastRestartAt !== undefined && now() - lastRestartAt >= healthyResetMs) {
        consecutiveRestarts = 0;
      }
      if (now() - lastHeartbeat >= heartbeatMs) {
        lastHeartbeat = now();
        options.log('heartbeat: healthy');
      }
      return true;
    }
    const reason = outcome.reason;
    failures += 1;
    if (phase !== 'paused') options.log(`failure ${failures}/${settings.failures}: ${reason}`);
    emit();
    if (failures < settings.failures) return true;
    return restartDaemon(`${settings.failures} consecutive health failures (${reason})`, target.pid, signal);
  };

  return {
    get state() {
      return snapshot();
    },
    reconfigure(next) {
      settings = validate({ ...settings, ...next });
    },
    async run(signal) {
      emit();
      try {
        for (;;) {
          const spread = settings.intervalMs * jitter * (2 * random() - 1);
          await sleep(Math.max(1, Math.round(settings.intervalMs + spread)), signal);
          if (!(await poll(signal))) {
            options.log('gateway.pid removed — daemon stopped intentionally; watchdog exiting');
            return { reason: 'pid_file_removed' };
          }
        }
      } catch (error) {
        if (signal.aborted) return { reason: 'aborted' };
        throw error;
      }
    },
  };
}

// --- internal ---

function validate(settings: WatchdogSettings): WatchdogSettings {
  for (const [key, value] of Object.entries(settings)) {
    const min = key === 'gatewayErrorGraceMs' ? 0 : 1;
    if (!Number.isFinite(value) || value < min) {
      throw new SupervisorError('INVALID_ARGUMENT', `watchdog ${key} must be ≥ ${min}; got ${value}`);
    }
  }
  return settings;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
