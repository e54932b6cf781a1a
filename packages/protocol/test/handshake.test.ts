import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import {
  buildConnectParams,
  CLIENT_ID,
  CLIENT_MODE,
  CLIENT_ROLE,
  type ConnectDevice,
  ConnectParamsStrictSchema,
  DEFAULT_CAPS,
  DEFAULT_SCOPES,
  type EventFrame,
  parseConnectChallenge,
  parseHelloOk,
} from '../src/index.ts';
import { type FixtureLine, findResult, loadFixture } from './_fixtures.ts';

const device: ConnectDevice = {
  id: '56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c',
  publicKey: 'A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg',
  signature: 'l3ct4XhFhowIOfY883W6WtyzKm8huVA7_UEn1bjinWQQE4LuXt8dPdBzLpliRpqVHN6au0oNdGXqldtaUGCeCg',
  signedAt: 1_700_000_000_000,
  nonce: 'test-nonce-abc',
};

/** Lists every key path of a value, descending into plain objects (arrays are leaves). */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, child]) => [
    `${prefix}${k}`,
    ...keyPaths(child, `${prefix}${k}.`),
  ]);
}

/** Lists every key path a (strict) object schema declares. */
function schemaPaths(schema: v.GenericSchema, prefix = ''): string[] {
  let inner = schema as v.GenericSchema & {
    wrapped?: v.GenericSchema;
    entries?: Record<string, v.GenericSchema>;
  };
  while (inner.wrapped) inner = inner.wrapped as typeof inner;
  if (!inner.entries) return [];
  return Object.entries(inner.entries).flatMap(([k, child]) => [
    `${prefix}${k}`,
    ...schemaPaths(child, `${prefix}${k}.`),
  ]);
}

describe('constants', () => {
  it('connect as gateway-client/backend/operator with all four scopes and the exec-approvals cap', () => {
    assert.equal(CLIENT_ID, 'gateway-client');
    assert.equal(CLIENT_MODE, 'backend');
    assert.equal(CLIENT_ROLE, 'operator');
    assert.deepEqual(DEFAULT_SCOPES, [
      'operator.read',
      'operator.write',
      'operator.admin',
      'operator.approvals',
    ]);
    assert.deepEqual(DEFAULT_CAPS, ['tool-events', 'exec-approvals']);
  });
});

describe('buildConnectParams', () => {
  it('emits exactly the §2.2 key set (deep comparison against the strict schema)', () => {
    const params = buildConnectParams({ clientVersion: '0.1.0', platform: 'linux', token: 'secret', device });
    assert.deepEqual(keyPaths(params).sort(), schemaPaths(ConnectParamsStrictSchema).sort());
    assert.ok(v.safeParse(ConnectParamsStrictSchema, params).success);
    assert.deepEqual(params, {
      minProtocol: 3,
      maxProtocol: 4,
      client: { id: 'gateway-client', version: '0.1.0', platform: 'linux', mode: 'backend' },
      role: 'operator',
      scopes: ['operator.read', 'operator.write', 'operator.admin', 'operator.approvals'],
      caps: ['tool-events', 'exec-approvals'],
      auth: { token: 'secret' },
      device,
      userAgent: 'defenseclaw-gateway/0.1.0',
      locale: 'en-US',
    });
  });

  it('omits auth when the token is undefined or empty', () => {
    for (const token of [undefined, '']) {
      const params = buildConnectParams({ clientVersion: '0.1.0', platform: 'linux', token, device });
      assert.equal('auth' in params, false);
      const expected = schemaPaths(ConnectParamsStrictSchema).filter((p) => !p.startsWith('auth'));
      assert.deepEqual(keyPaths(params).sort(), expected.sort());
      assert.ok(v.safeParse(ConnectParamsStrictSchema, params).success);
    }
  });

  it('maps win32 to windows and honours scope, cap, protocol and locale overrides', () => {
    const params = buildConnectParams({
      clientVersion: '1.2.3',
      platform: 'win32',
      device,
      scopes: ['operator.read'],
      caps: ['tool-events'],
      minProtocol: 3,
      maxProtocol: 3,
      locale: 'de-DE',
    });
    assert.equal(params.client.platform, 'windows');
    assert.deepEqual(params.scopes, ['operator.read']);
    assert.deepEqual(params.caps, ['tool-events']);
    assert.equal(params.maxProtocol, 3);
    assert.equal(params.locale, 'de-DE');
  });

  it('returns fresh arrays, not the shared defaults', () => {
    const params = buildConnectParams({ clientVersion: '0.1.0', platform: 'linux', device });
    params.scopes.push('x');
    assert.equal(DEFAULT_SCOPES.length, 4);
  });
});

