// The Splunk HEC forwarder (spec 20 §9.2): an outbox over audit.db. Committed events after `meta.cursor.splunk`
// are read in batches, POSTed to the HTTP Event Collector, and the cursor moves only after HEC accepted them, so
// delivery is at-least-once and the backlog lives in the database, never in memory. Nothing here touches the
// writer's hot path: reads are short indexed range scans, and a dead or slow HEC only makes the forwarder wait.
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { type Logger, silentLogger } from '@defenseclaw/protocol';
import { getInternals } from './_internal.ts';
import { type CircuitState, createPacing } from './_splunk-circuit.ts';
import { type HecEnvelope, hecLine } from './_splunk-format.ts';
import { createHecClient, type HecOutcome } from './_splunk-hec.ts';
import { createSplunkSource, type SplunkSource } from './_splunk-source.ts';
import { AuditStoreError } from './errors.ts';
import { META_KEYS } from './meta.ts';
import type { AuditStore } from './open.ts';

/** The defaults of the `splunk.*` settings (spec 20 §4.1) and of the pacing (§9.2). */
export const SPLUNK_DEFAULTS = {
  source: 'defenseclaw',
  sourcetype: 'defenseclaw:event',
  maxEvents: 100,
  maxBytes: 1_048_576,
  intervalMs: 2000,
  timeoutMs: 5000,
  maxLagEvents: 100_000,
  concurrency: 4,
  initialBackoffMs: 1000,
  maxBackoffMs: 60_000,
  jitter: 0.2,
  failureThreshold: 5,
  openMs: 30_000,
  maxOpenMs: 300_000,
  closeGraceMs: 500,
} as const;

/** The path a bare HEC base URL gets. */
export const HEC_EVENT_PATH = '/services/collector/event';

/** The audit event kind recorded when the backlog exceeded `max_lag_events` and was skipped. */
export const SPLUNK_SKIPPED_KIND = 'splunk.skipped';

/** HEC error codes that condemn the request rather than one event in it (wrong index, channel, ack or auth mode). */
const SYSTEMIC_HEC_CODES: ReadonlySet<number> = new Set([7, 10, 11, 14, 16]);

/** The circuit breaker's state: `closed` delivers, `open` waits, `half_open` probes with one batch. */
export type SplunkCircuitState = CircuitState;

/** The forwarder's health-facing state (spec 20 §5.2). */
export type SplunkState = 'running' | 'healthy' | 'reconnecting' | 'error' | 'stopped';

/** Options of `createSplunkForwarder`; the `splunk.*` config keys map onto them. */
export type SplunkForwarderOptions = {
  /** The audit store whose committed events are forwarded; the cursor lives in its `meta` table. */
  store: AuditStore;
  /** `splunk.hec_url`: https unless loopback; a bare base URL gets `/services/collector/event`. */
  hecUrl: string;
  /** The HEC token; sent only in the `Authorization` header, never logged or reported. */
  token: string;
  /** `splunk.index`; empty sends none (the token's default index). @default '' */
  index?: string;
  /** `splunk.source`. @default 'defenseclaw' */
  source?: string;
  /** `splunk.sourcetype`. @default 'defenseclaw:event' */
  sourcetype?: string;
  /** `splunk.batch.*`: a batch closes at `maxEvents` or `maxBytes`; a partial one waits up to `intervalMs`. */
  batch?: { maxEvents?: number; maxBytes?: number; intervalMs?: number };
  /** `splunk.timeout_ms`: per request. @default 5000 */
  timeoutMs?: number;
  /** `splunk.max_lag_events`: a larger backlog is skipped (counted, and recorded as `splunk.skipped`). @default 100000 */
  maxLagEvents?: number;
  /** `splunk.include`: `alerts` forwards only events that raised an alert. @default 'all' */
  include?: 'all' | 'alerts';
  /** `splunk.include_payload`: adds the stored (redacted) payload to each event. @default false */
  includePayload?: boolean;
  /** The HEC `host` field. @default os.hostname() */
  host?: string;
  /** The sidecar version sent in `event.sidecar.version`. @default '0.0.0' */
  version?: string;
  /** Batches in flight at once while the circuit is closed and healthy (1 after any failure). @default 4 */
  concurrency?: number;
  /** How often the backlog is checked for a full batch. @default min(intervalMs, 250) */
  pollMs?: number;
  /** Retry pacing: 1 s doubling to 60 s, ±20 % jitter (`Retry-After` stretches a wait). */
  backoff?: { initialMs?: number; maxMs?: number; jitter?: number };
  /** Breaker: opens after 5 consecutive failed batches for 30 s, doubling to 5 min per failed probe. */
  circuit?: { failureThreshold?: number; openMs?: number; maxOpenMs?: number };
  /** Called after every HEC request (metrics). */
  onBatch?: (info: SplunkBatchInfo) => void;
  /** Receives transitions, skips and rejections; never the token. @default silentLogger */
  logger?: Logger;
  /** Wall clock, Unix ms. @default Date.now */
  now?: () => number;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
};

