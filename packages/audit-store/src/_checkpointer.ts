// Background WAL checkpoints: a worker thread with its own connection runs PASSIVE checkpoints, so copying WAL
// pages back into the database file (and its fsync) happens on another core and never blocks the event loop that
// commits verdicts. Checkpoints inside a commit were the stalls of tens of milliseconds behind the pipeline's
// verdict-to-commit p99. The main connection keeps its `wal_autocheckpoint` as a backstop, should the worker fall
// behind or die; with the worker keeping up, that backstop finds nothing left to copy.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from '@defenseclaw/protocol';

/** A running background checkpointer. */
export type Checkpointer = {
  /** Stops the worker and closes its connection (before the main connection closes, so that one is last). */
  close(): Promise<void>;
};

/** Options of `startCheckpointer`. */
export type CheckpointerOptions = {
  /** The database file (never `:memory:`). */
  path: string;
  /** Pause between checkpoints that caught up with the WAL. */
  intervalMs: number;
  /** The worker connection's busy_timeout. */
  busyTimeoutMs: number;
  logger: Logger;
};

/** How long `close` waits for the worker to close its connection before terminating it. */
const CLOSE_TIMEOUT_MS = 2000;

/** A checkpoint that left frames behind (commits arrived meanwhile) is followed up this soon. */
const FOLLOW_UP_MS = 5;

// Plain CommonJS run with `eval`: a worker does not inherit the parent's TypeScript loader. The driver path is
// resolved by the parent, so the worker needs no module resolution of its own.
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
(() => {
  let db;
  try {
    const Database = require(workerData.driver);
    db = new Database(workerData.path, { fileMustExist: true, timeout: workerData.busyTimeoutMs });
  } catch (err) {
    parentPort.postMessage({ op: 'error', code: String((err && err.code) || (err && err.name) || 'Error') });
    return;
  }
  let timer;
  let failures = 0;
  const tick = () => {
    let delay = workerData.intervalMs;
    try {
      const row = db.pragma('wal_checkpoint(PASSIVE)')[0];
      failures = 0;
      if (row && row.log > row.checkpointed) delay = workerData.followUpMs;
    } catch (err) {
      if (++failures === 1) parentPort.postMessage({ op: 'error', code: String((err && err.code) || 'Error') });
    }
    timer = setTimeout(tick, delay);
  };
  timer = setTimeout(tick, workerData.intervalMs);
  parentPort.on('message', (message) => {
    if (!message || message.op !== 'close') return;
    clearTimeout(timer);
    try {
      db.close();
    } catch {}
    parentPort.postMessage({ op: 'closed' });
    parentPort.close();
  });
})();
`;

/** Starts the background checkpointer; undefined (logged) when a worker cannot be started. */
export function startCheckpointer(options: CheckpointerOptions): Checkpointer | undefined {
  const log = options.logger;
  let worker: Worker;
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver,
        path: options.path,
        intervalMs: options.intervalMs,
        followUpMs: FOLLOW_UP_MS,
        busyTimeoutMs: options.busyTimeoutMs,
      },
    });
  } catch (err) {
    log.warn('audit: background checkpoints unavailable; commits will checkpoint', { error: message(err) });
    return undefined;
  }
  // Never keeps the process alive on its own.
  worker.unref();
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  worker.on('message', (m: { op?: string; code?: string }) => {
    if (m?.op === 'error') log.warn('audit: background checkpoint failed', { code: m.code ?? 'Error' });
  });
  worker.on('error', (err) => {
    log.warn('audit: background checkpointer stopped; commits will checkpoint', { error: message(err) });
  });
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        if (exited) return;
        const closed = new Promise<void>((resolve) => {
          worker.on('message', (m: { op?: string }) => {
            if (m?.op === 'closed') resolve();
          });
        });
        worker.postMessage({ op: 'close' });
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          Promise.race([closed, exit]).then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), CLOSE_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut || !exited) await worker.terminate();
        await exit;
      })();
      return closing;
    },
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
