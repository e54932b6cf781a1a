import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  createGatewayClient,
  deviceIdentityFromSeed,
  type GatewayClient,
  GatewayClientError,
} from '@defenseclaw/gateway-client';
import { createFakeOpenClawGateway, type FakeOpenClawGateway } from '@defenseclaw/gateway-client/testing';
import {
  bindGatewayHealth,
  classifyGatewayFailure,
  type GatewayHealthBinding,
} from '../src/sidecar/gateway-health.ts';
import { createHealthRegistry, type HealthEntry, type HealthRegistry } from '../src/sidecar/health.ts';
import { waitUntil } from './_helpers.ts';

const TOKEN = 'gateway-health-token-0123456789';

let dir: string;
let fake: FakeOpenClawGateway;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dc-gwhealth-'));
  fake = await createFakeOpenClawGateway({ token: TOKEN });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function setup(token: string): {
  client: GatewayClient;
  health: HealthRegistry;
  binding: GatewayHealthBinding;
} {
  const client = createGatewayClient({
    url: fake.url,
    token,
    identity: deviceIdentityFromSeed(new Uint8Array(32).fill(7)),
    // Auth repair must not find the developer's real OpenClaw config.
    openclawConfigPath: join(dir, 'no-openclaw.json'),
    env: {},
    reconnect: { initialDelayMs: 50, multiplier: 1.5, maxDelayMs: 200, jitterRatio: 0 },
  });
  const health = createHealthRegistry();
  const binding = bindGatewayHealth(client, health, { url: fake.url });
  cleanups.push(async () => {
    binding.dispose();
    await client.close();
  });
  return { client, health, binding };
}

function waitForState(
  health: HealthRegistry,
  state: HealthEntry['state'],
  timeoutMs = 5000,
): Promise<HealthEntry> {
  return waitUntil(
    () => {
      const entry = health.get('gateway');
      return entry.state === state ? entry : undefined;
    },
    timeoutMs,
    () => `gateway ${state}; now ${JSON.stringify(health.get('gateway'))}`,
  );
}

describe('bindGatewayHealth', () => {
  it('goes starting → running → reconnecting → running, with hello details and counters', async () => {
    const { client, health } = setup(TOKEN);
    assert.equal(health.get('gateway').state, 'starting');
    // Record the entry as seen right after each client event (listeners run in registration order).
    const seen: HealthEntry[] = [];
    client.on('disconnected', () => seen.push(health.get('gateway')));
    client.on('reconnecting', () => seen.push(health.get('gateway')));

    client.start();
    const running = await waitForState(health, 'running');
    assert.equal(running.details?.protocol, 4);
    assert.equal(running.details?.server_version, '2026.9.6');
    assert.equal(typeof running.details?.conn_id, 'string');
    assert.equal(typeof running.details?.connected_at, 'string');
    assert.ok(Array.isArray(running.details?.scopes));
    assert.equal(running.details?.device_id, client.deviceId);
    assert.equal(running.details?.reconnects, 0);
    assert.equal(running.last_error, undefined);

    await fake.emitToolRun({ tool: 'read', args: { path: 'a.txt' }, result: 'x' });
    const counted = await waitUntil(() => {
      const details = health.get('gateway').details;
      return typeof details?.events_received === 'number' && details.events_received >= 3
        ? details
        : undefined;
    });
    assert.equal(typeof counted.last_seq, 'number');

    fake.skipSeq(3);
    await fake.emitToolRun({ tool: 'read', args: { path: 'b.txt' }, result: 'y' });
    const gap = await waitUntil(() => {
      const details = health.get('gateway').details;
      return details?.seq_gaps === 1 ? details : undefined;
    });
    assert.equal(typeof (gap.last_seq_gap as { expected: number }).expected, 'number');

    const firstSince = running.since;
    fake.closeAll(1012, 'service restart');
    const back = await waitUntil(() => {
      const entry = health.get('gateway');
      return entry.state === 'running' && entry.since !== firstSince ? entry : undefined;
    });
    assert.ok(seen.length >= 2, 'saw the drop');
    assert.equal(seen[0]!.state, 'reconnecting');
    assert.equal(seen[0]!.last_error, 'connection lost: 1012 service restart');
    assert.equal(seen[1]!.state, 'reconnecting');
    assert.equal(
      seen[1]!.last_error,
      'connection lost: 1012 service restart',
      'the drop message survives the retry',
    );
    assert.equal(typeof seen[1]!.details?.next_retry_at, 'string');
    assert.equal(back.details?.reconnects, 1);
    assert.equal(back.last_error, undefined);
  });

  it('reports error with last_error on an auth failure, never the token, and keeps retrying', async () => {
    const wrong = 'definitely-the-wrong-token-42';
    const { client, health } = setup(wrong);
    client.start();
    const entry = await waitForState(health, 'error');
    assert.match(entry.last_error!, /AUTH_TOKEN_MISMATCH/);
    assert.ok(!entry.last_error!.includes(wrong));
    assert.equal(entry.details?.fault, 'auth');
    const attempt = entry.details?.attempt as number;
    await waitUntil(() => ((health.get('gateway').details?.attempt as number) > attempt ? true : undefined));
    assert.equal(health.get('gateway').state, 'error');
    assert.equal(health.get('gateway').since, entry.since, 'since does not move while the state stays');
  });

  it('reports stopped on close and ignores later events', async () => {
    const { client, health, binding } = setup(TOKEN);
    client.start();
    await waitForState(health, 'running');
    binding.stop();
    await client.close();
    const entry = health.get('gateway');
    assert.equal(entry.state, 'stopped');
    assert.equal(entry.last_error, undefined);
  });
});

describe('classifyGatewayFailure', () => {
  it('treats network trouble and unavailable gateways as transient, the rest as errors', () => {
    assert.deepEqual(classifyGatewayFailure(new GatewayClientError('SOCKET_ERROR', 'refused')), {
      state: 'reconnecting',
      fault: 'network',
    });
    assert.deepEqual(
      classifyGatewayFailure(new GatewayClientError('CONNECT_REJECTED', 'x', { rejection: 'unavailable' })),
      { state: 'reconnecting', fault: 'network' },
    );
    assert.deepEqual(
      classifyGatewayFailure(new GatewayClientError('CONNECT_REJECTED', 'x', { rejection: 'auth' })),
      {
        state: 'error',
        fault: 'auth',
      },
    );
    assert.deepEqual(
      classifyGatewayFailure(
        new GatewayClientError('CONNECT_REJECTED', 'x', { rejection: 'pairing-upgrade' }),
      ),
      { state: 'error', fault: 'pairing' },
    );
    assert.deepEqual(classifyGatewayFailure(new GatewayClientError('HELLO_INVALID', 'x')), {
      state: 'error',
      fault: 'protocol',
    });
    assert.deepEqual(
      classifyGatewayFailure(new GatewayClientError('HANDSHAKE_CLOSED', 'x', { closeCode: 1009 })),
      {
        state: 'error',
        fault: 'protocol',
      },
    );
    assert.deepEqual(
      classifyGatewayFailure(new GatewayClientError('HANDSHAKE_CLOSED', 'x', { closeCode: 1012 })),
      {
        state: 'reconnecting',
        fault: 'network',
      },
    );
    assert.deepEqual(classifyGatewayFailure(new Error('boom')), { state: 'error', fault: 'internal' });
  });
});
