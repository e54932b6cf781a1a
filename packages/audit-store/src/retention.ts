// Retention: deletes events older than the cutoff in small transactions (verdicts, findings and alerts
// cascade), prunes expired list entries, then returns free pages with an incremental vacuum.
import type Database from 'better-sqlite3';
import { AuditStoreError } from './errors.ts';
import { META_KEYS } from './meta.ts';

/** Events deleted per transaction, so the writer never waits long behind retention. */
export const RETENTION_BATCH_ROWS = 5000;
/** Free pages returned to the file system per run. */
export const RETENTION_VACUUM_PAGES = 2000;

/** What `runRetention` takes; `retentionDays: 0` disables it. */
export type RetentionOptions = { retentionDays: number; nowMs?: number };

/** What a retention run removed. */
export type RetentionResult = { deleted: number; expiredListEntries: number; cutoff?: number };

/** Builds the retention runner over a connection; `isOpen` stops it between batches at shutdown. */
export function createRetention(
  db: Database.Database,
  options: { now: () => number; isOpen: () => boolean },
): (run: RetentionOptions) => Promise<RetentionResult> {
  const deleteBatch = db.prepare(
    `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < @cutoff ORDER BY ts LIMIT ${RETENTION_BATCH_ROWS})`,
  );
  const pruneLists = db.prepare('DELETE FROM actions WHERE expires_at IS NOT NULL AND expires_at <= @now');
  const setMeta = db.prepare(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  );
  const batch = db.transaction((cutoff: number) => deleteBatch.run({ cutoff }).changes);
  let running: Promise<RetentionResult> | undefined;

  async function run(o: RetentionOptions): Promise<RetentionResult> {
    if (!Number.isFinite(o.retentionDays) || o.retentionDays < 0) {
      throw new AuditStoreError('INVALID_ARGUMENT', 'audit: retentionDays must be a number ≥ 0');
    }
    if (o.retentionDays === 0) return { deleted: 0, expiredListEntries: 0 };
    const now = o.nowMs ?? options.now();
    const cutoff = now - o.retentionDays * 86_400_000;
    let deleted = 0;
    for (;;) {
      if (!options.isOpen()) throw new AuditStoreError('CLOSED', 'audit: store closed during retention');
      const n = batch.immediate(cutoff);
      deleted += n;
      if (n < RETENTION_BATCH_ROWS) break;
      // Yield so queued writes and requests get their turn between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (!options.isOpen()) throw new AuditStoreError('CLOSED', 'audit: store closed during retention');
    const expiredListEntries = db
      .transaction(() => {
        const pruned = pruneLists.run({ now }).changes;
        setMeta.run(META_KEYS.lastRetentionAt, String(now));
        return pruned;
      })
      .immediate();
    db.pragma(`incremental_vacuum(${RETENTION_VACUUM_PAGES})`);
    return { deleted, expiredListEntries, cutoff };
  }

  return (o) => {
    running ??= run(o).finally(() => {
      running = undefined;
    });
    return running;
  };
}
