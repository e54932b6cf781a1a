import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getInternals } from '../src/_internal.ts';
import { type AuditStore, encodeCursor, isAuditStoreError, type Severity } from '../src/index.ts';
import { alerting, openStore, verdict } from './_helpers.ts';

const T0 = 1_700_000_000_000;
const SEVS: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/**
 * 60 events: i = 0…59 at T0 + i·1000. Kinds alternate tool.call / tool.result / exec.approval; tools exec/read;
 * sessions s0–s2. Every event has a verdict; every 2nd one blocks (an alert) with severity SEVS[i % 5].
 */
async function seed(store: AuditStore) {
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 60; i++) {
    const kind = ['tool.call', 'tool.result', 'exec.approval'][i % 3]!;
    const alertingVerdict = i % 2 === 0;
    const p = store.enqueue({
      event: {
        ts: T0 + i * 1000,
        kind,
        source: 'ws',
        tool: i % 4 < 2 ? 'exec' : 'read',
        sessionKey: `s${i % 3 === 0 ? 0 : i % 3}`,
        payload: { i },
      },
      verdicts: [alertingVerdict ? alerting('block', SEVS[i % 5]!) : verdict()],
    });
    pending.push(p);
  }
  await Promise.all(pending);
}

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => to - k); // descending

describe('listAlerts', () => {
  it('returns [] and a null cursor when there is nothing', (t) => {
    const store = openStore(t);
    assert.deepEqual(store.queries.listAlerts(), { alerts: [], nextCursor: null });
    assert.deepEqual(store.queries.listEvents(), { events: [], nextCursor: null });
  });

  it('filters by minimum severity, tool, session, time window and acknowledgement', async (t) => {
    const store = openStore(t);
    await seed(store);
    const q = store.queries;
    const all = q.listAlerts({ limit: 1000 }).alerts;
    assert.equal(all.length, 30);
    assert.deepEqual(
      ids(all),
      [...ids(all)].sort((a, b) => b - a),
      'newest first',
    );

    const high = q.listAlerts({ minSeverity: 'high', limit: 1000 }).alerts;
    assert.ok(high.length > 0);
    assert.ok(high.every((a) => a.severity === 'high' || a.severity === 'critical'));
    assert.equal(high.length, all.filter((a) => a.severity === 'high' || a.severity === 'critical').length);
    assert.deepEqual(
      ids(high),
      [...ids(high)].sort((a, b) => b - a),
      'merged ranks stay newest first',
    );
    assert.equal(q.listAlerts({ minSeverity: 'info', limit: 1000 }).alerts.length, 30);

    const exec = q.listAlerts({ tool: 'exec', limit: 1000 }).alerts;
    assert.ok(exec.length > 0 && exec.every((a) => a.tool === 'exec'));
    assert.equal(exec.length, all.filter((a) => a.tool === 'exec').length);

    const s1 = q.listAlerts({ sessionKey: 's1', limit: 1000 }).alerts;
    assert.ok(s1.length > 0 && s1.every((a) => a.sessionKey === 's1'));

    // since inclusive, until exclusive: events 10…19 → the even ones 10, 12, …, 18.
    const window = q.listAlerts({ since: T0 + 10_000, until: T0 + 20_000, limit: 1000 }).alerts;
    assert.deepEqual(
      window.map((a) => (a.ts - T0) / 1000),
      [18, 16, 14, 12, 10],
    );

    const combined = q.listAlerts({
      tool: 'exec',
      minSeverity: 'medium',
      since: T0 + 20_000,
      limit: 1000,
    }).alerts;
    assert.deepEqual(
      ids(combined),
      ids(
        all.filter(
          (a) =>
            a.tool === 'exec' && ['medium', 'high', 'critical'].includes(a.severity) && a.ts >= T0 + 20_000,
        ),
      ),
    );

    const acked = q.ackAlerts([all[0]!.id, all[1]!.id], { by: 'operator', note: 'seen', nowMs: T0 + 99 });
    assert.deepEqual(acked, { acked: [all[0]!.id, all[1]!.id], alreadyAcked: [], notFound: [] });
    assert.deepEqual(ids(q.listAlerts({ acked: true }).alerts), [all[0]!.id, all[1]!.id]);
    assert.equal(q.listAlerts({ acked: false, limit: 1000 }).alerts.length, 28);
    const [first] = q.listAlerts({ acked: true }).alerts;
    assert.deepEqual([first!.ackedAt, first!.ackedBy, first!.ackNote], [T0 + 99, 'operator', 'seen']);
  });

  it('pages with a cursor that stays stable under concurrent inserts', async (t) => {
    const store = openStore(t);
    await seed(store);
    const q = store.queries;
    const expected = ids(q.listAlerts({ limit: 1000 }).alerts);
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = q.listAlerts({ limit: 7, cursor });
      seen.push(...ids(page.alerts));
      cursor = page.nextCursor;
      pages++;
      // New alerts land between pages; they are newer than the cursor and never shift the walk.
      await store.enqueue({
        event: { ts: T0, kind: 'tool.call', source: 'ws' },
        verdicts: [alerting('block')],
      });
    } while (cursor !== null);
    assert.deepEqual(seen, expected);
    assert.equal(pages, Math.ceil(expected.length / 7));
  });

  it('rejects a malformed cursor with INVALID_CURSOR', (t) => {
    const store = openStore(t);
    for (const cursor of [
      '!!',
      'eyJ2IjoyLCJpZCI6MX0',
      Buffer.from('{"v":1,"id":-4}').toString('base64url'),
      'abc',
    ]) {
      assert.throws(
        () => store.queries.listAlerts({ cursor }),
        (err: unknown) => isAuditStoreError(err, 'INVALID_CURSOR'),
      );
    }
    assert.deepEqual(store.queries.listAlerts({ cursor: encodeCursor(5) }).alerts, []);
  });
});

