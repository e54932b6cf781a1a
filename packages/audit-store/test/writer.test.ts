import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createInserter } from '../src/_insert.ts';
import { getInternals } from '../src/_internal.ts';
import { prepareRecord } from '../src/_prepare.ts';
import { type AuditRecord, type CommitReceipt, isAuditStoreError, openAuditStore } from '../src/index.ts';
import { alerting, count, finding, openStore, record, tempDir, verdict } from './_helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('enqueue', () => {
  it('resolves after the commit with ids of rows another connection can already read', async (t) => {
    const path = join(tempDir(t), 'audit.db');
    const store = openAuditStore({ path });
    t.after(() => store.close());
    const reader = new Database(path, { readonly: true });
    t.after(() => reader.close());
    const receipt = await store.enqueue(
      record(
        { kind: 'exec.approval', payload: { command: 'ls' } },
        { verdicts: [alerting('block', 'critical')] },
      ),
    );
    // Checked synchronously on resolution: no later batch could have committed it.
    const row = reader.prepare('SELECT kind FROM events WHERE id = ?').get(receipt.eventId) as {
      kind: string;
    };
    assert.equal(row.kind, 'exec.approval');
    assert.equal(
      count(reader, 'verdicts', `id = ${receipt.verdictIds[0]} AND event_id = ${receipt.eventId}`),
      1,
    );
    assert.equal(count(reader, 'findings', `verdict_id = ${receipt.verdictIds[0]}`), 1);
    assert.equal(count(reader, 'alerts', `id = ${receipt.alertIds[0]}`), 1);
    assert.equal(receipt.duplicate, false);
  });

  it('keeps arrival order in ids and commits a full batch without waiting for the interval', async (t) => {
    const store = openStore(t, { batchMax: 8, flushIntervalMs: 60_000 });
    const started = performance.now();
    const receipts = await Promise.all(Array.from({ length: 8 }, () => store.enqueue(record())));
    assert.ok(performance.now() - started < 30_000);
    assert.deepEqual(
      receipts.map((r) => r.eventId),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
  });

  it('holds a partial batch until the flush interval, or flush()', async (t) => {
    const store = openStore(t, { batchMax: 100, flushIntervalMs: 60_000 });
    let done = false;
    const pending = store.enqueue(record()).then((r) => {
      done = true;
      return r;
    });
    await sleep(20);
    assert.equal(done, false);
    assert.equal(store.stats.queueDepth, 1);
    await store.flush();
    assert.equal(done, true);
    assert.equal((await pending).eventId, 1);
  });

  it('writes a partial batch flushIntervalMs after its first record', async (t) => {
    const store = openStore(t, { batchMax: 100, flushIntervalMs: 5 });
    const receipt = await store.enqueue(record());
    assert.equal(receipt.eventId, 1);
    assert.equal(store.stats.queueDepth, 0);
  });

  it('reports a repeated dedupe key as a duplicate of the first event, within and across batches', async (t) => {
    const store = openStore(t);
    const [a, b] = await Promise.all([
      store.enqueue(record({ dedupeKey: 'ws:c1:7' }, { verdicts: [alerting('block')] })),
      store.enqueue(record({ dedupeKey: 'ws:c1:7' }, { verdicts: [alerting('block')] })),
    ]);
    const c = await store.enqueue(record({ dedupeKey: 'ws:c1:7' }));
    assert.equal(a!.duplicate, false);
    assert.deepEqual(b, { eventId: a!.eventId, verdictIds: [], alertIds: [], duplicate: true });
    assert.deepEqual(c, { eventId: a!.eventId, verdictIds: [], alertIds: [], duplicate: true });
    const { db } = getInternals(store);
    assert.equal(count(db, 'events'), 1);
    assert.equal(count(db, 'verdicts'), 1);
    assert.equal(count(db, 'alerts'), 1);
  });

  it('rejects a malformed record with WRITE_FAILED and counts it', async (t) => {
    const store = openStore(t);
    await assert.rejects(store.enqueue({} as AuditRecord), (err: unknown) =>
      isAuditStoreError(err, 'WRITE_FAILED'),
    );
    assert.equal(store.stats.dropped.write_error, 1);
  });
});

