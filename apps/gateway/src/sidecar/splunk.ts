import {
  type AuditStore,
  createSplunkForwarder,
  type SplunkBatchInfo,
  type SplunkForwarder,
  type SplunkStats,
} from '@defenseclaw/audit-store';
import type { Logger } from '@defenseclaw/protocol';
import type { Config } from '../config/schema.ts';
import type { HealthRegistry } from './health.ts';

/** How long a stopping forwarder waits for batches in flight (their acceptance moves the cursor). */
export const SPLUNK_CLOSE_GRACE_MS = 300;

/** Counters summed over every forwarder this process ran (a reload restarts the forwarder). */
export type SplunkTotals = {
  delivered: number;
  failed: { rejected: number };
  dropped: { lag: number; retention: number };
  retries: number;
};

/** Options of `createSplunkService`. */
export type SplunkServiceOptions = {
  health: HealthRegistry;
  /** The running configuration (hot reload swaps it). */
  config: () => Config;
  /** The environment holding `$<splunk.token_env>` (`.env` values included, re-read on reload). */
  env: NodeJS.ProcessEnv;
  version: string;
  logger: Logger;
  /** Registers a secret with the app logger so it is masked wherever it might appear. */
  addSecret: (value: string | undefined) => void;
  /** Called after every HEC request (metrics). */
  onBatch?: (info: SplunkBatchInfo) => void;
};

/** The sidecar's Splunk subsystem: one forwarder at a time, restarted on reload, mirrored in the `splunk` entry. */
export type SplunkService = {
  /** Starts forwarding from `store` when `splunk.enabled`, or marks the entry `disabled` / `error`. */
  start(store: AuditStore): void;
  /** Stops the forwarder and starts a new one from the current config and token (SIGHUP, `POST /policy/reload`). */
  restart(): Promise<void>;
  /** Copies the forwarder's state and counters into the `splunk` health entry. */
  refresh(): void;
  /** The running forwarder's stats, if one runs. */
  readonly stats: SplunkStats | undefined;
  /** Counters over every forwarder since start (monotonic, for metrics). */
  readonly totals: SplunkTotals;
  /** Stops the forwarder (waiting up to `graceMs` for batches in flight) and marks the entry `stopped`. */
  close(graceMs?: number): Promise<void>;
};

/**
 * Creates the Splunk HEC subsystem (spec 20 §9.2, §5.2): the token comes from `$<splunk.token_env>` only, is
 * registered as a secret and never logged; an empty variable leaves the entry in `error` without starting.
 *
 * @example
 * ```ts
 * const splunk = createSplunkService({ health, config: () => config, env, version, logger, addSecret });
 * splunk.start(store);
 * // on reload: await splunk.restart(); on shutdown: await splunk.close();
 * ```
 */
