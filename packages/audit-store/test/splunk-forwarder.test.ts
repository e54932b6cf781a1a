import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  type AuditRecord,
  type AuditStore,
  createSplunkForwarder,
  HEC_EVENT_PATH,
  isAuditStoreError,
  META_KEYS,
  openAuditStore,
  SPLUNK_SKIPPED_KIND,
  type SplunkForwarder,
  type SplunkForwarderOptions,
  splunkEndpoint,
} from '../src/index.ts';
import { alerting, openStore, record, tempDir, verdict } from './_helpers.ts';
import { type FakeHec, memoryLogger, range, startFakeHec, waitFor } from './_splunk-hec.ts';

const TOKEN = 'hec-token-0123456789abcdef';

/** Starts a forwarder closed after the test (before the fake and the store). */
function forward(
  t: TestContext,
  store: AuditStore,
  hec: FakeHec,
  options: Partial<SplunkForwarderOptions> = {},
): SplunkForwarder {
  const forwarder = createSplunkForwarder({
    store,
    hecUrl: hec.url,
    token: TOKEN,
    host: 'test-host',
    version: '1.2.3',
    batch: { intervalMs: 20 },
    ...options,
  });
  t.after(() => forwarder.close({ graceMs: 0 }));
  return forwarder;
}

async function seed(store: AuditStore, n: number, make: (i: number) => AuditRecord = () => record()) {
  for (let i = 0; i < n; i++) void store.enqueue(make(i));
  await store.flush();
}

