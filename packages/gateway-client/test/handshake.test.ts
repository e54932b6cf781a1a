import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  buildDeviceAuthPayloadV3,
  ConnectParamsStrictSchema,
  DEFAULT_SCOPES,
  type ErrorShape,
} from '@defenseclaw/protocol';
import * as v from 'valibot';
import type { WebSocket } from 'ws';
import { classifyConnectRejection } from '../src/errors.ts';
import { createGatewayClient, type GatewayClientOptions } from '../src/index.ts';
import { createFakeOpenClawGateway, type FakeOpenClawGatewayOptions } from '../src/testing/index.ts';
import {
  collect,
  createRecordingLogger,
  deadUrl,
  detailsOf,
  type FakeClientBody,
  failure,
  testIdentity,
  withFakeClient,
  withRawClient,
} from './_support.ts';

const TOKEN = 'handshake-token';

/** Runs `body` with a fresh fake and a client (no bootstrap subscribe), not yet connected. */
function withFake(
  fakeOptions: FakeOpenClawGatewayOptions,
  clientOptions: Partial<GatewayClientOptions>,
  body: FakeClientBody,
): Promise<void> {
  return withFakeClient(fakeOptions, { bootstrap: false, ...clientOptions }, body);
}

describe('connect — negotiation', () => {
  it('completes the handshake: protocol 4, state connected, connected event', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (_fake, client) => {
      const connected = collect(client, 'connected');
      assert.equal(client.state, 'idle');
      const hello = await client.connect();
      assert.equal(hello.protocol, 4);
      assert.equal(client.state, 'connected');
      assert.equal(client.hello, hello);
      assert.equal(connected.length, 1);
      assert.equal(connected[0]?.protocol, 4);
      assert.equal(connected[0]?.attempt, 1);
      assert.equal(client.deviceId, testIdentity.deviceId);
      assert.equal(client.stats.protocol, 4);
      assert.equal(client.stats.serverVersion, hello.server?.version);
    });
  });

  it('accepts a protocol-3 gateway', async () => {
    await withFake({ token: TOKEN, protocol: 3 }, { token: TOKEN }, async (_fake, client) => {
      const hello = await client.connect();
      assert.equal(hello.protocol, 3);
      assert.equal(client.state, 'connected');
    });
  });

  it('fails with PROTOCOL_UNSUPPORTED on a hello-ok protocol 5 and closes with 1002', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      fake.helloOverride({ protocol: 5 });
      const error = await failure(client.connect());
      assert.equal(error.code, 'PROTOCOL_UNSUPPORTED');
      assert.match(error.message, /protocol 5/);
      const code = await fake.waitFor((f) => f.connections[0]?.closeCode);
      assert.equal(code, 1002);
      assert.notEqual(client.state, 'connected');
    });
  });

  it('reports a server protocol mismatch as CONNECT_REJECTED PROTOCOL_MISMATCH with the close code 1002', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN, protocolRange: [3, 3] }, async (fake, client) => {
      const error = await failure(client.connect());
      assert.equal(error.code, 'CONNECT_REJECTED');
      assert.equal(error.rejection, 'protocol');
      assert.equal(error.detailCode, 'PROTOCOL_MISMATCH');
      assert.equal(detailsOf(error).expectedProtocol, 4);
      assert.equal(error.closeCode, 1002);
      assert.match(error.message, /server speaks protocol 4, we support 3–3/);
      assert.ok(error.message.includes('protocol mismatch'));
      assert.equal(fake.connections[0]?.params?.maxProtocol, 3);
    });
  });
});

