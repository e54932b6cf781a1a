import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApprovalDecision } from '@defenseclaw/protocol';
import type { WebSocket } from 'ws';
import { isGatewayClientError } from '../src/index.ts';
import { collect, type FakeClientBody, sendChallenge, withFakeClient, withRawClient } from './_support.ts';

const TOKEN = 'buffer-token';

/** Runs `body` with a fresh fake and a client (shared token, no bootstrap subscribe), not yet connected. */
function withFake(body: FakeClientBody): Promise<void> {
  return withFakeClient({ token: TOKEN }, { token: TOKEN, bootstrap: false }, body);
}

describe('connect — event buffering before hello-ok', () => {
  it('delivers events injected before the connect response after connected, in order', async () => {
    await withFake(async (fake, client) => {
      const order: string[] = [];
      client.on('connected', () => order.push('connected'));
      client.on('event', ({ name, seq }) => order.push(`${name}#${seq}`));
      fake.beforeHello(() => [
        { event: 'custom.one', payload: { n: 1 } },
        { event: 'custom.two', payload: { n: 2 } },
        { event: 'custom.three', payload: { n: 3 } },
      ]);
      await client.connect();
      fake.sendEvent('custom.live', { n: 4 });
      await new Promise<void>((resolve) =>
        client.on('event', ({ name }) => name === 'custom.live' && resolve()),
      );
      assert.deepEqual(order, [
        'connected',
        'custom.one#1',
        'custom.two#2',
        'custom.three#3',
        'custom.live#4',
      ]);
      assert.equal(client.stats.seqGaps, 0);
    });
  });

  it('flushes the buffer before a live event that arrives in the same chunk as hello-ok', async () => {
    const onConnection = (ws: WebSocket) => {
      sendChallenge(ws);
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data));
        if (frame.method !== 'connect') return;
        // All in one synchronous burst: three buffered events, the hello, then a live event.
        for (let i = 1; i <= 3; i++) ws.send(JSON.stringify({ type: 'event', event: `pre.${i}`, seq: i }));
        ws.send(
          JSON.stringify({ type: 'res', id: frame.id, ok: true, payload: { type: 'hello-ok', protocol: 4 } }),
        );
        ws.send(JSON.stringify({ type: 'event', event: 'live.4', seq: 4 }));
      });
    };
    await withRawClient(onConnection, { bootstrap: false }, async (client) => {
      const order: string[] = [];
      client.on('connected', () => order.push('connected'));
      const done = new Promise<void>((resolve) =>
        client.on('event', ({ name }) => {
          order.push(name);
          if (name === 'live.4') resolve();
        }),
      );
      await client.connect();
      await done;
      assert.deepEqual(order, ['connected', 'pre.1', 'pre.2', 'pre.3', 'live.4']);
    });
  });

  it('lets a buffered exec.approval.requested listener call resolveApproval without deadlock', async () => {
    await withFake(async (fake, client) => {
      fake.handle('exec.approval.resolve', () => ({ ok: true, payload: { ok: true } }));
      fake.beforeHello(() => [
        {
          event: 'exec.approval.requested',
          payload: {
            approvalKind: 'exec',
            id: 'approval-buffered-1',
            request: { command: 'curl x | bash', allowedDecisions: ['allow-once', 'deny'] },
            createdAtMs: Date.now(),
            expiresAtMs: Date.now() + 60_000,
          },
        },
      ]);
      const resolved = new Promise<unknown>((resolve, reject) => {
        client.on('event', ({ name, payload }) => {
          if (name !== 'exec.approval.requested') return;
          const { id, request } = payload as {
            id: string;
            request: { allowedDecisions: ApprovalDecision[] };
          };
          client.resolveApproval(id, 'deny', { request, timeoutMs: 3_000 }).then(resolve, reject);
        });
      });
      await client.connect();
      assert.deepEqual(await resolved, { ok: true });
      const sent = await fake.waitForRequest('exec.approval.resolve');
      assert.deepEqual(sent.params, { id: 'approval-buffered-1', decision: 'deny' });
    });
  });

  it('discards buffered events when the connect is rejected', async () => {
    const onConnection = (ws: WebSocket) => {
      sendChallenge(ws);
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data));
        for (let i = 1; i <= 3; i++) ws.send(JSON.stringify({ type: 'event', event: `pre.${i}`, seq: i }));
        ws.send(
          JSON.stringify({
            type: 'res',
            id: frame.id,
            ok: false,
            error: {
              code: 'INVALID_REQUEST',
              message: 'unauthorized: gateway token mismatch (provide gateway auth token)',
              details: { code: 'AUTH_TOKEN_MISMATCH' },
            },
          }),
        );
        ws.close(1008, 'unauthorized');
      });
    };
    await withRawClient(onConnection, { token: 'x' }, async (client) => {
      const events = collect(client, 'event');
      await assert.rejects(client.connect(), (error) => isGatewayClientError(error, 'CONNECT_REJECTED'));
      assert.equal(events.length, 0);
      assert.equal(client.stats.eventsReceived, 0);
    });
  });

  it('fails with BUFFER_OVERFLOW when 1001 events arrive before hello-ok, and never delivers them', async () => {
    await withFake(async (fake, client) => {
      const events = collect(client, 'event');
      fake.beforeHello(() =>
        Array.from({ length: 1001 }, (_, i) => ({ event: 'custom.flood', payload: { i } })),
      );
      await assert.rejects(client.connect(), (error) => isGatewayClientError(error, 'BUFFER_OVERFLOW'));
      assert.equal(events.length, 0);
      assert.notEqual(client.state, 'connected');
    });
  });

  it('delivers exactly handshakeBufferLimit buffered events', async () => {
    await withFake(async (fake, client) => {
      const events = collect(client, 'event');
      fake.beforeHello(() =>
        Array.from({ length: 1000 }, (_, i) => ({ event: 'custom.flood', payload: { i } })),
      );
      await client.connect();
      assert.equal(events.length, 1000);
      assert.deepEqual(
        events.slice(0, 3).map((e) => (e.payload as { i: number }).i),
        [0, 1, 2],
      );
    });
  });
});
