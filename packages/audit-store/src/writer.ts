// The single writer: a bounded queue drained in batches, one BEGIN IMMEDIATE transaction each, with
// backpressure, retries, bisection of bad batches and accounting of every record that is not written.
import { performance } from 'node:perf_hooks';
import type { Logger } from '@defenseclaw/protocol';
import type Database from 'better-sqlite3';
import { Fifo } from './_fifo.ts';
import type { RecordInserter } from './_insert.ts';
import type { PreparedRecord } from './_prepare.ts';
import { AuditStoreError } from './errors.ts';
import type { AuditRecord, AuditStats, CommitReceipt, DropReason } from './types.ts';

/** The writer's knobs; `openAuditStore` fills them from its options. */
export type WriterOptions = {
  db: Database.Database;
  insert: RecordInserter;
  prepare: (record: AuditRecord) => PreparedRecord;
  queueSize: number;
  batchMax: number;
  flushIntervalMs: number;
  /** How long one event-loop turn may keep committing batches of a deep queue before yielding (0 = one batch). */
  flushSliceMs: number;
  enqueueTimeoutMs: number;
  /** Pause between attempts while the database is full, read-only or failing I/O. */
  retryIntervalMs: number;
  /** Pauses before re-trying a batch that hit SQLITE_BUSY beyond busy_timeout. */
  busyRetryDelaysMs: readonly number[];
  logger: Logger;
  now: () => number;
  synchronous: 'normal' | 'full';
  path: string;
};

/** The batched writer behind `AuditStore`: narrow enough to move to a worker thread later. */
export interface AuditWriter {
  /** Queues a record; resolves with its ids after the batch holding it commits. */
  enqueue(record: AuditRecord): Promise<CommitReceipt>;
  /** Commits a record now, in its own transaction (queued records first, to keep id order). */
  writeNow(record: AuditRecord): CommitReceipt;
  /** Writes everything queued now and resolves once those records are committed or failed. */
  flush(): Promise<void>;
  /** Stops accepting records, drains within the timeout, and drops (and counts) what is left. */
  drain(timeoutMs: number): Promise<{ drained: number; dropped: number }>;
  /** Subscribes to queue pressure changes; returns the unsubscribe function. */
  onPressure(listener: (high: boolean) => void): () => void;
  /** Changes how long a full queue makes `enqueue` wait (hot reload). */
  setEnqueueTimeout(ms: number): void;
  /** A snapshot of the writer's counters. */
  readonly stats: AuditStats;
}

/** The share of the queue above which pressure is reported. */
export const PRESSURE_HIGH = 0.8;
/** The share of the queue at or below which pressure is cleared again (hysteresis). */
export const PRESSURE_LOW = 0.7;