describe('connect — connect.challenge handling', () => {
  it('fails with CHALLENGE_INVALID naming connect.challenge when a tick comes first', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      fake.challengeOverride(() => [{ event: 'tick', payload: { ts: Date.now() }, seq: 'none' }]);
      const error = await failure(client.connect());
      assert.equal(error.code, 'CHALLENGE_INVALID');
      assert.ok(error.message.includes('connect.challenge'));
      assert.ok(error.message.includes('tick'));
    });
  });

  it('fails with CHALLENGE_INVALID on an empty nonce', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      fake.challengeOverride(() => [
        { event: 'connect.challenge', payload: { nonce: '', ts: Date.now() }, seq: 'none' },
      ]);
      const error = await failure(client.connect());
      assert.equal(error.code, 'CHALLENGE_INVALID');
      assert.ok(error.message.includes('connect.challenge'));
    });
  });

  it('fails with CHALLENGE_INVALID when the first frame is not JSON', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      fake.challengeOverride(() => ['{not json']);
      const error = await failure(client.connect());
      assert.equal(error.code, 'CHALLENGE_INVALID');
      assert.ok(error.message.includes('connect.challenge'));
    });
  });

  it('fails with CHALLENGE_TIMEOUT when no challenge arrives', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN, challengeTimeoutMs: 50 }, async (fake, client) => {
      fake.challengeOverride(() => []);
      const error = await failure(client.connect());
      assert.equal(error.code, 'CHALLENGE_TIMEOUT');
      assert.equal(fake.connections[0]?.params, undefined, 'no connect was sent');
    });
  });

  it('sends connect params that pass the closed schema, with a valid signature over the challenge nonce', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      const before = Date.now();
      await client.connect();
      const after = Date.now();
      const conn = fake.connections[0];
      assert.ok(conn?.params);
      const params = v.parse(ConnectParamsStrictSchema, conn.params);
      assert.deepEqual(Object.keys(conn.params).sort(), [
        'auth',
        'caps',
        'client',
        'device',
        'locale',
        'maxProtocol',
        'minProtocol',
        'role',
        'scopes',
        'userAgent',
      ]);
      assert.equal(params.device.nonce, conn.nonce);
      assert.ok(params.device.signedAt >= before && params.device.signedAt <= after);
      assert.ok(params.caps.includes('exec-approvals'));
      assert.deepEqual(params.scopes, [...DEFAULT_SCOPES]);
      assert.equal(params.client.id, 'gateway-client');
      assert.equal(params.client.mode, 'backend');
      assert.equal(params.device.id, testIdentity.deviceId);
      assert.equal(params.device.publicKey, testIdentity.publicKey);
      assert.deepEqual(params.auth, { token: TOKEN });
      const signed = buildDeviceAuthPayloadV3({
        deviceId: params.device.id,
        clientId: params.client.id,
        clientMode: params.client.mode,
        role: params.role,
        scopes: params.scopes,
        signedAtMs: params.device.signedAt,
        token: TOKEN,
        nonce: conn.nonce,
        platform: params.client.platform,
      });
      const ok = verify(
        null,
        Buffer.from(signed),
        createPublicKey(testIdentity.privateKey),
        Buffer.from(params.device.signature, 'base64url'),
      );
      assert.ok(ok, 'the device signature verifies');
    });
  });

  it('omits auth when there is no token (auth mode none)', async () => {
    await withFake({}, {}, async (fake, client) => {
      await client.connect();
      assert.ok(fake.connections[0]?.params);
      assert.equal('auth' in fake.connections[0].params, false);
    });
  });

  it('reports AUTH_TOKEN_MISMATCH with the message, both codes and detailCode', async () => {
    await withFake({ token: TOKEN }, { token: 'wrong-token' }, async (_fake, client) => {
      const error = await failure(client.connect());
      assert.equal(error.code, 'CONNECT_REJECTED');
      assert.equal(error.detailCode, 'AUTH_TOKEN_MISMATCH');
      assert.equal(error.rejection, 'auth');
      assert.equal(error.closeCode, 1008);
      assert.ok(error.message.startsWith('connect rejected: unauthorized: gateway token mismatch'));
      assert.ok(error.message.includes('(INVALID_REQUEST/AUTH_TOKEN_MISMATCH)'));
      assert.equal(client.state, 'idle');
    });
  });

  it('accepts a minimal hello-ok and applies the policy defaults', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      fake.helloOverride(() => ({ type: 'hello-ok', protocol: 4 }));
      const hello = await client.connect();
      assert.equal(hello.protocol, 4);
      assert.equal(hello.policy.tickIntervalMs, 30_000);
      assert.equal(hello.policy.maxPayload, 26_214_400);
      assert.equal(client.state, 'connected');
    });
  });

  it('fails with HELLO_INVALID when hello-ok has no protocol', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      fake.helloOverride({ protocol: undefined });
      const error = await failure(client.connect());
      assert.equal(error.code, 'HELLO_INVALID');
    });
  });

  it('fails with HANDSHAKE_CLOSED when the socket closes before the connect response', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      fake.beforeHello((connection) => {
        connection.close(1011, 'boom');
        return [];
      });
      const error = await failure(client.connect());
      assert.equal(error.code, 'HANDSHAKE_CLOSED');
      assert.equal(error.closeCode, 1011);
      assert.equal(error.closeReason, 'boom');
    });
  });

  it('fails with HELLO_TIMEOUT when the connect response never comes', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN, helloTimeoutMs: 50 }, async (fake, client) => {
      fake.beforeHello(() => new Promise(() => {}));
      const error = await failure(client.connect());
      assert.equal(error.code, 'HELLO_TIMEOUT');
    });
  });

  it('fails with SOCKET_ERROR when nothing listens', async () => {
    const { url } = await deadUrl();
    const client = createGatewayClient({ url, identity: testIdentity });
    try {
      const error = await failure(client.connect());
      assert.equal(error.code, 'SOCKET_ERROR');
      assert.ok(error.cause instanceof Error);
    } finally {
      await client.close();
    }
  });

  it('never passes the challenge to listeners and sends no Origin header', async () => {
    await withFake({ token: TOKEN }, { token: TOKEN }, async (fake, client) => {
      const events = collect(client, 'event');
      await client.connect();
      fake.sendEvent('custom.marker', { n: 1 });
      await new Promise<void>((resolve) =>
        client.on('event', ({ name }) => name === 'custom.marker' && resolve()),
      );
      assert.deepEqual(
        events.map((e) => e.name),
        ['custom.marker'],
      );
      const headers = fake.connections[0]?.headers ?? {};
      assert.equal(headers.origin, undefined);
      assert.equal(headers['sec-websocket-protocol'], undefined);
      assert.equal(headers['sec-websocket-extensions'], undefined, 'perMessageDeflate is off');
      assert.equal(headers.authorization, undefined);
    });
  });

  it('never puts the token in a log line or an error message', async () => {
    const secret = 'Zq9-DISTINCTIVE-s3cr3t-T0KEN-77';
    const { logger, text } = createRecordingLogger();
    const messages: string[] = [];
    const fake = await createFakeOpenClawGateway({ token: secret });
    const good = createGatewayClient({ url: fake.url, identity: testIdentity, token: secret, logger });
    const bad = createGatewayClient({
      url: fake.url,
      identity: testIdentity,
      token: `${secret}-old`,
      logger,
    });
    try {
      good.on('error', ({ error }) => messages.push(error.message));
      await good.connect();
      await fake.waitForRequest('sessions.subscribe');
      await good.request('no.such.method').catch((error: Error) => messages.push(error.message));
      await good.getSkillsBins().catch((error: Error) => messages.push(error.message));
      const rejected = await failure(bad.connect());
      messages.push(rejected.message, JSON.stringify(rejected.serverError));
      fake.closeAll(1000, 'bye');
      await new Promise((resolve) => good.on('disconnected', resolve));
    } finally {
      await good.close();
      await bad.close();
      await fake.close();
    }
    assert.ok(text().includes(`set (${secret.length} chars)`), 'the token length is logged');
    assert.ok(!text().includes(secret), 'no log line contains the token');
    for (const message of messages) assert.ok(!message.includes(secret), message);
  });

  it('keeps a bare ws gateway handshake working with a close code when the server rejects', async () => {
    const shape: ErrorShape = {
      code: 'INVALID_REQUEST',
      message: 'invalid role',
    };
    const onConnection = (ws: WebSocket) => {
      ws.send(JSON.stringify({ type: 'event', event: 'connect.challenge', payload: { nonce: 'n', ts: 1 } }));
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data));
        ws.send(JSON.stringify({ type: 'res', id: frame.id, ok: false, error: shape }));
        ws.close(1008, 'invalid role');
      });
    };
    await withRawClient(onConnection, {}, async (client) => {
      const error = await failure(client.connect());
      assert.equal(error.rejection, 'params');
      assert.equal(error.closeCode, 1008);
      assert.equal(error.message, 'connect rejected: invalid role (INVALID_REQUEST)');
    });
  });
});