export function createSplunkService(options: SplunkServiceOptions): SplunkService {
  const { health, logger: log } = options;
  let store: AuditStore | undefined;
  let forwarder: SplunkForwarder | undefined;
  let closed = false;
  // Counters of forwarders already stopped; the running one's are added on read.
  const past: SplunkTotals = {
    delivered: 0,
    failed: { rejected: 0 },
    dropped: { lag: 0, retention: 0 },
    retries: 0,
  };
  let chain: Promise<void> = Promise.resolve();

  const launch = () => {
    const config = options.config();
    const splunk = config.splunk;
    if (!splunk.enabled) {
      health.set('splunk', 'disabled', {
        details: { ...EMPTY_DETAILS, reason: 'disabled by config (splunk.enabled: false)' },
      });
      return;
    }
    const token = options.env[splunk.token_env];
    if (token === undefined || token === '') {
      health.set('splunk', 'error', {
        lastError: `HEC token variable ${splunk.token_env} is empty; set it in the environment or .env and reload`,
        details: { ...EMPTY_DETAILS, reason: undefined },
      });
      log.error(`splunk.enabled, but ${splunk.token_env} is not set; nothing is forwarded`);
      return;
    }
    options.addSecret(token);
    if (store === undefined) return;
    try {
      forwarder = createSplunkForwarder({
        store,
        hecUrl: splunk.hec_url,
        token,
        index: splunk.index,
        source: splunk.source,
        sourcetype: splunk.sourcetype,
        batch: {
          maxEvents: splunk.batch.max_events,
          maxBytes: splunk.batch.max_bytes,
          intervalMs: splunk.batch.interval_ms,
        },
        timeoutMs: splunk.timeout_ms,
        maxLagEvents: splunk.max_lag_events,
        include: splunk.include,
        includePayload: splunk.include_payload,
        version: options.version,
        logger: log,
        ...(options.onBatch === undefined ? {} : { onBatch: options.onBatch }),
      });
    } catch (error) {
      health.set('splunk', 'error', {
        lastError: error instanceof Error ? error.message : String(error),
        details: { ...EMPTY_DETAILS, reason: undefined },
      });
      log.error(`splunk: not started: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    health.set('splunk', 'starting', { details: { reason: undefined } });
    refresh();
  };

  const stop = async (graceMs: number) => {
    const current = forwarder;
    forwarder = undefined;
    if (current === undefined) return;
    await current.close({ graceMs });
    const s = current.stats;
    past.delivered += s.delivered;
    past.failed.rejected += s.failed.rejected;
    past.dropped.lag += s.dropped.lag;
    past.dropped.retention += s.dropped.retention;
    past.retries += s.retries;
  };

  function refresh(): void {
    if (forwarder === undefined) return;
    const s = forwarder.stats;
    const t = totals();
    health.set('splunk', s.state, {
      lastError: s.lastError,
      details: {
        endpoint: s.endpoint,
        queue_depth: s.queueDepth,
        cursor: s.cursor,
        delivered: t.delivered,
        failed: t.failed.rejected,
        dropped: t.dropped.lag + t.dropped.retention,
        dropped_by_reason: { ...t.dropped },
        retries: t.retries,
        circuit: s.circuit,
        in_flight: s.inFlight,
        last_success_at: s.lastSuccessAt === undefined ? undefined : new Date(s.lastSuccessAt).toISOString(),
        next_attempt_at: s.nextAttemptAt === undefined ? undefined : new Date(s.nextAttemptAt).toISOString(),
        include: options.config().splunk.include,
      },
    });
  }

  function totals(): SplunkTotals {
    const s = forwarder?.stats;
    return {
      delivered: past.delivered + (s?.delivered ?? 0),
      failed: { rejected: past.failed.rejected + (s?.failed.rejected ?? 0) },
      dropped: {
        lag: past.dropped.lag + (s?.dropped.lag ?? 0),
        retention: past.dropped.retention + (s?.dropped.retention ?? 0),
      },
      retries: past.retries + (s?.retries ?? 0),
    };
  }

  return {
    start(opened) {
      store = opened;
      launch();
    },
    restart() {
      // Serialised: two reloads in a row never run two forwarders over the same cursor.
      chain = chain.then(async () => {
        if (closed) return;
        await stop(SPLUNK_CLOSE_GRACE_MS);
        if (!closed) launch();
      });
      return chain;
    },
    refresh,
    get stats() {
      return forwarder?.stats;
    },
    get totals() {
      return totals();
    },
    async close(graceMs = SPLUNK_CLOSE_GRACE_MS) {
      closed = true;
      await chain;
      const current = forwarder;
      await stop(graceMs);
      if (health.get('splunk').state === 'disabled') return;
      if (current === undefined) {
        // Never started (token missing, bad URL): keep the reason.
        health.set('splunk', 'stopped', { lastError: health.get('splunk').last_error });
        return;
      }
      const s = current.stats;
      health.set('splunk', 'stopped', {
        details: {
          cursor: s.cursor,
          queue_depth: s.queueDepth,
          delivered: past.delivered,
          failed: past.failed.rejected,
          dropped: past.dropped.lag + past.dropped.retention,
          dropped_by_reason: { ...past.dropped },
          retries: past.retries,
          circuit: s.circuit,
          in_flight: 0,
          next_attempt_at: undefined,
        },
      });
    },
  };
}

// --- internal ---

// Detail keys a forwarder sets; cleared (undefined) when none runs, so a stale count never lingers.
const EMPTY_DETAILS: Record<string, unknown> = {
  endpoint: undefined,
  queue_depth: undefined,
  cursor: undefined,
  delivered: undefined,
  failed: undefined,
  dropped: undefined,
  dropped_by_reason: undefined,
  retries: undefined,
  circuit: undefined,
  in_flight: undefined,
  last_success_at: undefined,
  next_attempt_at: undefined,
  include: undefined,
};
