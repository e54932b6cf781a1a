import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditStore, Severity, VerdictInput } from '@defenseclaw/audit-store';
import { call, errorOf, json, makeApi, TOKEN } from './_helpers.ts';

const T0 = Date.parse('2026-05-01T10:00:00.000Z');

function verdict(severity: Severity | null, rawAction: string): VerdictInput {
  return {
    lane: 'ws_tool_call',
    action: rawAction,
    rawAction,
    mode: 'action',
    wouldBlock: false,
    severity,
    ruleIds: severity === null ? [] : [`RULE-${severity.toUpperCase()}`],
    reason: `${rawAction}: test`,
    profile: 'default',
    generationId: 'gen-test',
    enforced: false,
    enforcement: 'none',
    scanMicros: 12,
    findings:
      severity === null
        ? []
        : [
            {
              ruleId: `RULE-${severity.toUpperCase()}`,
              category: 'destructive',
              title: `a ${severity} finding`,
              severity,
              target: 'command',
              basis: 'pattern',
              detectionOnly: false,
              snippet: 'rm -rf ~',
              location: { start: 0, end: 8, pointer: '/command' },
              fingerprint: '0123456789abcdef',
              tags: ['t'],
            },
          ],
  };
}

/** Writes one tool.call event with an alerting verdict; returns its event id. */
function seed(
  store: AuditStore,
  options: { severity?: Severity; tool?: string; session?: string; ts?: number; kind?: string } = {},
): number {
  const severity = options.severity ?? 'high';
  return store.writeNow({
    event: {
      ts: options.ts ?? T0,
      kind: options.kind ?? 'tool.call',
      source: 'ws',
      tool: options.tool ?? 'exec',
      sessionKey: options.session ?? 's1',
      summary: 'exec rm -rf ~',
      payload: { tool: options.tool ?? 'exec', args: { command: 'rm -rf ~' } },
    },
    verdicts: [verdict(severity, 'alert')],
  }).eventId;
}

