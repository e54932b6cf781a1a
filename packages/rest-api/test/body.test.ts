// Request bodies on a real loopback listener: node-server hands the app the node request stream, which the routes
// read directly (readBodyText); chunking, multi-byte text, the 1 MiB cap and aborted uploads on real sockets.
import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import { applyServerTimeouts } from '../src/index.ts';
import { makeApi, TOKEN } from './_helpers.ts';

type Reply = { status: number; body: string };

async function listen(t: TestContext, maxBodyBytes?: number) {
  let port = 0;
  const fixture = makeApi(t, {
    options: { port: () => port, ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }) },
  });
  const server = applyServerTimeouts(createAdaptorServer({ fetch: fixture.app.fetch }) as Server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port, server, ...fixture };
}

/** POSTs `chunks` one write at a time (chunked encoding unless `length` is given). */
function post(port: number, path: string, chunks: readonly Buffer[], length?: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: {
          Host: `127.0.0.1:${port}`,
          Authorization: `Bearer ${TOKEN}`,
          'X-DefenseClaw-Client': 'test',
          'Content-Type': 'application/json',
          ...(length === undefined ? {} : { 'Content-Length': String(length) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    // A 413 may answer and close before the whole body is written.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('request bodies on a real listener', () => {
  it('reassembles a chunked body whose multi-byte characters straddle the chunks', async (t) => {
    const { port } = await listen(t);
    const text = JSON.stringify({
      tool: 'write',
      args: { path: '/tmp/ü.txt', content: 'größer — 日本語 ✓'.repeat(50) },
    });
    const bytes = Buffer.from(`\uFEFF${text}`);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const res = await post(port, '/api/v1/inspect/tool', chunks);
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).committed, true);
  });

  it('refuses a chunked body over the cap with 413 and keeps serving', async (t) => {
    const { port } = await listen(t, 4096);
    const res = await post(
      port,
      '/policy/evaluate',
      Array.from({ length: 16 }, () => Buffer.alloc(1024, 'x')),
    );
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).error.code, 'payload_too_large');
    const ok = await post(port, '/api/v1/inspect/tool', [Buffer.from('{"tool":"read","args":{"path":"a"}}')]);
    assert.equal(ok.status, 200, ok.body);
  });

  it('refuses a declared Content-Length over the cap before reading the body', async (t) => {
    const { port } = await listen(t, 1024);
    const body = Buffer.alloc(2048, ' ');
    const res = await post(port, '/api/v1/inspect/tool', [body], body.length);
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).error.code, 'payload_too_large');
  });

  it('survives a client that disconnects in the middle of a body, committing nothing', async (t) => {
    const { port, store, app } = await listen(t);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          `POST /api/v1/inspect/tool HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
            'X-DefenseClaw-Client: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"tool":"ex',
        );
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    // The abandoned request finishes (it is not left waiting for bytes that never come).
    const deadline = Date.now() + 5000;
    while (app.stats.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(app.stats.inFlight, 0);
    const ok = await post(port, '/api/v1/inspect/tool', [Buffer.from('{"tool":"read","args":{"path":"b"}}')]);
    assert.equal(ok.status, 200, ok.body);
    await store.flush();
    assert.equal(store.queries.listEvents({ limit: 10 }).events.length, 1);
  });
});