/** Creates the writer over an open, migrated connection. */
export function createWriter(options: WriterOptions): AuditWriter {
  const o = options;
  const queue = new Fifo<Item>();
  const waiters: Waiter[] = [];
  const pressureListeners = new Set<(high: boolean) => void>();
  const dropped: Record<DropReason, number> = { queue_full: 0, write_error: 0, shutdown: 0 };
  const gap: Record<DropReason, number> = { queue_full: 0, write_error: 0, shutdown: 0 };
  let gapSince = 0;
  let state: 'open' | 'closing' | 'closed' = 'open';
  let enqueueTimeoutMs = o.enqueueTimeoutMs;
  let highWater = 0;
  let committedRecords = 0;
  let gapEvents = 0;
  let writeErrors = 0;
  let failing = false;
  let lastCommitAt: number | undefined;
  let lastDropAt: number | undefined;
  let lastError: { code: string; at: number } | undefined;
  let pressureHigh = false;
  let flushing: Promise<void> | undefined;
  let busySleeping = false;
  let forced = false;
  let drainDeadline = Infinity;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let dropLog = { at: -Infinity, pending: { queue_full: 0, write_error: 0, shutdown: 0 } };

  const tx = o.db.transaction((items: readonly { rec: PreparedRecord }[]) => {
    const recs: PreparedRecord[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) recs[i] = items[i]!.rec;
    return o.insert(recs);
  });

  // --- committing ---

  /** Commits items in order; a non-transient failure bisects so good records still commit. */
  function commit(items: readonly Item[]): Outcome {
    const results: (CommitReceipt | Error)[] = [];
    const transient = attempt(items, results);
    if (transient !== undefined || results.some((r) => r instanceof Error)) writeErrors++;
    if (transient !== undefined) lastError = { code: errorCode(transient), at: o.now() };
    return { results, transient };
  }

  function attempt(items: readonly Item[], results: (CommitReceipt | Error)[]): unknown {
    try {
      const receipts = tx.immediate(items);
      for (const r of receipts) results.push(r);
      return undefined;
    } catch (err) {
      if (isTransient(err)) return err;
      if (items.length === 1) {
        lastError = { code: errorCode(err), at: o.now() };
        results.push(err instanceof Error ? err : new Error(String(err)));
        return undefined;
      }
      const mid = items.length >>> 1;
      return attempt(items.slice(0, mid), results) ?? attempt(items.slice(mid), results);
    }
  }

  /** Resolves or rejects the settled prefix of the queue and removes it. */
  function settle(outcome: Outcome): void {
    const n = outcome.results.length;
    if (n === 0) return;
    const items = queue.take(n);
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const item = items[i]!;
      const r = outcome.results[i]!;
      if (r instanceof Error) {
        reject(item, r);
      } else {
        ok++;
        item.resolve(r);
      }
    }
    if (ok > 0) committed(ok);
    admitWaiters();
    updatePressure();
  }

  function reject(item: Item, err: Error): void {
    o.logger.warn('audit: record rejected by the database', {
      kind: item.rec.event.kind,
      code: errorCode(err),
    });
    drop('write_error', 1);
    item.reject(
      new AuditStoreError('WRITE_FAILED', `audit: record not written (${errorCode(err)})`, { cause: err }),
    );
  }

  function committed(count: number): void {
    committedRecords += count;
    lastCommitAt = o.now();
    if (failing) {
      failing = false;
      o.logger.info('audit: commits succeed again');
    }
    writeGap();
  }

  /** Writes one `audit.gap` event (with a high alert) for the drops since the last one. */
  function writeGap(): void {
    const count = gap.queue_full + gap.write_error + gap.shutdown;
    if (count === 0) return;
    const byReason = Object.fromEntries(Object.entries(gap).filter(([, n]) => n > 0)) as Partial<
      Record<DropReason, number>
    >;
    const reason = Object.keys(byReason).join(',');
    const title = `audit gap: ${count} record${count === 1 ? '' : 's'} not recorded (${reason})`;
    const now = o.now();
    const rec = o.prepare({
      event: {
        ts: now,
        kind: 'audit.gap',
        source: 'sidecar',
        summary: title,
        payload: { count, reason, by_reason: byReason, since: gapSince, until: now },
      },
      alert: { category: 'audit', severity: 'high', title },
    });
    try {
      tx.immediate([{ rec }]);
    } catch (err) {
      o.logger.warn('audit: could not record the gap yet', { code: errorCode(err), count });
      return;
    }
    gapEvents++;
    gap.queue_full = gap.write_error = gap.shutdown = 0;
    flushDropLog(true);
    o.logger.info('audit: recorded a gap in the trail', { count, reason });
  }

  function drop(reason: DropReason, count: number): void {
    if (gap.queue_full + gap.write_error + gap.shutdown === 0) gapSince = o.now();
    dropped[reason] += count;
    gap[reason] += count;
    dropLog.pending[reason] += count;
    lastDropAt = o.now();
    flushDropLog(false);
  }

  /** Logs drops at most every 10 s, counts only. */
  function flushDropLog(force: boolean): void {
    const t = performance.now();
    const p = dropLog.pending;
    if (p.queue_full + p.write_error + p.shutdown === 0) return;
    if (!force && t - dropLog.at < 10_000) return;
    o.logger.error('audit: records dropped', { ...p });
    dropLog = { at: t, pending: { queue_full: 0, write_error: 0, shutdown: 0 } };
  }

  // --- scheduling ---

  function schedule(): void {
    if (flushing !== undefined || retryTimer !== undefined || state === 'closed' || queue.length === 0)
      return;
    if (forced || state === 'closing' || queue.length >= o.batchMax) {
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      immediate ??= setImmediate(run);
    } else if (timer === undefined && immediate === undefined) {
      const wait = Math.max(0, queue.at(0)!.at + o.flushIntervalMs - performance.now());
      timer = setTimeout(run, wait);
    }
  }

  function run(): Promise<void> {
    if (flushing !== undefined) return flushing;
    if (timer !== undefined) clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
    timer = immediate = undefined;
    flushing = loop().finally(() => {
      flushing = undefined;
      schedule();
    });
    return flushing;
  }

  async function loop(): Promise<void> {
    let busyAttempt = 0;
    let sliceStart = performance.now();
    while (queue.length > 0 && state !== 'closed') {
      if (state === 'closing' && performance.now() >= drainDeadline) return;
      const n = Math.min(o.batchMax, queue.length);
      const due = forced || state === 'closing' || performance.now() - queue.at(0)!.at >= o.flushIntervalMs;
      if (n < o.batchMax && !due) return;
      const outcome = commit(queue.peek(n));
      settle(outcome);
      if (outcome.transient !== undefined) {
        if (state === 'closing' && performance.now() >= drainDeadline) return;
        if (isBusy(outcome.transient) && busyAttempt < o.busyRetryDelaysMs.length) {
          const delay = o.busyRetryDelaysMs[busyAttempt++]!;
          busySleeping = true;
          await sleep(
            state === 'closing' ? Math.min(delay, Math.max(0, drainDeadline - performance.now())) : delay,
          );
          busySleeping = false;
          sliceStart = performance.now();
          continue;
        }
        enterFailing(outcome.transient);
        return;
      }
      busyAttempt = 0;
      if (queue.length === 0) {
        forced = false;
      } else if (performance.now() - sliceStart >= o.flushSliceMs) {
        // A deep queue drains batch after batch within one time slice, then lets the event loop breathe.
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    if (queue.length === 0) forced = false;
  }

  function enterFailing(err: unknown): void {
    if (!failing) o.logger.error('audit: commits failing; records held for retry', { code: errorCode(err) });
    failing = true;
    if (state !== 'closed') {
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        void run();
      }, o.retryIntervalMs);
    }
  }

  // --- admission and pressure ---

  function admitWaiters(): void {
    while (waiters.length > 0 && queue.length < o.queueSize) {
      const w = waiters.shift()!;
      clearTimeout(w.timer);
      w.item.at = performance.now();
      push(w.item);
    }
  }

  function push(item: Item): void {
    queue.push(item);
    if (queue.length > highWater) highWater = queue.length;
    updatePressure();
    schedule();
  }

  function updatePressure(): void {
    const depth = queue.length;
    const next = pressureHigh ? depth > o.queueSize * PRESSURE_LOW : depth > o.queueSize * PRESSURE_HIGH;
    if (next === pressureHigh) return;
    pressureHigh = next;
    for (const listener of pressureListeners) {
      try {
        listener(next);
      } catch (err) {
        o.logger.warn('audit: pressure listener threw', { error: String(err) });
      }
    }
  }

  function prepareOrReject(record: AuditRecord): PreparedRecord {
    try {
      return o.prepare(record);
    } catch (cause) {
      o.logger.warn('audit: record could not be prepared', { kind: String(record?.event?.kind) });
      drop('write_error', 1);
      throw new AuditStoreError('WRITE_FAILED', 'audit: record is malformed', { cause });
    }
  }

  // --- public surface ---

  function enqueue(record: AuditRecord): Promise<CommitReceipt> {
    if (state !== 'open') {
      drop('shutdown', 1);
      return Promise.reject(new AuditStoreError('CLOSED', 'audit: store is closed'));
    }
    let rec: PreparedRecord;
    try {
      rec = prepareOrReject(record);
    } catch (err) {
      return Promise.reject(err);
    }
    // A shared executor (no closure per record): a deep queue holds fewer objects for the GC to copy.
    const promise = new Promise<CommitReceipt>(capture);
    const item: Item = { rec, resolve: captured.resolve!, reject: captured.reject!, at: performance.now() };
    captured.resolve = captured.reject = undefined;
    if (waiters.length === 0 && queue.length < o.queueSize) {
      push(item);
      return promise;
    }
    if (enqueueTimeoutMs <= 0) {
      drop('queue_full', 1);
      item.reject(queueFull());
      return promise;
    }
    const waiter: Waiter = {
      item,
      timer: setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        drop('queue_full', 1);
        item.reject(queueFull());
      }, enqueueTimeoutMs),
    };
    waiters.push(waiter);
    return promise;
  }

  function writeNow(record: AuditRecord): CommitReceipt {
    if (state === 'closed') {
      drop('shutdown', 1);
      throw new AuditStoreError('CLOSED', 'audit: store is closed');
    }
    const rec = prepareOrReject(record);
    // Commit what is queued first so ids keep arrival order, unless the writer is backing off.
    if (!busySleeping && !failing) {
      while (queue.length > 0) {
        const outcome = commit(queue.peek(o.batchMax));
        settle(outcome);
        if (outcome.transient !== undefined) break;
      }
    }
    const result: (CommitReceipt | Error)[] = [];
    const transient = attempt([{ rec, resolve: noop, reject: noop, at: 0 }], result);
    const r = result[0];
    if (transient === undefined && r !== undefined && !(r instanceof Error)) {
      committed(1);
      return r;
    }
    writeErrors++;
    const err = (transient ?? r) as Error;
    lastError = { code: errorCode(err), at: o.now() };
    o.logger.warn('audit: record rejected by the database', { kind: rec.event.kind, code: errorCode(err) });
    drop('write_error', 1);
    schedule();
    throw new AuditStoreError('WRITE_FAILED', `audit: record not written (${errorCode(err)})`, {
      cause: err,
    });
  }

  async function flush(): Promise<void> {
    const pending = [...queue.peek(queue.length), ...waiters.map((w) => w.item)];
    if (pending.length === 0) return;
    forced = true;
    if (retryTimer === undefined) schedule();
    await Promise.allSettled(pending.map((item) => new Promise<void>((resolve) => watchItem(item, resolve))));
  }

  async function drain(timeoutMs: number): Promise<{ drained: number; dropped: number }> {
    if (state !== 'open') return { drained: 0, dropped: 0 };
    state = 'closing';
    const startCommitted = committedRecords;
    const startDropped = dropped.queue_full + dropped.write_error + dropped.shutdown;
    const deadline = performance.now() + timeoutMs;
    drainDeadline = deadline;
    while ((queue.length > 0 || waiters.length > 0) && performance.now() < deadline) {
      if (retryTimer !== undefined) {
        clearTimeout(retryTimer);
        retryTimer = undefined;
      }
      if (queue.length === 0) {
        // Only waiters are left (they are admitted as room frees up); give them a turn.
        admitWaiters();
        if (queue.length === 0) await sleep(1);
        continue;
      }
      await run();
      if (failing && queue.length > 0) {
        if (retryTimer !== undefined) {
          clearTimeout(retryTimer);
          retryTimer = undefined;
        }
        await sleep(Math.max(0, Math.min(o.retryIntervalMs, deadline - performance.now())));
      }
    }
    state = 'closed';
    for (const handle of [timer, retryTimer]) if (handle !== undefined) clearTimeout(handle);
    if (immediate !== undefined) clearImmediate(immediate);
    timer = retryTimer = immediate = undefined;
    for (const w of waiters) clearTimeout(w.timer);
    const left = [...queue.drain(), ...waiters.splice(0).map((w) => w.item)];
    if (left.length > 0) {
      drop('shutdown', left.length);
      for (const item of left) item.reject(new AuditStoreError('CLOSED', 'audit: dropped at shutdown'));
      // Best effort: the trail should show the loss if the database still takes writes.
      writeGap();
    }
    flushDropLog(true);
    updatePressure();
    return {
      drained: committedRecords - startCommitted,
      dropped: dropped.queue_full + dropped.write_error + dropped.shutdown - startDropped,
    };
  }

  /** Calls `done` once the item's promise settles, without disturbing its owner's handlers. */
  function watchItem(item: Item, done: () => void): void {
    const { resolve, reject: rej } = item;
    item.resolve = (r) => {
      resolve(r);
      done();
    };
    item.reject = (e) => {
      rej(e);
      done();
    };
  }

  return {
    enqueue,
    writeNow,
    flush,
    drain,
    onPressure(listener) {
      pressureListeners.add(listener);
      return () => {
        pressureListeners.delete(listener);
      };
    },
    setEnqueueTimeout(ms) {
      enqueueTimeoutMs = ms;
    },
    get stats(): AuditStats {
      const s: AuditStats = {
        queueDepth: queue.length,
        queueCapacity: o.queueSize,
        highWater,
        waiting: waiters.length,
        committedRecords,
        gapEvents,
        dropped: { ...dropped },
        writeErrors,
        failing,
        synchronous: o.synchronous,
        path: o.path,
      };
      if (lastCommitAt !== undefined) s.lastCommitAt = lastCommitAt;
      if (lastDropAt !== undefined) s.lastDropAt = lastDropAt;
      if (lastError !== undefined) s.lastError = { ...lastError };
      return s;
    },
  };
}

