import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGatewayClient, type GatewayClient, isGatewayClientError } from '../src/index.ts';
import { createFakeOpenClawGateway } from '../src/testing/index.ts';
import {
  collect,
  deadUrl,
  type FakeClientBody,
  nextEvent,
  nextReconnects,
  testIdentity,
  until,
  withFakeClient,
} from './_support.ts';

const TOKEN = 'reconnect-token';

/** Under mock timers: records the next `count` backoff delays, ticking through each one. */
async function recordDelays(
  client: GatewayClient,
  tick: (ms: number) => void,
  count: number,
): Promise<number[]> {
  return (await nextReconnects(client, tick, count)).map(({ delayMs }) => delayMs);
}

/** Runs `body` with a fresh fake and a client (shared token, random=0.5, no bootstrap subscribe), not yet connected. */
function withMidJitterClient(body: FakeClientBody): Promise<void> {
  return withFakeClient({ token: TOKEN }, { token: TOKEN, random: () => 0.5, bootstrap: false }, body);
}

function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

describe('start — reconnect loop', () => {
  it('walks disconnected → reconnecting → connected after a server close, rejecting pending requests', async () => {
    await withFakeClient(
      { token: TOKEN },
      { token: TOKEN, reconnect: { initialDelayMs: 5 } },
      async (fake, client) => {
        const order: string[] = [];
        for (const name of ['connected', 'disconnected', 'reconnecting'] as const)
          client.on(name, () => order.push(name));
        client.start();
        await client.connect();
        fake.handle('custom.hang', () => undefined);
        const pending = client.request('custom.hang').catch((error: unknown) => error);
        await fake.waitForRequest('custom.hang');
        const reconnected = nextEvent(client, 'connected');
        fake.closeAll(1001, 'going away');
        const error = await pending;
        assert.ok(isGatewayClientError(error, 'NOT_CONNECTED'));
        await reconnected;
        assert.deepEqual(order, ['connected', 'disconnected', 'reconnecting', 'connected']);
        assert.equal(client.state, 'connected');
        assert.equal(client.stats.connects, 2);
        assert.equal(client.stats.disconnects, 1);
      },
    );
  });

  it('waits 800, 1360, 2312, 3930, 6682, 11359, 15000, 15000 ms with random=0.5', async (t) => {
    const { url } = await deadUrl();
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const client = createGatewayClient({ url, identity: testIdentity, random: () => 0.5 });
    try {
      client.start();
      const delays = await recordDelays(client, (ms) => t.mock.timers.tick(ms), 8);
      assert.deepEqual(delays, [800, 1360, 2312, 3930, 6682, 11359, 15000, 15000]);
      assert.equal(client.state, 'reconnecting');
      assert.equal(client.stats.attempts, 8);
    } finally {
      await client.close();
    }
  });

  it('applies exactly -20 % with random=0 and +20 % with random=1', async (t) => {
    const { url } = await deadUrl();
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const nominal = [800, 1360, 2312, 3930.4, 6681.68, 11358.856, 15000, 15000];
    for (const [r, factor] of [
      [0, 0.8],
      [1, 1.2],
    ] as const) {
      const client = createGatewayClient({ url, identity: testIdentity, random: () => r });
      try {
        client.start();
        const delays = await recordDelays(client, (ms) => t.mock.timers.tick(ms), 8);
        assert.deepEqual(
          delays,
          nominal.map((n) => Math.round(n * factor)),
        );
      } finally {
        await client.close();
      }
    }
  });

  it('starts the next failure series at 800 again after a successful connection', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const tick = (ms: number) => t.mock.timers.tick(ms);
    await withMidJitterClient(async (fake, client) => {
      client.start();
      await client.connect();
      fake.rejectConnect({ code: 'UNAVAILABLE', message: 'gateway starting; retry shortly' }, 1013, {
        times: 2,
      });
      const firstSeries = recordDelays(client, tick, 3);
      fake.closeAll(1012, 'service restart');
      assert.deepEqual(await firstSeries, [800, 1360, 2312]);
      const connected = nextEvent(client, 'connected');
      tick(2312);
      await connected;
      const secondSeries = recordDelays(client, tick, 1);
      fake.closeAll(1012, 'service restart');
      assert.deepEqual(await secondSeries, [800]);
    });
  });

  it('stops at once when closed during backoff: no dial, state closed, no timers left', async () => {
    const fake = await createFakeOpenClawGateway({ token: TOKEN });
    await fake.shutdown();
    const baseline = activeTimeouts();
    const client = createGatewayClient({ url: fake.url, token: TOKEN, identity: testIdentity });
    try {
      client.start();
      const waiting = await nextEvent(client, 'reconnecting');
      assert.ok(waiting.delayMs > 0);
      assert.ok(activeTimeouts() > baseline, 'the backoff timer is pending');
      await client.close();
      assert.equal(client.state, 'closed');
      assert.equal(activeTimeouts(), baseline, 'no timer is left');
      await fake.restart();
      // Give a stray dial every chance to show up.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(fake.connections.length, 0);
      assert.throws(
        () => client.start(),
        (error) => isGatewayClientError(error, 'CLOSED'),
      );
      await assert.rejects(client.connect(), (error) => isGatewayClientError(error, 'CLOSED'));
    } finally {
      await client.close();
      await fake.close();
    }
  });

  it('stretches the next wait to retryAfterMs and shutdown.restartExpectedMs (capped at maxDelayMs)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    await withMidJitterClient(async (fake, client) => {
      const shutdowns = collect(client, 'shutdown');
      fake.rejectConnect(
        {
          code: 'UNAVAILABLE',
          message: 'gateway starting; retry shortly',
          retryable: true,
          retryAfterMs: 5000,
        },
        1013,
        { times: 1 },
      );
      client.start();
      const hinted = await nextEvent(client, 'reconnecting');
      assert.equal(hinted.delayMs, 5000);
      assert.equal(hinted.lastError.rejection, 'unavailable');
      assert.equal(hinted.lastError.retryAfterMs, 5000);

      fake.rejectConnect(
        {
          code: 'UNAVAILABLE',
          message: 'gateway starting; retry shortly',
          retryable: true,
          retryAfterMs: 60_000,
        },
        1013,
        { times: 1 },
      );
      const capped = nextEvent(client, 'reconnecting');
      t.mock.timers.tick(5000);
      assert.equal((await capped).delayMs, 15_000);

      const connected = nextEvent(client, 'connected');
      t.mock.timers.tick(15_000);
      await connected;

      const afterShutdown = nextEvent(client, 'reconnecting');
      await fake.shutdown({ reason: 'gateway restarting', restartExpectedMs: 7000 });
      assert.equal((await afterShutdown).delayMs, 7000);
      assert.deepEqual(shutdowns, [{ reason: 'gateway restarting', restartExpectedMs: 7000 }]);
      await fake.restart();
      const back = nextEvent(client, 'connected');
      t.mock.timers.tick(7000);
      await back;
    });
  });

  it('reconnects by itself after shutdown + 1012 + restart, and after a terminate without close frame', async () => {
    const clientOptions = { token: TOKEN, reconnect: { initialDelayMs: 5, maxDelayMs: 20 } };
    await withFakeClient({ token: TOKEN }, clientOptions, async (fake, client) => {
      client.start();
      await client.connect();
      await fake.waitForRequest('sessions.subscribe');
      const shutdown = nextEvent(client, 'shutdown');
      const disconnected = nextEvent(client, 'disconnected');
      await fake.shutdown({ reason: 'gateway stopping' });
      assert.deepEqual(await shutdown, { reason: 'gateway stopping' });
      const lost = await disconnected;
      assert.equal(lost.code, 1012);
      assert.equal(lost.wasConnected, true);
      assert.notEqual(client.state, 'connected');
      const reconnected = nextEvent(client, 'connected');
      await fake.restart();
      await reconnected;
      const second = fake.connections.at(-1);
      assert.ok(second);
      await fake.waitForRequest('sessions.subscribe', { connectionId: second.id });

      const dropped = nextEvent(client, 'disconnected');
      const again = nextEvent(client, 'connected');
      fake.terminateAll();
      assert.equal((await dropped).code, 1006);
      await again;
      await until(() => client.state === 'connected');
      assert.equal(client.stats.connects, 3);
    });
  });

  it('lets connect() wait for the loop and honours an aborted signal', async () => {
    const { url } = await deadUrl();
    const client = createGatewayClient({
      url,
      identity: testIdentity,
      reconnect: { initialDelayMs: 60_000 },
    });
    try {
      client.start();
      const controller = new AbortController();
      const waiting = client.connect({ signal: controller.signal });
      controller.abort();
      await assert.rejects(waiting, (error) => isGatewayClientError(error, 'ABORTED'));
      const closing = client.connect();
      await client.close();
      await assert.rejects(closing, (error) => isGatewayClientError(error, 'CLOSED'));
    } finally {
      await client.close();
    }
  });

  it('closes when the client-level signal aborts', async () => {
    const controller = new AbortController();
    await withFakeClient(
      { token: TOKEN },
      { token: TOKEN, signal: controller.signal },
      async (fake, client) => {
        client.start();
        await client.connect();
        const disconnected = nextEvent(client, 'disconnected');
        controller.abort();
        assert.equal((await disconnected).code, 1000);
        assert.equal(client.state, 'closed');
        assert.equal(await fake.waitFor((f) => f.connections[0]?.closeCode), 1000);
      },
    );
  });
});