describe('classifyConnectRejection', () => {
  it('maps the spec 10 §2.7 matrix', () => {
    const pairingRequired = (reason: string): ErrorShape => ({
      code: 'NOT_PAIRED',
      message: 'pairing required: x',
      details: { code: 'PAIRING_REQUIRED', reason },
    });
    const cases: [ErrorShape, string][] = [
      [
        { code: 'INVALID_REQUEST', message: 'protocol mismatch', details: { code: 'PROTOCOL_MISMATCH' } },
        'protocol',
      ],
      [{ code: 'INVALID_REQUEST', message: 'invalid connect params: at /client/id: x' }, 'params'],
      [{ code: 'INVALID_REQUEST', message: 'invalid role' }, 'params'],
      [
        {
          code: 'INVALID_REQUEST',
          message: 'unauthorized: gateway token missing',
          details: { code: 'AUTH_TOKEN_MISSING' },
        },
        'auth',
      ],
      [
        {
          code: 'INVALID_REQUEST',
          message: 'unauthorized: x',
          details: { code: 'AUTH_TOKEN_NOT_CONFIGURED' },
        },
        'auth',
      ],
      [
        {
          code: 'INVALID_REQUEST',
          message: 'rate limited',
          details: { code: 'AUTH_RATE_LIMITED' },
          retryAfterMs: 5,
        },
        'rate-limited',
      ],
      [
        {
          code: 'INVALID_REQUEST',
          message: 'device signature expired',
          details: { code: 'DEVICE_AUTH_SIGNATURE_EXPIRED' },
        },
        'device',
      ],
      [
        {
          code: 'NOT_PAIRED',
          message: 'device identity required',
          details: { code: 'DEVICE_IDENTITY_REQUIRED' },
        },
        'device',
      ],
      [pairingRequired('not-paired'), 'pairing'],
      [pairingRequired('metadata-upgrade'), 'pairing'],
      [pairingRequired('role-upgrade'), 'pairing-upgrade'],
      [pairingRequired('scope-upgrade'), 'pairing-upgrade'],
      [
        {
          code: 'UNAVAILABLE',
          message: 'gateway starting; retry shortly',
          retryable: true,
          retryAfterMs: 500,
        },
        'unavailable',
      ],
      [
        {
          code: 'INVALID_REQUEST',
          message: 'origin not allowed',
          details: { code: 'CONTROL_UI_ORIGIN_NOT_ALLOWED' },
        },
        'other',
      ],
    ];
    for (const [shape, expected] of cases)
      assert.equal(classifyConnectRejection(shape), expected, shape.message);
  });
});

describe('connect — hello-ok secrets', () => {
  it('drops auth.deviceToken from the hello it keeps and exposes', async () => {
    const { logger, text } = createRecordingLogger();
    await withFakeClient({ token: TOKEN }, { token: TOKEN, logger }, async (fake, client) => {
      fake.helloOverride((hello) => ({
        ...hello,
        auth: { ...(hello.auth as object), deviceToken: 'device-token-SECRET-42' },
      }));
      const seen = collect(client, 'connected');
      const hello = await client.connect();
      assert.equal('deviceToken' in (hello.auth ?? {}), false);
      assert.equal('deviceToken' in (seen[0]?.hello.auth ?? {}), false);
      assert.ok(hello.auth?.role, 'the rest of auth is kept');
      assert.ok(!text().includes('device-token-SECRET-42'));
    });
  });
});
