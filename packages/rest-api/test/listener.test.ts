// The API on a real loopback listener: Host/Origin checks and the peer address come from real sockets.
import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import { applyServerTimeouts, SERVER_TIMEOUTS } from '../src/index.ts';
import { DATA_DIR, makeApi, TOKEN } from './_helpers.ts';

type Reply = { status: number; headers: Record<string, unknown>; body: string };

function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function listen(t: TestContext, shutdown?: () => void) {
  let port = 0;
  const { app } = makeApi(t, {
    options: { port: () => port },
    deps: shutdown === undefined ? {} : { shutdown },
  });
  const server = applyServerTimeouts(createAdaptorServer({ fetch: app.fetch }) as Server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port, server };
}

describe('real listener on 127.0.0.1:0', () => {
  it('answers the loopback Host names and refuses a rebinding Host', async (t) => {
    const { port } = await listen(t);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      const res = await send(port, 'GET', '/health', { Host: host });
      assert.equal(res.status, 200, host);
    }
    const evil = await send(port, 'GET', '/health', { Host: `evil.test:${port}` });
    assert.equal(evil.status, 403);
    assert.equal(JSON.parse(evil.body).error.code, 'forbidden_host');
    const authed = await send(port, 'GET', '/status', {
      Host: `evil.test:${port}`,
      Authorization: `Bearer ${TOKEN}`,
    });
    assert.equal(authed.status, 403);
  });

  it('refuses a foreign Origin and sends no CORS headers', async (t) => {
    const { port } = await listen(t);
    const res = await send(port, 'GET', '/alerts', {
      Host: `127.0.0.1:${port}`,
      Origin: 'https://evil.test',
    });
    assert.equal(res.status, 403);
    assert.equal(JSON.parse(res.body).error.code, 'forbidden_origin');
    const preflight = await send(port, 'OPTIONS', '/alerts', {
      Host: `127.0.0.1:${port}`,
      'Access-Control-Request-Method': 'POST',
    });
    assert.equal(preflight.status, 405);
    for (const name of Object.keys(preflight.headers)) assert.ok(!name.startsWith('access-control-'), name);
  });

  it('reads the real peer address: a loopback socket reads without a token', async (t) => {
    const { port } = await listen(t);
    const res = await send(port, 'GET', '/alerts', { Host: `127.0.0.1:${port}` });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { alerts: [], next_cursor: null });
  });

  it('answers an admin shutdown with 202, then starts it once', async (t) => {
    let calls = 0;
    let called!: () => void;
    const started = new Promise<void>((resolve) => {
      called = resolve;
    });
    const { port } = await listen(t, () => {
      calls += 1;
      called();
    });
    const headers = {
      Host: `127.0.0.1:${port}`,
      Authorization: `Bearer ${TOKEN}`,
      'X-DefenseClaw-Client': 'cli',
      'Content-Type': 'application/json',
    };
    const body = JSON.stringify({ pid: process.pid, data_dir: DATA_DIR });
    const res = await send(port, 'POST', '/api/v1/admin/shutdown', headers, body);
    assert.equal(res.status, 202);
    assert.deepEqual(JSON.parse(res.body), { status: 'shutting_down' });
    await started;
    const again = await send(port, 'POST', '/api/v1/admin/shutdown', headers, body);
    assert.equal(again.status, 202);
    assert.deepEqual(JSON.parse(again.body), { status: 'already_shutting_down' });
    assert.equal(calls, 1);
  });

  it('applies the spec server timeouts', async (t) => {
    const { server } = await listen(t);
    assert.equal(server.headersTimeout, SERVER_TIMEOUTS.headersTimeoutMs);
    assert.equal(server.requestTimeout, SERVER_TIMEOUTS.requestTimeoutMs);
    assert.equal(server.keepAliveTimeout, SERVER_TIMEOUTS.keepAliveTimeoutMs);
  });
});