// --- internal ---

type Item = {
  rec: PreparedRecord;
  resolve: (receipt: CommitReceipt) => void;
  reject: (error: Error) => void;
  /** performance.now() when the record entered the queue. */
  at: number;
};

type Waiter = { item: Item; timer: NodeJS.Timeout };

/** The settled prefix of a batch, and the transient error that stopped it, if any. */
type Outcome = { results: (CommitReceipt | Error)[]; transient: unknown };

const noop = (): void => {};

/** Where `capture` leaves the settle functions of the promise being created (synchronously). */
const captured: { resolve?: (receipt: CommitReceipt) => void; reject?: (error: Error) => void } = {};

function capture(resolve: (receipt: CommitReceipt) => void, reject: (error: Error) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

function queueFull(): AuditStoreError {
  return new AuditStoreError('QUEUE_FULL', 'audit: write queue full; record dropped');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The SQLite extended result code of an error, or its name. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return err instanceof Error ? err.name : 'UNKNOWN';
}

function isBusy(err: unknown): boolean {
  const code = errorCode(err);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** Errors that say nothing about the records: keep them queued and retry. */
function isTransient(err: unknown): boolean {
  if (isBusy(err)) return true;
  const code = errorCode(err);
  return (
    code === 'SQLITE_FULL' ||
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code === 'SQLITE_NOMEM' ||
    code === 'SQLITE_PROTOCOL' ||
    code === 'SQLITE_NOLFS'
  );
}
