import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClientEventMap, createGatewayClient, type GatewayClient } from '../src/index.ts';
import type { FakeOpenClawGateway, FakeSeqMode } from '../src/testing/index.ts';
import {
  collect,
  createRecordingLogger,
  type LogLine,
  nextEvent,
  testIdentity,
  withFakeClient,
} from './_support.ts';

const TOKEN = 'seq-token';

/** Sends a marker event and waits until the client has dispatched it (everything before it is processed). */
async function flush(fake: FakeOpenClawGateway, client: GatewayClient, seq?: number | 'none'): Promise<void> {
  const marker = `marker.${Math.random()}`;
  const seen = nextEvent(client, 'event', ({ name }) => name === marker);
  fake.sendEvent(marker, {}, seq === undefined ? {} : { seq });
  await seen;
}

type SeqSetup = {
  fake: FakeOpenClawGateway;
  client: GatewayClient;
  lines: LogLine[];
  gaps: ClientEventMap['gap'][];
};

/** Runs `body` with a fresh fake numbering by `seqMode` and a recording client that collects its gaps. */
async function withSeqClient(seqMode: FakeSeqMode, body: (setup: SeqSetup) => Promise<void>): Promise<void> {
  const { logger, lines } = createRecordingLogger();
  const clientOptions = { token: TOKEN, logger, reconnect: { initialDelayMs: 5 } };
  await withFakeClient({ token: TOKEN, seqMode }, clientOptions, async (fake, client) => {
    await body({ fake, client, lines, gaps: collect(client, 'gap') });
  });
}

describe('seq tracking', () => {
  it('reports no gap for 1, 2, 3 and one gap {expected 3, received 5, missed 2} for 1, 2, 5', async () => {
    await withSeqClient('per-connection', async ({ fake, client, lines, gaps }) => {
      await client.connect();
      for (const seq of [1, 2, 3]) fake.sendEvent('custom.a', { seq }, { seq });
      await flush(fake, client, 'none');
      assert.equal(gaps.length, 0);
      for (const seq of [1, 2, 5]) fake.sendEvent('custom.b', { seq }, { seq });
      await flush(fake, client, 'none');
      assert.deepEqual(gaps, [{ expected: 3, received: 5, missed: 2, event: 'custom.b' }]);
      assert.equal(client.stats.seqGaps, 1);
      const warnings = lines.filter((l) => l.level === 'warn' && l.msg.startsWith('sequence gap'));
      assert.deepEqual(
        warnings.map((l) => l.msg),
        ['sequence gap: expected 3, got 5 (event custom.b)'],
      );
    });
  });

  it('reports gaps the gateway creates with skipSeq', async () => {
    await withSeqClient('per-connection', async ({ fake, client, gaps }) => {
      await client.connect();
      await flush(fake, client);
      fake.skipSeq(4);
      await flush(fake, client);
      assert.equal(gaps.length, 1);
      assert.equal(gaps[0]?.missed, 4);
    });
  });

  it('ignores events without seq, and a duplicate or lower seq resets the baseline without a gap', async () => {
    await withSeqClient('per-connection', async ({ fake, client, gaps }) => {
      await client.connect();
      fake.sendEvent('custom.x', {}, { seq: 1 });
      fake.sendEvent('custom.noseq', {}, { seq: 'none' });
      fake.sendEvent('custom.x', {}, { seq: 2 });
      fake.sendEvent('custom.dup', {}, { seq: 2 });
      fake.sendEvent('custom.lower', {}, { seq: 1 });
      fake.sendEvent('custom.x', {}, { seq: 2 });
      await flush(fake, client, 3);
      assert.equal(gaps.length, 0);
      assert.equal(client.stats.seqGaps, 0);
    });
  });

  it('starts a new baseline after a reconnect (seq 1 again, no gap)', async () => {
    await withSeqClient('per-connection', async ({ fake, client, gaps }) => {
      const events = collect(client, 'event');
      client.start();
      await client.connect();
      for (let i = 0; i < 5; i++) fake.sendEvent('custom.first', { i });
      await flush(fake, client);
      const reconnected = nextEvent(client, 'connected');
      fake.closeAll(1012, 'service restart');
      await reconnected;
      await flush(fake, client);
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 1]);
      assert.equal(gaps.length, 0);
    });
  });

  it('copes with the older omit-targeted numbering: targeted events carry no seq and cause no gap', async () => {
    await withSeqClient('omit-targeted', async ({ fake, client, gaps }) => {
      const events = collect(client, 'event');
      await client.connect();
      await fake.waitFor((f) => f.connections[0]?.subscribed);
      await flush(fake, client);
      await fake.emitToolRun({ tool: 'read', args: { path: 'notes.txt' }, result: 'hello' });
      await flush(fake, client);
      const tool = events.filter((e) => e.name === 'session.tool');
      assert.ok(tool.length >= 2, 'session.tool events arrived');
      assert.ok(tool.every((e) => e.seq === undefined));
      assert.equal(gaps.length, 0);
    });
  });

  it('copes with the older global numbering: a late joiner starts at the current number without a gap', async () => {
    await withSeqClient('global', async (first) => {
      const { fake } = first;
      const second = createGatewayClient({
        url: fake.url,
        token: TOKEN,
        identity: testIdentity,
        bootstrap: false,
      });
      const secondGaps = collect(second, 'gap');
      const secondEvents = collect(second, 'event');
      try {
        await first.client.connect();
        for (let i = 0; i < 3; i++) fake.sendEvent('custom.early', { i });
        await flush(fake, first.client);
        await second.connect();
        await flush(fake, second);
        assert.ok((secondEvents[0]?.seq ?? 0) > 1, 'the late joiner sees the global counter');
        fake.skipSeq(2);
        await flush(fake, first.client);
        await flush(fake, second);
        assert.equal(first.gaps.length, 1);
        assert.equal(secondGaps.length, 1);
        assert.equal(first.gaps[0]?.missed, 2);
      } finally {
        await second.close();
      }
    });
  });
});
