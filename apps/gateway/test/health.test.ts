import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { createHealthRegistry, SUBSYSTEMS } from '../src/sidecar/health.ts';
import { BindError, listenHttp } from '../src/sidecar/http.ts';

const healthApp = (health: ReturnType<typeof createHealthRegistry>) =>
  new Hono().get('/health', (c) => c.json(health.snapshot()));

function clock(start = Date.parse('2026-05-01T10:00:00.000Z')) {
  let t = start;
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('createHealthRegistry', () => {
  it('starts every subsystem key in starting', () => {
    const health = createHealthRegistry();
    const snapshot = health.snapshot();
    assert.deepEqual(Object.keys(snapshot), [...SUBSYSTEMS]);
    assert.deepEqual(Object.keys(snapshot), [
      'gateway',
      'watcher',
      'guardrail',
      'api',
      'telemetry',
      'splunk',
      'sandbox',
      'audit',
      'policy',
    ]);
    for (const entry of Object.values(snapshot)) assert.equal(entry.state, 'starting');
  });

  it('changes since only on a state transition', () => {
    const c = clock();
    const health = createHealthRegistry({ now: c.now });
    c.advance(1000);
    health.set('gateway', 'running', { details: { protocol: 4 } });
    const since = health.get('gateway').since;
    assert.equal(since, '2026-05-01T10:00:01.000Z');
    c.advance(1000);
    health.set('gateway', 'running', { details: { conn_id: 'c1' } });
    health.patch('gateway', { events_received: 3 });
    const entry = health.get('gateway');
    assert.equal(entry.since, since);
    assert.deepEqual(entry.details, { protocol: 4, conn_id: 'c1', events_received: 3 });
    c.advance(1000);
    health.set('gateway', 'reconnecting', { lastError: 'connection lost: 1012 service restart' });
    assert.equal(health.get('gateway').since, '2026-05-01T10:00:03.000Z');
  });

  it('keeps last_error only in reconnecting, error and abnormal stopped', () => {
    const health = createHealthRegistry();
    health.set('gateway', 'error', {
      lastError: 'connect rejected: unauthorized (INVALID_REQUEST/AUTH_TOKEN_MISMATCH)',
    });
    assert.match(health.get('gateway').last_error!, /AUTH_TOKEN_MISMATCH/);
    health.set('gateway', 'running');
    assert.equal(health.get('gateway').last_error, undefined);
    health.set('gateway', 'stopped', { lastError: 'crashed' });
    assert.equal(health.get('gateway').last_error, 'crashed');
    health.set('gateway', 'stopped');
    assert.equal(health.get('gateway').last_error, undefined);
  });

  it('deletes a detail field set to undefined and hands out copies', () => {
    const health = createHealthRegistry();
    health.patch('api', { addr: '127.0.0.1:1', requests: 1 });
    health.patch('api', { requests: undefined });
    const entry = health.get('api');
    assert.deepEqual(entry.details, { addr: '127.0.0.1:1' });
    entry.details!.addr = 'tampered';
    assert.equal(health.get('api').details!.addr, '127.0.0.1:1');
  });

  it('lists error and stopped subsystems as failing, never disabled ones', () => {
    const health = createHealthRegistry();
    for (const key of SUBSYSTEMS) health.set(key, 'running');
    health.set('sandbox', 'disabled', { details: { reason: 'not supported in this build' } });
    assert.deepEqual(health.failing(), []);
    health.set('gateway', 'error', { lastError: 'x' });
    health.set('api', 'stopped');
    assert.deepEqual(health.failing(), ['gateway', 'api']);
  });
});

describe('listenHttp', () => {
  it('serves on a real port and closes it', async () => {
    const health = createHealthRegistry();
    const listener = await listenHttp(healthApp(health), { host: '127.0.0.1', port: 0 });
    try {
      assert.equal(listener.address, `127.0.0.1:${listener.port}`);
      const res = await fetch(`http://${listener.address}/health`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { gateway: { state: string } }).gateway.state, 'starting');
    } finally {
      await listener.close();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${listener.port}/health`));
  });

  it('throws a BindError naming the address and config key when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        listenHttp(healthApp(createHealthRegistry()), { host: '127.0.0.1', port }),
        (error: unknown) =>
          error instanceof BindError &&
          error.code === 'EADDRINUSE' &&
          error.message === `bind: address already in use: 127.0.0.1:${port} (gateway.api_port)`,
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
