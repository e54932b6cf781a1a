import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GatewayClientError, GatewayClientOptions } from '../src/index.ts';
import type { FakeOpenClawGatewayOptions, FakeRequestContext } from '../src/testing/index.ts';
import {
  collect,
  type FakeClientBody,
  failure,
  nextEvent,
  until,
  withConnectedClient,
  withFakeClient,
} from './_support.ts';

const TOKEN = 'rpc-token';

/** Runs `body` with a client connected to a fresh fake (no bootstrap subscribe). */
function withConnected(
  body: FakeClientBody,
  fakeOptions: FakeOpenClawGatewayOptions = {},
  clientOptions: Partial<GatewayClientOptions> = {},
): Promise<void> {
  return withConnectedClient(TOKEN, fakeOptions, { bootstrap: false, ...clientOptions }, body);
}

describe('request — correlation by frame id', () => {
  it('resolves 50 concurrent requests answered in reverse order with their own payloads', async () => {
    await withConnected(async (fake, client) => {
      const held: FakeRequestContext[] = [];
      fake.handle('custom.echo', (ctx) => {
        held.push(ctx);
        if (held.length === 50) {
          for (const c of [...held].reverse()) c.respond({ ok: true, payload: { echo: c.params } });
        }
        return undefined;
      });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, n) => client.request<{ echo: { n: number } }>('custom.echo', { n })),
      );
      assert.deepEqual(
        results.map((r) => r.echo.n),
        Array.from({ length: 50 }, (_, n) => n),
      );
      assert.equal(client.stats.pendingRequests, 0);
      assert.equal(client.stats.orphanResponses, 0);
    });
  });

  it('rejects ok:false with REQUEST_FAILED carrying the server code, message and details', async () => {
    await withConnected(async (fake, client) => {
      const details = {
        code: 'MISSING_SCOPE',
        missingScope: 'operator.admin',
        requiredScopes: ['operator.admin'],
      };
      fake.handle('custom.fail', () => ({
        ok: false,
        error: { code: 'FORBIDDEN', message: 'missing scope: operator.admin', details },
      }));
      const error = await failure(client.request('custom.fail'));
      assert.equal(error.code, 'REQUEST_FAILED');
      assert.equal(error.method, 'custom.fail');
      assert.equal(error.serverError?.code, 'FORBIDDEN');
      assert.equal(error.serverError?.message, 'missing scope: operator.admin');
      assert.deepEqual(error.serverError?.details, details);
      assert.equal(error.detailCode, 'MISSING_SCOPE');
      assert.equal(error.message, 'custom.fail: missing scope: operator.admin (FORBIDDEN)');
    });
  });

  it('passes an unknown method error through as REQUEST_FAILED', async () => {
    await withConnected(async (_fake, client) => {
      const error = await failure(client.request('no.such.method'));
      assert.equal(error.code, 'REQUEST_FAILED');
      assert.equal(error.serverError?.message, 'unknown method: no.such.method');
    });
  });

  it('times out with TIMEOUT, empties the pending map and counts the late answer as an orphan', async () => {
    await withConnected(async (fake, client) => {
      let late: FakeRequestContext | undefined;
      fake.handle('custom.slow', (ctx) => {
        late = ctx;
        return undefined;
      });
      const error = await failure(client.request('custom.slow', undefined, { timeoutMs: 20 }));
      assert.equal(error.code, 'TIMEOUT');
      assert.equal(client.stats.pendingRequests, 0);
      assert.equal(client.stats.requestTimeouts, 1);
      assert.ok(late);
      late.respond({ ok: true, payload: { late: true } });
      await until(() => client.stats.orphanResponses === 1);
      await client.getStatus();
      assert.equal(client.state, 'connected');
    });
  });

  it('tolerates a second res for the same id (counted as an orphan)', async () => {
    await withConnected(async (fake, client) => {
      fake.handle('custom.twice', (ctx) => {
        ctx.respond({ ok: true, payload: { status: 'accepted' } });
        ctx.respond({ ok: true, payload: { status: 'ok' } });
        return undefined;
      });
      assert.deepEqual(await client.request('custom.twice'), { status: 'accepted' });
      await until(() => client.stats.orphanResponses === 1);
      assert.equal(client.state, 'connected');
    });
  });

  it('rejects with ABORTED on abort, and a pre-aborted signal sends nothing', async () => {
    await withConnected(async (fake, client) => {
      fake.handle('custom.hang', () => undefined);
      const controller = new AbortController();
      const pending = client.request('custom.hang', undefined, { signal: controller.signal });
      await fake.waitForRequest('custom.hang');
      controller.abort();
      const error = await failure(pending);
      assert.equal(error.code, 'ABORTED');
      assert.equal(client.stats.pendingRequests, 0);

      const pre = await failure(client.request('custom.pre', { x: 1 }, { signal: AbortSignal.abort() }));
      assert.equal(pre.code, 'ABORTED');
      await client.request('status');
      assert.equal(fake.requests.filter((r) => r.method === 'custom.pre').length, 0);
    });
  });

  it('rejects every pending request with NOT_CONNECTED before emitting disconnected', async () => {
    await withConnected(async (fake, client) => {
      fake.handle('custom.hang', () => undefined);
      const pending = Array.from({ length: 3 }, (_, i) => failure(client.request('custom.hang', { i })));
      let pendingAtDisconnect: number | undefined;
      let requestFromListener: Promise<GatewayClientError> | undefined;
      client.on('disconnected', () => {
        pendingAtDisconnect = client.stats.pendingRequests;
        requestFromListener = failure(client.request('status'));
      });
      await until(() => fake.requests.filter((r) => r.method === 'custom.hang').length === 3);
      fake.closeAll(1012, 'service restart');
      const errors = await Promise.all(pending);
      for (const error of errors) {
        assert.equal(error.code, 'NOT_CONNECTED');
        assert.deepEqual(error.cause, { code: 1012, reason: 'service restart' });
        assert.equal(error.closeCode, 1012);
      }
      await until(() => requestFromListener !== undefined);
      assert.equal(pendingAtDisconnect, 0, 'pending requests were rejected before disconnected');
      assert.equal((await requestFromListener)?.code, 'NOT_CONNECTED');
      const before = fake.requests.length;
      const offline = await failure(client.request('status'));
      assert.equal(offline.code, 'NOT_CONNECTED');
      assert.equal(fake.requests.length, before);
    });
  });

  it('omits the params key when params are undefined and returns the payload of a custom method', async () => {
    await withConnected(async (fake, client) => {
      fake.handle('custom.method', (ctx) => ({ ok: true, payload: { got: ctx.params } }));
      await client.getStatus();
      const status = fake.requests.find((r) => r.method === 'status');
      assert.ok(status);
      assert.equal('params' in status, false);
      assert.deepEqual(await client.request('custom.method', { key: 'value' }), { got: { key: 'value' } });
    });
  });

  it('writes 100 rapid requests in call order', async () => {
    await withConnected(async (fake, client) => {
      fake.handle('custom.order', (ctx) => ({ ok: true, payload: ctx.params }));
      await Promise.all(Array.from({ length: 100 }, (_, i) => client.request('custom.order', { i })));
      const seen = fake.requests
        .filter((r) => r.method === 'custom.order')
        .map((r) => (r.params as { i: number }).i);
      assert.deepEqual(
        seen,
        Array.from({ length: 100 }, (_, i) => i),
      );
    });
  });

  it('fails with PAYLOAD_TOO_LARGE over policy.maxPayload and sends nothing', async () => {
    await withConnected(
      async (fake, client) => {
        assert.equal(client.hello?.policy.maxPayload, 2048);
        const before = fake.requests.length;
        const error = await failure(client.request('custom.big', { blob: 'x'.repeat(4096) }));
        assert.equal(error.code, 'PAYLOAD_TOO_LARGE');
        const multibyte = await failure(client.request('custom.big', { blob: 'é'.repeat(1500) }));
        assert.equal(multibyte.code, 'PAYLOAD_TOO_LARGE', 'the limit counts UTF-8 bytes');
        assert.equal(fake.requests.length, before);
        assert.equal(client.stats.pendingRequests, 0);
      },
      { maxPayload: 2048 },
    );
  });

  it('reports malformed JSON, binary and unknown frame types as error events and keeps working', async () => {
    await withConnected(async (fake, client) => {
      const errors = collect(client, 'error');
      fake.sendRaw('{"type":"event",');
      fake.sendRaw(Buffer.from([1, 2, 3]));
      fake.sendRaw(JSON.stringify({ type: 'surprise', x: 1 }));
      await until(() => errors.length === 3);
      assert.ok(errors.every((e) => e.error.code === 'MALFORMED_FRAME'));
      assert.equal(client.stats.malformedFrames, 3);
      assert.equal(client.state, 'connected');
      await client.getStatus();
    });
  });

  it('reports an inbound frame over maxInboundBytes as FRAME_TOO_LARGE, then reconnects', async () => {
    const clientOptions = {
      token: TOKEN,
      bootstrap: false,
      maxInboundBytes: 64 * 1024,
      reconnect: { initialDelayMs: 5 },
    };
    await withFakeClient({ token: TOKEN }, clientOptions, async (fake, client) => {
      client.start();
      await client.connect();
      const tooLarge = nextEvent(client, 'error', ({ error }) => error.code === 'FRAME_TOO_LARGE');
      const disconnected = nextEvent(client, 'disconnected');
      const reconnected = nextEvent(client, 'connected');
      fake.sendEvent('custom.huge', { blob: 'x'.repeat(128 * 1024) });
      await tooLarge;
      const lost = await disconnected;
      assert.equal(lost.code, 1009);
      assert.equal(lost.error?.code, 'FRAME_TOO_LARGE');
      await reconnected;
      assert.equal(client.stats.oversizeFrames, 1);
      assert.equal(fake.connections.length, 2);
    });
  });
});
