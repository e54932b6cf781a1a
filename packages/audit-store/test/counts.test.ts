import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type AuditCounts, type AuditStore, SEVERITIES, type Severity } from '../src/index.ts';
import { alerting, openStore, tempDir, verdict } from './_helpers.ts';

const T0 = 1_700_000_000_000;

/** Writes one alerting record per severity given, at T0 + offset seconds. */
async function write(store: AuditStore, severities: readonly Severity[], offset = 0) {
  await Promise.all(
    severities.map((severity, i) =>
      store.enqueue({
        event: { ts: T0 + (offset + i) * 1000, kind: 'tool.call', source: 'ws', tool: 'exec' },
        verdicts: [alerting('block', severity)],
      }),
    ),
  );
  await store.enqueue({ event: { ts: T0, kind: 'tool.call', source: 'ws' }, verdicts: [verdict()] });
}

/** The open alerts by severity as a fresh full count sees them. */
function truth(db: Database.Database): Pick<AuditCounts, 'alertsOpen' | 'alertsOpenBySeverity'> {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const rows = db
    .prepare('SELECT severity, count(*) AS n FROM alerts WHERE acked_at IS NULL GROUP BY severity')
    .all() as { severity: Severity; n: number }[];
  for (const r of rows) bySeverity[r.severity] = r.n;
  return { alertsOpen: rows.reduce((sum, r) => sum + r.n, 0), alertsOpenBySeverity: bySeverity };
}

function openCounts(store: AuditStore) {
  const c = store.queries.counts();
  return { alertsOpen: c.alertsOpen, alertsOpenBySeverity: c.alertsOpenBySeverity };
}

describe('counts() between calls', () => {
  it('stays exact as alerts are written, acknowledged (by id, by filter, by another connection) and pruned', async (t) => {
    const path = `${tempDir(t)}/audit.db`;
    const store = openStore(t, { path });
    const other = new Database(path);
    t.after(() => other.close());

    await write(store, ['critical', 'high', 'medium', 'low']);
    assert.deepEqual(openCounts(store), truth(other));

    // New alerts only: counted from the ones written since.
    await write(store, ['critical', 'critical', 'info'], 10);
    assert.deepEqual(openCounts(store), truth(other));
    assert.equal(store.queries.counts().alertsOpenBySeverity.critical, 3);

    // An ack through the store, of an old and of a new alert.
    const [newest] = store.queries.listAlerts({ limit: 1 }).alerts;
    const oldest = store.queries.listAlerts({ limit: 1000 }).alerts.at(-1)!;
    store.queries.ackAlerts([newest!.id, oldest.id], { by: 'test' });
    assert.deepEqual(openCounts(store), truth(other));

    // A bulk ack of a whole rank, then more alerts of that rank.
    store.queries.ackAlertsMatching({ minSeverity: 'critical' }, { by: 'test' });
    await write(store, ['critical'], 20);
    assert.deepEqual(openCounts(store), truth(other));
    assert.equal(store.queries.counts().alertsOpenBySeverity.critical, 1);

    // Another connection acknowledges a medium alert while a new high one arrives: the totals match,
    // the ranks still have to be right.
    other.prepare("UPDATE alerts SET acked_at = 1 WHERE severity = 'medium' AND acked_at IS NULL").run();
    await write(store, ['high'], 30);
    assert.deepEqual(openCounts(store), truth(other));
    assert.equal(store.queries.counts().alertsOpenBySeverity.medium, 0);

    // Retention removes everything older than the cutoff.
    await store.runRetention({ retentionDays: 1, nowMs: T0 + 25_000 + 86_400_000 });
    assert.deepEqual(openCounts(store), truth(other));
    assert.equal(store.queries.counts().alertsOpen, 1);
  });
});
