import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collect, nextEvent, until, withFakeClient } from './_support.ts';

const TOKEN = 'watchdog-token';

describe('tick watchdog', () => {
  it('closes with 4000 tick timeout, reports TICK_TIMEOUT and reconnects when frames stop', async () => {
    const clientOptions = { token: TOKEN, bootstrap: false, reconnect: { initialDelayMs: 5 } };
    await withFakeClient({ token: TOKEN, tickIntervalMs: 40 }, clientOptions, async (fake, client) => {
      client.start();
      const hello = await client.connect();
      assert.equal(hello.policy.tickIntervalMs, 40);
      const disconnected = nextEvent(client, 'disconnected');
      const reconnecting = nextEvent(client, 'reconnecting');
      fake.stopTicks();
      const lost = await disconnected;
      assert.equal(lost.code, 4000);
      assert.equal(lost.reason, 'tick timeout');
      assert.equal(lost.error?.code, 'TICK_TIMEOUT');
      assert.equal((await reconnecting).lastError.code, 'TICK_TIMEOUT');
      assert.equal(await fake.waitFor((f) => f.connections[0]?.closeCode), 4000);
      await nextEvent(client, 'connected');
    });
  });

  it('stays up while ticks arrive, and while any other frame arrives', async (t) => {
    // Mocked clock (timers and Date) for the fake and the client: the windows are exact, not raced.
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: Date.now() });
    const clientOptions = { token: TOKEN, bootstrap: false };
    await withFakeClient({ token: TOKEN, tickIntervalMs: 50 }, clientOptions, async (fake, client) => {
      const disconnects = collect(client, 'disconnected');
      const events = collect(client, 'event');
      const advance = async (ms: number, expectEvent: boolean) => {
        const before = events.length;
        t.mock.timers.tick(ms);
        if (expectEvent) await until(() => events.length > before);
      };
      await client.connect();
      // Eight tick intervals, i.e. four watchdog windows (2 × 50 ms), with regular ticks.
      for (let i = 0; i < 8; i++) await advance(50, true);
      assert.equal(events.filter((e) => e.name === 'tick').length, 8);
      assert.equal(disconnects.length, 0);

      fake.stopTicks();
      // Non-tick events only: one every 40 ms for four watchdog windows.
      for (let i = 0; i < 10; i++) {
        await advance(40, false);
        const before = events.length;
        fake.sendEvent('custom.keepalive', { i });
        await until(() => events.length > before);
      }
      assert.equal(disconnects.length, 0);
      assert.equal(client.state, 'connected');

      // The watchdog is really armed: once the events stop too, it fires.
      const lost = nextEvent(client, 'disconnected');
      t.mock.timers.tick(100);
      assert.equal((await lost).code, 4000);
    });
  });
});
