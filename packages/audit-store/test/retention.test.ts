import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getInternals } from '../src/_internal.ts';
import { isAuditStoreError, META_KEYS, RETENTION_BATCH_ROWS } from '../src/index.ts';
import { alerting, count, openStore } from './_helpers.ts';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

describe('runRetention', () => {
  it('deletes events strictly older than the cutoff with their verdicts, findings and alerts', async (t) => {
    const store = openStore(t);
    const cutoff = NOW - 30 * DAY;
    const old = await store.enqueue({
      event: { ts: cutoff - 1, kind: 'tool.call', source: 'ws' },
      verdicts: [alerting('block')],
    });
    const edge = await store.enqueue({
      event: { ts: cutoff, kind: 'tool.call', source: 'ws' },
      verdicts: [alerting('block')],
    });
    const lifecycle = await store.enqueue({
      event: { ts: cutoff - DAY, kind: 'watchdog.restart', source: 'sidecar' },
      alert: { category: 'lifecycle', severity: 'high', title: 'restarted' },
    });
    store.lists.upsert({ targetType: 'tool', targetName: 'exec', list: 'block', source: 'api', nowMs: 1 });
    store.lists.upsert({
      targetType: 'tool',
      targetName: 'tmp',
      list: 'block',
      source: 'api',
      expiresAt: NOW - 1,
      nowMs: 1,
    });

    const result = await store.runRetention({ retentionDays: 30, nowMs: NOW });
    assert.deepEqual(result, { deleted: 2, expiredListEntries: 1, cutoff });
    const { db } = getInternals(store);
    assert.equal(store.queries.getEvent(old.eventId), undefined);
    assert.equal(store.queries.getEvent(lifecycle.eventId), undefined);
    assert.ok(store.queries.getEvent(edge.eventId), 'an event exactly at the cutoff stays');
    assert.equal(count(db, 'verdicts'), 1);
    assert.equal(count(db, 'findings'), 1);
    assert.deepEqual(
      store.queries.listAlerts().alerts.map((a) => a.eventId),
      [edge.eventId],
    );
    assert.deepEqual(
      store.lists.list({ nowMs: NOW }).map((r) => r.targetName),
      ['exec'],
      'live list entries stay',
    );
    assert.equal(store.meta.get(META_KEYS.lastRetentionAt), String(NOW));
  });

  it('works in batches of 5,000 and yields between them', async (t) => {
    const store = openStore(t);
    const total = 2 * RETENTION_BATCH_ROWS + 1234;
    const { db } = getInternals(store);
    const pending = [];
    for (let i = 0; i < total; i++) {
      pending.push(
        store.enqueue({
          event: { ts: NOW - 100 * DAY + i, kind: 'tool.call', source: 'ws' },
          verdicts: [alerting('alert')],
        }),
      );
    }
    await Promise.all(pending);
    let seenBetweenBatches = -1;
    const running = store.runRetention({ retentionDays: 1, nowMs: NOW });
    setImmediate(() => {
      seenBetweenBatches = count(db, 'events');
    });
    assert.deepEqual(await running, { deleted: total, expiredListEntries: 0, cutoff: NOW - DAY });
    assert.ok(seenBetweenBatches > 0 && seenBetweenBatches < total, `saw ${seenBetweenBatches}`);
    assert.equal((total - seenBetweenBatches) % RETENTION_BATCH_ROWS, 0);
    assert.equal(
      count(db, 'events') + count(db, 'verdicts') + count(db, 'findings') + count(db, 'alerts'),
      0,
    );
    // The incremental vacuum returned the freed pages.
    assert.equal(db.pragma('freelist_count', { simple: true }), 0);
  });

  it('does nothing with retentionDays 0 and refuses a negative value', async (t) => {
    const store = openStore(t);
    await store.enqueue({ event: { ts: 1, kind: 'tool.call', source: 'ws' } });
    assert.deepEqual(await store.runRetention({ retentionDays: 0, nowMs: NOW }), {
      deleted: 0,
      expiredListEntries: 0,
    });
    assert.equal(count(getInternals(store).db, 'events'), 1);
    assert.equal(store.meta.get(META_KEYS.lastRetentionAt), undefined);
    await assert.rejects(store.runRetention({ retentionDays: -1 }), (err: unknown) =>
      isAuditStoreError(err, 'INVALID_ARGUMENT'),
    );
  });
});