describe('alerts', () => {
  it("derives one alert per verdict whose raw action is alert, confirm or block ('auto')", async (t) => {
    const store = openStore(t);
    const r = await store.enqueue(
      record(
        { tool: 'exec', sessionKey: 'sess-9' },
        {
          verdicts: [
            alerting('alert', 'medium', { lane: 'l1' }),
            alerting('confirm', 'high', { lane: 'l2' }),
            alerting('block', 'critical', { lane: 'l3' }),
            verdict({ lane: 'l4' }),
          ],
        },
      ),
    );
    assert.equal(r.verdictIds.length, 4);
    assert.equal(r.alertIds.length, 3);
    const { alerts } = store.queries.listAlerts();
    assert.deepEqual(alerts.map((a) => [a.lane, a.rawAction, a.severity, a.verdictId]).reverse(), [
      ['l1', 'alert', 'medium', r.verdictIds[0]],
      ['l2', 'confirm', 'high', r.verdictIds[1]],
      ['l3', 'block', 'critical', r.verdictIds[2]],
    ]);
    const top = alerts[0]!;
    assert.equal(top.title, 'a critical finding');
    assert.equal(top.category, 'destructive');
    assert.equal(top.tool, 'exec');
    assert.equal(top.sessionKey, 'sess-9');
    assert.deepEqual(top.ruleIds, ['RULE-CRITICAL']);
  });

  it('alerts in observe mode, keyed on the raw action', async (t) => {
    const store = openStore(t);
    const observed = verdict({
      mode: 'observe',
      action: 'allow',
      rawAction: 'block',
      wouldBlock: true,
      severity: 'critical',
      findings: [finding()],
      ruleIds: ['CMD-DESTRUCTIVE-RM'],
    });
    const r = await store.enqueue(record({}, { verdicts: [observed] }));
    assert.equal(r.alertIds.length, 1);
    const [a] = store.queries.listAlerts().alerts;
    assert.equal(a!.action, 'allow');
    assert.equal(a!.rawAction, 'block');
    assert.equal(a!.mode, 'observe');
    assert.equal(a!.enforced, false);
  });

  it('writes no alert for allow verdicts, or when told none', async (t) => {
    const store = openStore(t);
    const a = await store.enqueue(record({}, { verdicts: [verdict()] }));
    const b = await store.enqueue(record({}, { verdicts: [alerting('block')], alert: 'none' }));
    assert.deepEqual([a.alertIds, b.alertIds], [[], []]);
    assert.equal(store.queries.listAlerts().alerts.length, 0);
  });

  it('writes an explicit lifecycle alert without a verdict, in the same transaction', async (t) => {
    const store = openStore(t);
    const r = await store.enqueue({
      event: { ts: 5, kind: 'gateway.seq_gap', source: 'ws', summary: 'missed 3 events' },
      alert: { category: 'gateway', severity: 'medium', title: 'seq gap: 3 events never inspected' },
    });
    const detail = store.queries.getEvent(r.eventId)!;
    assert.equal(detail.alerts.length, 1);
    assert.equal(detail.alerts[0]!.verdictId, null);
    assert.equal(detail.alerts[0]!.category, 'gateway');
    assert.equal(detail.alerts[0]!.severity, 'medium');
  });
});