describe('listEvents', () => {
  it('filters by exact kind, kind prefix, session, tool, time, action and severity', async (t) => {
    const store = openStore(t);
    await seed(store);
    const q = store.queries;
    const all = q.listEvents({ limit: 1000 }).events;
    assert.equal(all.length, 60);
    assert.deepEqual(ids(all), range(1, 60));
    assert.equal(all[0]!.payload, undefined, 'no payload unless asked');

    const approvals = q.listEvents({ kind: 'exec.approval', limit: 1000 }).events;
    assert.equal(approvals.length, 20);
    assert.ok(approvals.every((e) => e.kind === 'exec.approval'));
    const tools = q.listEvents({ kind: 'tool.*', limit: 1000 }).events;
    assert.equal(tools.length, 40);
    assert.ok(tools.every((e) => e.kind.startsWith('tool.')));
    assert.deepEqual(
      ids(tools),
      [...ids(tools)].sort((a, b) => b - a),
    );

    assert.ok(q.listEvents({ sessionKey: 's2', limit: 1000 }).events.every((e) => e.sessionKey === 's2'));
    assert.equal(q.listEvents({ tool: 'read', limit: 1000 }).events.length, 30);
    assert.deepEqual(
      q.listEvents({ since: T0 + 5000, until: T0 + 8000 }).events.map((e) => e.ts - T0),
      [7000, 6000, 5000],
    );
    assert.equal(q.listEvents({ action: 'block', limit: 1000 }).events.length, 30);
    assert.equal(q.listEvents({ action: 'allow', limit: 1000 }).events.length, 30);
    const critical = q.listEvents({
      minSeverity: 'critical',
      limit: 1000,
      include: { verdicts: true },
    }).events;
    assert.ok(critical.length > 0);
    assert.ok(critical.every((e) => e.verdicts!.some((v) => v.severity === 'critical')));
  });

  it('attaches verdicts, findings and payloads on request', async (t) => {
    const store = openStore(t);
    await seed(store);
    const [e] = store.queries.listEvents({
      limit: 1,
      include: { verdicts: true, findings: true, payload: true },
    }).events;
    assert.deepEqual(e!.payload, { i: 59 });
    assert.equal(e!.verdicts!.length, 1);
    assert.deepEqual(e!.verdicts![0]!.findings, []);
    const [f] = store.queries.listEvents({
      limit: 1,
      cursor: encodeCursor(60),
      include: { findings: true },
    }).events;
    assert.equal(f!.verdicts![0]!.findings!.length, 1);
    assert.equal(f!.verdicts![0]!.findings![0]!.snippet, 'rm -rf ~');
  });

  it('reads events after an id in ascending order (forwarder cursor)', async (t) => {
    const store = openStore(t);
    await seed(store);
    assert.deepEqual(ids(store.queries.eventsAfter(55, { limit: 3 })), [56, 57, 58]);
  });
});

