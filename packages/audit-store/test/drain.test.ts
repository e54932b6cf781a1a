import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CommitReceipt, isAuditStoreError } from '../src/index.ts';
import { openStore, record } from './_helpers.ts';

/** Resolves after the writer's pending setImmediate (registered earlier) has run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('multi-batch drain', () => {
  it('commits a burst of 5 × batchMax without QUEUE_FULL; every promise resolves, in order', async (t) => {
    const batchMax = 32;
    const n = 5 * batchMax;
    const store = openStore(t, { batchMax, queueSize: n, enqueueTimeoutMs: 0 });
    const order: number[] = [];
    const receipts = Array.from({ length: n }, (_, i) =>
      store.enqueue(record({ dedupeKey: `burst:${i}` })).then((r) => {
        order.push(i);
        return r;
      }),
    );
    const settled = await Promise.allSettled(receipts);
    assert.ok(settled.every((s) => s.status === 'fulfilled'));
    const ids = settled.map((s) => (s as PromiseFulfilledResult<CommitReceipt>).value.eventId);
    assert.deepEqual(order, [...Array(n).keys()], 'resolved in arrival order');
    assert.ok(
      ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1),
      'ids follow arrival order',
    );
    assert.equal(store.stats.committedRecords, n);
    assert.deepEqual(store.stats.dropped, { queue_full: 0, write_error: 0, shutdown: 0 });
  });

  it('drains several full batches in one event-loop turn', async (t) => {
    const batchMax = 32;
    const n = 5 * batchMax;
    const store = openStore(t, { batchMax, queueSize: n, flushSliceMs: 1000 });
    const all = Array.from({ length: n }, () => store.enqueue(record()));
    await nextTurn();
    assert.equal(store.stats.committedRecords, n, 'all five batches in the first turn');
    assert.equal(store.stats.queueDepth, 0);
    await Promise.all(all);
  });

  it('keeps up with bursts of 2 × batchMax per turn into a queue of 2 × batchMax (no QUEUE_FULL)', async (t) => {
    const batchMax = 16;
    const store = openStore(t, {
      batchMax,
      queueSize: 2 * batchMax,
      enqueueTimeoutMs: 0,
      flushSliceMs: 1000,
    });
    const all: Promise<CommitReceipt>[] = [];
    for (let turn = 0; turn < 5; turn++) {
      for (let i = 0; i < 2 * batchMax; i++) all.push(store.enqueue(record()));
      await nextTurn();
    }
    const settled = await Promise.allSettled(all);
    const rejected = settled.filter((s) => s.status === 'rejected');
    assert.equal(rejected.length, 0, `rejected: ${rejected.map((s) => String(s.reason)).join(', ')}`);
    const ids = settled.map((s) => (s as PromiseFulfilledResult<CommitReceipt>).value.eventId);
    assert.deepEqual(
      ids,
      ids.map((_, i) => ids[0]! + i),
    );
    assert.equal(store.stats.committedRecords, 10 * batchMax);
    assert.equal(store.stats.dropped.queue_full, 0);
  });

  it('flushSliceMs 0 commits one batch per turn (the old pacing; the burst then overflows)', async (t) => {
    const batchMax = 16;
    const store = openStore(t, { batchMax, queueSize: 3 * batchMax, enqueueTimeoutMs: 0, flushSliceMs: 0 });
    const all = Array.from({ length: 3 * batchMax }, () => store.enqueue(record()));
    await nextTurn();
    assert.equal(store.stats.committedRecords, batchMax);
    const more = Array.from({ length: 2 * batchMax }, () => store.enqueue(record()));
    const settled = await Promise.allSettled([...all, ...more]);
    const full = settled.filter((s) => s.status === 'rejected' && isAuditStoreError(s.reason, 'QUEUE_FULL'));
    assert.equal(full.length, batchMax);
    assert.equal(store.stats.dropped.queue_full, batchMax);
  });

  it('bounds a turn by the time slice so the event loop stays responsive under a deep queue', async (t) => {
    const batchMax = 256;
    const n = 50 * batchMax;
    const store = openStore(t, { batchMax, queueSize: n, flushSliceMs: 8 });
    const payload = { note: 'x'.repeat(400) };
    const all = Array.from({ length: n }, () => store.enqueue(record({ payload })));
    await nextTurn();
    const seen = store.stats.committedRecords;
    assert.ok(seen >= batchMax, `at least one batch per turn (${seen})`);
    assert.ok(seen < n, `yielded before the whole queue was written (${seen} of ${n})`);
    await Promise.all(all);
    assert.equal(store.stats.committedRecords, n);
  });
});