/** What one HEC request did, for metrics. */
export type SplunkBatchInfo = {
  events: number;
  bytes: number;
  durationMs: number;
  outcome: 'ok' | 'rejected' | 'auth' | 'retry';
};

/** The forwarder's counters, the source of the `splunk` health details and the `splunk_*` metrics. */
export type SplunkStats = {
  state: SplunkState;
  circuit: SplunkCircuitState;
  /** `scheme://host:port` of the collector (no path, no credentials). */
  endpoint: string;
  /** The last event id Splunk accepted (or that was skipped), as committed to `meta.cursor.splunk`. */
  cursor: number;
  /** Committed events not forwarded yet (`max(id) − cursor`). */
  queueDepth: number;
  /** Batches currently in flight. */
  inFlight: number;
  /** Events Splunk accepted. */
  delivered: number;
  /** Requests Splunk accepted. */
  batches: number;
  /** Events Splunk refused for good and skipped, by reason. */
  failed: { rejected: number };
  /** Events never forwarded, by reason. */
  dropped: { lag: number; retention: number };
  /** Failed requests that will be (or were) retried. */
  retries: number;
  /** Failed batches since the last accepted one. */
  consecutiveFailures: number;
  lastSuccessAt?: number;
  /** When the next request may start, while backing off or open. */
  nextAttemptAt?: number;
  /** Why the last request failed (never the token). */
  lastError?: string;
};

/** A running forwarder. */
export type SplunkForwarder = {
  /** A snapshot of the counters and state. */
  readonly stats: SplunkStats;
  /** Checks the backlog now instead of at the next poll. */
  wake(): void;
  /**
   * Stops: waits up to `graceMs` for batches in flight (accepted ones move the cursor), aborts the rest (they are
   * resent by the next forwarder) and closes the sockets. Safe to call twice.
   */
  close(options?: { graceMs?: number }): Promise<void>;
};

/** A parsed collector URL: where to POST and what may be shown. */
export type SplunkEndpoint = { url: URL; display: string };

/**
 * Validates `splunk.hec_url`: http(s) only, https unless the host is loopback, no credentials in it; a bare base
 * URL gets `/services/collector/event`. Throws `AuditStoreError('INVALID_ARGUMENT')`.
 */