describe('getEvent, ackAlerts, counts', () => {
  it('returns undefined for an unknown event', (t) => {
    assert.equal(openStore(t).queries.getEvent(123), undefined);
  });

  it('acknowledges by id and by filter, reporting already-acked and unknown ids', async (t) => {
    const store = openStore(t);
    await seed(store);
    const q = store.queries;
    const [a, b] = q.listAlerts({ limit: 2 }).alerts;
    q.ackAlerts([a!.id], { by: 'x' });
    assert.deepEqual(q.ackAlerts([a!.id, b!.id, 9999], { by: 'y' }), {
      acked: [b!.id],
      alreadyAcked: [a!.id],
      notFound: [9999],
    });
    const before = q.counts();
    assert.equal(before.alertsOpen, 28);
    const { acked } = q.ackAlertsMatching({ minSeverity: 'high' }, { by: 'bulk' });
    const after = q.counts();
    assert.equal(after.alertsOpen, 28 - acked);
    assert.equal(after.alertsOpenBySeverity.high + after.alertsOpenBySeverity.critical, 0);
    assert.ok(after.alertsOpenBySeverity.medium > 0);
  });

  it('counts recorded rows as the highest ids and open alerts by severity', async (t) => {
    const store = openStore(t);
    await seed(store);
    const c = store.queries.counts();
    assert.equal(c.eventsRecorded, 60);
    assert.equal(c.verdictsRecorded, 60);
    assert.equal(c.alertsRecorded, 30);
    assert.equal(c.alertsOpen, 30);
    assert.deepEqual(c.alertsOpenBySeverity, { info: 6, low: 6, medium: 6, high: 6, critical: 6 });
    await store.runRetention({ retentionDays: 1, nowMs: T0 + 10 * 86_400_000 });
    const emptied = store.queries.counts();
    assert.equal(emptied.eventsRecorded, 60, 'survives retention');
    assert.equal(emptied.alertsOpen, 0);
  });
});

describe('query plans', () => {
  it('serves every API query from an index: no full SCAN of events or alerts', async (t) => {
    const store = openStore(t);
    await seed(store);
    const q = store.queries;
    const cursor = encodeCursor(40);
    for (const acked of [undefined, true, false]) {
      q.listAlerts({ acked });
      q.listAlerts({ acked, cursor });
      for (const minSeverity of [undefined, 'low', 'critical'] as const) {
        q.listAlerts({ acked, minSeverity });
        q.listAlerts({ acked, minSeverity, tool: 'exec' });
        q.listAlerts({ acked, minSeverity, sessionKey: 's1' });
        q.listAlerts({ acked, minSeverity, since: T0 });
        q.listAlerts({ acked, minSeverity, until: T0 + 5000 });
        q.listAlerts({
          acked,
          minSeverity,
          since: T0,
          until: T0 + 5000,
          tool: 'exec',
          sessionKey: 's1',
          cursor,
        });
      }
    }
    for (const kind of [undefined, 'tool.call', 'tool.*']) {
      q.listEvents({ kind });
      q.listEvents({ kind, cursor });
      q.listEvents({ kind, sessionKey: 's1' });
      q.listEvents({ kind, tool: 'exec' });
      q.listEvents({ kind, since: T0, until: T0 + 5000 });
      q.listEvents({ kind, action: 'block' });
      q.listEvents({
        kind,
        minSeverity: 'high',
        action: 'block',
        include: { verdicts: true, findings: true, payload: true },
      });
    }
    q.eventsAfter(3, { include: { findings: true } });
    q.getEvent(2);
    q.ackAlerts([1, 2], { by: 'x' });
    q.ackAlertsMatching({}, { by: 'x' });
    q.ackAlertsMatching(
      { minSeverity: 'high', tool: 'exec', sessionKey: 's1', since: T0, until: T0 + 1 },
      { by: 'x' },
    );
    q.counts();

    const { db, statements } = getInternals(store);
    assert.ok(statements.size >= 40, `exercised ${statements.size} statements`);
    const offenders: string[] = [];
    for (const [sql, params] of statements) {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[];
      for (const { detail } of plan) {
        if (/^SCAN (events|alerts)\b/.test(detail)) offenders.push(`${detail} ← ${sql}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