describe('createSplunkForwarder', () => {
  it('forwards committed events as HEC lines with id, instance id and verdicts, then moves the cursor', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 3, (i) =>
      record({ summary: `event ${i}`, payload: { secret: 'kept out' } }, { verdicts: [alerting('block')] }),
    );
    const forwarder = forward(t, store, hec, { index: 'sec', sourcetype: 'dc:test' });

    await waitFor(() => hec.acceptedIds.length >= 3, 'three events accepted');
    const request = hec.requests[0]!;
    assert.equal(request.authorization, `Splunk ${TOKEN}`);
    assert.equal(request.path, HEC_EVENT_PATH);
    assert.deepEqual(
      request.lines.map((line) => line.event.id),
      [1, 2, 3],
    );
    const line = request.lines[0]!;
    assert.equal(line.host, 'test-host');
    assert.equal(line.source, 'defenseclaw');
    assert.equal(line.sourcetype, 'dc:test');
    assert.equal(line.index, 'sec');
    const stored = store.queries.getEvent(1)!;
    assert.equal(line.time, stored.ts / 1000);
    assert.equal(line.event.ts, new Date(stored.ts).toISOString());
    assert.equal(line.event.kind, 'tool.call');
    assert.equal(line.event.summary, 'event 0');
    assert.equal(line.event.tool, 'exec');
    assert.equal(line.event.session_key, 's1');
    assert.deepEqual(line.event.sidecar, { version: '1.2.3', instance_id: store.meta.instanceId });
    assert.deepEqual(line.event.verdicts, [
      {
        lane: 'ws_tool_call',
        action: 'block',
        raw_action: 'block',
        severity: 'high',
        mode: 'action',
        rule_ids: ['RULE-HIGH'],
        enforced: false,
      },
    ]);
    assert.equal('payload' in line.event, false, 'payloads are sent only on opt-in');

    await waitFor(() => forwarder.stats.cursor === 3, 'cursor at 3');
    assert.equal(store.meta.get(META_KEYS.splunkCursor), '3');
    const stats = forwarder.stats;
    assert.equal(stats.state, 'healthy');
    assert.equal(stats.circuit, 'closed');
    assert.equal(stats.delivered, 3);
    assert.equal(stats.queueDepth, 0);
    assert.equal(stats.endpoint, hec.url);
    assert.ok(stats.lastSuccessAt !== undefined);
  });

  it('keeps forwarding events committed after it started', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    const forwarder = forward(t, store, hec);
    await seed(store, 5);
    await waitFor(() => forwarder.stats.cursor === 5, 'first five');
    await seed(store, 7);
    forwarder.wake();
    await waitFor(() => forwarder.stats.cursor === 12, 'next seven');
    assert.deepEqual(
      [...hec.acceptedIds].sort((a, b) => a - b),
      range(1, 12),
    );
  });

  it('sends a full batch of max_events without waiting for the interval', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 25);
    forward(t, store, hec, { batch: { maxEvents: 10, intervalMs: 600_000 }, concurrency: 1 });
    await waitFor(() => hec.requests.length >= 2, 'two full batches');
    assert.deepEqual(
      hec.requests.slice(0, 2).map((request) => request.lines.map((line) => line.event.id)),
      [range(1, 10), range(11, 20)],
    );
  });

  it('sends a partial batch once interval_ms has passed', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 3);
    forward(t, store, hec, { batch: { maxEvents: 100, intervalMs: 30 } });
    await waitFor(() => hec.requests.length >= 1, 'one request');
    assert.deepEqual(
      hec.requests[0]!.lines.map((line) => line.event.id),
      [1, 2, 3],
    );
  });

  it('closes a batch before it exceeds max_bytes', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 20, (i) => record({ summary: `${'x'.repeat(200)} ${i}` }));
    const maxBytes = 1500;
    const forwarder = forward(t, store, hec, { batch: { maxEvents: 100, maxBytes, intervalMs: 10 } });
    await waitFor(() => forwarder.stats.cursor === 20, 'all twenty');
    assert.ok(hec.requests.length > 1, 'split into several requests');
    for (const request of hec.requests) {
      assert.ok(request.bytes <= maxBytes, `request of ${request.bytes} bytes`);
    }
    // Batches travel concurrently: each event once, in any order.
    assert.deepEqual(
      [...hec.acceptedIds].sort((x, y) => x - y),
      range(1, 20),
    );
  });

  it('forwards only alerting events with include: alerts, and moves the cursor past the others', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 6, (i) =>
      i % 3 === 1 ? record({}, { verdicts: [alerting('alert')] }) : record({}, { verdicts: [verdict()] }),
    );
    // A lifecycle alert without a verdict counts too.
    await store.enqueue({
      event: { ts: Date.now(), kind: 'audit.gap', source: 'sidecar' },
      alert: { category: 'audit', severity: 'high', title: 'gap' },
    });
    const forwarder = forward(t, store, hec, { include: 'alerts' });
    await waitFor(() => forwarder.stats.cursor === 7, 'cursor past every row');
    assert.deepEqual(hec.acceptedIds, [2, 5, 7]);
    assert.equal(forwarder.stats.delivered, 3);
  });

  it('adds the stored, redacted payload with include_payload', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 2, (i) => record({ payload: { n: i, args: { command: 'ls' } } }));
    forward(t, store, hec, { includePayload: true });
    await waitFor(() => hec.acceptedIds.length === 2, 'two events');
    assert.deepEqual(
      hec.requests.flatMap((request) => request.lines.map((line) => line.event.payload)),
      [
        { n: 0, args: { command: 'ls' } },
        { n: 1, args: { command: 'ls' } },
      ],
    );
  });

  it('resumes from the cursor after a restart, with no gap and at most the batches in flight resent', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    const hec = await startFakeHec(t, { token: TOKEN });
    let store = openAuditStore({ path, checkpointIntervalMs: 0 });
    await seed(store, 50);
    // The third request is answered late: the forwarder stops while it is in flight.
    hec.handle((_request, index) => ({ status: 200, body: { code: 0 }, delayMs: index === 2 ? 400 : 0 }));
    let forwarder = createSplunkForwarder({
      store,
      hecUrl: hec.url,
      token: TOKEN,
      batch: { maxEvents: 10, intervalMs: 10 },
      concurrency: 1,
    });
    await waitFor(() => hec.requests.length === 3, 'third request in flight');
    await forwarder.close({ graceMs: 0 });
    assert.equal(forwarder.stats.state, 'stopped');
    assert.equal(forwarder.stats.cursor, 20);
    await store.close();

    store = openAuditStore({ path, checkpointIntervalMs: 0 });
    t.after(() => store.close());
    assert.equal(store.meta.get(META_KEYS.splunkCursor), '20');
    await seed(store, 30);
    hec.handle(() => ({ status: 200, body: { code: 0 } }));
    forwarder = createSplunkForwarder({
      store,
      hecUrl: hec.url,
      token: TOKEN,
      batch: { maxEvents: 10, intervalMs: 10 },
    });
    t.after(() => forwarder.close({ graceMs: 0 }));
    await waitFor(() => forwarder.stats.cursor === 80, 'cursor at 80');
    await waitFor(() => new Set(hec.acceptedIds).size === 80, 'every event accepted');
    assert.deepEqual(
      [...new Set(hec.acceptedIds)].sort((a, b) => a - b),
      range(1, 80),
    );
    // The held batch (21–30) may have been indexed by HEC and is resent: at-least-once, one batch at most.
    assert.ok(hec.acceptedIds.length - 80 <= 10, `${hec.acceptedIds.length - 80} duplicates`);
    assert.equal(hec.requests[3]!.lines[0]!.event.id, 21, 'the second forwarder starts at the cursor');
  });

  it('skips a backlog above max_lag_events, counts it and records one splunk.skipped event', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 50);
    const logger = memoryLogger();
    const forwarder = forward(t, store, hec, { maxLagEvents: 20, logger });
    await waitFor(() => hec.acceptedIds.includes(51), 'the splunk.skipped event forwarded too');
    assert.equal(hec.acceptedIds[0], 31);
    assert.deepEqual(hec.acceptedIds, range(31, 51));
    assert.equal(forwarder.stats.dropped.lag, 30);
    const skipped = store.queries.listEvents({
      kind: SPLUNK_SKIPPED_KIND,
      include: { payload: true },
    }).events;
    assert.equal(skipped.length, 1);
    assert.deepEqual(skipped[0]!.payload, {
      reason: 'lag',
      count: 30,
      from_id: 1,
      to_id: 30,
      max_lag_events: 20,
    });
    assert.match(logger.text(), /skipped events 1–30/);
  });

  it('counts events deleted by retention before they were forwarded', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    const old = Date.now() - 10 * 86_400_000;
    await seed(store, 10, () => record({ ts: old }));
    await seed(store, 5, () => record({ ts: Date.now() }));
    const result = await store.runRetention({ retentionDays: 1 });
    assert.equal(result.deleted, 10);
    const forwarder = forward(t, store, hec);
    await waitFor(() => forwarder.stats.cursor === 15, 'cursor at 15');
    assert.deepEqual(hec.acceptedIds, range(11, 15));
    assert.equal(forwarder.stats.dropped.retention, 10);
  });

  it('reports the backlog as queue depth while nothing can be sent', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await hec.down();
    await seed(store, 12);
    const forwarder = forward(t, store, hec, { backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await waitFor(() => forwarder.stats.retries === 1, 'first failure');
    assert.equal(forwarder.stats.queueDepth, 12);
    assert.equal(forwarder.stats.cursor, 0);
    assert.equal(forwarder.stats.state, 'reconnecting');
    assert.match(forwarder.stats.lastError ?? '', /ECONNREFUSED/);
  });

  it('rejects an empty or malformed token', (t) => {
    const store = openStore(t);
    for (const token of ['', 'two words', 'line\nbreak']) {
      assert.throws(
        () => createSplunkForwarder({ store, hecUrl: 'https://splunk.example', token }),
        (error: unknown) =>
          isAuditStoreError(error, 'INVALID_ARGUMENT') && !error.message.includes(token || '\0'),
      );
    }
  });
});

describe('splunkEndpoint', () => {
  it('appends the HEC event path to a bare base URL and keeps an explicit one', () => {
    assert.equal(
      splunkEndpoint('https://splunk.example:8088').url.href,
      `https://splunk.example:8088${HEC_EVENT_PATH}`,
    );
    assert.equal(
      splunkEndpoint('https://splunk.example/services/collector').url.pathname,
      '/services/collector',
    );
    assert.equal(splunkEndpoint('https://splunk.example').display, 'https://splunk.example:443');
    assert.equal(splunkEndpoint('http://127.0.0.1:8088/').display, 'http://127.0.0.1:8088');
    assert.equal(splunkEndpoint('http://[::1]:8088').display, 'http://[::1]:8088');
  });

  it('refuses http off loopback, credentials in the URL and other schemes', () => {
    for (const url of [
      'http://splunk.example:8088',
      'https://user:pw@splunk.example',
      'ftp://x',
      'not a url',
    ]) {
      assert.throws(
        () => splunkEndpoint(url),
        (error: unknown) => isAuditStoreError(error, 'INVALID_ARGUMENT'),
      );
    }
  });
});