describe('ConnectParamsStrictSchema', () => {
  it('rejects unknown keys at any depth, like the server', () => {
    const params = buildConnectParams({ clientVersion: '0.1.0', platform: 'linux', token: 't', device });
    assert.equal(v.safeParse(ConnectParamsStrictSchema, { ...params, extra: 1 }).success, false);
    assert.equal(
      v.safeParse(ConnectParamsStrictSchema, { ...params, client: { ...params.client, displayName: 'x' } })
        .success,
      false,
    );
    assert.equal(v.safeParse(ConnectParamsStrictSchema, { ...params, auth: { token: '' } }).success, false);
  });

  it('accepts every connect params the recording clients sent', () => {
    let count = 0;
    for (const name of ['read.jsonl', 'rpc.jsonl', 'connect-errors.jsonl']) {
      for (const line of loadFixture(name)) {
        if (line.dir === 'send' && line.frame.method === 'connect') {
          count++;
          const result = v.safeParse(ConnectParamsStrictSchema, line.frame.params);
          assert.ok(result.success, `${name}: ${JSON.stringify(result.issues?.[0]?.message)}`);
        }
      }
    }
    assert.ok(count >= 9);
  });
});

describe('parseConnectChallenge', () => {
  it('accepts the recorded 2026.9.6 challenge with its extra capabilities', () => {
    const line = loadFixture('read.jsonl').find(
      (l): l is Extract<FixtureLine, { dir: 'recv' }> =>
        l.dir === 'recv' && l.frame.event === 'connect.challenge',
    );
    assert.ok(line);
    const result = parseConnectChallenge(line.frame as EventFrame);
    assert.ok(result.success);
    assert.match(result.output.nonce, /^[0-9a-f-]{36}$/);
    assert.equal(typeof result.output.ts, 'number');
    assert.deepEqual(result.output.capabilities, ['model-catalog-snapshot']);
  });

  it('rejects another event and names connect.challenge', () => {
    const result = parseConnectChallenge({ type: 'event', event: 'tick', payload: { ts: 1 }, seq: 1 });
    assert.equal(result.success, false);
    assert.match(!result.success ? result.reason : '', /connect\.challenge.*tick/);
  });

  it('rejects an empty or missing nonce', () => {
    for (const payload of [{ nonce: '', ts: 1 }, { ts: 1 }, undefined]) {
      const result = parseConnectChallenge({ type: 'event', event: 'connect.challenge', payload });
      assert.equal(result.success, false, JSON.stringify(payload));
      assert.match(!result.success ? result.reason : '', /connect\.challenge/);
    }
  });
});

describe('parseHelloOk', () => {
  it('parses the full recorded 2026.9.6 hello-ok and keeps its extra keys', () => {
    const result = parseHelloOk(findResult(loadFixture('rpc.jsonl'), 'connect'));
    assert.ok(result.success, !result.success ? result.reason : '');
    const hello = result.output;
    assert.equal(hello.protocol, 4);
    assert.equal(hello.server?.version, '2026.9.6');
    assert.equal(typeof hello.server?.connId, 'string');
    assert.equal(typeof hello.server?.buildId, 'string');
    assert.equal(hello.features?.methods?.length, 466);
    assert.equal(hello.features?.events?.length, 64);
    assert.equal(hello.auth?.role, 'operator');
    assert.ok(hello.auth?.scopes?.includes('operator.approvals'));
    assert.equal(hello.policy.tickIntervalMs, 30_000);
    assert.equal(hello.policy.maxPayload, 26_214_400);
    assert.equal(hello.policy.maxBufferedBytes, 52_428_800);
    assert.equal(typeof hello.snapshot?.sessionDefaults?.mainSessionKey, 'string');
    assert.ok('controlUiWidgetKinds' in hello);
    assert.ok('pluginSurfaceUrls' in hello);
  });

  it('parses a minimal hello-ok and applies the policy defaults', () => {
    const result = parseHelloOk({ type: 'hello-ok', protocol: 4 });
    assert.ok(result.success);
    assert.deepEqual(result.output.policy, { tickIntervalMs: 30_000, maxPayload: 26_214_400 });
    const partial = parseHelloOk({ type: 'hello-ok', protocol: 3, policy: { tickIntervalMs: 500 } });
    assert.ok(partial.success);
    assert.deepEqual(partial.output.policy, { tickIntervalMs: 500, maxPayload: 26_214_400 });
  });

  it('fails without protocol, with a wrong type, or with a non-object', () => {
    for (const payload of [
      { type: 'hello-ok' },
      { type: 'hello', protocol: 4 },
      { type: 'hello-ok', protocol: '4' },
      { type: 'hello-ok', protocol: 4.5 },
      { type: 'hello-ok', protocol: 4, policy: { tickIntervalMs: 0 } },
      null,
      'hello-ok',
    ]) {
      const result = parseHelloOk(payload);
      assert.equal(result.success, false, JSON.stringify(payload));
      assert.ok(!result.success && result.reason.length > 0);
    }
  });
});
