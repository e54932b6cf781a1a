// openAuditStore: file checks, pragmas (read back and verified), migrations, meta, then the writer,
// queries, lists and retention over one better-sqlite3 connection.
import { closeSync, constants, lstatSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Logger, silentLogger } from '@defenseclaw/protocol';
import Database from 'better-sqlite3';
import { startCheckpointer } from './_checkpointer.ts';
import { createInserter, type InsertStatements } from './_insert.ts';
import { setInternals } from './_internal.ts';
import { MIGRATIONS_FOLDER, runMigrations } from './_migrate.ts';
import { prepareRecord } from './_prepare.ts';
import { AuditStoreError } from './errors.ts';
import { createListStore, type ListStore } from './lists.ts';
import { createMetaStore, META_KEYS, type MetaStore, type PreviousShutdown } from './meta.ts';
import { type AuditQueries, createQueries } from './queries.ts';
import { createRetention, type RetentionOptions, type RetentionResult } from './retention.ts';
import type { AuditRecord, AuditStats, CaptureMode, CommitReceipt } from './types.ts';
import { createWriter } from './writer.ts';

/** Options of `openAuditStore`; the audit.* config keys map onto them. */
export type AuditStoreOptions = {
  /** The database file, or `':memory:'`. */
  path: string;
  /** `full` also survives power loss, at roughly half the write rate. @default 'normal' */
  synchronous?: 'normal' | 'full';
  /** Records the writer holds before `enqueue` waits. @default 10000 */
  queueSize?: number;
  /** Records per transaction. @default 256 */
  batchMax?: number;
  /** How long after its first record a partial batch is written. @default 10 */
  flushIntervalMs?: number;
  /**
   * How long one event-loop turn may keep committing full batches of a deep queue before it yields
   * (`setImmediate`); 0 commits one batch per turn. @default 8
   */
  flushSliceMs?: number;
  /** How long `enqueue` waits on a full queue before rejecting with QUEUE_FULL. @default 2000 */
  enqueueTimeoutMs?: number;
  /** `metadata` stores payload sizes and SHA-256 only. @default 'redacted' */
  capture?: CaptureMode;
  /** Larger payloads are not stored (their size and hash are). @default 16384 */
  maxPayloadBytes?: number;
  /** SQLite's busy_timeout for this connection. @default 5000 */
  busyTimeoutMs?: number;
  /** Pause between commit attempts while the disk is full, read-only or failing. @default 1000 */
  retryIntervalMs?: number;
  /**
   * How often a PASSIVE WAL checkpoint runs, on a worker thread with its own connection (off the event loop that
   * commits); 0 disables it (commits then checkpoint on their own every 10,000 WAL pages). @default 50
   */
  checkpointIntervalMs?: number;
  /** Recorded as `meta.created_by_version` when the database is created. @default '0.0.0' */
  version?: string;
  /** Which statement layer inserts records (the B1 benchmark compares both). @default 'raw' */
  insertStatements?: InsertStatements;
  /** Where the SQL migrations live (tests point this at a modified copy). @default the package's drizzle/ */
  migrationsFolder?: string;
  /** Receives diagnostics; the store never prints. @default silentLogger */
  logger?: Logger;
  /** The wall clock, Unix ms (tests pin it). @default Date.now */
  now?: () => number;
};