describe('payload and summary', () => {
  it('stores the payload JSON within maxPayloadBytes, and only its size and hash above it', async (t) => {
    const store = openStore(t, { maxPayloadBytes: 64 });
    const small = await store.enqueue(record({ payload: { ok: true } }));
    const big = await store.enqueue(record({ payload: { text: 'x'.repeat(100) } }));
    const s = store.queries.getEvent(small.eventId)!;
    assert.deepEqual(s.payload, { ok: true });
    assert.equal(s.payloadBytes, Buffer.byteLength('{"ok":true}'));
    const b = store.queries.getEvent(big.eventId)!;
    assert.equal(b.payload, null);
    assert.equal(b.payloadBytes, Buffer.byteLength(JSON.stringify({ text: 'x'.repeat(100) })));
    assert.match(b.payloadSha256!, /^[0-9a-f]{64}$/);
  });

  it("stores only sizes and SHA-256 under capture 'metadata', switchable at runtime", async (t) => {
    const store = openStore(t, { capture: 'metadata' });
    const a = await store.enqueue(record({ payload: { secret: 'redacted anyway' } }));
    store.configure({ capture: 'redacted' });
    const b = await store.enqueue(record({ payload: { fine: 1 } }));
    const ea = store.queries.getEvent(a.eventId)!;
    assert.equal(ea.payload, null);
    assert.equal(ea.payloadBytes, Buffer.byteLength('{"secret":"redacted anyway"}'));
    assert.equal(
      ea.payloadSha256,
      (await import('node:crypto')).createHash('sha256').update('{"secret":"redacted anyway"}').digest('hex'),
    );
    assert.deepEqual(store.queries.getEvent(b.eventId)!.payload, { fine: 1 });
  });

  it('cuts summaries to 512 and snippets to 120 characters', async (t) => {
    const store = openStore(t);
    const r = await store.enqueue(
      record(
        { summary: 's'.repeat(2000) },
        { verdicts: [alerting('block', 'high', { findings: [finding({ snippet: 'x'.repeat(500) })] })] },
      ),
    );
    const e = store.queries.getEvent(r.eventId)!;
    assert.equal(e.summary!.length, 512);
    assert.ok(e.summary!.endsWith('…'));
    assert.equal(e.verdicts[0]!.findings![0]!.snippet!.length, 120);
  });
});

describe('writeNow', () => {
  it('commits synchronously, after anything already queued', async (t) => {
    const store = openStore(t, { flushIntervalMs: 60_000 });
    const queued = store.enqueue(record());
    const now = store.writeNow(record({ kind: 'exec.approval' }, { verdicts: [alerting('block')] }));
    assert.equal(now.eventId, 2);
    assert.equal(now.alertIds.length, 1);
    assert.equal((await queued).eventId, 1);
    assert.equal(store.queries.getEvent(2)!.kind, 'exec.approval');
  });

  it('throws WRITE_FAILED for a record the database rejects and counts it', (t) => {
    const store = openStore(t);
    assert.throws(
      () => store.writeNow(record({}, { verdicts: [verdict({ lane: 'x' }), verdict({ lane: 'x' })] })),
      (err: unknown) => isAuditStoreError(err, 'WRITE_FAILED'),
    );
    assert.equal(store.stats.dropped.write_error, 1);
    assert.equal(count(getInternals(store).db, 'events', "kind = 'tool.call'"), 0);
  });
});

