import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  type AuditRecord,
  type AuditStore,
  createSplunkForwarder,
  type SplunkForwarder,
  type SplunkForwarderOptions,
  type SplunkState,
} from '../src/index.ts';
import { openStore, record } from './_helpers.ts';
import { type FakeHec, memoryLogger, range, SUCCESS, startFakeHec, waitFor } from './_splunk-hec.ts';

const TOKEN = 'hec-secret-token-4f1c9a7e';

/** A forwarder with fast pacing (tests assert behaviour, never durations), closed after the test. */
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
    batch: { intervalMs: 10 },
    backoff: { initialMs: 10, maxMs: 40 },
    circuit: { openMs: 30, maxOpenMs: 120 },
    ...options,
  });
  t.after(() => forwarder.close({ graceMs: 0 }));
  return forwarder;
}

async function seed(store: AuditStore, n: number, make: (i: number) => AuditRecord = () => record()) {
  for (let i = 0; i < n; i++) void store.enqueue(make(i));
  await store.flush();
}

function sorted(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Records every state the forwarder shows while a test runs. */
function watchStates(t: TestContext, forwarder: SplunkForwarder): Set<SplunkState | string> {
  const seen = new Set<string>();
  const timer = setInterval(() => {
    const s = forwarder.stats;
    seen.add(s.state);
    seen.add(`circuit:${s.circuit}`);
  }, 1);
  t.after(() => clearInterval(timer));
  return seen;
}

describe('Splunk forwarder failures', () => {
  it('retries 503 answers with backoff and delivers once the collector recovers', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    hec.handle((_request, index) =>
      index < 2 ? { status: 503, body: { text: 'Server is busy', code: 9 } } : SUCCESS,
    );
    await seed(store, 30);
    const forwarder = forward(t, store, hec);
    await waitFor(() => forwarder.stats.cursor === 30, 'all delivered');
    assert.deepEqual(sorted(hec.acceptedIds), range(1, 30));
    assert.equal(forwarder.stats.retries, 2);
    assert.equal(forwarder.stats.state, 'healthy');
    assert.equal(forwarder.stats.lastError, undefined);
  });

  it('honours Retry-After on 429', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    hec.handle(() => ({
      status: 429,
      headers: { 'retry-after': '30' },
      body: { text: 'Too many', code: 9 },
    }));
    await seed(store, 3);
    const forwarder = forward(t, store, hec, { circuit: { openMs: 60_000, maxOpenMs: 300_000 } });
    await waitFor(() => forwarder.stats.retries === 1, 'first 429');
    const stats = forwarder.stats;
    assert.equal(stats.state, 'reconnecting');
    assert.match(stats.lastError ?? '', /429/);
    // Without Retry-After the next try would be ~10 ms away.
    assert.ok((stats.nextAttemptAt ?? 0) - Date.now() > 20_000, 'waits the 30 s the server asked for');
    assert.equal(hec.requests.length, 1);
  });

  it('bisects a rejected batch, skips only the bad event and logs its id', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    hec.handle((request) =>
      request.lines.some((line) => line.event.summary === 'POISON')
        ? { status: 400, body: { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 } }
        : SUCCESS,
    );
    await seed(store, 40, (i) => record({ summary: i === 22 ? 'POISON' : `ok ${i}` }));
    const logger = memoryLogger();
    const forwarder = forward(t, store, hec, { batch: { maxEvents: 16, intervalMs: 10 }, logger });
    await waitFor(() => forwarder.stats.cursor === 40, 'cursor at 40');
    const bad = 23;
    assert.deepEqual(
      sorted(hec.acceptedIds),
      range(1, 40).filter((id) => id !== bad),
    );
    assert.equal(forwarder.stats.failed.rejected, 1);
    assert.equal(forwarder.stats.delivered, 39);
    assert.equal(forwarder.stats.circuit, 'closed');
    assert.match(logger.text(), new RegExp(`rejected event ${bad}\\b`));
    // A batch of 16 needs at most log2(16) + 1 extra requests to isolate one event.
    const rejected = hec.requests.filter((request) => request.lines.some((l) => l.event.id === bad));
    assert.ok(rejected.length <= 6, `${rejected.length} requests carried the bad event`);
  });

  for (const status of [401, 403]) {
    it(`opens the circuit at once on ${status} and never reveals the token`, async (t) => {
      const store = openStore(t);
      const hec = await startFakeHec(t, { token: TOKEN });
      hec.handle(() => ({ status, body: { text: 'Invalid token', code: 4 } }));
      await seed(store, 5);
      const logger = memoryLogger();
      const forwarder = forward(t, store, hec, { logger, circuit: { openMs: 60_000, maxOpenMs: 60_000 } });
      await waitFor(() => forwarder.stats.retries === 1, 'first rejection');
      const stats = forwarder.stats;
      assert.equal(stats.circuit, 'open');
      assert.equal(stats.state, 'error');
      assert.equal(stats.lastError, 'HEC token rejected');
      assert.equal(stats.cursor, 0);
      assert.equal(hec.requests.length, 1, 'no retry before the circuit half-opens');
      assert.equal(hec.requests[0]!.authorization, `Splunk ${TOKEN}`);
      assert.ok(!logger.text().includes(TOKEN), 'the token is never logged');
      assert.ok(!JSON.stringify(stats).includes(TOKEN), 'nor reported');
      assert.match(logger.text(), /token rejected/);
    });
  }

  it('opens after consecutive failures, probes half-open and closes again when the collector is back', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    let healthy = false;
    hec.handle(() => (healthy ? SUCCESS : { status: 503, body: { code: 9 } }));
    await seed(store, 20);
    const forwarder = forward(t, store, hec, { circuit: { failureThreshold: 3, openMs: 30, maxOpenMs: 60 } });
    const seen = watchStates(t, forwarder);
    await waitFor(() => forwarder.stats.circuit === 'open', 'circuit open');
    assert.ok(forwarder.stats.retries >= 3);
    assert.equal(forwarder.stats.state, 'error');
    const failedBefore = hec.requests.length;
    // Still down: a half-open probe fails and the circuit opens again.
    await waitFor(() => hec.requests.length > failedBefore && forwarder.stats.circuit === 'open', 'reopened');
    healthy = true;
    await waitFor(() => forwarder.stats.cursor === 20, 'delivered after recovery');
    assert.equal(forwarder.stats.circuit, 'closed');
    assert.equal(forwarder.stats.state, 'healthy');
    assert.ok(seen.has('circuit:half_open'), 'went through half_open');
    assert.deepEqual(sorted(hec.acceptedIds), range(1, 20));
  });

  it('keeps the backlog in the database through an outage and delivers it without gaps', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 100);
    const forwarder = forward(t, store, hec, { batch: { maxEvents: 50, intervalMs: 10 } });
    await waitFor(() => forwarder.stats.cursor === 100, 'first hundred');
    await hec.down();
    await seed(store, 2000);
    await waitFor(() => forwarder.stats.retries >= 2, 'failures during the outage');
    const during = forwarder.stats;
    assert.equal(during.cursor, 100);
    assert.equal(during.queueDepth, 2000);
    assert.ok(during.inFlight <= 1, 'one probe at a time while failing');
    // The writer keeps committing while HEC is down.
    await seed(store, 500);
    assert.equal(store.queries.counts().eventsRecorded, 2600);
    await hec.up();
    await waitFor(() => forwarder.stats.cursor === 2600, 'backlog delivered', 20_000);
    assert.deepEqual(sorted(hec.acceptedIds), range(1, 2600));
    assert.equal(forwarder.stats.queueDepth, 0);
  });

  it('treats a slow answer as a timeout and resends the batch', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    hec.handle((_request, index) => (index === 0 ? { ...SUCCESS, delayMs: 500 } : SUCCESS));
    await seed(store, 10);
    const forwarder = forward(t, store, hec, { timeoutMs: 50 });
    await waitFor(() => forwarder.stats.cursor === 10, 'delivered on the second try');
    assert.equal(forwarder.stats.retries, 1);
    assert.ok(hec.requests.length >= 2);
    assert.deepEqual(
      hec.requests[1]!.lines.map((line) => line.event.id),
      range(1, 10),
    );
  });

  it('does not block the writer while a request hangs', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    hec.handle(() => ({ ...SUCCESS, delayMs: 60_000 }));
    await seed(store, 5);
    const forwarder = forward(t, store, hec, { timeoutMs: 60_000 });
    await waitFor(() => forwarder.stats.inFlight === 1, 'a request in flight');
    const receipts = await Promise.all(range(1, 200).map(() => store.enqueue(record())));
    assert.equal(receipts.length, 200);
    assert.equal(store.queries.counts().eventsRecorded, 205);
    assert.equal(forwarder.stats.cursor, 0);
  });

  it('leaves the event loop to the writer while its queue is more than half full', async (t) => {
    const store = openStore(t, { queueSize: 10, batchMax: 100, flushIntervalMs: 60_000 });
    const hec = await startFakeHec(t, { token: TOKEN });
    await seed(store, 3);
    // Eight records wait in a queue of ten: the writer is behind.
    const queued = range(1, 8).map(() => store.enqueue(record()));
    assert.equal(store.stats.queueDepth, 8);
    const forwarder = forward(t, store, hec, { pollMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(hec.requests.length, 0, 'nothing read while the writer is behind');
    assert.equal(forwarder.stats.queueDepth, 3);
    await store.flush();
    await Promise.all(queued);
    await waitFor(() => forwarder.stats.cursor === 11, 'everything forwarded once the queue drained');
    assert.deepEqual(sorted(hec.acceptedIds), range(1, 11));
  });

  it('opens the circuit on a request-level 400 (wrong index) and skips nothing', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    hec.handle(() => ({ status: 400, body: { text: 'Incorrect index', code: 7 } }));
    await seed(store, 8);
    const logger = memoryLogger();
    const forwarder = forward(t, store, hec, { logger, circuit: { openMs: 60_000, maxOpenMs: 60_000 } });
    await waitFor(() => forwarder.stats.circuit === 'open', 'circuit open');
    assert.equal(forwarder.stats.failed.rejected, 0);
    assert.equal(forwarder.stats.cursor, 0);
    assert.match(forwarder.stats.lastError ?? '', /Incorrect index/);
    assert.equal(hec.requests.length, 1);
  });

  it('does not take a 200 without HEC code 0 as delivery', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    hec.handle(() => ({ status: 200, body: '<html>login</html>' }));
    await seed(store, 4);
    const forwarder = forward(t, store, hec, { backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await waitFor(() => forwarder.stats.retries === 1, 'first attempt');
    assert.equal(forwarder.stats.cursor, 0);
    assert.match(forwarder.stats.lastError ?? '', /without code 0/);
  });

  it('closes promptly with a request in flight and leaves the cursor where HEC last confirmed', async (t) => {
    const store = openStore(t);
    const hec = await startFakeHec(t, { token: TOKEN });
    hec.handle(() => ({ ...SUCCESS, delayMs: 60_000 }));
    await seed(store, 5);
    const forwarder = forward(t, store, hec, { timeoutMs: 60_000 });
    await waitFor(() => forwarder.stats.inFlight === 1, 'a request in flight');
    await forwarder.close({ graceMs: 0 });
    assert.equal(forwarder.stats.state, 'stopped');
    assert.equal(forwarder.stats.cursor, 0);
    assert.equal(forwarder.stats.inFlight, 0);
  });
});