/** An open audit database: the writer, the read API, the lists and the meta table. */
export interface AuditStore {
  /** Queues a record; resolves with its ids after its batch commits. Rejects QUEUE_FULL, CLOSED or WRITE_FAILED. */
  enqueue(record: AuditRecord): Promise<CommitReceipt>;
  /** Commits a record synchronously in its own transaction; throws CLOSED or WRITE_FAILED. */
  writeNow(record: AuditRecord): CommitReceipt;
  /** Resolves once every record queued so far is committed or failed. */
  flush(): Promise<void>;
  /** Drains the queue (within `drainTimeoutMs`, default 5000), optimises, marks a clean shutdown and closes. */
  close(options?: { drainTimeoutMs?: number }): Promise<{ drained: number; dropped: number }>;
  /** Applies hot-reloadable settings (capture, payload cap, enqueue timeout). */
  configure(settings: { capture?: CaptureMode; maxPayloadBytes?: number; enqueueTimeoutMs?: number }): void;
  /** Deletes events older than `retentionDays` (0 disables) and prunes expired list entries. */
  runRetention(options: RetentionOptions): Promise<RetentionResult>;
  /** Subscribes to queue pressure: `true` above 80 % of `queueSize`, `false` once back at or under 70 %. */
  onPressure(listener: (high: boolean) => void): () => void;
  /** A snapshot of the writer's counters. */
  readonly stats: AuditStats;
  /** The read and acknowledge API. */
  readonly queries: AuditQueries;
  /** The block/allow lists. */
  readonly lists: ListStore;
  /** The meta table. */
  readonly meta: MetaStore;
  /** How the previous process left the database. */
  readonly previousShutdown: PreviousShutdown;
  /** The schema number the database is at (`0000` for the first migration). */
  readonly schema: string;
}

/**
 * Opens (creating if needed) and migrates the audit database, synchronously; throws `AuditStoreError`.
 *
 * @example
 * const store = openAuditStore({ path: join(dataDir, 'audit.db'), logger });
 * const { eventId } = await store.enqueue({ event: { ts: Date.now(), kind: 'sidecar.start', source: 'sidecar' } });
 * await store.close();
 */
export function openAuditStore(options: AuditStoreOptions): AuditStore {
  const o = resolveOptions(options);
  const path = o.path === ':memory:' ? ':memory:' : resolve(o.path);
  if (path !== ':memory:') prepareFile(path);

  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: path !== ':memory:', timeout: o.busyTimeoutMs });
  } catch (cause) {
    throw new AuditStoreError('OPEN_FAILED', `audit: cannot open ${path}: ${message(cause)}`, { cause });
  }
  try {
    applyPragmas(db, path, o);
    const { schema } = runMigrations(db, path, o.migrationsFolder);
    const meta = createMetaStore(db, { version: o.version });
    return assemble(db, path, o, meta, schema);
  } catch (err) {
    db.close();
    if (err instanceof AuditStoreError) throw err;
    throw new AuditStoreError('OPEN_FAILED', `audit: cannot open ${path}: ${message(err)}`, { cause: err });
  }
}

// --- internal ---

type Resolved = Required<Omit<AuditStoreOptions, 'logger' | 'now'>> & { logger: Logger; now: () => number };

function resolveOptions(options: AuditStoreOptions): Resolved {
  const o: Resolved = {
    path: options.path,
    synchronous: options.synchronous ?? 'normal',
    queueSize: options.queueSize ?? 10_000,
    batchMax: options.batchMax ?? 256,
    flushIntervalMs: options.flushIntervalMs ?? 10,
    flushSliceMs: options.flushSliceMs ?? 8,
    enqueueTimeoutMs: options.enqueueTimeoutMs ?? 2000,
    capture: options.capture ?? 'redacted',
    maxPayloadBytes: options.maxPayloadBytes ?? 16_384,
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    retryIntervalMs: options.retryIntervalMs ?? 1000,
    checkpointIntervalMs: options.checkpointIntervalMs ?? 50,
    version: options.version ?? '0.0.0',
    insertStatements: options.insertStatements ?? 'raw',
    migrationsFolder: options.migrationsFolder ?? MIGRATIONS_FOLDER,
    logger: options.logger ?? silentLogger,
    now: options.now ?? Date.now,
  };
  if (typeof o.path !== 'string' || o.path === '') invalid('path must be a file path or ":memory:"');
  if (o.synchronous !== 'normal' && o.synchronous !== 'full')
    invalid('synchronous must be "normal" or "full"');
  if (o.capture !== 'redacted' && o.capture !== 'metadata')
    invalid('capture must be "redacted" or "metadata"');
  if (o.insertStatements !== 'raw' && o.insertStatements !== 'drizzle')
    invalid('insertStatements must be raw|drizzle');
  positiveInt('queueSize', o.queueSize);
  positiveInt('batchMax', o.batchMax);
  nonNegativeInt('flushIntervalMs', o.flushIntervalMs);
  nonNegativeInt('flushSliceMs', o.flushSliceMs);
  nonNegativeInt('enqueueTimeoutMs', o.enqueueTimeoutMs);
  nonNegativeInt('maxPayloadBytes', o.maxPayloadBytes);
  nonNegativeInt('busyTimeoutMs', o.busyTimeoutMs);
  positiveInt('retryIntervalMs', o.retryIntervalMs);
  nonNegativeInt('checkpointIntervalMs', o.checkpointIntervalMs);
  return o;
}