describe('failures', () => {
  it('bisects a batch with a constraint error: good records commit, the bad one fails, a gap is recorded', async (t) => {
    const store = openStore(t, { batchMax: 16, flushIntervalMs: 60_000 });
    const records = Array.from({ length: 16 }, (_, i) =>
      i === 11
        ? record({ seq: i }, { verdicts: [verdict({ lane: 'dup' }), verdict({ lane: 'dup' })] })
        : record({ seq: i }, { verdicts: [verdict()] }),
    );
    const results = await Promise.allSettled(records.map((r) => store.enqueue(r)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    assert.deepEqual(failed, [11]);
    const reason = (results[11] as PromiseRejectedResult).reason;
    assert.ok(isAuditStoreError(reason, 'WRITE_FAILED'));
    assert.match(reason.message, /SQLITE_CONSTRAINT_UNIQUE/);
    const { db } = getInternals(store);
    assert.equal(count(db, 'events', "kind = 'tool.call'"), 15);
    assert.equal(count(db, 'verdicts'), 15);
    assert.equal(store.stats.dropped.write_error, 1);
    const gap = store.queries.listEvents({ kind: 'audit.gap', include: { payload: true } }).events;
    assert.equal(gap.length, 1);
    assert.deepEqual((gap[0]!.payload as { count: number; reason: string }).count, 1);
    assert.equal((gap[0]!.payload as { reason: string }).reason, 'write_error');
    const [alert] = store.queries.listAlerts({ minSeverity: 'high' }).alerts;
    assert.equal(alert!.category, 'audit');
    // Ids still follow arrival order among the committed records.
    const seqs = (
      db.prepare("SELECT seq FROM events WHERE kind = 'tool.call' ORDER BY id").all() as { seq: number }[]
    ).map((r) => r.seq);
    assert.deepEqual(
      seqs,
      records.map((_, i) => i).filter((i) => i !== 11),
    );
  });

  it('keeps records queued while the disk is full and commits them once it is not (SQLITE_FULL)', async (t) => {
    const store = openStore(t, { retryIntervalMs: 20 });
    await store.enqueue(record());
    const { db } = getInternals(store);
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const big = { text: 'y'.repeat(8000) };
    const pending = Array.from({ length: 20 }, () => store.enqueue(record({ payload: big })));
    await sleep(100);
    assert.equal(store.stats.failing, true);
    assert.equal(store.stats.lastError?.code, 'SQLITE_FULL');
    assert.equal(store.stats.queueDepth, 20);
    assert.ok(store.stats.writeErrors >= 2, 'retried');
    db.pragma('max_page_count = 1073741823');
    const receipts = await Promise.all(pending);
    assert.equal(receipts.length, 20);
    assert.equal(store.stats.failing, false);
    assert.deepEqual(store.stats.dropped, { queue_full: 0, write_error: 0, shutdown: 0 });
    // Nothing was lost, so no gap event.
    assert.equal(store.queries.listEvents({ kind: 'audit.gap' }).events.length, 0);
  });

  it('reports pressure above 80 % of the queue and clears it once drained', async (t) => {
    const store = openStore(t, { queueSize: 10, batchMax: 100, flushIntervalMs: 60_000 });
    const seen: boolean[] = [];
    const off = store.onPressure((high) => seen.push(high));
    const pending: Promise<CommitReceipt>[] = [];
    for (let i = 0; i < 8; i++) pending.push(store.enqueue(record()));
    assert.deepEqual(seen, []);
    pending.push(store.enqueue(record()));
    assert.deepEqual(seen, [true]);
    await store.flush();
    assert.deepEqual(seen, [true, false]);
    off();
    await Promise.all(pending);
  });
});

describe('close', () => {
  it('drops what misses the drain deadline as shutdown and records the gap in the trail', async (t) => {
    const path = join(tempDir(t), 'audit.db');
    const store = openAuditStore({ path, batchMax: 50, flushIntervalMs: 60_000 });
    const sent = 5000;
    const settled = Promise.allSettled(Array.from({ length: sent }, () => store.enqueue(record())));
    const result = await store.close({ drainTimeoutMs: 0 });
    const outcomes = await settled;
    const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
    assert.equal(result.drained, ok);
    assert.equal(result.dropped, sent - ok);
    assert.ok(result.dropped > 0);
    assert.equal(store.stats.dropped.shutdown, result.dropped);
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    assert.equal(count(db, 'events', "kind = 'tool.call'") + result.dropped, sent);
    const gap = db.prepare("SELECT payload FROM events WHERE kind = 'audit.gap'").get() as {
      payload: string;
    };
    assert.deepEqual(JSON.parse(gap.payload).by_reason, { shutdown: result.dropped });
  });

  it('drains every queued record, then refuses new ones as CLOSED (counted as shutdown)', async (t) => {
    const path = join(tempDir(t), 'audit.db');
    const store = openAuditStore({ path, flushIntervalMs: 60_000, batchMax: 64 });
    const pending = Array.from({ length: 1000 }, () => store.enqueue(record()));
    const result = await store.close();
    assert.deepEqual(result, { drained: 1000, dropped: 0 });
    assert.equal((await Promise.all(pending)).length, 1000);
    await assert.rejects(store.enqueue(record()), (err: unknown) => isAuditStoreError(err, 'CLOSED'));
    assert.equal(store.stats.dropped.shutdown, 1);
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    assert.equal(count(db, 'events'), 1000);
    assert.equal(
      (db.prepare("SELECT value FROM meta WHERE key = 'clean_shutdown'").get() as { value: string }).value,
      '1',
    );
  });
});

describe('insertStatements', () => {
  it('writes identical rows through drizzle prepared queries and raw statements', async (t) => {
    const raw = openStore(t, { insertStatements: 'raw' });
    const orm = openStore(t, { insertStatements: 'drizzle' });
    const records = [
      record(
        { dedupeKey: 'k1', payload: { a: [1, 2] }, summary: 'one' },
        { verdicts: [alerting('block', 'critical'), verdict({ lane: 'l2' })] },
      ),
      record({ dedupeKey: 'k1' }),
      record({ kind: 'exec.approval', seq: 9 }, { verdicts: [alerting('confirm', 'high')] }),
      record({}, { alert: { category: 'lifecycle', severity: 'high', title: 'restart' } }),
    ];
    const a = await Promise.all(records.map((r) => raw.enqueue(structuredClone(r))));
    const b = await Promise.all(records.map((r) => orm.enqueue(structuredClone(r))));
    assert.deepEqual(b, a);
    const dump = (db: Database.Database) =>
      ['events', 'verdicts', 'findings', 'alerts'].map((table) =>
        db.prepare(`SELECT * FROM ${table} ORDER BY id`).all(),
      );
    assert.deepEqual(dump(getInternals(orm).db), dump(getInternals(raw).db));
  });

  it('gives multi-row batches the ids and rows of row-by-row inserts, duplicates across chunks included', (t) => {
    // 230 records in one transaction: event statements of 64, 64, 64, 32, 4, 2 records; verdicts, findings and
    // alerts beyond 64 rows per statement; dedupe keys repeated within a statement (71), across statements (200)
    // and from an earlier batch (225), each making its statement fall back to row by row. The inserters are called directly: the writer's bisection would hide a wrong id behind
    // single-record retries.
    const dbs = [openStore(t), openStore(t)].map((store) => getInternals(store).db);
    const make = (i: number): AuditRecord => {
      const dedupeKey =
        i % 5 === 4 ? null : `ws:c:${i === 200 ? 3 : i === 71 ? 68 : i === 225 ? 'early' : i}`;
      const verdicts =
        i % 7 === 0
          ? [
              alerting('block', 'critical'),
              verdict({ lane: 'l2' }),
              alerting('alert', 'medium', { lane: 'l3' }),
            ]
          : i % 3 === 0
            ? [verdict()]
            : [];
      const alert = { category: 'lifecycle', severity: 'high' as const, title: `t${i}`, verdictIndex: 0 };
      return record({ dedupeKey, seq: i, payload: { i } }, i % 11 === 0 ? { verdicts, alert } : { verdicts });
    };
    const options = { capture: 'redacted' as const, maxPayloadBytes: 16_384 };
    const early = record({ dedupeKey: 'ws:c:early' });
    const batch = Array.from({ length: 230 }, (_, i) => make(i));
    const [raw, rows] = (['raw', 'drizzle'] as const).map((flavour, k) => {
      const db = dbs[k]!;
      const insert = createInserter(db, flavour);
      const run = db.transaction((records: AuditRecord[]) =>
        insert(records.map((r) => prepareRecord(structuredClone(r), options))),
      );
      run([early]);
      return run(batch);
    });
    assert.deepEqual(raw, rows);
    assert.equal(raw!.filter((r) => r.duplicate).length, 3);
    assert.equal(raw![200]!.eventId, raw![3]!.eventId);
    assert.equal(raw![71]!.eventId, raw![68]!.eventId);
    assert.equal(raw![225]!.duplicate, true);
    const dump = (db: Database.Database) =>
      ['events', 'verdicts', 'findings', 'alerts'].map((table) =>
        db.prepare(`SELECT * FROM ${table} ORDER BY id`).all(),
      );
    const tables = dump(dbs[0]!);
    assert.deepEqual(tables, dump(dbs[1]!));
    assert.ok(
      tables[1]!.length > 64 && tables[2]!.length > 16,
      'verdicts and findings span several statements',
    );
  });
});
