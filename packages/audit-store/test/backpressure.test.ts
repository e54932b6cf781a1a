import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type AuditStoreOptions, isAuditStoreError, openAuditStore } from '../src/index.ts';
import { count, record, tempDir } from './_helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A store on a real file plus a second connection that can hold the write lock. */
function setup(t: import('node:test').TestContext, options: Partial<AuditStoreOptions>) {
  const path = join(tempDir(t), 'audit.db');
  const store = openAuditStore({ path, busyTimeoutMs: 20, retryIntervalMs: 50, ...options });
  const other = new Database(path);
  t.after(async () => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await store.close({ drainTimeoutMs: 500 });
  });
  return { path, store, other };
}

describe('backpressure while another connection holds BEGIN IMMEDIATE', () => {
  it('makes enqueue wait on a full queue and admits it once the lock is released in time', async (t) => {
    const { store, other } = setup(t, { queueSize: 2, batchMax: 2, enqueueTimeoutMs: 2000 });
    other.exec('BEGIN IMMEDIATE');
    const first = [store.enqueue(record()), store.enqueue(record())];
    await sleep(30);
    let admitted = false;
    const waiting = store.enqueue(record()).then((r) => {
      admitted = true;
      return r;
    });
    await sleep(100);
    assert.equal(admitted, false);
    assert.equal(store.stats.waiting, 1);
    assert.ok(store.stats.writeErrors >= 1);
    other.exec('ROLLBACK');
    const receipt = await waiting;
    assert.equal(receipt.eventId, 3);
    assert.equal((await Promise.all(first)).length, 2);
    assert.deepEqual(store.stats.dropped, { queue_full: 0, write_error: 0, shutdown: 0 });
  });

  it('rejects QUEUE_FULL after enqueueTimeoutMs, counts the drops, records one audit.gap after release, rows + dropped == sent', async (t) => {
    const { store, other, path } = setup(t, { queueSize: 4, batchMax: 2, enqueueTimeoutMs: 80 });
    const pressure: boolean[] = [];
    store.onPressure((high) => pressure.push(high));
    other.exec('BEGIN IMMEDIATE');
    const sent = 20;
    const results = Array.from({ length: sent }, () => store.enqueue(record()));
    const settled = Promise.allSettled(results);
    // busy_timeout 20 ms, then three retries after 50/100/200 ms, then held for 1 s retries.
    await sleep(900);
    assert.equal(store.stats.queueDepth, 4);
    assert.equal(store.stats.dropped.queue_full, 16);
    assert.deepEqual(pressure, [true]);
    assert.equal(store.stats.failing, true);
    assert.ok(store.stats.writeErrors >= 4, 'SQLITE_BUSY retried 3× then held');
    assert.match(store.stats.lastError!.code, /^SQLITE_BUSY/);

    other.exec('ROLLBACK');
    const outcomes = await settled;
    const fulfilled = outcomes.filter((o) => o.status === 'fulfilled').length;
    const rejected = outcomes.filter(
      (o) => o.status === 'rejected' && isAuditStoreError(o.reason, 'QUEUE_FULL'),
    ).length;
    assert.deepEqual([fulfilled, rejected], [4, 16]);
    assert.deepEqual(pressure, [true, false]);
    assert.equal(store.stats.failing, false);

    const reader = new Database(path, { readonly: true });
    t.after(() => reader.close());
    const rows = count(reader, 'events', "kind = 'tool.call'");
    const dropped =
      store.stats.dropped.queue_full + store.stats.dropped.write_error + store.stats.dropped.shutdown;
    assert.equal(rows + dropped, sent);
    const gaps = reader.prepare("SELECT id, payload FROM events WHERE kind = 'audit.gap'").all() as {
      id: number;
      payload: string;
    }[];
    assert.equal(gaps.length, 1);
    assert.deepEqual(JSON.parse(gaps[0]!.payload).by_reason, { queue_full: 16 });
    assert.equal(JSON.parse(gaps[0]!.payload).count, 16);
    assert.equal(
      count(reader, 'alerts', `event_id = ${gaps[0]!.id} AND severity = 'high' AND category = 'audit'`),
      1,
    );
    assert.equal(store.stats.gapEvents, 1);
  });

  it('drops what it cannot drain by the close deadline as shutdown; the shutdown stays marked unclean', async (t) => {
    const { store, other, path } = setup(t, { queueSize: 100, batchMax: 10, enqueueTimeoutMs: 1000 });
    other.exec('BEGIN IMMEDIATE');
    const sent = 30;
    const settled = Promise.allSettled(Array.from({ length: sent }, () => store.enqueue(record())));
    await sleep(20);
    // The lock is held until close() has given up: on a loaded machine a fixed sleep could release it while
    // close() was still within its budget, and the clean-shutdown mark would then be written.
    const result = await store.close({ drainTimeoutMs: 150 });
    other.exec('ROLLBACK');
    const outcomes = await settled;
    assert.deepEqual(result, { drained: 0, dropped: sent });
    assert.ok(outcomes.every((o) => o.status === 'rejected' && isAuditStoreError(o.reason, 'CLOSED')));
    assert.equal(store.stats.dropped.shutdown, sent);
    const reader = new Database(path, { readonly: true });
    t.after(() => reader.close());
    assert.equal(count(reader, 'events', "kind = 'tool.call'") + store.stats.dropped.shutdown, sent);
    // Neither the gap nor the clean-shutdown mark could be written, so the next start reports `unclean`.
    assert.equal(count(reader, 'events', "kind = 'audit.gap'"), 0);
    assert.equal(
      (reader.prepare("SELECT value FROM meta WHERE key = 'clean_shutdown'").get() as { value: string })
        .value,
      '0',
    );
  });
});