/** Refuses symlinks and creates a missing database file with mode 0600 before SQLite sees the path. */
function prepareFile(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    let isLink = false;
    try {
      isLink = lstatSync(p).isSymbolicLink();
    } catch {
      continue; // absent
    }
    if (isLink) throw new AuditStoreError('SYMLINK_REFUSED', `audit: refusing symlinked database path ${p}`);
  }
  try {
    // O_EXCL also refuses a symlink planted between the check and here.
    closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      if (lstatSync(path).isSymbolicLink()) {
        throw new AuditStoreError('SYMLINK_REFUSED', `audit: refusing symlinked database path ${path}`);
      }
      return;
    }
    throw new AuditStoreError('OPEN_FAILED', `audit: cannot create ${path}: ${message(cause)}`, { cause });
  }
}

const SYNCHRONOUS_VALUES = { normal: 1, full: 2 } as const;
/** The main-thread checkpoint interval when no background checkpointer could be started. */
const FALLBACK_CHECKPOINT_MS = 300_000;
/** WAL pages (4 KiB each) after which a commit runs an automatic PASSIVE checkpoint (the backstop). */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

/** Sets the §7.1 pragmas and reads every one back; a mismatch is PRAGMA_MISMATCH. */
function applyPragmas(db: Database.Database, path: string, o: Resolved): void {
  const memory = path === ':memory:';
  const read = (name: string) => db.pragma(name, { simple: true }) as unknown;
  // auto_vacuum only takes effect before the first table exists, i.e. on a new, empty file.
  if (read('page_count') === 0) db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${o.synchronous.toUpperCase()}`);
  db.pragma(`busy_timeout = ${o.busyTimeoutMs}`);
  db.pragma('foreign_keys = ON');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -16000');
  db.pragma('journal_size_limit = 67108864');
  // Commits checkpoint only past ~40 MB of WAL instead of SQLite's 4 MB default: the background checkpointer
  // (a worker thread) normally copies pages back long before, so this is a backstop for when it falls behind or
  // is disabled; then pages rewritten by successive batches are at least copied back once per 40 MB, and the
  // checkpoint's fsync is paid ten times less often. Stays under journal_size_limit; close() checkpoints too.
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  const expected: [string, unknown][] = [
    ['auto_vacuum', 2],
    ['journal_mode', memory ? 'memory' : 'wal'],
    ['synchronous', SYNCHRONOUS_VALUES[o.synchronous]],
    ['busy_timeout', o.busyTimeoutMs],
    ['foreign_keys', 1],
    ['temp_store', 2],
    ['cache_size', -16000],
    ['journal_size_limit', 67108864],
    ['wal_autocheckpoint', WAL_AUTOCHECKPOINT_PAGES],
  ];
  for (const [name, want] of expected) {
    const got = read(name);
    if (got !== want) {
      throw new AuditStoreError(
        'PRAGMA_MISMATCH',
        `audit: PRAGMA ${name} is ${String(got)}, expected ${String(want)}${name === 'auto_vacuum' ? ' (database not created by defenseclaw-gateway?)' : ''}`,
      );
    }
  }
}

function assemble(
  db: Database.Database,
  path: string,
  o: Resolved,
  meta: MetaStore,
  schema: string,
): AuditStore {
  const prepareOptions = { capture: o.capture, maxPayloadBytes: o.maxPayloadBytes };
  let state: 'open' | 'closing' | 'closed' = 'open';
  const writer = createWriter({
    db,
    insert: createInserter(db, o.insertStatements),
    prepare: (record) => prepareRecord(record, prepareOptions),
    queueSize: o.queueSize,
    batchMax: o.batchMax,
    flushIntervalMs: o.flushIntervalMs,
    flushSliceMs: o.flushSliceMs,
    enqueueTimeoutMs: o.enqueueTimeoutMs,
    retryIntervalMs: o.retryIntervalMs,
    busyRetryDelaysMs: [50, 100, 200],
    logger: o.logger,
    now: o.now,
    synchronous: o.synchronous,
    path,
  });
  const statements = new Map<string, Record<string, unknown>>();
  const queries = createQueries(db, {
    now: o.now,
    onStatement: (sql, params) => {
      statements.set(sql, params);
    },
  });
  const lists = createListStore(db, { now: o.now });
  const retention = createRetention(db, { now: o.now, isOpen: () => state === 'open' });

  const background =
    o.checkpointIntervalMs > 0 && path !== ':memory:'
      ? startCheckpointer({
          path,
          intervalMs: o.checkpointIntervalMs,
          busyTimeoutMs: o.busyTimeoutMs,
          logger: o.logger,
        })
      : undefined;
  // Without a worker, a main-thread PASSIVE checkpoint every 5 minutes at least (spec 20 §7.2).
  const checkpoint =
    o.checkpointIntervalMs > 0 && path !== ':memory:' && background === undefined
      ? setInterval(
          () => {
            try {
              db.pragma('wal_checkpoint(PASSIVE)');
            } catch (err) {
              o.logger.warn('audit: checkpoint failed', { error: message(err) });
            }
          },
          Math.max(o.checkpointIntervalMs, FALLBACK_CHECKPOINT_MS),
        )
      : undefined;
  checkpoint?.unref();

  let closing: Promise<{ drained: number; dropped: number }> | undefined;
  async function close(options: { drainTimeoutMs?: number } = {}) {
    state = 'closing';
    if (checkpoint !== undefined) clearInterval(checkpoint);
    const result = await writer.drain(options.drainTimeoutMs ?? 5000);
    // The worker's connection closes first, so the main connection is the last one and checkpoints on close.
    await background?.close();
    try {
      db.pragma('optimize');
      meta.set(META_KEYS.cleanShutdown, '1');
    } catch (err) {
      o.logger.warn('audit: could not mark a clean shutdown', { error: message(err) });
    }
    db.close();
    state = 'closed';
    return result;
  }

  const store: AuditStore = {
    enqueue: (record) => writer.enqueue(record),
    writeNow: (record) => writer.writeNow(record),
    flush: () => writer.flush(),
    close: (options) => {
      closing ??= close(options);
      return closing;
    },
    configure(settings) {
      if (settings.capture !== undefined) {
        if (settings.capture !== 'redacted' && settings.capture !== 'metadata')
          invalid('capture must be redacted|metadata');
        prepareOptions.capture = settings.capture;
      }
      if (settings.maxPayloadBytes !== undefined) {
        nonNegativeInt('maxPayloadBytes', settings.maxPayloadBytes);
        prepareOptions.maxPayloadBytes = settings.maxPayloadBytes;
      }
      if (settings.enqueueTimeoutMs !== undefined) {
        nonNegativeInt('enqueueTimeoutMs', settings.enqueueTimeoutMs);
        writer.setEnqueueTimeout(settings.enqueueTimeoutMs);
      }
    },
    runRetention: (options) => {
      if (state !== 'open') return Promise.reject(new AuditStoreError('CLOSED', 'audit: store is closed'));
      return retention(options);
    },
    onPressure: (listener) => writer.onPressure(listener),
    get stats() {
      return writer.stats;
    },
    queries,
    lists,
    meta,
    previousShutdown: meta.previousShutdown,
    schema,
  };
  setInternals(store, { db, statements });
  return store;
}

function invalid(text: string): never {
  throw new AuditStoreError('INVALID_ARGUMENT', `audit: ${text}`);
}

function positiveInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) invalid(`${name} must be a positive integer`);
}

function nonNegativeInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) invalid(`${name} must be an integer ≥ 0`);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
