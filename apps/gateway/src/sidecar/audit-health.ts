import type { AuditStats } from '@defenseclaw/audit-store';
import { displayPath } from '../config/paths.ts';
import type { HealthRegistry } from './health.ts';

/** How long the `audit` entry stays `error` after the last drop or write error (spec 20 §5.2). */
export const AUDIT_ERROR_HOLD_MS = 60_000;

/** Options of `createAuditHealth`. */
export type AuditHealthOptions = {
  /** Clock, for tests. @default Date.now */
  now?: () => number;
};

/** Keeps the `audit` health entry in step with the store's counters. */
export type AuditHealth = {
  /** Re-reads the stats and updates the entry (state and details). */
  refresh(): void;
  /** Records whether the queue is above its pressure mark. */
  setPressure(high: boolean): void;
};

/**
 * Maps audit-store stats to the `audit` health entry: `running` while commits succeed; `error` while records are
 * dropped or writes fail, back to `running` after 60 s free of both; details `path, queue_depth, queue_capacity,
 * high_water, dropped, dropped_by_reason, write_errors, last_commit_at, synchronous, pressure`.
 *
 * @example
 * ```ts
 * const auditHealth = createAuditHealth(() => store.stats, health);
 * setInterval(() => auditHealth.refresh(), 500).unref();
 * ```
 */
export function createAuditHealth(
  stats: () => AuditStats,
  health: HealthRegistry,
  options: AuditHealthOptions = {},
): AuditHealth {
  const now = options.now ?? Date.now;
  let lastProblems = -1;
  let problemAt: number | undefined;
  let pressure = false;

  const refresh = () => {
    const s = stats();
    const dropped = s.dropped.queue_full + s.dropped.shutdown + s.dropped.write_error;
    const problems = dropped + s.writeErrors;
    const t = now();
    if (lastProblems >= 0 && problems > lastProblems) problemAt = t;
    lastProblems = problems;
    const details = {
      path: displayPath(s.path),
      queue_depth: s.queueDepth,
      queue_capacity: s.queueCapacity,
      high_water: s.highWater,
      dropped,
      dropped_by_reason: { ...s.dropped },
      write_errors: s.writeErrors,
      last_commit_at: s.lastCommitAt === undefined ? undefined : new Date(s.lastCommitAt).toISOString(),
      synchronous: s.synchronous,
      pressure,
    };
    const state = health.get('audit').state;
    if (state === 'stopped') return;
    if (problemAt !== undefined && t - problemAt < AUDIT_ERROR_HOLD_MS) {
      const reasons = Object.entries(s.dropped)
        .filter(([, n]) => n > 0)
        .map(([reason, n]) => `${n} ${reason}`);
      health.set('audit', 'error', {
        lastError: `records not written: ${reasons.join(', ') || 'none'}; write errors: ${s.writeErrors}`,
        details,
      });
    } else {
      health.set('audit', 'running', { details });
    }
  };

  return {
    refresh,
    setPressure(high) {
      pressure = high;
      refresh();
    },
  };
}