describe('GET /alerts', () => {
  it('serves an empty list as [] with a null cursor', async (t) => {
    const { app } = makeApi(t);
    assert.deepEqual(await json(await call(app, 'GET', '/alerts')), { alerts: [], next_cursor: null });
  });

  it('serves the alert shape, newest first', async (t) => {
    const { app, store } = makeApi(t);
    const first = seed(store, { severity: 'medium', ts: T0 });
    const second = seed(store, { severity: 'critical', ts: T0 + 1000, tool: 'read', session: 's2' });
    const body = await json(await call(app, 'GET', '/alerts'));
    assert.deepEqual(
      body.alerts.map((a: { event_id: number }) => a.event_id),
      [second, first],
    );
    const a = body.alerts[0];
    assert.equal(a.ts, '2026-05-01T10:00:01.000Z');
    assert.equal(a.severity, 'critical');
    assert.equal(a.category, 'destructive');
    assert.equal(a.tool, 'read');
    assert.equal(a.session_key, 's2');
    assert.equal(a.raw_action, 'alert');
    assert.equal(a.enforced, false);
    assert.deepEqual(a.rule_ids, ['RULE-CRITICAL']);
    assert.equal(typeof a.verdict_id, 'number');
    assert.equal('acked_at' in a, false);
  });

  it('pages with opaque cursors, stable under concurrent inserts', async (t) => {
    const { app, store } = makeApi(t);
    for (let i = 0; i < 120; i++) seed(store, { ts: T0 + i });
    const seen = new Set<number>();
    let page = await json(await call(app, 'GET', '/alerts?limit=50'));
    assert.equal(page.alerts.length, 50);
    for (const a of page.alerts) seen.add(a.id);
    // New alerts arrive between pages; they must not shift the next page.
    for (let i = 0; i < 5; i++) seed(store, { ts: T0 + 500 + i });
    page = await json(await call(app, 'GET', `/alerts?limit=50&cursor=${page.next_cursor}`));
    assert.equal(page.alerts.length, 50);
    for (const a of page.alerts) seen.add(a.id);
    page = await json(await call(app, 'GET', `/alerts?limit=50&cursor=${page.next_cursor}`));
    assert.equal(page.alerts.length, 20);
    assert.equal(page.next_cursor, null);
    for (const a of page.alerts) seen.add(a.id);
    assert.equal(seen.size, 120);
  });

  it('filters by minimum severity, tool, session and time', async (t) => {
    const { app, store } = makeApi(t, { options: { now: () => T0 + 3_600_000 } });
    seed(store, { severity: 'low', ts: T0 });
    seed(store, { severity: 'medium', ts: T0 + 10, tool: 'read' });
    seed(store, { severity: 'high', ts: T0 + 20, session: 'other' });
    seed(store, { severity: 'critical', ts: T0 + 3_500_000 });
    const ids = async (query: string) =>
      (await json(await call(app, 'GET', `/alerts?${query}`))).alerts.map(
        (a: { severity: string }) => a.severity,
      );
    assert.deepEqual(await ids('severity=high'), ['critical', 'high']);
    assert.deepEqual(await ids('tool=read'), ['medium']);
    assert.deepEqual(await ids('session=other'), ['high']);
    assert.deepEqual(await ids('since=15m'), ['critical']);
    assert.deepEqual(await ids('until=2026-05-01T10:00:00.015Z'), ['medium', 'low']);
    assert.deepEqual(await ids(`since=${encodeURIComponent('2026-05-01T10:00:00.010Z')}&until=30m`), [
      'high',
      'medium',
    ]);
  });

  it('answers 400 invalid_query naming the bad parameter', async (t) => {
    const { app } = makeApi(t);
    for (const [query, param] of [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=ten', 'limit'],
      ['severity=bogus', 'severity'],
      ['since=yesterday', 'since'],
      ['until=2026-13-45T99:00', 'until'],
      ['status=closed', 'status'],
      ['cursor=!!!', 'cursor'],
      ['cursor=bm90LWpzb24', 'cursor'],
    ] as const) {
      const res = await call(app, 'GET', `/alerts?${query}`);
      assert.equal(res.status, 400, query);
      const error = await errorOf(res);
      assert.equal(error.code, 'invalid_query', query);
      assert.match(error.message, new RegExp(param), query);
    }
  });
});

describe('POST /alerts/ack', () => {
  it('acknowledges by id and reports already acknowledged and unknown ids', async (t) => {
    const { app, store } = makeApi(t);
    seed(store);
    seed(store);
    const [a2, a1] = (await json(await call(app, 'GET', '/alerts'))).alerts.map((a: { id: number }) => a.id);
    let res = await call(app, 'POST', '/alerts/ack', { body: { ids: [a1], note: 'seen' } });
    assert.deepEqual(await json(res), { acked: 1, already_acked: 0, not_found: [] });
    res = await call(app, 'POST', '/alerts/ack', { body: { ids: [a1, a2, 9999] } });
    assert.deepEqual(await json(res), { acked: 1, already_acked: 1, not_found: [9999] });
    assert.deepEqual((await json(await call(app, 'GET', '/alerts'))).alerts, []);
    const acked = (await json(await call(app, 'GET', '/alerts?status=acked'))).alerts;
    assert.equal(acked.length, 2);
    const first = acked.find((a: { id: number }) => a.id === a1);
    assert.equal(first.acked_by, 'test');
    assert.equal(first.ack_note, 'seen');
    assert.match(first.acked_at, /^\d{4}-\d{2}-\d{2}T/);
    assert.equal((await json(await call(app, 'GET', '/alerts?status=all'))).alerts.length, 2);
  });

  it('acknowledges every open alert matching a filter and records alert.ack', async (t) => {
    const { app, store } = makeApi(t);
    seed(store, { severity: 'low' });
    seed(store, { severity: 'critical' });
    seed(store, { severity: 'high', tool: 'read' });
    const res = await call(app, 'POST', '/alerts/ack', {
      body: { filter: { severity: 'high', tool: 'exec' } },
    });
    assert.deepEqual(await json(res), { acked: 1, already_acked: 0, not_found: [] });
    const open = (await json(await call(app, 'GET', '/alerts'))).alerts.map(
      (a: { severity: string }) => a.severity,
    );
    assert.deepEqual(open, ['high', 'low']);
    await store.flush();
    const events = store.queries.listEvents({ kind: 'alert.ack', include: { payload: true } }).events;
    assert.equal(events.length, 1);
    assert.equal(events[0]?.source, 'api');
    assert.equal((events[0]?.payload as { acked?: number } | undefined)?.acked, 1);
  });

  it('needs exactly one of ids or filter, and at most 500 ids', async (t) => {
    const { app } = makeApi(t);
    for (const body of [
      {},
      { ids: [1], filter: {} },
      { ids: [] },
      { ids: Array.from({ length: 501 }, (_, i) => i + 1) },
      { ids: [1.5] },
    ]) {
      const res = await call(app, 'POST', '/alerts/ack', { body });
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 40));
      assert.equal((await errorOf(res)).code, 'validation_failed');
    }
  });

  it('needs the token', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'POST', '/alerts/ack', { body: { ids: [1] }, token: false });
    assert.equal(res.status, 401);
  });
});