export function splunkEndpoint(hecUrl: string): SplunkEndpoint {
  let url: URL;
  try {
    url = new URL(hecUrl);
  } catch {
    throw invalid('splunk: hec_url is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('splunk: hec_url must be http(s)');
  if (url.username !== '' || url.password !== '') {
    throw invalid('splunk: hec_url must not carry credentials; the token comes from splunk.token_env');
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw invalid(
      'splunk: hec_url must use https unless the collector is on loopback (the token would travel in clear)',
    );
  }
  if (url.pathname === '' || url.pathname === '/') url.pathname = HEC_EVENT_PATH;
  url.hash = '';
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return { url, display: `${url.protocol}//${url.hostname}:${port}` };
}

/**
 * Starts forwarding committed audit events to a Splunk HTTP Event Collector.
 *
 * @example
 * const forwarder = createSplunkForwarder({ store, hecUrl: 'https://splunk.example:8088', token, logger });
 * health.set('splunk', forwarder.stats.state, { details: { cursor: forwarder.stats.cursor } });
 * await forwarder.close();
 */
export function createSplunkForwarder(options: SplunkForwarderOptions): SplunkForwarder {
  const o = resolve(options);
  const endpoint = splunkEndpoint(options.hecUrl);
  const { store } = options;
  const log = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const source: SplunkSource = createSplunkSource(getInternals(store).db);
  const envelope: HecEnvelope = {
    host: options.host ?? hostname(),
    source: options.source ?? SPLUNK_DEFAULTS.source,
    sourcetype: options.sourcetype ?? SPLUNK_DEFAULTS.sourcetype,
    index: options.index ?? '',
    version: options.version ?? '0.0.0',
    instanceId: store.meta.instanceId,
    includePayload: options.includePayload ?? false,
  };
  const client = createHecClient(
    { url: endpoint.url, authorization: `Splunk ${options.token}`, timeoutMs: o.timeoutMs },
    o.concurrency,
  );
  const pacing = createPacing({
    initialBackoffMs: o.initialBackoffMs,
    maxBackoffMs: o.maxBackoffMs,
    jitter: o.jitter,
    failureThreshold: o.failureThreshold,
    openMs: o.openMs,
    maxOpenMs: o.maxOpenMs,
    random: options.random ?? Math.random,
  });
  const alertsOnly = options.include === 'alerts';

  const counters = {
    delivered: 0,
    batches: 0,
    rejected: 0,
    lag: 0,
    retention: 0,
    retries: 0,
  };
  let lastSuccessAt: number | undefined;
  let lastError: string | undefined;
  let readFailing = false;
  let lastMaxId = 0;
  let stopped = false;

  let cursor = loadCursor();
  // Where the next read starts: ahead of `cursor` by the batches in flight.
  let readPos = cursor;
  // While bisecting a rejected batch: reads stop at its last id and take `bisectSize` events at most.
  let bisectUntil: number | undefined;
  let bisectSize = o.maxEvents;
  // Retention gaps below this id were already counted (reads repeat after a rewind).
  let retentionCountedTo = cursor;
  // Ids up to here were skipped for lag: a rewind after a failure never goes back below it.
  let skipFloor = 0;
  // When the current partial backlog was first seen.
  let pendingSince: number | undefined;
  const pending: Batch[] = [];

  const aborter = new AbortController();
  let wakeSleep: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  let closeRequested = false;
  let signalClosed: () => void = () => {};
  const closeSignal = new Promise<void>((resolveClosed) => {
    signalClosed = resolveClosed;
  });

  const loop = run();

  return {
    get stats() {
      return snapshot();
    },
    wake() {
      wakeSleep?.();
    },
    close(closeOptions = {}) {
      closing ??= shutdown(closeOptions.graceMs ?? SPLUNK_DEFAULTS.closeGraceMs);
      return closing;
    },
  };

  // --- the loop ---

  async function run(): Promise<void> {
    log.info(`splunk: forwarding to ${endpoint.display} from event ${cursor}`);
    let turns = 0;
    while (!closeRequested) {
      try {
        await step();
        readFailing = false;
        // Steps that never wait (filtered batches, skips) still give the event loop back now and then.
        if (++turns % 8 === 0) await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
      } catch (error) {
        // The database went away or failed a read: report it and retry at the next poll.
        if (closeRequested) break;
        if (!readFailing) log.warn('splunk: reading the audit database failed', { error: errorText(error) });
        readFailing = true;
        lastError = `audit database: ${errorText(error)}`;
        await sleep(o.pollMs);
      }
    }
  }

  async function step(): Promise<void> {
    // 1. Settle finished batches in order; a failure at the head stops the pipeline and rewinds to the cursor.
    while (pending.length > 0 && pending[0]!.outcome !== undefined) {
      const head = pending[0]!;
      if (head.outcome!.kind === 'ok') {
        pending.shift();
        accept(head);
        continue;
      }
      // Batches behind a failed one are discarded once answered (resent later: at-least-once).
      await Promise.race([Promise.allSettled(pending.map((batch) => batch.done)), closeSignal]);
      pending.length = 0;
      fail(head, head.outcome!);
      readPos = Math.max(cursor, skipFloor);
      return;
    }
    if (closeRequested) return;

    // 2. Respect the backoff and the open circuit.
    const t = now();
    if (pacing.poll(t) === 'open' || pacing.nextAttemptAt > t) {
      if (pending.length > 0) await settleHead();
      else await sleep(pacing.nextAttemptAt - t);
      return;
    }
    const healthy =
      pacing.state === 'closed' && pacing.consecutiveFailures === 0 && bisectUntil === undefined;
    if (pending.length >= (healthy ? o.concurrency : 1)) {
      await settleHead();
      return;
    }

    // 3. Is there something to send?
    const maxId = source.maxId();
    lastMaxId = maxId;
    const backlog = maxId - readPos;
    if (backlog <= 0) {
      pendingSince = undefined;
      if (pending.length > 0) await settleHead();
      else await sleep(o.pollMs);
      return;
    }
    const urgent = !healthy || backlog >= o.maxEvents;
    if (!urgent) {
      pendingSince ??= t;
      const waited = t - pendingSince;
      if (waited < o.intervalMs) {
        if (pending.length > 0) await settleHead();
        else await sleep(Math.min(o.pollMs, o.intervalMs - waited));
        return;
      }
    }

    // 4. The writer comes first: while its queue is more than half full, reading and serialising wait.
    const writer = store.stats;
    if (writer.queueDepth > writer.queueCapacity / 2) {
      if (pending.length > 0) await settleHead();
      else await sleep(o.pollMs);
      return;
    }

    // 5. Read one batch and send it (without waiting while the pipeline has room).
    skipLag(maxId);
    dispatch(readBatch(maxId));
  }

  function readBatch(maxId: number): Batch {
    const after = readPos;
    const limit = bisectUntil === undefined ? o.maxEvents : bisectSize;
    const until = Math.min(bisectUntil ?? maxId, maxId);
    const read = source.read(after, {
      limit,
      scanLimit: Math.min(limit * 10, 10_000),
      until,
      alertsOnly,
      payload: envelope.includePayload,
    });
    // No row left up to `until` (max(id) comes from the same synchronous moment): those ids were deleted.
    countRetentionGap(after, read.firstId ?? until + 1);
    const lines: string[] = [];
    let bytes = 0;
    let last = read.firstId === undefined ? until : read.scannedTo;
    for (const event of read.events) {
      const line = hecLine(event, envelope);
      const size = Buffer.byteLength(line) + 1;
      // Always at least one event, even one larger than the cap: HEC decides (a 413 skips it like a 400).
      if (lines.length > 0 && bytes + size > o.maxBytes) {
        last = read.events[lines.length - 1]!.id;
        break;
      }
      lines.push(line);
      bytes += size;
    }
    return {
      after,
      last,
      events: lines.length,
      ids: read.events.slice(0, lines.length).map((event) => event.id),
      body: lines.join('\n'),
      bytes,
      outcome: undefined,
      done: Promise.resolve(),
    };
  }

  function dispatch(batch: Batch): void {
    readPos = batch.last;
    pending.push(batch);
    if (batch.events === 0) {
      // Nothing matched the filter (include: alerts): the cursor still moves past the rows examined.
      batch.outcome = { kind: 'ok', status: 0 };
      return;
    }
    const started = performance.now();
    batch.done = client.post(batch.body, aborter.signal).then((outcome) => {
      batch.outcome = outcome;
      batch.body = '';
      options.onBatch?.({
        events: batch.events,
        bytes: batch.bytes,
        durationMs: performance.now() - started,
        outcome: outcome.kind,
      });
      wakeSleep?.();
    });
  }

  function accept(batch: Batch): void {
    if (batch.events > 0) {
      counters.delivered += batch.events;
      counters.batches += 1;
      lastSuccessAt = now();
      if (pacing.state !== 'closed' || pacing.consecutiveFailures > 0) {
        log.info(`splunk: ${endpoint.display} accepts events again`);
      }
      pacing.success();
      lastError = undefined;
    }
    moveCursor(batch.last);
  }

  function fail(batch: Batch, outcome: HecOutcome): void {
    const t = now();
    if (outcome.kind === 'rejected') {
      if (outcome.code !== undefined && SYSTEMIC_HEC_CODES.has(outcome.code)) {
        // Every event would be refused the same way (wrong index, channel, ack setting): wait for an operator.
        lastError = `HEC refused the request (code ${outcome.code}${outcome.text === undefined ? '' : `: ${outcome.text}`})`;
        counters.retries += 1;
        pacing.failure(t, { openNow: true });
        log.error(`splunk: ${lastError}; circuit open, nothing is skipped`);
        return;
      }
      // HEC is up and talking: the problem is in the data, not the connection.
      pacing.success();
      if (batch.events === 1) {
        counters.rejected += 1;
        log.warn(`splunk: HEC rejected event ${batch.ids[0]} (status ${outcome.status}); skipped`, {
          event_id: batch.ids[0],
          ...(outcome.code === undefined ? {} : { hec_code: outcome.code }),
        });
        moveCursor(batch.last);
        return;
      }
      bisectUntil = Math.min(bisectUntil ?? batch.last, batch.last);
      bisectSize = Math.ceil(batch.events / 2);
      log.debug(`splunk: HEC rejected a batch of ${batch.events}; bisecting`, {
        first_id: batch.ids[0],
        last_id: batch.last,
      });
      return;
    }
    counters.retries += 1;
    const wasOpen = pacing.state !== 'closed';
    if (outcome.kind === 'auth') {
      lastError = 'HEC token rejected';
      pacing.failure(t, { openNow: true });
      log.error(
        `splunk: HEC token rejected (status ${outcome.status}); circuit open — fix the token and reload (SIGHUP)`,
      );
      return;
    }
    if (outcome.kind !== 'retry') return;
    lastError = outcome.message;
    const next = pacing.failure(
      t,
      outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs },
    );
    const waitS = Math.round((next - t) / 100) / 10;
    if (pacing.state === 'open' && !wasOpen) {
      log.warn(
        `splunk: ${pacing.consecutiveFailures} batches failed (${outcome.message}); circuit open, next try in ${waitS} s`,
      );
    } else if (pacing.consecutiveFailures === 1) {
      log.warn(`splunk: delivery failed (${outcome.message}); retrying in ${waitS} s`);
    } else {
      log.debug(`splunk: delivery failed (${outcome.message}); retrying in ${waitS} s`);
    }
  }

  function moveCursor(to: number): void {
    if (to <= cursor) return;
    cursor = to;
    if (bisectUntil !== undefined && cursor >= bisectUntil) bisectUntil = undefined;
    try {
      store.meta.set(META_KEYS.splunkCursor, String(cursor));
    } catch (error) {
      // The in-memory cursor keeps going; the next successful write persists it (a restart would resend).
      log.warn('splunk: the cursor could not be saved', { error: errorText(error) });
    }
  }

  /**
   * Jumps over a backlog above `maxLagEvents` (what is not even in flight yet): counted as dropped and recorded as
   * one `splunk.skipped` event. The jump waits for 10 % of slack, so a sustained overload records one event per
   * tenth of `maxLagEvents` skipped, not one per batch (the skipped event itself adds to the backlog).
   */
  function skipLag(maxId: number): void {
    const lag = maxId - readPos;
    if (lag <= o.maxLagEvents + Math.ceil(o.maxLagEvents / 10)) return;
    const from = readPos;
    const to = maxId - o.maxLagEvents;
    const count = to - from;
    counters.lag += count;
    readPos = to;
    skipFloor = to;
    // With nothing in flight the cursor moves now; otherwise the first batch past the jump moves it.
    if (pending.length === 0) moveCursor(to);
    retentionCountedTo = Math.max(retentionCountedTo, to);
    if (bisectUntil !== undefined && to >= bisectUntil) bisectUntil = undefined;
    log.warn(
      `splunk: backlog of ${lag} events exceeds splunk.max_lag_events (${o.maxLagEvents}); skipped events ${from + 1}–${to}`,
    );
    store
      .enqueue({
        event: {
          ts: now(),
          kind: SPLUNK_SKIPPED_KIND,
          source: 'sidecar',
          summary: `splunk: ${count} events not forwarded (backlog above max_lag_events)`,
          payload: { reason: 'lag', count, from_id: from + 1, to_id: to, max_lag_events: o.maxLagEvents },
        },
        alert: 'none',
      })
      .catch((error: unknown) =>
        log.warn('splunk: splunk.skipped was not recorded', { error: errorText(error) }),
      );
  }

  /** Rows deleted by retention before they were forwarded show as a gap below the oldest stored event. */
  function countRetentionGap(after: number, firstId: number): void {
    if (firstId <= after + 1 || firstId <= retentionCountedTo) return;
    const from = Math.max(after, retentionCountedTo);
    retentionCountedTo = firstId;
    // A hole in the middle is not retention's doing; with no row left at all, everything up to max(id) is gone.
    const min = source.minId();
    if (min !== undefined && min !== firstId) return;
    const count = firstId - from - 1;
    if (count <= 0) return;
    counters.retention += count;
    log.warn(`splunk: ${count} events were deleted by retention before they could be forwarded`);
  }

  function snapshot(): SplunkStats {
    if (!stopped) {
      try {
        lastMaxId = source.maxId();
      } catch {
        // keep the last known value
      }
    }
    const stats: SplunkStats = {
      state: state(),
      circuit: pacing.state,
      endpoint: endpoint.display,
      cursor,
      queueDepth: Math.max(0, lastMaxId - cursor),
      inFlight: pending.filter((batch) => batch.outcome === undefined).length,
      delivered: counters.delivered,
      batches: counters.batches,
      failed: { rejected: counters.rejected },
      dropped: { lag: counters.lag, retention: counters.retention },
      retries: counters.retries,
      consecutiveFailures: pacing.consecutiveFailures,
    };
    if (lastSuccessAt !== undefined) stats.lastSuccessAt = lastSuccessAt;
    if (pacing.nextAttemptAt > now()) stats.nextAttemptAt = pacing.nextAttemptAt;
    if (lastError !== undefined) stats.lastError = lastError;
    return stats;
  }

  function state(): SplunkState {
    if (stopped) return 'stopped';
    if (pacing.state === 'open' || readFailing) return 'error';
    if (pacing.state === 'half_open' || pacing.consecutiveFailures > 0) return 'reconnecting';
    return lastSuccessAt === undefined ? 'running' : 'healthy';
  }

  function loadCursor(): number {
    const stored = store.meta.get(META_KEYS.splunkCursor);
    const maxId = source.maxId();
    lastMaxId = maxId;
    if (stored === undefined) return 0;
    const value = Number(stored);
    if (!Number.isSafeInteger(value) || value < 0) {
      log.warn('splunk: meta.cursor.splunk is not an event id; starting from the oldest stored event');
      return 0;
    }
    if (value > maxId) {
      log.warn(`splunk: cursor ${value} is past the newest event ${maxId}; starting after ${maxId}`);
      return maxId;
    }
    return value;
  }

  // --- waiting ---

  function sleep(ms: number): Promise<void> {
    if (closeRequested) return Promise.resolve();
    return new Promise((resolveSleep) => {
      const done = () => {
        clearTimeout(timer);
        if (wakeSleep === done) wakeSleep = undefined;
        resolveSleep();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref();
      wakeSleep = done;
    });
  }

  /** Waits until the oldest batch in flight has an answer (or something wakes the loop). */
  async function settleHead(): Promise<void> {
    const head = pending[0];
    if (head === undefined || head.outcome !== undefined) return;
    await Promise.race([head.done, sleep(o.timeoutMs + 1000)]);
  }

  async function shutdown(graceMs: number): Promise<void> {
    closeRequested = true;
    signalClosed();
    wakeSleep?.();
    await loop;
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(pending.map((batch) => batch.done)),
        new Promise<void>((resolveGrace) => {
          timer = setTimeout(resolveGrace, graceMs);
        }),
      ]);
      clearTimeout(timer);
      // What HEC accepted in order moves the cursor; the rest is resent by the next forwarder.
      while (pending[0]?.outcome?.kind === 'ok') accept(pending.shift()!);
      pending.length = 0;
    }
    aborter.abort();
    client.close();
    stopped = true;
    log.info(`splunk: stopped at event ${cursor}`);
  }
}

