import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createHealthProbe, judgeHealth } from '../src/index.ts';

async function serve(t: TestContext, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  t.after(() => server.closeAllConnections());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
}

const ok = {
  api: { state: 'running', since: '2026-05-01T10:00:00.000Z' },
  gateway: { state: 'running', since: 'x' },
};

describe('createHealthProbe', () => {
  it('calls a 200 answer with a running api healthy', async (t) => {
    const url = await serve(t, (_req, res) => res.end(JSON.stringify(ok)));
    assert.deepEqual(await createHealthProbe({ url })(), { kind: 'healthy' });
  });

  it('counts non-200, unparsable, oversized and refused answers as failures', async (t) => {
    const bad = await serve(t, (req, res) => {
      if (req.url === '/health?500') {
        res.statusCode = 500;
        res.end('{}');
      } else if (req.url === '/health?big') res.end(JSON.stringify({ ...ok, pad: 'x'.repeat(70_000) }));
      else res.end('not json');
    });
    assert.deepEqual(await createHealthProbe({ url: `${bad}?500` })(), {
      kind: 'unhealthy',
      reason: 'HTTP 500',
    });
    assert.deepEqual(await createHealthProbe({ url: bad })(), {
      kind: 'unhealthy',
      reason: 'unparsable health body',
    });
    const big = await createHealthProbe({ url: `${bad}?big` })();
    assert.equal(big.kind, 'unhealthy');
    // A port that was just released: nothing listens there.
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const port = (spare.address() as AddressInfo).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const refusedUrl = `http://127.0.0.1:${port}/health`;
    const refused = await createHealthProbe({ url: refusedUrl })();
    assert.deepEqual(refused, { kind: 'unhealthy', reason: 'connect ECONNREFUSED' });
  });

  it('times out a hanging daemon', async (t) => {
    const url = await serve(t, () => {});
    const outcome = await createHealthProbe({ url, timeoutMs: 200 })();
    assert.deepEqual(outcome, { kind: 'unhealthy', reason: 'timeout after 200 ms' });
  });
});

describe('judgeHealth', () => {
  it('separates api errors, internal gateway errors and faults a restart cannot fix', () => {
    assert.equal(judgeHealth({ api: { state: 'error', last_error: 'boom' } }).kind, 'unhealthy');
    const internal = judgeHealth({
      api: { state: 'running' },
      gateway: { state: 'error', since: '2026-05-01T10:00:00.000Z', details: { fault: 'internal' } },
    });
    assert.deepEqual(internal, {
      kind: 'gateway_internal_error',
      sinceMs: Date.parse('2026-05-01T10:00:00.000Z'),
      reason: 'gateway: internal error',
    });
    for (const fault of ['auth', 'pairing', 'protocol', 'network']) {
      assert.deepEqual(
        judgeHealth({ api: { state: 'running' }, gateway: { state: 'error', details: { fault } } }),
        { kind: 'healthy' },
      );
    }
    assert.equal(judgeHealth([]).kind, 'unhealthy');
    assert.equal(judgeHealth({}).kind, 'unhealthy');
  });
});