describe('GET /audit/events', () => {
  it('lists events newest first with filters and cursor paging', async (t) => {
    const { app, store } = makeApi(t);
    seed(store, { kind: 'tool.call' });
    seed(store, { kind: 'tool.result' });
    seed(store, { kind: 'exec.approval', tool: 'exec' });
    const all = await json(await call(app, 'GET', '/audit/events?limit=2'));
    assert.deepEqual(
      all.events.map((e: { kind: string }) => e.kind),
      ['exec.approval', 'tool.result'],
    );
    assert.equal(typeof all.next_cursor, 'string');
    const rest = await json(await call(app, 'GET', `/audit/events?limit=2&cursor=${all.next_cursor}`));
    assert.deepEqual(
      rest.events.map((e: { kind: string }) => e.kind),
      ['tool.call'],
    );
    const tools = await json(await call(app, 'GET', '/audit/events?kind=tool.*'));
    assert.deepEqual(
      tools.events.map((e: { kind: string }) => e.kind),
      ['tool.result', 'tool.call'],
    );
    const e = tools.events[0];
    assert.equal(e.source, 'ws');
    assert.equal(e.summary, 'exec rm -rf ~');
    assert.equal('payload' in e, false);
    assert.equal('verdicts' in e, false);
  });

  it('attaches verdicts and findings when asked', async (t) => {
    const { app, store } = makeApi(t);
    seed(store, { severity: 'critical' });
    const body = await json(
      await call(app, 'GET', '/audit/events?include=verdicts,findings&severity=high&action=alert'),
    );
    assert.equal(body.events.length, 1);
    const e = body.events[0];
    assert.equal(e.verdicts[0].raw_action, 'alert');
    assert.equal(e.findings[0].rule_id, 'RULE-CRITICAL');
    assert.equal(e.findings[0].snippet, 'rm -rf ~');
  });

  it('serves payloads only with the token, even on loopback', async (t) => {
    const { app, store } = makeApi(t);
    seed(store);
    const denied = await call(app, 'GET', '/audit/events?include=payload');
    assert.equal(denied.status, 401);
    assert.equal((await errorOf(denied)).code, 'unauthorized');
    const body = await json(await call(app, 'GET', '/audit/events?include=payload', { token: TOKEN }));
    assert.deepEqual(body.events[0].payload, { tool: 'exec', args: { command: 'rm -rf ~' } });
  });

  it('answers 400 for an unknown include, kind or action', async (t) => {
    const { app } = makeApi(t);
    for (const query of ['include=everything', 'kind=Tool Call', 'action=nuke', 'limit=1000']) {
      const res = await call(app, 'GET', `/audit/events?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal((await errorOf(res)).code, 'invalid_query');
    }
  });
});