// --- internal ---

type Batch = {
  /** The cursor the batch starts after. */
  after: number;
  /** The id the cursor moves to once the batch is accepted. */
  last: number;
  events: number;
  ids: number[];
  body: string;
  bytes: number;
  outcome: HecOutcome | undefined;
  /** Settles when the request has an outcome. */
  done: Promise<void>;
};

type Resolved = {
  maxEvents: number;
  maxBytes: number;
  intervalMs: number;
  timeoutMs: number;
  maxLagEvents: number;
  concurrency: number;
  pollMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  jitter: number;
  failureThreshold: number;
  openMs: number;
  maxOpenMs: number;
};

function resolve(options: SplunkForwarderOptions): Resolved {
  const d = SPLUNK_DEFAULTS;
  const intervalMs = options.batch?.intervalMs ?? d.intervalMs;
  const o: Resolved = {
    maxEvents: options.batch?.maxEvents ?? d.maxEvents,
    maxBytes: options.batch?.maxBytes ?? d.maxBytes,
    intervalMs,
    timeoutMs: options.timeoutMs ?? d.timeoutMs,
    maxLagEvents: options.maxLagEvents ?? d.maxLagEvents,
    concurrency: options.concurrency ?? d.concurrency,
    pollMs: options.pollMs ?? Math.min(intervalMs, 250),
    initialBackoffMs: options.backoff?.initialMs ?? d.initialBackoffMs,
    maxBackoffMs: options.backoff?.maxMs ?? d.maxBackoffMs,
    jitter: options.backoff?.jitter ?? d.jitter,
    failureThreshold: options.circuit?.failureThreshold ?? d.failureThreshold,
    openMs: options.circuit?.openMs ?? d.openMs,
    maxOpenMs: options.circuit?.maxOpenMs ?? d.maxOpenMs,
  };
  for (const [name, value] of Object.entries(o)) {
    if (name === 'jitter') {
      if (!(value >= 0 && value < 1)) throw invalid('splunk: backoff.jitter must be in [0, 1)');
    } else if (!Number.isSafeInteger(value) || value < 1) {
      throw invalid(`splunk: ${name} must be a positive integer`);
    }
  }
  if (o.maxBackoffMs < o.initialBackoffMs) throw invalid('splunk: backoff.maxMs must be ≥ backoff.initialMs');
  if (o.maxOpenMs < o.openMs) throw invalid('splunk: circuit.maxOpenMs must be ≥ circuit.openMs');
  if (typeof options.token !== 'string' || !/^[\x21-\x7e]+$/.test(options.token)) {
    throw invalid('splunk: the HEC token is empty or contains spaces or control characters');
  }
  return o;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function invalid(message: string): AuditStoreError {
  return new AuditStoreError('INVALID_ARGUMENT', message);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
